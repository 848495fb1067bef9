"""Trajectory windows, the pushforward curriculum, rollouts and the accumulated-error metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml.components  # noqa: F401  (registries)
from operators.autoregressive import AutoregressiveOperator
from operators.supervised import relative_l2
from sciml.config import Stage, Train
from sciml.data import H5Dataset, write_dataset
from sciml.data.trajectory import TrajectoryData
from sciml.mesh import Grid
from sciml.registry import METHODS, MODELS
from sciml.train import Trainer

RATE = 0.1  # u(t, x) = sin(x) + RATE · t·(1 + p)


@pytest.fixture()
def ramp(tmp_path):
    """Trajectories that grow linearly in time at a per-sample rate RATE·(1 + p)."""
    n, T, nx = 12, 20, 16
    grid = Grid((nx,), ((0.0, 2 * np.pi),), periodic=(True,))
    x = grid.points()[:, 0]
    p = np.linspace(0.0, 1.0, n)
    t = np.arange(T, dtype=float)
    u = np.sin(x)[None, None, :] + RATE * (1 + p)[:, None, None] * t[None, :, None]
    path = write_dataset(
        tmp_path / "ramp.h5", {"u": u[..., None]}, {"u": "output"}, grid, params={"p": p}, times=t, problem="ramp"
    )
    return H5Dataset(path), p


def test_windows_are_slices_of_the_trajectories_and_unroll_follows_the_curriculum(ramp):
    ds, _ = ramp
    data = TrajectoryData(ds, 8, 4, 4, time_window=3, bundle=2, pushforward=3, seed=0)
    full = data.u["train"]
    seen = []
    for _ in range(12):  # 6 epochs of 2 batches
        epoch = data.epoch
        b = data.next_batch()
        n = b["unroll"]
        assert 0 <= n <= min(epoch, 3)
        assert b["u"].shape == (4, 3, 16, 1) and b["future"].shape == (4, 2 * (n + 1), 16, 1)
        # the window and its future are consecutive steps of one trajectory
        seq = torch.cat([b["u"], b["future"]], 1)
        assert all(int(b["t"][i]) >= 3 for i in range(4))
        for i in range(4):
            match = [j for j in range(8) if torch.allclose(full[j, b["t"][i] - 3 : b["t"][i] + 2 * (n + 1)], seq[i])]
            assert match, "batch windows must be slices of a training trajectory"
        seen.append(n)
    assert max(seen) >= 2  # the curriculum lets the unroll grow
    state = data.state_dict()
    nxt = data.next_batch()
    data.load_state_dict(state)
    again = data.next_batch()
    assert torch.equal(nxt["u"], again["u"]) and nxt["unroll"] == again["unroll"]  # resumable


class Ramp(torch.nn.Module):
    """The exact stepper of the ramp data plus a rate error ``delta``: u_last + ℓ·(RATE(1 + p) + δ)."""

    graph_model = True

    def __init__(self, bundle: int, delta: float, scale: float):
        super().__init__()
        self.bundle, self.delta, self.scale = bundle, delta, scale
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, u, t, theta):
        p = theta[:, 0] * self.scale
        ell = torch.arange(1, self.bundle + 1, dtype=u.dtype)
        rate = RATE * (1 + p) + self.delta
        return u[:, -1:] + (ell[None, :] * rate[:, None])[:, :, None, None] + 0 * self.w


def test_exact_stepper_has_zero_loss_and_the_accumulated_error_formula(ramp):
    ds, p = ramp
    data = TrajectoryData(ds, 8, 4, 4, time_window=3, bundle=2, pushforward=2, seed=0)
    scale = float(data.param_scale[0])
    exact = AutoregressiveOperator(None, Ramp(2, 0.0, scale), data)
    for _ in range(6):
        assert float(exact.loss(data.next_batch())["data"]) < 1e-10
    m = exact.evaluate(data)
    assert m["accumulated_error"] < 1e-9 and m["rel_l2"] < 1e-6
    # a rate error δ grows linearly along the rollout: the m-th predicted step is off by m·δ, so
    # Σ_t Σ_x err² / n_x = δ² Σ_{m=1}^{T−K} m²
    delta = 0.01
    off = AutoregressiveOperator(None, Ramp(2, delta, scale), data, gt_windows=1)
    M = 20 - 3
    assert off.evaluate(data)["accumulated_error"] == pytest.approx(
        delta**2 * sum(m * m for m in range(1, M + 1)), rel=1e-4
    )
    off2 = AutoregressiveOperator(None, Ramp(2, delta, scale), data, gt_windows=2)  # start after 2 windows
    M2 = 20 - 6
    assert off2.evaluate(data)["accumulated_error"] == pytest.approx(
        delta**2 * sum(m * m for m in range(1, M2 + 1)), rel=1e-4
    )
    fields = off.predict(data, n_samples=2)  # the median-error rollout, then the worst
    name, f = fields[0]
    assert name.startswith("median_rollout") and f.values.shape == (20, 16, 3) and f.names == ("u", "u_ref", "u_error")
    pred, true, _ = off._rollouts(data)
    errors = relative_l2(pred, true).numpy()
    assert fields[1][0] == f"worst_rollout{int(np.argmax(errors)):03d}"
    assert off.sample_labels[fields[1][0]].startswith(f"worst sample #{int(np.argmax(errors))} (rel L2 ")
    assert np.allclose(f["u_error"][:3], 0) and np.allclose(f["u_error"][-1], M * delta, rtol=1e-4)


def test_pushforward_loss_targets_the_last_bundle(ramp):
    """With an off stepper the loss grows with the unroll: the n no-grad bundles compound the error."""
    ds, _ = ramp
    data = TrajectoryData(ds, 8, 4, 4, time_window=2, bundle=2, pushforward=3, seed=0)
    method = AutoregressiveOperator(None, Ramp(2, 0.05, float(data.param_scale[0])), data)
    b = data.next_batch()
    losses = []
    for n in range(4):
        fut = data.u["train"][:4, 2 : 2 + 2 * (n + 1)]
        batch = {
            "u": data.u["train"][:4, :2],
            "future": fut,
            "t": torch.full((4,), 2),
            "params": data.params["train"][:4],
            "unroll": n,
        }
        losses.append(float(method.loss(batch)["data"]))
    # after n unrolls the window is off by 2nδ and the predicted bundle by (2n + ℓ)δ, ℓ = 1, 2
    expect = [np.mean([((2 * n + ell) * 0.05) ** 2 for ell in (1, 2)]) for n in range(4)]
    assert np.allclose(losses, expect, rtol=1e-4)
    assert b["u"].shape[1] == 2


def test_training_reduces_the_rollout_error_and_bad_options_fail(ramp):
    ds, _ = ramp
    data = TrajectoryData(ds, 8, 4, 4, time_window=3, bundle=3, pushforward=1, seed=0)
    io = data.io_spec(None)
    assert io.window == 3 and io.bundle == 3 and io.param_names == ("p",) and io.period == (2 * np.pi,)
    torch.manual_seed(0)
    model = MODELS.build("mppde", {"hidden": 32, "layers": 2, "neighbors": 1}, io=io)
    method = METHODS.build("autoregressive", {}, problem=None, model=model, data=data)
    before = method.evaluate(data)["accumulated_error"]
    Trainer(Train(stages=[Stage("adam", 3e-3, steps=150)], log_every=50, eval_every=1000, progress=False)).fit(
        method, data
    )
    after = method.evaluate(data)["accumulated_error"]
    assert after < 0.5 * before
    fno = MODELS.build("fno", {"n_modes": [4], "hidden_channels": 8, "n_layers": 2, "projection_channels": 8}, io=io)
    assert METHODS.build("autoregressive", {}, problem=None, model=fno, data=data).graph is False
    with pytest.raises(ValueError, match="gt_windows"):
        METHODS.build("autoregressive", {"gt_windows": 7}, problem=None, model=model, data=data)
    with pytest.raises(ValueError, match="unknown autoregressive loss"):
        METHODS.build("autoregressive", {"loss": "l1"}, problem=None, model=model, data=data)
    with pytest.raises(ValueError, match="exceeds"):
        TrajectoryData(ds, 8, 4, 4, time_window=15, bundle=6, pushforward=0, seed=0)
    with pytest.raises(ValueError, match="grid's periodicity"):
        TrajectoryData(ds, 8, 4, 4, time_window=3, bundle=3, pushforward=0, seed=0, period=[1.0])


def test_mesh_support_takes_the_problems_period(tmp_path):
    """An irregular 1D point set is a Mesh without periodicity; the problem's ``periodic`` supplies it."""
    from sciml.mesh import Mesh

    x = np.array([0.2, 1.0, 2.5, 3.0, 5.0, 6.5, 8.0, 9.0, 11.0, 12.5, 14.0, 15.6])
    mesh = Mesh(x[:, None], [("line", np.stack([np.arange(11), np.arange(1, 12)], 1))])
    u = np.random.default_rng(1).normal(size=(6, 8, 12, 1))
    path = write_dataset(tmp_path / "m.h5", {"u": u}, {"u": "output"}, mesh, times=np.arange(8.0))
    ds = H5Dataset(path)
    assert TrajectoryData(ds, 4, 2, 2, 2, None, 0, 0).period is None
    data = TrajectoryData(ds, 4, 2, 2, 2, None, 0, 0, periodic={"x": 16.0})
    assert data.period == (16.0,) and data.param_names == () and data.params["train"].shape == (4, 0)
    with pytest.raises(ValueError, match="positive periods"):
        TrajectoryData(ds, 4, 2, 2, 2, None, 0, 0, period=[16.0, 1.0])
    model = MODELS.build("mppde", {"hidden": 32, "layers": 1, "k": 2}, io=data.io_spec(None))
    pairs = list(zip(model.src.tolist(), model.dst.tolist()))
    assert (11, 0) in pairs  # 15.6 and 0.2 are neighbours across the wrap: x_0 − x_11 = +0.6, not −15.4
    assert float(model.dx[pairs.index((11, 0)), 0]) == pytest.approx(0.6 / 16.0, abs=1e-6)
    out = AutoregressiveOperator(None, model, data).evaluate(data)
    assert np.isfinite(out["accumulated_error"])
