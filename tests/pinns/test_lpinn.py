"""LPINN (pinns/lpinn.py) and the periodic convection problems it is benchmarked on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import pinns.lpinn  # noqa: F401  (registers lpinn)
import sciml.problems.convection  # noqa: F401  (registers convection1d, convection_diffusion1d)
from pinns.lpinn import LABELS, LPINN, lagrangian_residuals, lagrangian_to_eulerian
from sciml.config import Stage, Train
from sciml.data.collocation import CollocationData
from sciml.ops import Derivatives
from sciml.registry import METHODS, PROBLEMS
from sciml.run import Models
from sciml.train import Trainer

TWO_PI = 2 * np.pi


def labels_times(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.rand(n, 2, generator=g, dtype=torch.float64) * torch.tensor([TWO_PI, 1.0], dtype=torch.float64)
    return z.requires_grad_(True)


# ------------------------------------------------------------------ the problems
@pytest.mark.parametrize(
    "name,params", [("convection1d", {"beta": 30.0}), ("convection_diffusion1d", {"beta": 30.0, "nu": 0.01})]
)
def test_problem_reference_and_residuals(name, params):
    pb = PROBLEMS.build(name, {"params": params})
    ref = pb.reference()
    assert ref.values.shape == (100, 256, 1) and ref.support.periodic == (True,)
    assert ref.times[0] == 0.0 and ref.times[-1] == 1.0
    nu = params.get("nu", 0.0)
    x, t = ref.points()[:, 0][None], ref.times[:, None]
    np.testing.assert_allclose(ref.values[..., 0], np.exp(-nu * t) * np.sin(x - 30 * t), atol=1e-12)
    # the equation and the initial condition vanish on the exact solution
    z = labels_times()
    u = torch.exp(-nu * z[:, 1]) * torch.sin(z[:, 0] - 30 * z[:, 1])
    du = Derivatives(u[:, None], z, pb.inputs, pb.outputs)
    assert pb.equations["pde"](du, pb.params).abs().max() < 1e-10
    z0 = z.detach().clone()
    z0[:, 1] = 0.0
    du0 = Derivatives(torch.sin(z0[:, :1]), z0, pb.inputs, pb.outputs)
    assert pb.conditions["initial"].residual(du0, pb.params).abs().max() == 0
    assert pb.periodic == {"x": TWO_PI} and pb.form("characteristic").diffusion(pb.params) == nu


def test_problem_params_checked():
    assert PROBLEMS.build("convection1d", {}).params == {"beta": 30.0}
    assert PROBLEMS.build("convection_diffusion1d", {}).params == {"beta": 30.0, "nu": 0.01}
    with pytest.raises(ValueError, match="outside its range"):
        PROBLEMS.build("convection1d", {"params": {"beta": 2000.0}})
    with pytest.raises(ValueError, match="no parameter 'nu'"):
        PROBLEMS.build("convection1d", {"params": {"nu": 0.1}})


@pytest.mark.parametrize("name", ["convection1d", "convection_diffusion1d"])
def test_periodic_condition_on_paired_points(name):
    pb = PROBLEMS.build(name, {})
    pts = pb.domain.sample_boundary(9, "periodic", rng=0)
    m = len(pts) // 2
    assert len(pts) == 10 and np.all(pts[:m, 0] == 0) and np.allclose(pts[m:, 0], TWO_PI)
    np.testing.assert_array_equal(pts[:m, 1], pts[m:, 1])
    data = CollocationData(pb, 32, 16, 8, "hammersley", 0, seed=0)
    z = torch.as_tensor(data.points["periodic"]).requires_grad_(True)
    res = pb.conditions["periodic"].residual
    periodic = torch.sin(z[:, :1] - 3 * z[:, 1:])
    assert res(Derivatives(periodic, z, pb.inputs, pb.outputs), pb.params).abs().max() < 1e-12
    r = res(Derivatives(z[:, :1] * 1.0, z, pb.inputs, pb.outputs), pb.params)  # u = x is not periodic
    np.testing.assert_allclose(r[:8].detach(), -TWO_PI)


# ------------------------------------------------------------------ residuals and the Eulerian map
def test_residuals_vanish_on_exact_characteristics():
    z = labels_times()
    speed = PROBLEMS.build("convection1d", {}).form("characteristic").speed
    for nu in (0.0, 0.01):
        for beta_model, ok in ((30.0, True), (25.0, False)):
            out = torch.stack([z[:, 0] + beta_model * z[:, 1], torch.exp(-nu * z[:, 1]) * torch.sin(z[:, 0])], 1)
            r_x, r_u = lagrangian_residuals(Derivatives(out, z, LABELS, ("X", "u")), speed, nu, {"beta": 30.0})
            assert r_u.abs().max() < 1e-12
            if ok:
                assert r_x.abs().max() < 1e-12
            else:
                np.testing.assert_allclose(r_x.detach(), -5.0)
    assert speed(torch.zeros(3), {"beta": 7.0}) == 7.0


def test_burgers_speed_characteristics():
    """Inviscid Burgers before the shock: X = x0 + u0(x0) t, u = u0(x0) has r_X = 0 with a(u) = u."""
    z = labels_times()
    u0 = 0.5 * torch.sin(z[:, 0])
    out = torch.stack([z[:, 0] + u0 * z[:, 1], u0], 1)
    r_x, r_u = lagrangian_residuals(Derivatives(out, z, LABELS, ("X", "u")), lambda u, p: u, 0.0, {})
    assert r_x.abs().max() < 1e-12 and r_u.abs().max() < 1e-12


def test_chain_rule_second_derivative_in_x():
    """With X = x0 + 0.3 sin x0 and u = sin(X), ∂²u/∂X² = −sin X, so r_u = ν sin X; ∂²/∂x0² is wrong."""
    z = labels_times()
    X = z[:, 0] + 0.3 * torch.sin(z[:, 0])
    out = torch.stack([X, torch.sin(X)], 1)
    for chain_rule, close in ((True, True), (False, False)):
        _, r_u = lagrangian_residuals(Derivatives(out, z, LABELS, ("X", "u")), lambda u, p: 0.0, 0.1, {}, chain_rule)
        err = (r_u - 0.1 * torch.sin(X)).abs().max()
        assert (err < 1e-12) if close else (err > 1e-2)


def test_eulerian_map_of_exact_characteristics():
    times = np.linspace(0, 1, 100)
    x = np.linspace(0, TWO_PI, 256, endpoint=False)
    for n_labels, tol in ((256, 1e-4), (1024, 6e-6)):
        x0 = np.linspace(0, TWO_PI, n_labels, endpoint=False)
        X = x0[None] + 30 * times[:, None]
        u = lagrangian_to_eulerian(X, np.broadcast_to(np.sin(x0), X.shape), x, 0.0, TWO_PI)
        err = np.abs(u - np.sin(x[None] - 30 * times[:, None])).max()
        assert err < tol and err > 0.1 * tol  # linear interpolation: O(h²)


def test_eulerian_map_nonuniform_shuffled_labels_on_shifted_period():
    rng = np.random.default_rng(0)
    lo, length, times = -1.0, 2.0, np.array([0.0, 0.4, 3.3])
    x0 = np.sort(lo + length * rng.random(4000))[rng.permutation(4000)]  # scattered, unordered labels
    phase = x0 + 0.2 * np.sin(np.pi * x0)  # monotone relabelling
    X = phase[None] + 1.7 * times[:, None]
    f = np.cos(np.pi * phase)  # a 2-periodic state carried along
    x = np.linspace(lo, lo + length, 50, endpoint=False)
    u = lagrangian_to_eulerian(X, np.broadcast_to(f, X.shape), x, lo, length)
    np.testing.assert_allclose(u, np.cos(np.pi * (x[None] - 1.7 * times[:, None])), atol=1e-4)


# ------------------------------------------------------------------ the method
class ExactNet(nn.Module):
    """(cos x0, sin x0, t) -> displacement β t, or the state sin x0."""

    def __init__(self, which, beta=30.0):
        super().__init__()
        self.which, self.beta = which, beta
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, h):
        return (self.beta * h[:, 2:3] if self.which == "X" else h[:, 1:2]) + 0 * self.dummy


def test_lpinn_with_exact_networks_matches_reference():
    pb = PROBLEMS.build("convection1d", {"params": {"beta": 30.0}})
    method = LPINN(pb, ExactNet("X"), ExactNet("u"), speed_scale=1.0).double()
    ev = method.evaluate()
    assert ev["rel_l2"] < 1e-5
    data = CollocationData(pb, 128, 8, 32, "hammersley", 0, seed=0).to(dtype=torch.float64)
    terms = method.loss(data.next_batch())
    assert set(terms) == {"characteristic", "state", "initial_position", "initial_state"}
    assert all(float(v.detach()) < 1e-20 for v in terms.values())
    (stem, sol), (stem2, lag) = method.predict()
    assert (stem, stem2) == ("solution", "characteristics")
    assert sol.names == ("u", "u_ref", "u_error") and sol.values.shape == (100, 256, 3)
    assert np.abs(sol["u_error"]).max() < 1e-4
    assert lag.names == ("X", "u") and lag.values.shape == (100, 256, 2)
    np.testing.assert_allclose(lag["X"][-1], lag.support.axes()[0] + 30.0, atol=1e-12)


def test_builder_options_and_errors():
    pb = PROBLEMS.build("convection_diffusion1d", {})
    model = Models({"type": "mlp", "width": 8, "depth": 2}, pb)  # the case's one section builds each network
    sep = METHODS.build("lpinn", {}, problem=pb, models=model)
    tied = METHODS.build("lpinn", {"tie_weights": True}, problem=pb, models=model)
    z = torch.rand(5, 2)
    assert sep(z).shape == tied(z).shape == (5, 2)
    n = sum(p.numel() for p in sep.parameters())
    assert sum(p.numel() for p in tied.parameters()) < n
    assert sep.x_net.net.linears[0].in_features == 3 and len(sep.x_net.net.linears) == 3
    with pytest.raises(ValueError, match="no loss term 'pde'"):
        METHODS.build("lpinn", {"weights": {"pde": 1.0}}, problem=pb, models=model)
    with pytest.raises(
        ValueError,
        match="lpinn needs a problem with a characteristic form; 'poisson1d_multiscale' offers: strong, energy",
    ):
        METHODS.build("lpinn", {}, problem=PROBLEMS.build("poisson1d_multiscale", {}), models=model)
    with pytest.raises(ValueError, match="fourier_features"):
        METHODS.build("lpinn", {}, problem=pb, models=Models({"type": "mlp", "fourier_features": 4}, pb))


def test_a_trained_nu_reaches_the_characteristic_form():
    """``trainable_params: {nu: g}``: the loss at ν = g is the loss of the problem declared with ν = g
    (same networks), its gradient in ν is the analytic one, and evaluate reports the estimate."""
    G = 0.0625  # the guess, exact in float32 (the trained scalar starts as float32, then the method is cast)
    cfg = {"type": "mlp", "width": 8, "depth": 2}
    z = labels_times(64)
    batch = {"interior": z, "initial": torch.stack([z[:, 0], torch.zeros(64, dtype=z.dtype)], 1)}
    true = PROBLEMS.build("convection_diffusion1d", {"params": {"nu": 0.01}})
    guess = PROBLEMS.build("convection_diffusion1d", {"params": {"nu": G}})
    torch.manual_seed(0)
    learn = METHODS.build("lpinn", {"trainable_params": {"nu": G}}, problem=true, models=Models(cfg, true)).double()
    torch.manual_seed(0)
    fixed = METHODS.build("lpinn", {}, problem=guess, models=Models(cfg, guess)).double()
    a, b = learn.loss(batch), fixed.loss(batch)
    for k in b:
        torch.testing.assert_close(a[k], b[k], rtol=1e-12, atol=0)  # same arithmetic, ν as tensor or float
    a["state"].backward()
    # d/dν mean(r_u²) = mean(2 r_u · (−∂²_X u))
    du = fixed.derivatives(z)
    r_u = lagrangian_residuals(du, fixed.speed, G, guess.params)[1]
    u_xx = (du("t", out="u") - r_u) / G  # r_u = u_t − ν ∂²_X u
    want = (2 * r_u * -u_xx).mean()
    torch.testing.assert_close(learn.unknowns["nu"].grad, want.detach(), rtol=1e-9, atol=1e-12)
    assert learn.evaluate()["param/nu"] == G
    with pytest.raises(ValueError, match="has no parameter 'kappa'"):
        METHODS.build("lpinn", {"trainable_params": {"kappa": 1.0}}, problem=true, models=Models(cfg, true))


def test_named_networks():
    """``model: {position: ..., state: ...}``: each network from its own section (here a KAN for the
    state), no settings copied from one to the other; a missing or unused name is one line."""
    from pinns.kan import KAN

    pb = PROBLEMS.build("convection_diffusion1d", {})
    sections = {"position": {"type": "mlp", "width": 8, "depth": 2}, "state": {"type": "kan", "widths": [4]}}
    method = METHODS.build("lpinn", {}, problem=pb, models=Models(sections, pb))
    assert method.x_net.net.linears[0].out_features == 8 and isinstance(method.u_net.net, KAN)
    assert method(torch.rand(5, 2)).shape == (5, 2)
    with pytest.raises(ValueError, match="the position network must be an mlp"):
        METHODS.build("lpinn", {}, problem=pb, models=Models({**sections, "position": sections["state"]}, pb))
    with pytest.raises(ValueError, match="needs a network named 'state'"):
        METHODS.build("lpinn", {}, problem=pb, models=Models({"position": sections["position"]}, pb))
    unused = Models({**sections, "extra": sections["position"]}, pb)
    METHODS.build("lpinn", {}, problem=pb, models=unused)
    with pytest.raises(ValueError, match="network 'extra' is not used"):
        unused.check_used()


def test_short_training_reduces_loss():
    torch.manual_seed(0)
    pb = PROBLEMS.build("convection_diffusion1d", {"params": {"beta": 10.0, "nu": 0.01}, "n_x": 64, "n_t": 20})
    data = CollocationData(pb, 500, 8, 100, "hammersley", 0, seed=0)
    method = METHODS.build("lpinn", {}, problem=pb, models=Models({"type": "mlp", "width": 32, "depth": 3}, pb))
    before = method.evaluate()["rel_l2"]
    # lr 1e-3 as in the cases: with the scaled displacement (s = β = 10) X moves 10x faster per step
    trainer = Trainer(Train(stages=[Stage("adam", 1e-3, steps=300)], log_every=50, eval_every=1000, progress=False))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: threads only add contention on a shared CPU (30x slower seen)
    try:
        metrics = trainer.fit(method, data)
    finally:
        torch.set_num_threads(threads)
    losses = [r["loss"] for r in trainer.history if "loss" in r]
    assert losses[-1] < 0.05 * losses[0]
    assert metrics["eval/rel_l2"] < 0.5 * before


def test_speed_scale_and_identity_start():
    def model(pb):
        return Models({"type": "mlp", "width": 8, "depth": 2}, pb)

    pb = PROBLEMS.build("convection1d", {"params": {"beta": 30.0}})
    conv = METHODS.build("lpinn", {}, problem=pb, models=model(pb))
    assert conv.speed_scale == 30.0  # max |a(u0)| = β
    pb_b = PROBLEMS.build("burgers1d", {})
    burgers = METHODS.build("lpinn", {}, problem=pb_b, models=model(pb_b))
    assert np.isclose(burgers.speed_scale, 1.0, atol=1e-5)  # max |u0| = max |sin πx| on the labels
    z = torch.rand(7, 2) * torch.tensor([6.0, 1.0])
    with torch.no_grad():
        assert torch.equal(conv(z)[:, 0], z[:, 0])  # characteristics start as X = x0
    with pytest.raises(ValueError, match="speed_scale"):
        pb_c = PROBLEMS.build("convection1d", {})
        METHODS.build("lpinn", {"speed_scale": -1.0}, problem=pb_c, models=model(pb_c))


def test_a_two_network_case(tmp_path):
    """A case file naming two networks builds each from its own section; a typo in one of them is
    one line naming the key, and a name the method does not use is refused before training."""
    from sciml.config import CaseError, load_case
    from sciml.run import build

    path = Path(__file__).resolve().parents[2] / "cases" / "convection_lpinn.yaml"
    two = "model={position: {type: mlp, width: 16, depth: 2}, state: {type: mlp, width: 8, depth: 3, activation: sin}}"
    built = build(load_case(path, [two]))
    x_net, u_net = built.method.x_net.net, built.method.u_net.net
    assert [m.out_features for m in x_net.linears] == [16, 16, 1]
    assert [m.out_features for m in u_net.linears] == [8, 8, 8, 1]
    assert u_net.activation_name == "sin" and x_net.activation_name == "tanh"
    assert set(built.model.keys()) == {"position", "state"}  # Built.model: the networks by name
    with pytest.raises(CaseError, match=r"model\.state\.widht: unknown option for model 'mlp'"):
        load_case(path, ["model={position: {type: mlp}, state: {type: mlp, widht: 8}}"])
    with pytest.raises(ValueError, match="network 'extra' is not used by the method"):
        build(load_case(path, ["model={position: {type: mlp}, state: {type: mlp}, extra: {type: mlp}}"]))
