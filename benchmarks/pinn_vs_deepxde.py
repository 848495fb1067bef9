"""Burgers PINN: sciml against DeepXDE (pytorch backend) on DeepXDE's classic example.

Setup (identical for both libraries, DeepXDE's ``examples/pinn_forward/Burgers.py``):

- u_t + u u_x = (0.01/pi) u_xx on x in [-1, 1], t in [0, 0.99], u(x, 0) = -sin(pi x), u(+-1, t) = 0;
- network 2 -> 3 x 20 tanh -> 1, Glorot-normal weights, zero biases, float32;
- 2540 domain / 80 boundary / 160 initial points from a Hammersley sequence;
- loss = sum of the mean-squared residuals (PDE, boundary, initial), all weights 1;
- Adam, lr 1e-3, ``--adam-steps`` iterations, then L-BFGS (strong-Wolfe line search), ``--lbfgs-steps``
  iterations.

What is measured, per library and seed:

- Adam iterations per second and wall time of the Adam stage: only the training loop is timed
  (model/data construction and the accuracy evaluation are excluded). DeepXDE runs with
  ``display_every`` larger than the stage, so it evaluates its train/test losses only at the
  first and last iteration (``Model.train`` always does both); sciml runs with ``eval_every`` and
  ``checkpoint_every`` larger than the stage and no run directory, and its time is read from the
  Trainer's own log at the last step of the stage.
  The it/s column is steps / wall time of the whole stage; in brackets, the median over
  100-iteration windows, which is less sensitive to a burst of load from other processes (the
  1-minute load average at the start and end of each process is in the JSON).
- Wall time of the L-BFGS stage.
- Relative L2 error ||u - u_ref|| / ||u_ref|| after Adam and after L-BFGS on the same
  256 x 100 grid (x = linspace(-1, 1, 256), t = linspace(0, 0.99, 100)) against the exact
  Cole--Hopf solution (:func:`sciml.solvers.burgers_cole_hopf`).

Iteration counts. sciml's Trainer counts one L-BFGS *iteration* per step, so ``--lbfgs-steps N``
means N iterations of ``torch.optim.LBFGS`` (strong Wolfe, no tolerance stop; history 100 here, as
DeepXDE's ``maxcor``, where the case file's default is 50, see ``--lbfgs-history``). DeepXDE's
``set_LBFGS_options(maxiter=N)`` does not map one to one onto iterations: DeepXDE 1.15 (pytorch
backend) calls ``torch.optim.LBFGS`` (history 100, ``gtol=1e-8``, ``ftol=0``) in chunks of
``iter_per_step`` iterations, a value fixed when deepxde is imported (min(1000, default maxiter
15000) = 1000, not updated by ``set_LBFGS_options``), and keeps calling chunks while its total is
below N. A chunk may end early when it runs out of function evaluations (1250 per chunk); a chunk
that makes a single iteration is taken as convergence. So DeepXDE makes at least N iterations,
rounded up to chunk boundaries (``maxiter=100`` gives 1000). The number of iterations each
library really made and its loss+gradient evaluations are read from the state of the
``torch.optim.LBFGS`` object (``n_iter``, ``func_evals``) and reported; by default sciml is given
exactly as many L-BFGS steps as DeepXDE made iterations (``--no-match-lbfgs`` gives it
``--lbfgs-steps`` instead), so the two are compared at equal iteration counts. (torch's LBFGS
evaluates the loss on entry to every ``step()`` call, so an implementation that calls it once per
iteration pays one extra loss+gradient per iteration; the f-evals column shows it.)

Differences that remain (documented, not hidden):

- Seeds: both libraries are seeded with the same seed (DeepXDE ``dde.config.set_random_seed``,
  sciml ``case.seed``), but the initial weights differ because the libraries draw their
  parameters in a different order/way; the point sets differ slightly too (DeepXDE's Hammersley
  comes from scikit-optimize and skips the first point of the sequence, sciml uses its own
  Hammersley set; DeepXDE also samples the 80 boundary points with Hammersley, sciml with a
  seeded pseudo-random draw). Use ``--seeds 0 1 2`` to see the seed-to-seed spread.
- DeepXDE evaluates the PDE residual on all 2780 domain+boundary+initial points (its train_x
  stacks the 80 + 160 condition points on top), sciml on the 2540 interior points only.

sciml runs twice: as the case file has it (eager; derivatives by Taylor-mode jets through the MLP,
``method.derivatives: auto``), and with ``train.compile=true`` ("sciml (compiled)"), where the
jet loss is compiled by ``torch.compile`` (inductor, C++ on CPU). The compiled row's whole-stage
it/s includes the compilation (several seconds); the median-window rate excludes it.

Each library runs in its own fresh Python process (``--only deepxde|sciml``), so DeepXDE's
global side effects (default dtype/device, seeds) cannot leak into sciml's run and each process
gets ``torch.set_num_threads(--threads)``.

Run from the repository root::

    python benchmarks/pinn_vs_deepxde.py --adam-steps 5000 --lbfgs-steps 5000 --seeds 0

Prints a markdown table and writes ``benchmarks/out/pinn_vs_deepxde.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _provenance import provenance as _provenance  # benchmarks/ is on sys.path as a script

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
NU = 0.01 / np.pi
N_DOMAIN, N_BOUNDARY, N_INITIAL = 2540, 80, 160
WINDOW = 100  # Adam iterations per timing window


def reference_grid() -> tuple[np.ndarray, np.ndarray]:
    """Evaluation points (25600, 2) as (x, t) and the exact solution (25600,) on the 256 x 100 grid."""
    from sciml.solvers import burgers_cole_hopf

    x = np.linspace(-1.0, 1.0, 256)
    t = np.linspace(0.0, 0.99, 100)
    X, T = np.meshgrid(x, t, indexing="ij")
    u = burgers_cole_hopf(X, T, NU)
    return np.stack([X.ravel(), T.ravel()], axis=1), u.ravel()


def median_rate(stamps: list[float]) -> float | None:
    """Median iterations/s over consecutive WINDOW-iteration windows (robust to a burst of load elsewhere)."""
    if len(stamps) < 2:
        return None
    return float(np.median(WINDOW / np.diff(stamps)))


def rel_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    pred = np.asarray(pred, dtype=np.float64).reshape(ref.shape)
    return float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))


# ---------------------------------------------------------------- DeepXDE
def run_deepxde(seed: int, adam_steps: int, lbfgs_steps: int, skip_lbfgs: bool) -> dict:
    os.environ["DDE_BACKEND"] = "pytorch"
    import deepxde as dde
    import torch

    dde.config.set_default_float("float32")
    dde.config.set_random_seed(seed)
    pts, u_ref = reference_grid()

    def pde(x, y):
        u_x = dde.grad.jacobian(y, x, i=0, j=0)
        u_t = dde.grad.jacobian(y, x, i=0, j=1)
        u_xx = dde.grad.hessian(y, x, i=0, j=0)
        return u_t + y * u_x - NU * u_xx

    geomtime = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 0.99))
    bc = dde.icbc.DirichletBC(geomtime, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geomtime, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(
        geomtime, pde, [bc, ic], num_domain=N_DOMAIN, num_boundary=N_BOUNDARY, num_initial=N_INITIAL
    )
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    n_params = sum(p.numel() for p in net.parameters())

    out: dict = {
        "library": "DeepXDE",
        "version": dde.__version__,
        "seed": seed,
        "params": n_params,
        "n_train_rows": int(len(data.train_x)),
        "default_dtype": str(torch.get_default_dtype()),
    }

    class Clock(dde.callbacks.Callback):  # a time stamp every WINDOW iterations (a counter per step, nothing else)
        def __init__(self):
            super().__init__()
            self.n, self.stamps = 0, []

        def on_batch_end(self):
            self.n += 1
            if self.n % WINDOW == 0:
                self.stamps.append(time.perf_counter())

    model.compile("adam", lr=1e-3)
    clock = Clock()
    t0 = time.perf_counter()
    model.train(iterations=adam_steps, display_every=10 * adam_steps + 1, verbose=0, callbacks=[clock])
    adam_wall = time.perf_counter() - t0
    out.update(
        adam_steps=adam_steps,
        adam_wall_s=adam_wall,
        adam_it_per_s=adam_steps / adam_wall,
        adam_it_per_s_median_window=median_rate(clock.stamps),
        adam_final_loss=float(np.sum(model.train_state.loss_train)),
        rel_l2_adam=rel_l2(model.predict(pts.astype(np.float32)), u_ref),
    )
    if not skip_lbfgs:
        dde.optimizers.set_LBFGS_options(maxiter=lbfgs_steps)
        model.compile("L-BFGS")
        t0 = time.perf_counter()
        model.train(verbose=0)
        out["lbfgs_wall_s"] = time.perf_counter() - t0
        state = model.opt.state_dict()["state"][0]
        out.update(
            lbfgs_iters=int(state["n_iter"]),
            lbfgs_func_evals=int(state["func_evals"]),
            lbfgs_final_loss=float(np.sum(model.train_state.loss_train)),
            rel_l2_lbfgs=rel_l2(model.predict(pts.astype(np.float32)), u_ref),
        )
    return out


# ---------------------------------------------------------------- sciml
def run_sciml(
    seed: int, adam_steps: int, lbfgs_steps: int, skip_lbfgs: bool, lbfgs_history: int = 100, compile: bool = False
) -> dict:
    import torch

    import sciml
    import sciml.train
    from sciml import Trainer, build, load_case

    made = []  # a spy, no change of behaviour: keep the optimizers sciml builds to read L-BFGS's counters
    make = sciml.train.make_optimizer

    def make_spy(stage, params):
        made.append(make(stage, params))
        return made[-1]

    sciml.train.make_optimizer = make_spy

    big = 10 * max(adam_steps, lbfgs_steps, 1) + 1
    common = [
        f"seed={seed}",
        "dtype=float32",
        "device=cpu",
        "train.progress=false",
        f"train.eval_every={big}",
        f"train.checkpoint_every={big}",
        f"train.log_every={WINDOW}",
        f"train.compile={'true' if compile else 'false'}",
    ]
    stages = {
        "adam": f"train.stages=[{{optimizer: adam, lr: 1.0e-3, steps: {adam_steps}}}]",
        "lbfgs": f"train.stages=[{{optimizer: lbfgs, lr: 1.0, steps: {max(lbfgs_steps, 1)}, "
        f"history_size: {lbfgs_history}, line_search: strong_wolfe}}]",
    }
    case = load_case(ROOT / "cases" / "burgers_pinn.yaml", common + [stages["adam"]])
    for key, want in (("n_interior", N_DOMAIN), ("n_boundary", N_BOUNDARY), ("n_initial", N_INITIAL)):
        assert case.data[key] == want, (key, case.data[key])
    built = build(case)
    pts, u_ref = reference_grid()
    n_params = sum(p.numel() for p in built.model.parameters())

    @torch.no_grad()
    def error() -> float:
        p = next(built.model.parameters())
        return rel_l2(built.model(torch.as_tensor(pts, dtype=p.dtype)).numpy(), u_ref)

    out: dict = {
        "library": "sciml (compiled)" if compile else "sciml",
        "version": sciml.__version__,
        "seed": seed,
        "params": n_params,
        "n_train_rows": int(sum(len(v) for v in built.data.points.values())),
        "default_dtype": str(torch.get_default_dtype()),
    }
    trainer = Trainer(case.train, None, case.seed, case.dtype, case.device)
    t0 = time.perf_counter()
    metrics = trainer.fit(built.method, built.data)
    fit_wall = time.perf_counter() - t0
    last = [r for r in trainer.history if "loss" in r][-1]
    assert last["step"] == adam_steps
    stamps = [r["time_s"] for r in trainer.history if "loss" in r and r["step"] % WINDOW == 0]
    out.update(
        adam_steps=adam_steps,
        adam_wall_s=last["time_s"],
        adam_it_per_s=adam_steps / last["time_s"],
        adam_it_per_s_median_window=median_rate(stamps),
        adam_fit_wall_s=fit_wall,
        adam_final_loss=last["loss"],
        rel_l2_adam=error(),
        rel_l2_adam_sciml_eval=metrics["eval/rel_l2"],
    )
    if not skip_lbfgs:
        case2 = load_case(ROOT / "cases" / "burgers_pinn.yaml", common + [stages["lbfgs"]])
        trainer2 = Trainer(case2.train, None, case2.seed, case2.dtype, case2.device)
        metrics2 = trainer2.fit(built.method, built.data)
        last2 = [r for r in trainer2.history if "loss" in r][-1]
        state = made[-1].state_dict()["state"][0]  # torch.optim.LBFGS keeps its counters on the first parameter
        out.update(
            lbfgs_wall_s=last2["time_s"],
            lbfgs_trainer_steps=int(last2["step"]),
            lbfgs_iters=int(state["n_iter"]),
            lbfgs_func_evals=int(state["func_evals"]),
            lbfgs_final_loss=last2["loss"],
            rel_l2_lbfgs=error(),
            rel_l2_lbfgs_sciml_eval=metrics2["eval/rel_l2"],
        )
    return out


# ---------------------------------------------------------------- driver
def provenance() -> dict:
    return _provenance(("sciml/train.py", "pinns/pinn.py", "sciml/nn.py", "sciml/data/collocation.py"))


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]  # 1-minute load average: other processes on the machine skew timings
    if args.only == "deepxde":
        res = run_deepxde(args.seed, args.adam_steps, args.lbfgs_steps, args.skip_lbfgs)
    else:
        res = run_sciml(
            args.seed,
            args.adam_steps,
            args.lbfgs_steps,
            args.skip_lbfgs,
            args.lbfgs_history,
            compile=args.only == "sciml-compiled",
        )
    res["threads"] = torch.get_num_threads()
    res["loadavg_start"], res["loadavg_end"] = load0, os.getloadavg()[0]
    Path(args.result_file).write_text(json.dumps(res))


def fmt(v, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    head = (
        "| library | seed | Adam it/s (median 100-it window) | Adam wall s | rel L2 after Adam | L-BFGS iters (f-evals) | "
        "L-BFGS wall s | rel L2 after L-BFGS | Adam speed ratio sciml/DeepXDE (median window) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    base = {r["seed"]: r for r in rows if r["library"] == "DeepXDE"}
    for r in rows:
        b = base.get(r["seed"])
        ratio = r["adam_it_per_s"] / b["adam_it_per_s"] if b else None
        ratio_w = (
            r["adam_it_per_s_median_window"] / b["adam_it_per_s_median_window"]
            if b and r.get("adam_it_per_s_median_window") and b.get("adam_it_per_s_median_window")
            else None
        )
        it = "—" if r.get("lbfgs_iters") is None else f"{r['lbfgs_iters']} ({r['lbfgs_func_evals']})"
        lines.append(
            f"| {r['library']} | {r['seed']} | {r['adam_it_per_s']:.1f} "
            f"({fmt(r.get('adam_it_per_s_median_window'), '.1f')}) | {r['adam_wall_s']:.1f} | "
            f"{r['rel_l2_adam']:.3e} | {it} | {fmt(r.get('lbfgs_wall_s'), '.1f')} | "
            f"{fmt(r.get('rel_l2_lbfgs'), '.3e')} | {fmt(ratio, '.2f')} ({fmt(ratio_w, '.2f')}) |"
        )
    return "\n".join(lines)


def summary(rows: list[dict]) -> dict:
    out = {}
    for lib in dict.fromkeys(r["library"] for r in rows):
        rs = [r for r in rows if r["library"] == lib]
        agg = {}
        for k in (
            "adam_it_per_s",
            "adam_it_per_s_median_window",
            "adam_wall_s",
            "rel_l2_adam",
            "lbfgs_wall_s",
            "rel_l2_lbfgs",
            "lbfgs_iters",
        ):
            vals = [r[k] for r in rs if r.get(k) is not None]
            if vals:
                agg[k] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))}
        out[lib] = agg
    for lib in ("sciml", "sciml (compiled)"):
        for key in ("adam_it_per_s", "adam_it_per_s_median_window"):
            try:
                out[f"ratio_{lib}_over_deepxde/{key}"] = out[lib][key]["mean"] / out["DeepXDE"][key]["mean"]
            except KeyError:
                pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adam-steps", type=int, default=5000)
    ap.add_argument("--lbfgs-steps", type=int, default=5000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--skip-lbfgs", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--lbfgs-history",
        type=int,
        default=100,
        help="sciml's L-BFGS history (default 100 = DeepXDE's maxcor; the case file's default is 50)",
    )
    ap.add_argument(
        "--no-match-lbfgs",
        action="store_true",
        help="give sciml --lbfgs-steps iterations instead of the number DeepXDE really made",
    )
    ap.add_argument(
        "--only", choices=("deepxde", "sciml", "sciml-compiled"), help="run one library in this process (internal)"
    )
    ap.add_argument(
        "--no-compiled",
        action="store_true",
        help="skip the sciml run with train.compile=true (torch.compile of the jet loss)",
    )
    ap.add_argument("--seed", type=int, default=0, help="with --only: the seed")
    ap.add_argument("--result-file", help="with --only: where to write the JSON result")
    ap.add_argument("--out", default=str(OUT / "pinn_vs_deepxde.json"))
    args = ap.parse_args()
    if args.only:
        child(args)
        return

    rows = []
    for seed in args.seeds:
        lbfgs_steps = args.lbfgs_steps
        for lib in ("deepxde", "sciml") + (() if args.no_compiled else ("sciml-compiled",)):
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
                result = f.name
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--only",
                lib,
                "--seed",
                str(seed),
                "--adam-steps",
                str(args.adam_steps),
                "--lbfgs-steps",
                str(lbfgs_steps),
                "--threads",
                str(args.threads),
                "--lbfgs-history",
                str(args.lbfgs_history),
                "--result-file",
                result,
            ]
            if args.skip_lbfgs:
                cmd.append("--skip-lbfgs")
            print(f"[{lib} seed {seed}] {' '.join(cmd[1:])}", flush=True)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=ROOT)
            res = json.loads(Path(result).read_text())
            os.remove(result)
            res["process_wall_s"] = time.perf_counter() - t0
            res["lbfgs_steps_requested"] = None if args.skip_lbfgs else lbfgs_steps
            if lib == "deepxde" and not args.skip_lbfgs and not args.no_match_lbfgs:
                lbfgs_steps = res["lbfgs_iters"]  # sciml makes exactly as many L-BFGS iterations
            print(
                f"[{lib} seed {seed}] "
                + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()),
                flush=True,
            )
            rows.append(res)

    print()
    print(table(rows))
    summ = summary(rows)
    print()
    print(json.dumps(summ, indent=1))
    import torch

    blob = {
        "benchmark": "pinn_vs_deepxde",
        "settings": {
            "adam_steps": args.adam_steps,
            "lbfgs_steps": None if args.skip_lbfgs else args.lbfgs_steps,
            "seeds": args.seeds,
            "threads": args.threads,
            "lbfgs_history_sciml": args.lbfgs_history,
            "match_lbfgs_iters": not args.no_match_lbfgs,
            "nu": NU,
            "points": [N_DOMAIN, N_BOUNDARY, N_INITIAL],
            "eval_grid": "x=linspace(-1,1,256) x t=linspace(0,0.99,100)",
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "cpu_count": os.cpu_count(),
        },
        "provenance": provenance(),
        "runs": rows,
        "summary": summ,
        "table_markdown": table(rows),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(blob, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
