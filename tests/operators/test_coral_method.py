"""CORAL as a method of the one Trainer: a case with named networks (two neural fields and a
processor) and two stages of phases ``fields`` and ``processor`` on a dataset whose samples each
have their own points (HDF5 format version 2, read by ``problem: from_data``): each phase trains
only its own networks, the processor learns from codes cached at its stage's start, a run stopped
inside either phase (or at the switch) resumes bit for bit, and predictions come on each sample's
own points."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_train import train  # (built, trainer, metrics) with SIGINT at a step; tests/core/test_train.py

from benchmarks.soak_resume import differences  # the soak's bitwise comparison
from sciml import load_case
from sciml.data import write_dataset
from sciml.output import RunDir
from sciml.train import Interrupted

F, P = 6, 5  # steps of the fields stage and of the processor stage


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
    return write_dataset(path, {"a": a, "u": u}, {"a": "input", "u": "output"}, pts, channels=channels)


def case_of(data: Path, tmp: Path, stages=None):
    raw = {
        "name": "coral_disks",
        "seed": 0,
        "problem": {"type": "from_data", "path": str(data)},
        "data": {"type": "samples", "n_train": 8, "n_test": 4, "batch_size": 4},
        "model": {
            "field_in": {"type": "siren", "width": 16, "depth": 2, "latent_dim": 8, "w0": 10.0},
            "field_out": {"type": "siren", "width": 16, "depth": 2, "latent_dim": 8, "w0": 10.0},
            "processor": {"type": "code_resnet", "width": 16, "depth": 1},
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
            "eval_every": 5,
            "progress": False,
        },
        "output": {"formats": ["vtu"], "n_samples": 2, "dir": str(tmp / "runs")},
    }
    path = tmp / "coral.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_case(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return disks(tmp_path_factory.mktemp("coral") / "disks.h5")


def snapshot(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_each_phase_trains_its_own_networks(data, tmp_path):
    built, _, metrics = train(case_of(data, tmp_path))
    method = built.method
    assert {"eval/rel_l2", "eval/fit_rel_l2"} <= set(metrics) and all(np.isfinite(list(metrics.values())))
    # fields only: the processor keeps its initial weights
    only = case_of(data, tmp_path, [{"optimizer": "adam", "lr": 1e-3, "steps": F, "phase": "fields"}])
    b2, _, _ = train(only)
    fresh, _, _ = train(case_of(data, tmp_path, [{"optimizer": "adam", "lr": 1e-3, "steps": 1, "phase": "processor"}]))
    # (the processor stage alone changes no field: every field weight equals the initial one)
    init = case_of(data, tmp_path, [{"optimizer": "adam", "lr": 1e-3, "steps": 1, "phase": "fields"}])
    from sciml.run import build

    start = build(init).method
    for name in ("field_in", "field_out"):
        assert not differences(snapshot(getattr(fresh.method, name)), snapshot(getattr(start, name)), name)
        assert differences(snapshot(getattr(b2.method, name)), snapshot(getattr(start, name)), name)
    assert not differences(snapshot(b2.method.processor), snapshot(start.processor), "processor")
    assert differences(snapshot(fresh.method.processor), snapshot(start.processor), "processor")
    # the processor learned from the cached codes of every training sample, standardized
    assert len(method._codes) == 8 and torch.all(method.std_in > 0)
    za = torch.stack([c[0] for c in method._codes.values()])
    torch.testing.assert_close(((za - method.mean_in) / method.std_in).mean(0), torch.zeros(8), atol=1e-5, rtol=0)


@pytest.mark.parametrize("stop_at", [3, F, F + 3])  # inside the fields phase, at the switch, inside the processor's
def test_a_run_stopped_in_either_phase_resumes_bit_for_bit(data, tmp_path, stop_at):
    ref, ref_tr, ref_metrics = train(case_of(data, tmp_path))
    case = case_of(data, tmp_path)
    run_dir = RunDir.create(tmp_path / "r", case.name)
    run_dir.save_case(case.to_dict())
    with pytest.raises(Interrupted):
        train(case, run_dir, stop_at=stop_at)
    built, tr, metrics = train(case_of(data, tmp_path), run_dir, resume=run_dir.checkpoints / "last.pt")
    assert tr.state.step == ref_tr.state.step == F + P
    assert not differences(built.method.state_dict(), ref.method.state_dict(), "method")
    timing = {"train_time_s"}  # wall clock: the one metric that differs
    assert {k: v for k, v in metrics.items() if k not in timing} == {
        k: v for k, v in ref_metrics.items() if k not in timing
    }


def test_a_case_writes_predictions_on_each_samples_own_points(data, tmp_path):
    import pyvista as pv

    from sciml.run import run_case

    run_dir, metrics = run_case(case_of(data, tmp_path))
    files = sorted((run_dir.path / "fields").glob("*.vtu"))
    assert len(files) == 2
    sizes = set()
    for f in files:
        grid = pv.read(f)
        sizes.add(grid.n_points)
        for name in ("f", "dist", "u", "u_ref", "u_error"):
            assert name in grid.point_data
        np.testing.assert_allclose(
            grid.point_data["u_error"], grid.point_data["u"] - grid.point_data["u_ref"], atol=1e-6
        )
    assert all(40 <= n <= 80 for n in sizes)
