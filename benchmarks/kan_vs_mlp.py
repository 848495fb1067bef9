"""KAN against MLP at matched parameter count and at matched wall time, in strong and energy form.

The three problems of the KINN comparison (issue 3), each from its case files in ``cases/``:

- ``poisson``: multi-scale 1D Poisson −u'' = f, exact u = sin πx + 0.1 sin(kπx) (k = 10).
  MLP 3×50 tanh (5,251 parameters) vs KAN [1, 18, 18, 1], G = 10 (5,400). Strong: 512
  Hammersley points; energy: Gauss–Legendre 128 cells × 4 points, u = x(1 − x)·N.
- ``crack``: mode-III crack, Laplace on [−1, 1]² with exact √r sin(θ/2), two subdomain networks.
  Per subdomain MLP 2×22 tanh (595) vs KAN [2, 5, 5, 1], G = 10 (600; the KINN paper's size);
  the table counts both subdomains' networks.
  Strong: 2,048 points redrawn every 100 steps, 256 per boundary/segment; energy: Gauss 32² cells
  × 3² points, crack faces and interface continuity as penalties.
- ``plate``: plane-stress plate with a hole under tension on ``meshes/plate_hole.msh``, P2 FE
  reference. MLP 3×33 tanh (2,411) vs KAN [2, 8, 8, 8, 2], G = 10 (2,400; KINN's size). Strong:
  2,000 points redrawn every 100 steps, symmetry exact; energy: degree-4 triangle rule. The
  von Mises error is reported next to the displacement error.

Rows per problem and form: ``MLP`` and ``KAN`` with the same steps (``--adam`` Adam at lr 1e-3,
then ``--lbfgs`` L-BFGS; by default 3000 + 500 for Poisson, 1000 + 200 for the 2D problems), and ``MLP @ KAN time``: the MLP with both stage lengths multiplied by
the KAN/MLP wall-time ratio of the same seed, so it gets the KAN's wall-clock budget. Relative L2
of the solution against the reference, parameters, time per step, wall time; 3 seeds by default.

Run from the repository root (one thread per process; two problems can run side by side)::

    python benchmarks/kan_vs_mlp.py --problems poisson crack plate --seeds 0 1 2
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

SETUPS = {
    "poisson": {
        "models": {
            "MLP": "{type: mlp, width: 50, depth: 3, activation: tanh}",
            "KAN": "{type: kan, widths: [18, 18], grid_size: 10, spline_order: 3}",
        },
        "forms": {
            "strong": (
                "poisson_energy",
                [
                    "method={type: pinn}",
                    "data={type: collocation, n_interior: 512, n_boundary: 2, n_initial: 1, sampler: hammersley}",
                ],
            ),
            "energy": ("poisson_energy", ["data={type: quadrature, n_cells: 128, order: 4}"]),
        },
        "budget": (3000, 500),
    },
    "crack": {
        "models": {
            "MLP": "{type: mlp, width: 22, depth: 2, activation: tanh}",
            "KAN": "{type: kan, widths: [5, 5], grid_size: 10, spline_order: 3}",
        },
        "forms": {"strong": ("crack_pinn", ["data.n_interior=2048"]), "energy": ("crack_energy", ["data.n_cells=32"])},
        "budget": (1000, 200),
    },
    "plate": {
        "models": {
            "MLP": "{type: mlp, width: 33, depth: 3, activation: tanh}",
            "KAN": "{type: kan, widths: [8, 8, 8], grid_size: 10, spline_order: 3}",
        },
        "forms": {"strong": ("plate_pinn", ["data.n_interior=2000"]), "energy": ("plate_energy", [])},
        "budget": (1000, 200),
    },
}


def run_one(problem: str, form: str, net: str, seed: int, adam: int, lbfgs: int) -> dict:
    from sciml import build, load_case
    from sciml.train import Trainer

    setup = SETUPS[problem]
    case_name, extra = setup["forms"][form]
    stages = [f"{{optimizer: adam, lr: 1.0e-3, steps: {adam}}}"]
    if lbfgs:
        stages.append(f"{{optimizer: lbfgs, lr: 1.0, steps: {lbfgs}}}")
    over = [
        f"seed={seed}",
        f"model={setup['models'][net]}",
        "train.progress=false",
        f"train.stages=[{', '.join(stages)}]",
        "train.eval_every=1000000",
        *extra,
    ]
    case = load_case(ROOT / "cases" / f"{case_name}.yaml", over)
    built = build(case)
    built.problem.reference_field()  # computed (FE for the plate) and cached outside the timed run
    t0 = time.perf_counter()
    metrics = Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
    wall = time.perf_counter() - t0
    return {
        "problem": problem,
        "form": form,
        "model": net,
        "seed": seed,
        "adam": adam,
        "lbfgs": lbfgs,
        "rel_l2": metrics["eval/rel_l2"],
        "rel_l2_von_mises": metrics.get("eval/rel_l2_von_mises"),
        "wall_s": wall,
        "ms_per_step": 1000 * wall / (adam + lbfgs),
        "params": sum(p.numel() for p in built.model.parameters()),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| problem | form | model | steps (Adam+L-BFGS) | params | mean rel L2 | worst rel L2 | "
        "mean von Mises rel L2 | ms/step | wall s | rel L2 per seed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for problem in SETUPS:
        for form in SETUPS[problem]["forms"]:
            for net in ("MLP", "KAN", "MLP @ KAN time"):
                rs = [r for r in rows if r["problem"] == problem and r["form"] == form and r["model"] == net]
                if not rs:
                    continue
                e = np.array([r["rel_l2"] for r in rs])
                vm = [r["rel_l2_von_mises"] for r in rs if r["rel_l2_von_mises"] is not None]
                steps = sorted({f"{r['adam']}+{r['lbfgs']}" for r in rs})
                lines.append(
                    f"| {problem} | {form} | {net} | {', '.join(steps)} | {rs[0]['params']:,} | {e.mean():.3e} | "
                    f"{e.max():.3e} | {np.mean(vm):.3e} | "
                    if vm
                    else f"| {problem} | {form} | {net} | {', '.join(steps)} | {rs[0]['params']:,} | {e.mean():.3e} | "
                    f"{e.max():.3e} | – | "
                )
                lines[-1] += (
                    f"{np.mean([r['ms_per_step'] for r in rs]):.2f} | {np.mean([r['wall_s'] for r in rs]):.1f} | "
                    + ", ".join(f"{x:.2e}" for x in e)
                    + " |"
                )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", nargs="+", choices=list(SETUPS), default=list(SETUPS))
    ap.add_argument("--forms", nargs="+", choices=["strong", "energy"], default=["strong", "energy"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--adam", type=int, default=None, help="Adam steps (default: the problem's budget)")
    ap.add_argument("--lbfgs", type=int, default=None, help="L-BFGS iterations (default: the problem's budget)")
    ap.add_argument("--no-matched-time", action="store_true", help="skip the MLP runs at the KAN's wall time")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="JSON output (default benchmarks/out/kan_vs_mlp_<problems>.json)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = provenance()
    rows = []
    for problem in args.problems:
        adam = args.adam if args.adam is not None else SETUPS[problem]["budget"][0]
        lbfgs = args.lbfgs if args.lbfgs is not None else SETUPS[problem]["budget"][1]
        for form in args.forms:
            for seed in args.seeds:
                mlp = run_one(problem, form, "MLP", seed, adam, lbfgs)
                kan = run_one(problem, form, "KAN", seed, adam, lbfgs)
                rows += [mlp, kan]
                print(json.dumps(mlp), json.dumps(kan), sep="\n", flush=True)
                if not args.no_matched_time:
                    r = kan["wall_s"] / mlp["wall_s"]
                    same = run_one(problem, form, "MLP", seed, round(adam * r), round(lbfgs * r))
                    rows.append({**same, "model": "MLP @ KAN time"})
                    print(json.dumps(rows[-1]), flush=True)
    print()
    print(table(rows))
    out = args.out or OUT / f"kan_vs_mlp_{'_'.join(args.problems)}.json"
    write_results(out, vars(args), rows, table(rows), started)


if __name__ == "__main__":
    main()
