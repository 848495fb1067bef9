"""CORAL (static) on a toy with an exact answer: samples on disks of random radius, each with its own
random points; input channels f (a constant per sample) and the distance to the rim, output the
solution of -Δu = f with u = 0 on the rim, u = f (R² - |x|²) / 4. The tests use the same dataset
and case at a few steps (tests/operators/test_coral_method.py).

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/coral_disks.py --fields 600 --processor 600

It prints the final metrics: ``eval/rel_l2`` (the prediction on the 40 test samples) and
``eval/fit_rel_l2`` (the output field on codes fitted to the true outputs: the best the fields can
represent), and the wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, os.getcwd())

F, P = 6, 5  # the tests' steps of the fields stage and of the processor stage


def disks(path: Path, n: int = 12, seed: int = 0) -> Path:
    """Samples on disks of random radius R, each with its own random points (40 to 80): input
    channels f = c (a constant per sample) and the distance to the rim R - |x|; output
    u = c (R² - |x|²) / 4, the solution of -Δu = c with u = 0 on the rim."""
    rng = np.random.default_rng(seed)
    pts, a, u = [], [], []
    for _ in range(n):
        m, radius, c = int(rng.integers(40, 81)), rng.uniform(0.6, 1.0), rng.uniform(0.5, 2.0)
        r = radius * np.sqrt(rng.uniform(size=m))
        t = rng.uniform(0, 2 * np.pi, size=m)
        x = np.stack([r * np.cos(t), r * np.sin(t)], 1)
        pts.append(x)
        a.append(np.stack([np.full(m, c), radius - r], 1).astype(np.float32))
        u.append((c * (radius**2 - r**2) / 4)[:, None].astype(np.float32))
    channels = {"a": ["f", "dist"], "u": ["u"]}
    from sciml.data import write_dataset

    return write_dataset(path, {"a": a, "u": u}, {"a": "input", "u": "output"}, pts, channels=channels)


def case_of(
    data: Path,
    tmp: Path,
    stages=None,
    n_train: int = 8,
    n_test: int = 4,
    batch_size: int = 4,
    field: dict | None = None,
    processor: dict | None = None,
    formats=("vtu",),
):
    """The CORAL case on the file ``data`` (problem from_data), written to ``tmp/coral.yaml`` and
    loaded; the defaults are the tests' (tiny networks, ``F`` + ``P`` steps)."""
    field = {"width": 16, "depth": 2, "latent_dim": 8, **(field or {})}
    raw = {
        "name": "coral_disks",
        "seed": 0,
        "problem": {"type": "from_data", "path": str(data)},
        "data": {"type": "samples", "n_train": n_train, "n_test": n_test, "batch_size": batch_size},
        "model": {
            "field_in": {"type": "siren", "w0": 10.0, **field},
            "field_out": {"type": "siren", "w0": 10.0, **field},
            "processor": {"type": "code_resnet", "width": 16, "depth": 1, **(processor or {})},
        },
        "method": {"type": "coral"},
        "train": {
            "stages": stages
            or [
                {"optimizer": "adam", "lr": 1e-3, "steps": F, "phase": "fields"},
                {"optimizer": "adam", "lr": 1e-3, "steps": P, "phase": "processor"},
            ],
            "checkpoint_every": 4,
            "log_every": 2,
            "eval_every": 5 if stages is None else 10**9,
            "progress": False,
        },
        "output": {"formats": list(formats), "n_samples": 2, "dir": str(tmp / "runs")},
    }
    path = tmp / "coral.yaml"
    path.write_text(yaml.safe_dump(raw))
    from sciml import load_case

    return load_case(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fields", type=int, default=600, help="Adam steps of the fields phase")
    ap.add_argument("--processor", type=int, default=600, help="Adam steps of the processor phase")
    ap.add_argument("--samples", type=int, default=240, help="samples (the last 40 are the test set)")
    args = ap.parse_args()
    from sciml.run import run_case

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = disks(root / "disks.h5", n=args.samples, seed=1)
        stages = [
            {"optimizer": "adam", "lr": 1e-3, "steps": args.fields, "phase": "fields"},
            {"optimizer": "adam", "lr": 1e-3, "steps": args.processor, "phase": "processor"},
        ]
        case = case_of(
            data,
            root,
            stages,
            n_train=args.samples - 40,
            n_test=40,
            batch_size=16,
            field={"width": 64, "depth": 3, "latent_dim": 32},
            processor={"width": 64, "depth": 2},
            formats=[],
        )
        t0 = time.perf_counter()
        _, metrics = run_case(case)
    print({k: round(v, 4) for k, v in metrics.items()}, f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
