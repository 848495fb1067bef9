"""CORAL for dynamics (operators/coral_dynamics.py): the code ODE is integrated by RK4 to fourth
order, teacher forcing restarts from the true codes where asked, the ε schedule is CORAL's, and the
method trains both phases on trajectories given at each sample's own points (a subsampled grid),
resumes bit for bit across the switch, and forecasts beyond its training horizon."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.linalg import expm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_train import assert_resumes_bit_for_bit  # tests/core/test_train.py

from operators.coral_dynamics import CodeODE, rollout, teacher_forcing
from sciml import load_case
from sciml.data import write_dataset
from sciml.run import load_run


def linear_ode(a: np.ndarray) -> CodeODE:
    """dz/dt = A z as a CodeODE: one hidden layer used as the identity would need SiLU to vanish,
    so the net is replaced by a single linear map."""
    f = CodeODE(len(a), width=4, depth=1)
    lin = torch.nn.Linear(len(a), len(a), bias=False, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(a))
    f.net = lin
    return f


def test_rk4_rollout_converges_at_fourth_order():
    a = np.array([[0.0, 2.0], [-2.0, -0.1]])
    f = linear_ode(a)
    z0 = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    times = torch.linspace(0.0, 2.0, 11, dtype=torch.float64)
    exact = np.stack([expm(a * t) @ z0[0].numpy() for t in times.numpy()])
    errs = []
    for sub in (1, 2, 4):
        z = rollout(f, z0[:, None], times, None, substeps=sub)[0].detach().numpy()
        errs.append(np.abs(z - exact).max())
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 3.8), (errs, orders)  # measured 4.07, 4.05
    # stored times not evenly spaced: each interval in its own RK4 steps (no interpolation between)
    uneven = torch.tensor([0.0, 0.1, 0.3, 0.35, 0.7, 1.3], dtype=torch.float64)
    exact = np.stack([expm(a * t) @ z0[0].numpy() for t in uneven.numpy()])
    errs = [np.abs(rollout(f, z0[:, None], uneven, None, substeps=s)[0].detach().numpy() - exact).max() for s in (4, 8)]
    assert np.log2(errs[0] / errs[1]) > 3.8, errs  # measured 8.4e-5, 4.9e-6: order 4.1


def test_teacher_forcing_restarts_from_the_true_codes():
    torch.manual_seed(0)
    f = CodeODE(3, width=8, depth=2).double()
    times = torch.linspace(0.0, 1.0, 6, dtype=torch.float64)
    z_true = torch.randn(2, 6, 3, dtype=torch.float64)
    free = rollout(f, z_true, times)
    torch.testing.assert_close(free, rollout(f, z_true[:, :1], times))  # no restart: only z0 counts
    forced = rollout(f, z_true, times, torch.ones(6, dtype=torch.bool))
    for k in range(1, 6):  # every step one RK4 step from the true previous code
        one = rollout(f, z_true[:, k - 1 : k], times[k - 1 : k + 1])[:, 1]
        torch.testing.assert_close(forced[:, k], one)
    part = rollout(f, z_true, times, torch.tensor([0, 0, 0, 1, 0, 0], dtype=torch.bool))
    torch.testing.assert_close(part[:, :4], free[:, :4])  # the same until the restart at index 3
    torch.testing.assert_close(part[:, 4:], rollout(f, z_true[:, 3:4], times[3:])[:, 1:])
    assert teacher_forcing(0) == 0.99 and teacher_forcing(25) == pytest.approx(0.99**3)
    assert teacher_forcing(10 * 700) == 0.0  # 0.99^701 < 1e-3: set to 0


def waves(path: Path, n: int = 10, nt: int = 8, seed: int = 0) -> Path:
    """Travelling waves u = sin(2π(x - c t) + φ) on [0, 1), each trajectory on its own random 12 to 20
    points of a 64-point grid (so batches are padded); speeds c ~ U[0.5, 1.5], phases φ ~ U[0, 2π);
    times 0 .. 0.35."""
    rng = np.random.default_rng(seed)
    grid = np.arange(64) / 64
    times = np.linspace(0.0, 0.35, nt)
    pts, u = [], []
    for _ in range(n):
        x = np.sort(rng.choice(grid, int(rng.integers(12, 21)), replace=False))
        c, phi = rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)
        pts.append(x[:, None])
        u.append(np.sin(2 * np.pi * (x[None, :] - c * times[:, None]) + phi)[..., None].astype(np.float32))
    return write_dataset(path, {"u": u}, {"u": "output"}, pts, times=times)


F, P = 5, 6


def case_of(data: Path, tmp: Path):
    raw = {
        "name": "coral_waves",
        "seed": 0,
        "problem": {"type": "from_data", "path": str(data)},
        "data": {"type": "samples", "n_train": 6, "n_test": 4, "batch_size": 3},
        "model": {
            "field": {"type": "siren", "width": 16, "depth": 2, "latent_dim": 6, "w0": 10.0},
            "processor": {"type": "code_ode", "width": 16, "depth": 2},
        },
        "method": {"type": "coral", "horizon": 4, "tf_every": 1, "tf_decay": 0.5},
        "train": {
            "stages": [
                {"optimizer": "adam", "lr": 1e-3, "steps": F, "phase": "fields"},
                {"optimizer": "adam", "lr": 1e-3, "steps": P, "phase": "processor"},
            ],
            "checkpoint_every": 4,
            "log_every": 2,
            "progress": False,
        },
        "output": {"formats": ["pvd"], "n_samples": 1, "dir": str(tmp / "runs")},
    }
    path = tmp / "coral.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_case(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return waves(tmp_path_factory.mktemp("coral_dyn") / "waves.h5")


@pytest.mark.parametrize("stop_at", [F, F + 4])  # at the switch, inside the processor phase
def test_dynamics_trains_both_phases_and_resumes_bit_for_bit(data, tmp_path, stop_at):
    ref, tr, metrics = assert_resumes_bit_for_bit(lambda: case_of(data, tmp_path), tmp_path, stop_at)
    assert tr.state.step == F + P
    assert {"eval/rel_l2", "eval/rel_l2_extra", "eval/fit_rel_l2"} <= set(metrics)
    assert ref.method.horizon == 4 and ref.method.codes.shape == (6, 4, 6) and bool(ref.method.cached)
    assert ref.method.epsilon == pytest.approx(0.99 * 0.5**3)  # 6 steps, 2 per epoch, decay every epoch


def test_dynamics_forecasts_are_written_on_each_trajectorys_points(data, tmp_path):
    import pyvista as pv

    from sciml.run import run_case

    run_dir, metrics = run_case(case_of(data, tmp_path))
    [pvd] = sorted((run_dir.path / "fields").glob("*.pvd"))
    steps = sorted((run_dir.path / "fields").glob("*/*.vtu"))
    assert len(steps) == 8  # every stored time: the horizon (4) and beyond
    grid = pv.read(steps[-1])
    assert 12 <= grid.n_points <= 20 and {"u", "u_ref", "u_error"} <= set(grid.point_data)
    # the written reference is the stored trajectory at the sample's own points (no padding)
    i = int(pvd.stem.split("sample")[1])
    from sciml.data import H5Dataset

    ds = H5Dataset(data)
    np.testing.assert_allclose(np.asarray(grid.points)[:, 0], ds.support.points(i)[:, 0], rtol=1e-6)
    np.testing.assert_allclose(grid.point_data["u_ref"], ds[i]["u"][-1, :, 0].numpy(), rtol=1e-5, atol=1e-6)
    # padded batches: the metrics count each trajectory's real points only (a 2nd evaluation agrees)
    _, _, built = load_run(run_dir.path)
    rows = built.method._test(built.data)
    assert len({r[1].shape[1] for r in rows}) > 1  # trajectories of different sizes in one batch
    # decoding on a finer set of points of [0, 1): a time series with the reference where known
    fine = np.linspace(0.0, 1.0, 129)[:, None]
    [(stem, field)] = built.method.decode_on(built.data, fine, [rows[0][0]])
    assert field.values.shape == (8, 129, 3) and np.isnan(field.values[:, 0, 1]).sum() in (0, 8)
    with pytest.raises(ValueError, match=r"method.horizon must be an integer in \[2, 8\]"):
        run_case(load_case(tmp_path / "coral.yaml", ["method.horizon=9"]))
