"""Point selection for PINNs: PINNACLE-K/-S against fixed, random, RAD and RAR-D (issue 4).

Same network, same total point budget and same step budget for every sampler, 3 seeds. From the
case files (each names PINNACLE-K; the benchmark swaps ``method.selection``):

- ``advection``: ``cases/advection_pinnacle.yaml``, u_t + u_x = 0 periodic, budget 1000
  interior + initial points (the 64 periodic pairs are fixed for everyone), 4000 Adam steps.
- ``burgers``: ``cases/burgers_pinnacle.yaml``, ν = 0.01/π, budget 500, 4000 Adam steps.
- ``inverse``: ``cases/burgers_inverse_pinnacle.yaml``, recover ν (true 0.02/π, guess 0.02) from
  50 of 2000 noisy observations (1%), budget 550 incl. the 50 observations, 4000 Adam steps.

Samplers: ``fixed`` (the case's pseudo-random initial sets), ``hammersley`` (fixed Hammersley
interior/initial sets), ``random`` (all types redrawn every round), ``rad`` (k = 1, c = 1,
interior; on ``inverse`` also the observations, by misfit), ``rar_d`` (k = 2, c = 0: starts at
60% of the budget and grows to it), ``pinnacle_k``, ``pinnacle_s`` (every type jointly). Rounds
every 500 steps for all adaptive samplers. Reported: relative L2 of u (and the relative error of
ν on ``inverse``), points per type at the end, the selector's share of the training wall time.

Run from the repository root::

    python benchmarks/point_selection.py --problems advection burgers inverse --seeds 0 1 2
    python benchmarks/point_selection.py --problems burgers --lbfgs 2000   # + L-BFGS on the final sets
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _provenance import provenance, write_results  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
CASES = {"advection": "advection_pinnacle", "burgers": "burgers_pinnacle", "inverse": "burgers_inverse_pinnacle"}
SAMPLERS = ["fixed", "hammersley", "random", "rad", "rar_d", "pinnacle_k", "pinnacle_s"]


def overrides(problem: str, sampler: str, case, every: int | None = None, steps: int | None = None) -> list[str]:
    sel = dict(case.method.get("selection", {}))
    budget, every = sel.get("budget"), every or sel.get("every", 500)
    inverse = problem == "inverse"
    obs = ", max_points: {observations: 50}" if inverse else ""
    if sampler in ("fixed", "hammersley"):
        out = ["method.selection=null"]
        return out + (["data.sampler=hammersley"] if sampler == "hammersley" else [])
    if sampler == "random":
        return [f"method.selection={{type: random, every: {every}}}"]
    if sampler == "rad":
        types = "[interior, observations]" if inverse else "[interior]"
        return [f"method.selection={{type: rad, every: {every}, types: {types}, k: 1.0, c: 1.0}}"]
    if sampler == "rar_d":  # start from 60% of the interior points, grow to the budget
        n0 = int(case.data["n_interior"] * 0.6)
        grow = budget - (sum(case.data[k] for k in ("n_interior", "n_initial")) - case.data["n_interior"] + n0)
        if problem != "advection":
            grow -= case.data["n_boundary"]
        if inverse:
            grow -= case.data["n_observations_active"]
        rounds = max(1, (steps or case.train.stages[0].steps) // every)  # at every, 2·every, ..., the last step
        # RAR-D's budget counts only the types it grows (the interior): the rest of the total stays fixed
        return [
            f"data.n_interior={n0}",
            f"method.selection={{type: rar_d, every: {every}, budget: {n0 + grow}, n_add: {max(1, grow // rounds)}, "
            f"k: 2.0, c: 0.0{obs}}}",
        ]
    if sampler in ("pinnacle_k", "pinnacle_s"):
        return [f"method.selection.type={sampler}", f"method.selection.every={every}"]
    raise ValueError(sampler)


def run_one(problem: str, sampler: str, seed: int, steps: int | None, every: int | None = None, lbfgs: int = 0) -> dict:
    from sciml import build, load_case
    from sciml.train import Trainer

    path = ROOT / "cases" / f"{CASES[problem]}.yaml"
    base = load_case(path)
    over = [
        f"seed={seed}",
        "train.progress=false",
        "train.eval_every=1000000",
        *overrides(problem, sampler, base, every, steps),
    ]
    adam = steps or base.train.stages[0].steps
    if steps or lbfgs:
        stages = [f"{{optimizer: adam, lr: 1.0e-3, steps: {adam}, phase: select}}"]
        stages += [f"{{optimizer: lbfgs, lr: 1.0, steps: {lbfgs}, phase: refine}}"] if lbfgs else []
        over.append(f"train.stages=[{', '.join(stages)}]")
    if lbfgs and sampler not in ("fixed", "hammersley"):
        over.append("method.selection.phases=[select]")  # select during Adam; L-BFGS refines the final sets
    case = load_case(path, over)
    built = build(case)
    built.problem.reference_field()
    t0 = time.perf_counter()
    m = Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
    wall = time.perf_counter() - t0
    sel = built.method.selection
    return {
        "problem": problem,
        "sampler": sampler,
        "seed": seed,
        "rel_l2": m["eval/rel_l2"],
        "nu_rel_error": m.get("eval/param/nu_rel_error"),
        "nu": m.get("eval/param/nu"),
        "points": {k: len(v) for k, v in built.data.points.items()},
        "wall_s": wall,
        "overhead_s": sel.overhead_s if sel else 0.0,
        "rounds": sel.rounds if sel else 0,
        "drift_rounds": getattr(sel, "triggers", {}).get("drift", 0) if sel else 0,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| problem | sampler | mean rel L2 | worst rel L2 | mean ν rel. error | points at the end (mean) | "
        "selector share of wall time | wall s | rel L2 per seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for problem in CASES:
        for sampler in SAMPLERS:
            rs = [r for r in rows if r["problem"] == problem and r["sampler"] == sampler]
            if not rs:
                continue
            e = np.array([r["rel_l2"] for r in rs])
            nu = [r["nu_rel_error"] for r in rs if r["nu_rel_error"] is not None]
            pts = {k: np.mean([r["points"][k] for r in rs]) for k in rs[0]["points"]}
            share = np.mean([r["overhead_s"] / r["wall_s"] for r in rs])
            lines.append(
                f"| {problem} | {sampler} | {e.mean():.3e} | {e.max():.3e} | "
                f"{(f'{np.mean(nu):.3e}' if nu else '–')} | "
                + ", ".join(f"{k} {v:.0f}" for k, v in pts.items())
                + f" | {100 * share:.1f}% | {np.mean([r['wall_s'] for r in rs]):.1f} | "
                + ", ".join(f"{x:.2e}" for x in e)
                + " |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=SAMPLERS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=None, help="Adam steps (default: the case's)")
    ap.add_argument("--every", type=int, default=None, help="selection rounds every N steps (default: the case's)")
    ap.add_argument(
        "--lbfgs",
        type=int,
        default=0,
        help="add an L-BFGS stage of N iterations after Adam on the final point sets (default: none)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = provenance()
    rows = []
    for problem in args.problems:
        for seed in args.seeds:
            for sampler in args.samplers:
                rows.append(run_one(problem, sampler, seed, args.steps, args.every, args.lbfgs))
                print(json.dumps(rows[-1]), flush=True)
    print()
    print(table(rows))
    out = args.out or OUT / f"point_selection_{'_'.join(args.problems)}.json"
    write_results(out, vars(args), rows, table(rows), started)


if __name__ == "__main__":
    main()
