"""KAN against MLP at matched parameter count, in strong form (PINN) and energy form.

Problem (so far the first of issue 3's three): the multi-scale 1D Poisson problem
``poisson1d_multiscale``, −u'' = f on (0, 1), u(0) = u(1) = 0, exact u = sin πx + 0.1 sin(kπx).
For each form and each network, 3 seeds by default, the same step budget (``--adam`` Adam steps at
lr 1e-3, then ``--lbfgs`` L-BFGS iterations). Networks: MLP 3×50 tanh (5,251 parameters) and KAN
[1, 18, 18, 1] with G = 10, cubic splines (5,400 parameters). Strong form: 512 Hammersley
collocation points + both boundary points; energy form: Gauss–Legendre quadrature on 128 cells ×
4 points with u = x(1−x)·N(x). Reported: relative L2 against the exact solution on 512 points,
parameters, time per step (whole run / steps), wall time.

Run from the repository root::

    python benchmarks/kan_vs_mlp.py --freq 10 --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from _provenance import provenance  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
MODELS = {"MLP": "{type: mlp, width: 50, depth: 3, activation: tanh}",
          "KAN": "{type: kan, widths: [18, 18], grid_size: 10, spline_order: 3}"}
FORMS = {"strong (PINN)": ["method={type: pinn}",
                           "data={type: collocation, n_interior: 512, n_boundary: 2, n_initial: 1, sampler: hammersley}"],
         "energy": ["method={type: energy}", "data={type: quadrature, n_cells: 128, order: 4}"]}


def run_one(form: str, net: str, seed: int, freq: float, adam: int, lbfgs: int) -> dict:
    from sciml import build, load_case
    from sciml.train import Trainer

    stages = [f"{{optimizer: adam, lr: 1.0e-3, steps: {adam}}}"]
    if lbfgs:
        stages.append(f"{{optimizer: lbfgs, lr: 1.0, steps: {lbfgs}}}")
    over = [f"seed={seed}", f"problem.params.freq={freq}", f"model={MODELS[net]}", "train.progress=false",
            f"train.stages=[{', '.join(stages)}]", "train.eval_every=1000000", *FORMS[form]]
    case = load_case(ROOT / "cases" / "poisson_energy.yaml", over)
    built = build(case)
    t0 = time.perf_counter()
    metrics = Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
    wall = time.perf_counter() - t0
    return {"form": form, "model": net, "seed": seed, "rel_l2": metrics["eval/rel_l2"], "wall_s": wall,
            "ms_per_step": 1000 * wall / (adam + lbfgs), "params": sum(p.numel() for p in built.model.parameters())}


def table(rows: list[dict]) -> str:
    lines = ["| form | model | params | mean rel L2 | worst rel L2 | ms/step | wall s | per seed |",
             "|---|---|---|---|---|---|---|---|"]
    for form in FORMS:
        for net in MODELS:
            rs = [r for r in rows if r["form"] == form and r["model"] == net]
            if rs:
                e = np.array([r["rel_l2"] for r in rs])
                lines.append(f"| {form} | {net} | {rs[0]['params']:,} | {e.mean():.3e} | {e.max():.3e} | "
                             f"{np.mean([r['ms_per_step'] for r in rs]):.2f} | {np.mean([r['wall_s'] for r in rs]):.1f} | "
                             + ", ".join(f"{x:.2e}" for x in e) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--freq", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--adam", type=int, default=3000)
    ap.add_argument("--lbfgs", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT / "kan_vs_mlp.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for form in FORMS:
        for net in MODELS:
            for seed in args.seeds:
                rows.append(run_one(form, net, seed, args.freq, args.adam, args.lbfgs))
                print(json.dumps(rows[-1]), flush=True)
    print()
    print(table(rows))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"settings": vars(args), "provenance": provenance(), "runs": rows,
                                          "table_markdown": table(rows)}, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
