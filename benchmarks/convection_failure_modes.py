"""Convection failure modes: plain PINN against LPINN on u_t + β u_x = 0, u0 = sin x, periodic.

For each β in ``--betas`` and each seed, both methods run from their case files
(``cases/convection_pinn.yaml``, ``cases/convection_lpinn.yaml``) with the same network size
(4×50 tanh), the same number of interior points and the same step budget (``--adam`` Adam steps
at lr 1e-3, then ``--lbfgs`` L-BFGS iterations), one after the other in this process with
``--threads`` torch threads. Reported: relative L2 error against the exact solution on the
256×100 reference grid, mean and worst over seeds, failure rate (error > 10%), wall time.

Published context: a vanilla PINN fails (relative error ≈ 1) from β ≈ 30 (Krishnapriyan et al.,
NeurIPS 2021); LPINN (Mojgani et al., CMAME 2023) is designed to remove that failure.

Run from the repository root::

    python benchmarks/convection_failure_modes.py --betas 10 30 50 --seeds 0 1 2
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
CASES = {"PINN": ROOT / "cases" / "convection_pinn.yaml", "LPINN": ROOT / "cases" / "convection_lpinn.yaml"}


def run_one(method: str, beta: float, seed: int, adam: int, lbfgs: int) -> dict:
    from sciml import build, load_case
    from sciml.train import Trainer

    stages = [f"{{optimizer: adam, lr: 1.0e-3, steps: {adam}}}"]
    if lbfgs:
        stages.append(f"{{optimizer: lbfgs, lr: 1.0, steps: {lbfgs}}}")
    case = load_case(
        CASES[method],
        [
            f"seed={seed}",
            f"problem.params.beta={beta}",
            "train.progress=false",
            f"train.stages=[{', '.join(stages)}]",
            "train.eval_every=1000000",
        ],
    )
    built = build(case)
    t0 = time.perf_counter()
    metrics = Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
    return {
        "method": method,
        "beta": beta,
        "seed": seed,
        "rel_l2": metrics["eval/rel_l2"],
        "wall_s": time.perf_counter() - t0,
        "params": sum(p.numel() for p in built.method.parameters()),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| β | method | params | mean rel L2 | worst rel L2 | failure rate (>10%) | mean wall s | per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for beta in dict.fromkeys(r["beta"] for r in rows):
        for method in CASES:
            rs = [r for r in rows if r["beta"] == beta and r["method"] == method]
            if not rs:
                continue
            e = np.array([r["rel_l2"] for r in rs])
            lines.append(
                f"| {beta:g} | {method} | {rs[0]['params']:,} | {e.mean():.3e} | {e.max():.3e} | "
                f"{(e > 0.1).sum()}/{len(e)} | {np.mean([r['wall_s'] for r in rs]):.1f} | "
                + ", ".join(f"{x:.2e}" for x in e)
                + " |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--betas", type=float, nargs="+", default=[10.0, 30.0, 50.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--adam", type=int, default=3000)
    ap.add_argument("--lbfgs", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT / "convection_failure_modes.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for beta in args.betas:
        for seed in args.seeds:
            for method in CASES:
                rows.append(run_one(method, beta, seed, args.adam, args.lbfgs))
                print(json.dumps(rows[-1]), flush=True)
    print()
    print(table(rows))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"settings": vars(args), "provenance": provenance(), "runs": rows, "table_markdown": table(rows)}, indent=1
        )
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
