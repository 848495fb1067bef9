"""Interface conditions chosen per PDE parameter: METALIC against fixed defaults, random arms and one domain.

For each METALIC family (the multi-domain case ``cases/metalic_<family>.yaml``), with the same
training budget per episode:

1. **online**: three studies of ``--plays`` episodes each over the family's parameter range, the
   arm (which of METALIC's nine interface terms are on, weight 5) chosen by ``metalic`` with UCB,
   ``metalic`` with Thompson sampling, and ``random``; with ``--two-stage`` two more, METALIC's
   two-stage variant with UCB and TS (an arm for the Adam stage, then one for the L-BFGS stage
   chosen from the error after Adam); every study is an ordinary ``sciml study`` (its own
   directory, results table, resumable);
2. **held out**: ``--test`` parameter values drawn with another seed, each solved with the arm of
   highest posterior mean of each learned policy (``policy.json``), a random arm, XPINN's default
   (average solution + residual continuity), cPINN's default (average solution + flux) and the
   single-domain PINN (no cuts); one study with the list of (context, arm) pairs; each two-stage
   policy is played on the same contexts by a study of ``metalic`` with ``learned: policy.json``
   (each stage's posterior-mean arm, no learning).

It prints, per family, the mean and worst held-out relative L2 of each method, the online
cumulative regret of each policy and its slope over the last half of the plays, and the wall time
of every study. Regret is measured against an estimate of the best reward at each played context:
the largest posterior mean over all arms of a GP fitted to every online play of the family
(all three policies' plays), the same reference for every policy; a play better than that
estimate counts as negative regret (not clipped). Beside it, the online error of each policy over
the last half of its plays (10^-mean reward, a geometric mean). Writes ``results.json``, a CSV
per study and a figure (arms chosen over the contexts, regret curves) in ``--out``.

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/interface_selection.py --families reaction --plays 40 --test 20 --adam 200 --lbfgs 300

Every study resumes: run the same command again after an interruption.

The default budget per episode, 200 Adam steps (lr 1e-3) then 300 L-BFGS iterations on 1000
interior points, takes about 10–15 s on one core. On the reaction family at ρ = 5 it gives rel L2
0.085, where 400 Adam + 100 L-BFGS gives 0.76 and the case's 500 + 500 gives 0.026: L-BFGS does
most of the work, so a budget light on it leaves every arm equally bad and the bandit blind.
(Measured with ``OMP_NUM_THREADS=1 sciml run cases/metalic_reaction.yaml --set problem.params.rho=5.0
--set "train.stages=[{optimizer: adam, lr: 1.0e-3, steps: A}, {optimizer: lbfgs, lr: 1.0, steps: L}]"
--set data.n_interior=1000 --set output.formats=[]``, three processes on the 2 cores; the 500 + 500
figure is the shipped case.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.getcwd())

FAMILIES = {  # family -> (case, context key -> (low, high))
    "burgers": ("cases/metalic_burgers.yaml", {"problem.params.nu": (0.001, 0.05)}),
    "advection": ("cases/metalic_advection.yaml", {"problem.params.beta": (1.0, 30.0)}),
    "reaction": ("cases/metalic_reaction.yaml", {"problem.params.rho": (1.0, 15.0)}),
    "heat": ("cases/metalic_heat.yaml", {f"problem.params.{k}": (-2.0, 2.0) for k in "abcd"}),
    "poisson": ("cases/metalic_poisson.yaml", {"problem.params.sharpness": (1.0, 50.0)}),
}
WEIGHT = 5.0  # an active interface term's weight (METALIC's interface weight)


PHASES = ["adam", "lbfgs"]  # the phases of the two training stages (the two-stage variant's stages)


def budget(args) -> list[str]:
    stages = [{"optimizer": "adam", "lr": 1.0e-3, "steps": args.adam, "phase": PHASES[0]}]
    if args.lbfgs:
        stages.append({"optimizer": "lbfgs", "lr": 1.0, "steps": args.lbfgs, "phase": PHASES[1]})
    return [
        f"train.stages={json.dumps(stages)}",
        "train.progress=false",
        f"train.eval_every={10**9}",
        f"train.checkpoint_every={max(args.adam, 100)}",
        f"train.log_every={max(args.adam // 4, 1)}",
        "output.formats=[]",
        f"data.n_interior={args.n_interior}",
    ]


def terms_of(case_path: str) -> list[str]:
    from sciml.config import load_case
    from sciml.problems.interfaces import metalic_terms
    from sciml.registry import PROBLEMS

    case = load_case(case_path)
    opts = {k: v for k, v in case.problem.items() if k != "type"}
    return list(metalic_terms(PROBLEMS.build(case.problem["type"], opts).inputs))


def study(case_path: str, out: Path, name: str, section: dict, args) -> tuple[list, Path, float]:
    """Play (or resume) one study; return its episodes, directory and wall time: the sum of its
    episodes' wall times (each one's across interruptions) and the time of the calls outside them
    (the policy's fits) in this process, so that a resumed study reports its whole time (less the
    policy's time in the processes before)."""
    from sciml.config import load_case
    from sciml.study import Study, run_study

    marker = out / f"{name}.path"
    t0 = time.perf_counter()
    if marker.exists():
        path = marker.read_text().strip()
        done_before = sum(e.seconds for e in Study.open(path).episodes())
        st = run_study(resume=path)
    else:
        over = [*budget(args), f"output.dir={out / 'runs'}", f"study={json.dumps(section)}"]
        st = Study.create(load_case(case_path, over))
        marker.write_text(str(st.path))
        done_before = 0.0
        st = run_study(resume=st.path)
    eps = st.episodes()
    played = sum(e.seconds for e in eps)
    outside = max(time.perf_counter() - t0 - (played - done_before), 0.0)
    return eps, Path(st.path), played + outside


def draw_contexts(ranges: dict, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()} for _ in range(n)]


