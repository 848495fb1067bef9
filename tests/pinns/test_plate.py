"""Plate with a hole: residuals on an exact stress state, the energy functional, the FE reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml.components  # noqa: F401  (registries)
from pinns.energy import EnergyMethod
from pinns.pinn import PINN, predict_fields
from sciml.data.quadrature import QuadratureData, boundary_quadrature
from sciml.problems import elasticity
from sciml.registry import PROBLEMS

T, E, NU = 100.0, 1000.0, 0.3


@pytest.fixture(scope="module")
def problem():
    return PROBLEMS.build("plate_hole", {})


class Uniaxial(torch.nn.Module):
    """u = (T/E)(x − ½, −ν(y − ½)) (+ a perturbation): the plate without its hole, σ = diag(T, 0)."""

    def __init__(self, wiggle: float = 0.0):
        super().__init__()
        self.wiggle = wiggle
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        ux = T / E * (x[:, 0] - 0.5) + self.wiggle * torch.sin(3 * x[:, 1]) * (x[:, 0] - 0.5) ** 2
        uy = -NU * T / E * (x[:, 1] - 0.5)
        return torch.stack([ux, uy], 1) + 0 * self.dummy


class Constant(torch.nn.Module):
    """N = (1, −ν): the uniaxial field through the symmetry constraint u = (T/E)(x − ½, y − ½)·N."""

    def __init__(self):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor([1.0, -NU], dtype=torch.float64))

    def forward(self, x):
        return self.c.expand(len(x), 2)


def batch_for(problem, n=300, seed=0):
    rng = np.random.default_rng(seed)
    b = {"interior": problem.domain.sample_interior(n, "pseudo", rng)}
    for name, cond in problem.conditions.items():
        b[name] = problem.domain.sample_boundary(n, cond.boundary_tag, "pseudo", rng)
    return {k: torch.as_tensor(v) for k, v in b.items()}


def test_uniform_stress_state_zeroes_all_residuals_but_the_hole(problem):
    torch.set_default_dtype(torch.float64)
    try:
        terms = PINN(problem, Uniaxial()).loss(batch_for(problem))
        for name, v in terms.items():
            if name != "hole":
                assert float(v.detach()) < 1e-24, (name, float(v.detach()))
        # σ·n on the hole is (T n_x, 0): mean of n_x² over the circle is ½
        assert np.isclose(float(terms["hole"].detach()), 0.25, rtol=0.1)
        bad = PINN(problem, Uniaxial(wiggle=0.05)).loss(batch_for(problem))
        assert float(bad["equilibrium_x"].detach()) > 1e-3
    finally:
        torch.set_default_dtype(torch.float32)


def test_hard_constraint_drops_symmetry_terms_and_holds(problem):
    method = PINN(problem, Constant(), hard_constraints=True)
    names = set(method.loss({k: v.float() for k, v in batch_for(problem, 50).items()}))
    assert "symmetry_x" not in names and "symmetry_y" not in names and "hole" in names
    x = torch.tensor([[0.5, 0.1], [0.2, 0.5]], dtype=torch.float64)
    with torch.no_grad():
        u = method.net()(x)
    assert abs(float(u[0, 0])) < 1e-15 and abs(float(u[1, 1])) < 1e-15
    with pytest.raises(ValueError, match="hard constraint"):
        PINN(PROBLEMS.build("burgers1d", {"n_x": 8, "n_t": 4}), Constant(), hard_constraints=True)


def test_energy_functional_of_uniform_stress_state(problem):
    torch.set_default_dtype(torch.float64)
    try:
        method = EnergyMethod(problem, Constant())
        data = QuadratureData(problem, 1, 4).to(dtype=torch.float64)
        b = data.next_batch()
        area = float(b["weights"].sum())
        assert np.isclose(area, 1 - np.pi * 0.2**2, rtol=2e-3)  # the polygonal hole is a little smaller
        # Π = ½ T²/E · A − T (u_x(1) − u_x(0)) = T²/E (A/2 − 1)
        assert np.isclose(float(method.loss(b)["energy"].detach()), T**2 / E * (area / 2 - 1), rtol=1e-10)
    finally:
        torch.set_default_dtype(torch.float32)


def test_boundary_quadrature_on_mesh_tags(problem):
    x, w = boundary_quadrature(problem.domain, "right", 1, 3)
    assert np.isclose(w.sum(), 1.0) and np.allclose(x[:, 0], 1.0)
    x, w = boundary_quadrature(problem.domain, "hole", 1, 2)
    assert np.isclose(w.sum(), 2 * np.pi * 0.2, rtol=2e-3)
    with pytest.raises(KeyError, match="unknown boundary"):
        boundary_quadrature(problem.domain, "front", 1, 2)


def test_derived_stresses_and_reference(problem):
    ref = problem.reference_field()
    assert ref.names == ("ux", "uy", "sxx", "syy", "sxy", "von_mises")
    pts = ref.points()
    # mirror symmetry of the shifted FE reference: u_x odd about x = ½ (node pairs (0, ½), (1, ½))
    left = np.argmin(np.linalg.norm(pts - [0.0, 0.5], axis=1))
    right = np.argmin(np.linalg.norm(pts - [1.0, 0.5], axis=1))
    assert np.isclose(ref["ux"][left], -ref["ux"][right], rtol=1e-8)
    assert 4.5 < ref["von_mises"].max() / T < 4.9  # stress concentration of this short plate
    torch.set_default_dtype(torch.float64)
    try:
        vals = predict_fields(Uniaxial(), problem, ref)
    finally:
        torch.set_default_dtype(torch.float32)
    assert np.allclose(vals[:, 2], T) and np.allclose(vals[:, 3:5], 0, atol=1e-10)
    assert np.allclose(vals[:, 5], T)  # von Mises of uniaxial tension


def test_von_mises_formula():
    s = torch.tensor([[100.0, 0.0, 0.0], [0.0, 0.0, 50.0], [80.0, 80.0, 0.0]], dtype=torch.float64)
    vm = elasticity.von_mises(s[:, 0], s[:, 1], s[:, 2])
    assert torch.allclose(vm, torch.tensor([100.0, 50 * np.sqrt(3), 80.0], dtype=torch.float64))


def test_bad_mesh_and_params(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        PROBLEMS.build("plate_hole", {"mesh": str(tmp_path / "none.msh")})
    with pytest.raises(ValueError, match="nu"):
        PROBLEMS.build("plate_hole", {"params": {"nu": 0.6}})


class Smooth(torch.nn.Module):
    """A smooth field with nonzero second derivatives of every kind."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        X, Y = x[:, 0], x[:, 1]
        return torch.stack([torch.sin(2 * X + Y) * Y**2, torch.cos(X * Y) + X**3 * Y], 1) * 0.01 + 0 * self.dummy


