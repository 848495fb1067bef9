"""Darcy FNO end to end in sciml: ``sciml run cases/darcy_fno.yaml``, timed and scored.

The case: 2D Darcy flow -div(a grad u) = 1 on the unit square, u = 0 on the boundary, a = 12 / 3
from a thresholded Gaussian random field, solved by sciml's finite-difference solver at 64 x 64;
1000 training and 100 test pairs (a, u); an FNO (12 legacy modes, width 32, 4 layers,
projection 128, padding 8) trained with Adam (lr 1e-3, weight decay 1e-4, learning rate halved
every 500 steps), batch 20, on the mean relative L2 error of the decoded output (pointwise
normalization, as in the FNO paper).

The run goes through the public pipeline, ``sciml.run(load_case("cases/darcy_fno.yaml", overrides))``,
with these overrides only: the dataset path (``--data``, default under ``benchmarks/out/data``), the
output directory (``benchmarks/out/runs``), ``train.stages.0.epochs`` when ``--epochs`` is given, and any
``--set KEY=VALUE``. Everything else (evaluation every 250 steps, checkpoints every 250 steps, log
every 50, VTU/PNG outputs at the end) is the case's.

Reported:

- dataset generation time (GRF sampling + 1100 finite-difference solves + HDF5 write), timed
  separately before the run by calling the same generator the run uses; if the file already
  exists and matches it is reused and the time is reported as cached (``--regenerate`` deletes it
  first);
- training time: the Trainer's ``train_time_s`` (all stages, including the case's periodic
  evaluations and checkpoints) and the time at the last training step from ``metrics.jsonl``
  (training loop only, still including those periodic evaluations/checkpoints), with seconds per
  epoch;
- the whole ``sciml.run`` wall time (also loading the data, building the model and writing the
  output files);
- the FNO's test relative L2 error (mean over the 100 test samples, physical units).

Run from the repository root::

    python benchmarks/darcy_fno_sciml.py                # the case's 30 epochs
    python benchmarks/darcy_fno_sciml.py --epochs 10    # shorter

Writes ``benchmarks/out/darcy_fno_sciml.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from _provenance import provenance  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
CASE = ROOT / "cases" / "darcy_fno.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default: the case's)")
    ap.add_argument(
        "--data",
        default=str(OUT / "data" / "darcy2d_r64_n1100_s0.h5"),
        help="HDF5 dataset path (generated on first use)",
    )
    ap.add_argument("--regenerate", action="store_true", help="delete the dataset first so generation is timed")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra case override")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(OUT / "darcy_fno_sciml.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import sciml
    import sciml.components
    from sciml import load_case
    from sciml.data.operator import generate_problem_dataset
    from sciml.registry import PROBLEMS

    overrides = [f"data.path={args.data}", f"output.dir={OUT / 'runs'}", "device=cpu"]
    if args.epochs is not None:
        overrides.append(f"train.stages.0.epochs={args.epochs}")
    overrides += args.set
    case = load_case(CASE, overrides)
    stage = case.train.stages[0]
    n_train, n_test = case.data["n_train"], case.data["n_test"]
    print(
        f"case {case.name}: {case.problem}, {n_train} train / {n_test} test, model {case.model}, "
        f"{stage.epochs} epochs, batch {case.data['batch_size']}, threads {torch.get_num_threads()}",
        flush=True,
    )

    # 1. the dataset, timed on its own (run() then finds it cached)
    data_path = Path(args.data)
    if args.regenerate and data_path.exists():
        data_path.unlink()
    cached = data_path.exists()
    problem = PROBLEMS.build(case.problem["type"], {k: v for k, v in case.problem.items() if k != "type"})
    t0 = time.perf_counter()
    generate_problem_dataset(problem, data_path, n_train + n_test, case.seed)
    gen_s = time.perf_counter() - t0
    print(f"dataset {data_path}: {'cached, checked in' if cached else 'generated in'} {gen_s:.1f} s", flush=True)

    # 2. the run, as `sciml run` does it
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    run_dir, metrics = sciml.run(case, progress=False)
    run_wall = time.perf_counter() - t0
    records = run_dir.read_metrics()
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval/rel_l2" in r]
    loop_s = steps[-1]["time_s"] if steps else None
    n_epochs = stage.epochs
    res = {
        "case": case.name,
        "epochs": n_epochs,
        "case_epochs": load_case(CASE).train.stages[0].epochs,
        "n_train": n_train,
        "n_test": n_test,
        "resolution": case.problem.get("resolution"),
        "model": case.model,
        "params": None,
        "steps": steps[-1]["step"] if steps else None,
        "dataset_cached": cached,
        "dataset_s": gen_s,
        "train_time_s": metrics["train_time_s"],
        "train_loop_s": loop_s,
        "s_per_epoch": metrics["train_time_s"] / n_epochs,
        "run_wall_s": run_wall,
        "test_rel_l2": metrics["eval/rel_l2"],
        "final_train_loss": metrics.get("loss"),
        "eval_history": [(r["step"], r["eval/rel_l2"]) for r in evals],
        "run_dir": str(run_dir.path),
        "threads": torch.get_num_threads(),
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg()[0],
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "provenance": provenance(),
    }
    try:
        from sciml import build

        res["params"] = sum(p.numel() for p in build(case).model.parameters())
    except Exception as exc:  # the count is a convenience; never fail the benchmark on it
        res["params"] = f"unavailable: {exc}"

    table = "\n".join(
        [
            "| case | epochs | params | dataset gen s | train s (s/epoch) | sciml.run wall s | test rel L2 |",
            "|---|---|---|---|---|---|---|",
            f"| {case.name} ({res['resolution']}x{res['resolution']}, {n_train}/{n_test}) | {n_epochs} | {res['params']:,} | "
            f"{gen_s:.1f}{' (cached)' if cached else ''} | {res['train_time_s']:.1f} ({res['s_per_epoch']:.1f}) | "
            f"{run_wall:.1f} | {res['test_rel_l2']:.4f} |",
        ]
    )
    print()
    print(table)
    print(
        "\ntest rel L2 during training (step, value): " + ", ".join(f"({s}, {v:.4f})" for s, v in res["eval_history"])
    )
    res["table_markdown"] = table
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(f"\nwrote {args.out}; run directory {run_dir.path}")


if __name__ == "__main__":
    main()