def rel_l2(ep) -> float:
    v = ep.metrics.get("eval/rel_l2") if ep.status == "done" else None
    return float(v) if v is not None and np.isfinite(v) else float("nan")


def family(name: str, args, out: Path) -> dict:
    from sciml.bandit import load_policy, reward

    case_path, ranges = FAMILIES[name]
    terms = terms_of(case_path)
    arms = {f"problem.interface.{t}": [0.0, WEIGHT] for t in terms}
    contexts = {k: {"low": lo, "high": hi} for k, (lo, hi) in ranges.items()}
    fam = out / name
    fam.mkdir(parents=True, exist_ok=True)
    policies = {
        "metalic-ucb": {"type": "metalic", "acquisition": "ucb", "seed": args.seed, "warmup": args.warmup},
        "metalic-ts": {"type": "metalic", "acquisition": "ts", "seed": args.seed, "warmup": args.warmup},
        "random": {"type": "random", "seed": args.seed},
    }
    if args.two_stage:
        for acq in ("ucb", "ts"):
            policies[f"metalic-{acq}-2stage"] = {**policies[f"metalic-{acq}"], "stages": PHASES}
    online, walls = {}, {}
    for label, pol in policies.items():
        section = {"contexts": contexts, "arms": arms, "policy": pol, "trials": args.plays}
        eps, path, wall = study(case_path, fam, label, section, args)
        online[label], walls[label] = (eps, path), wall
        print(f"{name}: {label} online, {len(eps)} plays, {wall:.0f} s", flush=True)
    # held out: each learned policy's posterior-mean arm, fixed defaults, a random arm, one domain
    tests = draw_contexts(ranges, args.test, args.seed + 1000)
    rng = np.random.default_rng(args.seed + 2000)
    off = dict.fromkeys(terms, 0.0)
    fixed = {
        "xpinn": {**off, "uavg": WEIGHT, "res_continuity": WEIGHT},
        "cpinn": {**off, "uavg": WEIGHT, "flux": WEIGHT},
    }
    learned = {label: load_policy(online[label][1] / "policy.json") for label in ("metalic-ucb", "metalic-ts")}
    points, methods = [], []
    for ctx in tests:
        chosen = {label: pol.choose(ctx) for label, pol in learned.items()}
        for label, arm in chosen.items():
            points.append({**ctx, "problem.interface": {k.split(".")[-1]: v for k, v in arm.items()}})
            methods.append(label)
        points.append({**ctx, "problem.interface": {t: float(rng.choice([0.0, WEIGHT])) for t in terms}})
        methods.append("random")
        for label, iface in fixed.items():
            points.append({**ctx, "problem.interface": iface})
            methods.append(label)
        # one network over the whole domain, its inputs scaled to the domain's box as each subdomain
        # network's are to its own
        points.append({**ctx, "problem.interface": None, "problem.cuts": None, "method.scale_inputs": True})
        methods.append("single-domain")
    eps, _, wall = study(case_path, fam, "held-out", {"contexts": points, "policy": "grid"}, args)
    walls["held-out"] = wall
    errors: dict[str, list[float]] = {}
    for ep in sorted(eps, key=lambda e: e.k):
        errors.setdefault(methods[ep.k], []).append(rel_l2(ep))
    # the two-stage policies: each stage's posterior-mean arm, the second chosen from the error after
    # the first (a study that plays the learned policy file, no learning)
    for label in [lb for lb in policies if lb.endswith("-2stage")]:
        section = {
            "contexts": tests,
            "arms": arms,
            "policy": {"type": "metalic", "learned": str(online[label][1] / "policy.json")},
        }
        eps, _, wall = study(case_path, fam, f"held-out-{label}", section, args)
        walls[f"held-out-{label}"] = wall
        errors[label] = [rel_l2(ep) for ep in sorted(eps, key=lambda e: e.k)]
    # regret against the best posterior mean of a GP over every online play (the same spaces)
    from sciml.study import Study

    ref = Study.open(online["metalic-ucb"][1]).plan.policy.learn([e for lb in policies for e in online[lb][0]])
    regret = {}
    for label in policies:
        eps_l = sorted(online[label][0], key=lambda e: e.k)
        r = np.array([reward(e.objective, e.status) for e in eps_l], dtype=float)
        best = np.array([np.max(ref.posterior(e.context)[1]) for e in eps_l])
        inst = best - r  # not clipped: a play better than the estimate counts as negative regret
        cum = np.cumsum(inst)
        half = len(cum) // 2
        slope = float(np.polyfit(np.arange(half, len(cum)), cum[half:], 1)[0]) if len(cum) - half >= 2 else float("nan")
        regret[label] = {
            "cumulative": cum.tolist(),
            "slope_last_half": slope,
            "mean_error_last_half": float(10.0 ** -np.mean(r[half:])),
        }
    chosen_arms = {
        label: [
            (e.context, [t for t in terms if e.arm.get(f"problem.interface.{t}", 0) > 0])
            for e in sorted(online[label][0], key=lambda e: e.k)
        ]
        for label in ("metalic-ucb", "metalic-ts")
    }
    effects = learned["metalic-ucb"].term_effects(tests)
    return {
        "errors": errors,
        "regret": regret,
        "walls": walls,
        "effects": effects,
        "chosen": chosen_arms,
        "terms": terms,
    }


