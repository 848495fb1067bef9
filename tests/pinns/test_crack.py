"""Mode-III crack: exact solution vs residuals, sided lift, subdomain routing, energy, segments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml.components  # noqa: F401  (registries)
from pinns.energy import EnergyMethod, energy_functional
from pinns.pinn import PINN
from sciml.data.quadrature import QuadratureData, boundary_quadrature
from sciml.geometry import segment_points
from sciml.nn import MLP, SubdomainNet
from sciml.problems import crack
from sciml.quadrature import segment_quadrature
from sciml.registry import PROBLEMS


class Side(torch.nn.Module):
    """The exact solution as seen from one side of the crack (y = ±0 resolved to that side)."""

    def __init__(self, sign: float):
        super().__init__()
        self.sign = sign
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        # upper: u(x, y); lower: −u(x, −y), the odd mirror, with −0.0 turned into +0.0 so that on
        # y = 0 the branch θ = π (upper face) is taken by both and the sign picks the face
        y = self.sign * x[:, 1] + 0.0
        return (self.sign * crack.exact(x[:, 0], y) + 0 * self.dummy)[:, None]


class Shifted(torch.nn.Module):
    def __init__(self, net, c):
        super().__init__()
        self.net, self.c = net, c

    def forward(self, x):
        return self.net(x) + self.c


@pytest.fixture(scope="module")
def problem():
    return PROBLEMS.build("crack_mode3", {})


def exact_model(problem):
    return SubdomainNet({"upper": Side(1.0), "lower": Side(-1.0)}, problem.subdomains)


def test_exact_solution_zeroes_every_residual(problem):
    torch.set_default_dtype(torch.float64)
    try:
        method = PINN(problem, exact_model(problem))
        rng = np.random.default_rng(0)
        batch = {"interior": torch.as_tensor(problem.domain.sample_interior(500, "pseudo", rng))}
        for name, cond in problem.conditions.items():
            batch[name] = torch.as_tensor(problem.domain.sample_boundary(200, cond.boundary_tag, "pseudo", rng))
        batch["interior"] = batch["interior"][batch["interior"][:, 1].abs() > 1e-3]  # off the crack line
        terms = method.loss(batch)
        assert set(terms) == set(problem.equations) | set(problem.conditions)
        for name, v in terms.items():
            assert float(v.detach()) < 1e-20, (name, float(v.detach()))
        # and they can fail: the upper branch on both sides misses the lower face; a shifted lower
        # side misses the interface
        method.model = SubdomainNet({"upper": Side(1.0), "lower": Side(1.0)}, problem.subdomains)
        assert float(method.loss(batch)["crack_lower"].detach()) > 0.1
        method.model = SubdomainNet({"upper": Side(1.0), "lower": Shifted(Side(-1.0), 0.1)}, problem.subdomains)
        bad = method.loss(batch)
        assert np.isclose(float(bad["interface_u"].detach()), 0.01) and float(bad["pde"].detach()) < 1e-20
    finally:
        torch.set_default_dtype(torch.float32)


def test_subdomain_net_routes_points_and_keeps_gradients(problem):
    torch.manual_seed(0)
    up, lo = MLP(2, 1, width=8, depth=2), MLP(2, 1, width=8, depth=2)
    net = SubdomainNet({"upper": up, "lower": lo}, problem.subdomains)
    x = torch.tensor([[0.3, 0.5], [0.3, -0.5], [-0.4, 0.0], [0.2, -1e-9]], requires_grad=True)
    y = net(x)
    expect = torch.cat([up(x[:1]), lo(x[1:2]), up(x[2:3]), lo(x[3:4])])
    assert torch.allclose(y, expect)
    g = torch.autograd.grad(y.sum(), x)[0]
    g_ref = torch.cat(
        [torch.autograd.grad(f(x[i : i + 1]).sum(), x)[0][i : i + 1] for i, f in enumerate([up, lo, up, lo])]
    )
    assert torch.allclose(g, g_ref)
    assert net.part("lower") is lo
    with pytest.raises(KeyError, match="unknown subdomain"):
        net.part("left")
    nowhere = SubdomainNet({"upper": up}, {"upper": problem.subdomains["upper"]})
    with pytest.raises(ValueError, match="belongs to no subdomain"):
        nowhere(torch.tensor([[0.0, -0.5]]))


def test_lift_matches_outer_data_and_distance_vanishes_only_there(problem):
    rng = np.random.default_rng(1)
    x = torch.as_tensor(problem.domain.sample_boundary(400, None, "pseudo", rng))
    x = x[x[:, 1].abs() > 1e-9]
    g = crack.lift(x)
    assert torch.allclose(g, crack.exact(x[:, 0], x[:, 1]), atol=1e-12)
    assert crack.distance(x).abs().max() < 1e-12
    inner = torch.as_tensor(problem.domain.sample_boundary(50, "interface", "uniform", rng))
    assert (crack.distance(inner) > 0).all()
    faces = torch.as_tensor(problem.domain.sample_boundary(50, "crack", "uniform", rng))
    assert torch.allclose(crack.lift(faces, "upper"), -crack.lift(faces, "lower"))  # two sides differ
    assert torch.allclose(crack.lift(inner, "upper"), crack.lift(inner, "lower"))  # continuous interface


def test_energy_of_exact_solution_converges_to_closed_form(problem):
    torch.set_default_dtype(torch.float64)
    try:
        model = exact_model(problem)
        errs = []
        for n in (8, 16, 32):
            q = QuadratureData(problem, n, 3).to(dtype=torch.float64)
            b = q.next_batch()
            errs.append(
                abs(
                    float(energy_functional(problem.form("energy"), model, b["points"], b["weights"], {}).detach())
                    - crack.exact_energy()
                )
            )
        # the |∇u|² ~ 1/(4r) singularity limits Gauss rules to first order in h
        assert errs[-1] < 1e-2 and errs[0] / errs[-1] > 3
        assert np.isclose(crack.exact_energy(), 0.5 * 2 * np.log(1 + np.sqrt(2)))
    finally:
        torch.set_default_dtype(torch.float32)


def test_energy_method_terms_and_exact_outer_boundary(problem):
    torch.manual_seed(0)
    nets = {k: MLP(2, 1, width=8, depth=2) for k in problem.subdomains}
    method = EnergyMethod(problem, SubdomainNet(nets, problem.subdomains))
    data = QuadratureData(problem, 8, 2, n_boundary=32)
    terms = method.loss(data.next_batch())
    assert set(terms) == {"energy", "crack_upper", "crack_lower", "interface_u"}
    assert method.weights["crack_upper"] == 100.0
    xb = torch.tensor([[1.0, 0.3], [-0.2, 1.0], [-1.0, -0.7], [0.4, -1.0]])
    with torch.no_grad():
        assert torch.allclose(method(xb)[:, 0], crack.exact(xb[:, 0], xb[:, 1]), atol=1e-6)
    with pytest.raises(ValueError, match="no loss term"):
        EnergyMethod(problem, method.model, weights={"outer": 1.0})


def test_segment_sampling_and_quadrature():
    pieces = np.array([[[0.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 4.0]]])
    x = segment_points(pieces, 40, "uniform", None)
    assert len(x) == 40 and np.sum(x[:, 1] == 0.0) == 10  # lengths 1 : 3
    r = segment_points(pieces, 1000, "pseudo", np.random.default_rng(0))
    on = (r[:, 1] == 0) & (r[:, 0] >= 0) & (r[:, 0] <= 1) | (r[:, 0] == 0) & (r[:, 1] >= 1) & (r[:, 1] <= 4)
    assert on.all()
    pts, w = segment_quadrature(pieces, 3)
    assert np.isclose(w.sum(), 4.0)
    f = pts[:, 0] ** 5 + pts[:, 1] ** 4  # degree ≤ 5: exact with 3 Gauss points
    assert np.isclose(w @ f, 1 / 6 + (4**5 - 1) / 5)


def test_boundary_quadrature_on_a_segment(problem):
    x, w = boundary_quadrature(problem.domain, "crack", 7, 2)
    assert np.isclose(w.sum(), 1.0) and np.allclose(x[:, 1], 0) and x[:, 0].min() > -1 and x[:, 0].max() < 0
    assert np.isclose(w @ np.sqrt(-x[:, 0]), 2 / 3, rtol=1e-2)


def test_bad_options():
    with pytest.raises(ValueError, match="even"):
        PROBLEMS.build("crack_mode3", {"n_grid": 11})
    with pytest.raises(ValueError, match="no parameters"):
        PROBLEMS.build("crack_mode3", {"params": {"k": 1.0}})