def test_equilibrium_residual_is_the_divergence_of_the_stress(problem):
    """Navier's form against ∇·σ(u) by autograd through the stress of the derived fields."""
    torch.set_default_dtype(torch.float64)
    try:
        net = Smooth()
        x = torch.as_tensor(problem.domain.sample_interior(50, "pseudo", np.random.default_rng(2))).requires_grad_(True)
        u = net(x)
        g = torch.stack([torch.autograd.grad(u[:, c].sum(), x, create_graph=True)[0] for c in range(2)], 1)
        sxx, syy, sxy = elasticity.stress(g, problem.params)
        d = lambda f, j: torch.autograd.grad(f.sum(), x, create_graph=True)[0][:, j]
        div = torch.stack([d(sxx, 0) + d(sxy, 1), d(sxy, 0) + d(syy, 1)], 1) / T
        from pinns.pinn import autograd_derivatives

        du = autograd_derivatives(problem, net, x)
        navier = torch.stack(
            [
                problem.equations["equilibrium_x"](du, problem.params),
                problem.equations["equilibrium_y"](du, problem.params),
            ],
            1,
        )
        assert div.abs().max() > 1e-2 and torch.allclose(navier, div, atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


class UniaxialMixed(Uniaxial):
    """The uniaxial state with its stresses as outputs (σxx = T + ``bias``)."""

    def __init__(self, bias: float = 0.0):
        super().__init__()
        self.bias = bias

    def forward(self, x):
        u = super().forward(x)
        s = torch.zeros(len(x), 3, dtype=x.dtype)
        s[:, 0] = T + self.bias
        return torch.cat([u, s], 1)


def test_mixed_formulation_residuals_and_scoring():
    pb = PROBLEMS.build("plate_hole", {"formulation": "mixed"})
    assert pb.outputs == ("ux", "uy", "sxx", "syy", "sxy") and "energy" not in pb.offers
    torch.set_default_dtype(torch.float64)
    try:
        terms = PINN(pb, UniaxialMixed()).loss(batch_for(pb))
        assert set(terms) >= {"equilibrium", "constitutive", "hole"}
        for name, v in terms.items():
            if name != "hole":
                assert float(v.detach()) < 1e-24, (name, float(v.detach()))
        bad = PINN(pb, UniaxialMixed(bias=10.0)).loss(batch_for(pb))
        assert np.isclose(float(bad["constitutive"].detach()), 0.1**2 / 3)  # σxx off by 0.1 T in one of 3
        ref = pb.reference_field()
        pred = predict_fields(PINN(pb, UniaxialMixed()), pb, ref)
    finally:
        torch.set_default_dtype(torch.float32)
    from pinns.pinn import field_metrics

    m = field_metrics(pred, ref, pb.primary)
    assert set(m) == {"rel_l2", "max_abs", "rel_l2_sxx", "rel_l2_syy", "rel_l2_sxy", "rel_l2_von_mises", "n_points"}
    with pytest.raises(ValueError, match="energy form"):
        EnergyMethod(pb, UniaxialMixed())
    with pytest.raises(ValueError, match="formulation"):
        PROBLEMS.build("plate_hole", {"formulation": "weak"})