def table(results: dict) -> str:
    lines = ["| family | method | held-out mean rel L2 | worst | n |", "|---|---|---|---|---|"]
    for fam, res in results.items():
        for method, errs in res["errors"].items():
            e = np.array(errs, dtype=float)
            ok = e[np.isfinite(e)]
            mean = f"{ok.mean():.3e}" if len(ok) else "nan"
            worst = f"{ok.max():.3e}" if len(ok) else "nan"
            lines.append(f"| {fam} | {method} | {mean} | {worst} | {len(ok)}/{len(e)} |")
    lines += [
        "",
        "| family | policy | cumulative regret | slope over the last half | geometric mean error, last half |",
        "|---|---|---|---|---|",
    ]
    for fam, res in results.items():
        for label, reg in res["regret"].items():
            lines.append(
                f"| {fam} | {label} | {reg['cumulative'][-1]:.2f} | {reg['slope_last_half']:.3f} | "
                f"{reg['mean_error_last_half']:.3e} |"
            )
    lines += ["", "| family | term | posterior effect on the reward (UCB model, held-out contexts) |", "|---|---|---|"]
    for fam, res in results.items():
        for term, effect in sorted(res["effects"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {fam} | {term.split('.')[-1]} | {effect:+.3f} |")
    lines += ["", "| family | study | wall time (s) |", "|---|---|---|"]
    for fam, res in results.items():
        for label, wall in res["walls"].items():
            lines.append(f"| {fam} | {label} | {wall:.0f} |")
    return "\n".join(lines)


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = list(results)
    fig, axes = plt.subplots(2, len(fams), figsize=(5 * len(fams), 7), squeeze=False)
    for j, fam in enumerate(fams):
        res = results[fam]
        ax = axes[0, j]
        for label, reg in res["regret"].items():
            ax.plot(np.arange(1, len(reg["cumulative"]) + 1), reg["cumulative"], label=label)
        ax.set(title=f"{fam}: cumulative regret", xlabel="play", ylabel="Σ (r* − r)")
        ax.legend()
        ax = axes[1, j]
        terms = res["terms"]
        for label, marker, color in (("metalic-ucb", "o", "C0"), ("metalic-ts", "x", "C1")):
            for ctx, on in res["chosen"][label]:
                c = float(next(iter(ctx.values())))
                ys = [terms.index(t) for t in on]
                ax.scatter([c] * len(ys), ys, marker=marker, s=14, alpha=0.6, color=color)
            ax.scatter([], [], marker=marker, color=color, label=label)
        ax.legend(loc="upper right", fontsize=7)
        ax.set(title=f"{fam}: terms on, per context", xlabel=next(iter(FAMILIES[fam][1])).split(".")[-1])
        ax.set_yticks(range(len(terms)), terms)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--plays", type=int, default=40)
    ap.add_argument("--test", type=int, default=20)
    ap.add_argument("--adam", type=int, default=200)
    ap.add_argument("--lbfgs", type=int, default=300)
    ap.add_argument("--n-interior", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--two-stage",
        action="store_true",
        help="also METALIC's two-stage variant (one arm for the Adam stage, one for L-BFGS), UCB and TS",
    )
    ap.add_argument("--out", default="benchmarks/out/interface_selection")
    ap.add_argument(
        "--report",
        action="store_true",
        help="print the tables and redraw the figure of --out's results.json (several --out, comma-separated: "
        "one table and one figure of every family, the figure in --figure)",
    )
    ap.add_argument("--figure", default="", help="with --report and several --out: where to draw the figure")
    args = ap.parse_args()
    if args.report:
        outs = [Path(o) for o in args.out.split(",")]
        results = {}
        for o in outs:
            results.update(json.loads((o / "results.json").read_text()))
        figure(results, Path(args.figure) if args.figure else outs[0] / "interface_selection.png")
        print(table(results))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.families.split(","):
        if name not in FAMILIES:
            sys.exit(f"unknown family {name!r}; families: {', '.join(FAMILIES)}")
        results[name] = family(name, args, out)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    figure(results, out / "interface_selection.png")
    print(f"\nper episode: {args.adam} Adam + {args.lbfgs} L-BFGS steps, {args.n_interior} interior points")
    print(table(results))


if __name__ == "__main__":
    main()
