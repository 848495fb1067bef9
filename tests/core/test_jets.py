"""Taylor-mode jets of the MLP equal autograd derivatives; the PINN loss is the same either way."""

import pytest
import torch

from sciml import build, load_case
from sciml.nn import MLP
from sciml.ops import Derivatives

REQUESTS = {(), (0,), (2,), (0, 0), (0, 1), (1, 2), (2, 2)}


@pytest.mark.parametrize("act", ["tanh", "sin", "softplus", "silu", "relu"])
def test_mlp_jet_matches_autograd(act):
    torch.manual_seed(0)
    m = MLP(3, 2, width=7, depth=3, activation=act).double()
    x = torch.rand(11, 3, dtype=torch.float64, requires_grad=True)
    jet = m.jet(x, REQUESTS)
    du = Derivatives(m(x), x, ("x", "y", "t"), ("u", "v"))
    for o in (0, 1):
        for r in REQUESTS:
            torch.testing.assert_close(jet[(o, r)], du(*r, out=o), rtol=1e-12, atol=1e-12)


def test_jet_refuses_what_it_cannot_do():
    with pytest.raises(NotImplementedError, match="second order"):
        MLP(2, 1, 4, 2).jet(torch.rand(3, 2), {(0, 0, 0)})
    assert not MLP(2, 1, 4, 2, activation="gelu").supports_jet()
    assert not MLP(2, 1, 4, 2, fourier_features=3).supports_jet()


def test_derivatives_accessor_names_and_caching():
    x = torch.rand(5, 2, dtype=torch.float64, requires_grad=True)
    u = torch.stack([x[:, 0] ** 2 * x[:, 1], x[:, 1] ** 3], 1)
    du = Derivatives(u, x, ("x", "t"), ("u", "v"))
    torch.testing.assert_close(du("x", "t"), 2 * x[:, 0])
    torch.testing.assert_close(du("t", "t", out="v"), 6 * x[:, 1])
    assert du("x") is du("x")  # cached
    assert du.requested == {(0, (0, 1)), (1, (1, 1)), (0, (0,))}
    with pytest.raises(KeyError, match="no coordinate 'z'"):
        du("z")


CASE = """\
name: jets
seed: 0
dtype: float64
problem: {type: burgers1d, n_x: 16, n_t: 4}
data: {type: collocation, n_interior: 64, n_boundary: 8, n_initial: 8}
model: {type: mlp, width: 8, depth: 3}
method: {type: pinn, derivatives: DERIV}
train: {stages: [{optimizer: adam, lr: 1.0e-2, steps: 5}], progress: false}
"""


def test_pinn_loss_and_training_identical_with_jets_and_autograd(tmp_path):
    results = {}
    for d in ("jet", "autograd"):
        p = tmp_path / f"{d}.yaml"
        p.write_text(CASE.replace("DERIV", d))
        case = load_case(p)
        built = build(case)
        assert built.method.use_jet == (d == "jet")
        from sciml.train import Trainer

        Trainer(case.train, seed=case.seed, dtype=case.dtype).fit(built.method, built.data)
        results[d] = torch.cat([q.detach().flatten() for q in built.method.parameters()])
    assert built.method._requests == {}  # autograd run never probes
    torch.testing.assert_close(results["jet"], results["autograd"], rtol=1e-10, atol=1e-12)


def test_compiled_loss_trains_like_the_eager_one(tmp_path):
    """train.compile: the jet loss compiles and follows the eager Adam trajectory to rounding.

    (L-BFGS stages use the eager loss; its line search turns rounding-level differences into
    different step choices, so only its progress is checked.)
    """
    from sciml.train import Trainer

    history = {}
    for comp in ("false", "true"):
        p = tmp_path / f"c{comp}.yaml"
        p.write_text(CASE.replace("DERIV", "auto").replace("dtype: float64", "dtype: float32"))
        case = load_case(
            p,
            [
                f"train.compile={comp}",
                "train.log_every=1",
                "train.stages=[{optimizer: adam, lr: 1.0e-2, steps: 5}, {optimizer: lbfgs, steps: 3}]",
            ],
        )
        built = build(case)
        tr = Trainer(case.train, seed=case.seed, dtype=case.dtype)
        tr.fit(built.method, built.data)
        history[comp] = [r["loss"] for r in tr.history if "loss" in r]
    assert history["true"][:5] == pytest.approx(history["false"][:5], rel=1e-5)
    assert history["true"][-1] < history["true"][4]
