"""Quadrature rules, the energy functional, exact Dirichlet conditions and the energy method."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import pinns.energy  # noqa: F401  (registers the method until sciml.components imports it)
import sciml.data.quadrature  # noqa: F401
import sciml.problems.poisson as poisson
from pinns.energy import EnergyMethod, energy_form_of, energy_functional
from pinns.pinn import constrained
from sciml.mesh import Mesh
from sciml.nn import MLP
from sciml.quadrature import TRIANGLE_RULES, gauss_legendre_grid, triangle_quadrature
from sciml.registry import DATA, METHODS, MODELS, PROBLEMS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --- quadrature ---
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_gauss_legendre_exact_to_degree(order):
    deg = 2 * order - 1
    (lo, hi) = (-0.5, 2.0)
    x, w = gauss_legendre_grid([(lo, hi)], 3, order)
    assert x.shape == (3 * order, 1) and w.shape == (3 * order,)
    for k in range(deg + 1):
        assert np.isclose(w @ x[:, 0] ** k, (hi ** (k + 1) - lo ** (k + 1)) / (k + 1), rtol=1e-12, atol=1e-12)
    # one degree higher is not exact on a single cell
    x1, w1 = gauss_legendre_grid([(0.0, 1.0)], 1, order)
    assert not np.isclose(w1 @ x1[:, 0] ** (deg + 1), 1 / (deg + 2), rtol=1e-10)


def test_gauss_legendre_2d_exact():
    x, w = gauss_legendre_grid([(0.0, 1.0), (-1.0, 2.0)], (2, 5), 3)
    assert x.shape == (2 * 5 * 9, 2)
    for a in range(6):
        for b in range(6):
            exact = (1 / (a + 1)) * (2 ** (b + 1) - (-1) ** (b + 1)) / (b + 1)
            assert np.isclose(w @ (x[:, 0] ** a * x[:, 1] ** b), exact, rtol=1e-12, atol=1e-12)


def _unit_triangle_mesh():
    # two triangles splitting [0, 2] x [0, 1]
    pts = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]])
    return Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))])


@pytest.mark.parametrize("degree", sorted(TRIANGLE_RULES))
def test_triangle_rule_exact_to_degree(degree):
    x, w = triangle_quadrature(_unit_triangle_mesh(), degree)
    for a in range(degree + 1):
        for b in range(degree + 1 - a):
            exact = 2 ** (a + 1) / (a + 1) / (b + 1)
            assert np.isclose(w @ (x[:, 0] ** a * x[:, 1] ** b), exact, rtol=1e-12), (a, b)


def test_triangle_quadrature_area_of_plate_with_hole():
    mesh = Mesh.read(ROOT / "meshes" / "plate_hole.msh")
    area = mesh.cell_measures()[1].sum()
    for degree in (1, 2, 4):
        x, w = triangle_quadrature(mesh, degree)
        assert np.isclose(w.sum(), area, rtol=1e-13)
        assert (w > 0).all()


# --- energy functional ---
def _exact_u(freq):
    return lambda x: poisson.exact(x[:, 0], freq)


def _energy(freq, u_fn, n_cells=64, order=4):
    x, w = gauss_legendre_grid([(0.0, 1.0)], n_cells, order)
    pb = PROBLEMS.build("poisson1d_multiscale", {"params": {"freq": freq}})
    form = energy_form_of(pb)
    return float(energy_functional(form, u_fn, torch.as_tensor(x), torch.as_tensor(w), pb.params).detach())


def test_quadrature_on_non_box_shapes_and_named_edges():
    """A 2D Domain that is not a box gets triangle rules on its automatic mesh (exact area and
    polynomials on a polygon) and Gauss rules on its named polygon edges; a named edge that a CSG
    operation removes from the boundary is refused, not integrated."""
    from sciml.data.quadrature import boundary_quadrature, domain_quadrature
    from sciml.geometry import Domain, dde, named, polygon

    verts = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]
    names = ["bottom", "notch_x", "notch_y", "right", "top", "left"]
    L = Domain(polygon(verts, edge_names=names))
    x, w = domain_quadrature(L, 10, 4)
    assert L.contains(x).all() and abs(w.sum() - 3.0) < 1e-12
    # ∫_L x² y² dx dy: each of the three unit squares gives (1/3)(1/3), so 1/3
    assert abs((w * x[:, 0] ** 2 * x[:, 1] ** 2).sum() - 1 / 3) < 1e-12
    for name, (a, b) in zip(names, zip(verts, verts[1:] + verts[:1])):
        p, q = boundary_quadrature(L, name, 10, 3)
        length = np.linalg.norm(np.subtract(b, a))
        assert abs(q.sum() - length) < 1e-12
        mid = np.add(a, b) / 2  # ∫ |x - mid|² ds = length³ / 12 on a segment
        assert abs((q * ((p - mid) ** 2).sum(1)).sum() - length**3 / 12) < 1e-12
    g = dde().geometry
    cut = Domain(g.Rectangle([-1, -1], [1, 1]) - polygon([(0, -1), (1, -1), (1, 0), (0, 0)], ["a", "b", "c", "d"]))
    assert abs(boundary_quadrature(cut, "c", 10, 2)[1].sum() - 1.0) < 1e-12  # the notch edge y = 0
    with pytest.raises(ValueError, match="off the shape's boundary"):
        boundary_quadrature(cut, "a", 10, 2)  # on the square's bottom edge: not a boundary of the L
    with pytest.raises(ValueError, match="straight named edges"):
        boundary_quadrature(Domain(g.Rectangle([-1, -1], [1, 1]) - named(g.Disk([0, 0], 0.5), "hole")), "hole", 10, 2)


@pytest.mark.parametrize(
    "v",
    [
        lambda x: torch.sin(2 * np.pi * x),
        lambda x: x**2 * (1 - x),
        lambda x: torch.sin(np.pi * x) ** 3,
        lambda x: x * (1 - x) * torch.cos(7 * x),
    ],
)
def test_exact_solution_minimizes_energy(v):
    u = _exact_u(10.0)
    e0 = _energy(10.0, u)
    for eps in (1e-1, 1e-2, -1e-2):
        assert _energy(10.0, lambda x: u(x) + eps * v(x[:, 0])) > e0 + 1e-3 * eps**2


def test_energy_at_exact_solution_matches_closed_form():
    # the integrand is a trigonometric polynomial of period 1: composite Gauss is exact to
    # round-off as soon as no frequency aliases onto the cell count
    for freq in (2.0, 10.0):
        for n_cells in (7, 33):
            assert abs(_energy(freq, _exact_u(freq), n_cells, order=2) - poisson.exact_energy(freq)) < 1e-11


@pytest.mark.parametrize("order, rate", [(2, 4.0), (3, 6.0)])
def test_energy_quadrature_converges_at_gauss_order(order, rate):
    # a non-periodic admissible function: algebraic O(h^(2 order)) convergence to the integral
    def w(x):
        return poisson.exact(x[:, 0], 10.0) + 0.3 * x[:, 0] ** 2 * (1 - x[:, 0]) * torch.exp(x[:, 0])

    ref = _energy(10.0, w, 400, order=8)
    cells = [16, 32, 64, 128]
    err = np.array([abs(_energy(10.0, w, n, order) - ref) for n in cells])
    rates = np.log2(err[:-1] / err[1:])
    assert abs(rates[-1] - rate) < 0.3, (err, rates)


def test_exact_energy_closed_form_matches_minus_half_integral_fu():
    for freq in (0.0, 2.0, 10.0):
        x, w = gauss_legendre_grid([(0.0, 1.0)], 200, 6)
        fu = w @ (poisson.source(x[:, 0], freq) * poisson.exact(x[:, 0], freq))
        assert np.isclose(poisson.exact_energy(freq), -0.5 * fu, rtol=1e-12)
    with pytest.raises(ValueError, match="integer"):
        PROBLEMS.build("poisson1d_multiscale", {"params": {"freq": 3.7}})


# --- exact boundary conditions ---
def test_constrained_output_vanishes_on_boundary():
    pb = PROBLEMS.build("poisson1d_multiscale", {})
    for seed in range(3):
        torch.manual_seed(seed)
        net = MLP(1, 1, width=16, depth=2)
        with torch.no_grad():
            net.linears[-1].bias.fill_(5.0)  # a network far from zero at the ends
            u = constrained(pb.constraint, net, torch.tensor([[0.0], [1.0], [0.5]]))
        assert u[:2].abs().max() == 0.0 and u[2].abs() > 0


# --- the method ---
def test_energy_method_trains_poisson_freq2():
    torch.manual_seed(0)
    pb = PROBLEMS.build("poisson1d_multiscale", {"params": {"freq": 2.0}})
    data = DATA.build("quadrature", {"n_cells": 32, "order": 4}, problem=pb, seed=0)
    model = MODELS.build("mlp", {"width": 20, "depth": 3}, io=pb.io_spec())
    method = METHODS.build("energy", {}, problem=pb, model=model, data=data)
    assert isinstance(method, EnergyMethod)
    opt = torch.optim.Adam(method.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, 166, 0.3)
    batch = data.next_batch()
    for _ in range(500):
        opt.zero_grad()
        terms = method.loss(batch)
        assert set(terms) == {"energy"}
        method.total(terms).backward()
        opt.step()
        sched.step()
    metrics = method.evaluate(data)
    assert metrics["rel_l2"] < 1e-2, metrics
    assert abs(float(method.loss(batch)["energy"].detach()) - poisson.exact_energy(2.0)) < 1e-3
    ((name, field),) = method.predict(data)
    assert field.names == ("u", "u_ref", "u_error") and field.values.shape == (512, 3)


def test_quadrature_data_shards_to_full_integral():
    pb = PROBLEMS.build("poisson1d_multiscale", {})
    data = DATA.build("quadrature", {}, problem=pb, seed=0).to(dtype=torch.float64)
    full = data.next_batch()["weights"].sum()
    parts = []
    for r in range(3):
        data.shard(r, 3)
        parts.append(data.next_batch()["weights"].sum())
    assert np.isclose(float(full), 1.0) and np.isclose(float(sum(parts)) / 3, 1.0)


def test_strong_form_pinn_sees_the_same_problem():
    pb = PROBLEMS.build("poisson1d_multiscale", {"params": {"freq": 3.0}})
    assert set(pb.equations) == {"pde"} and set(pb.conditions) == {"boundary"}
    from sciml.ops import Derivatives

    x = torch.linspace(0, 1, 33, dtype=torch.float64)[:, None].requires_grad_(True)
    du = Derivatives(poisson.exact(x, 3.0), x, ("x",), ("u",))
    assert pb.equations["pde"](du, pb.params).abs().max() < 1e-9
    ref = pb.reference()
    assert ref.values.shape == (512, 1) and ref.times is None


def test_energy_case_file_smoke(tmp_path):
    import importlib.util

    from sciml import load_case, run

    spec = importlib.util.spec_from_file_location("_test_cases", ROOT / "tests" / "test_cases.py")
    test_cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_cases)
    smoke_overrides = test_cases.smoke_overrides

    path = ROOT / "cases" / "poisson_energy.yaml"
    case = load_case(path)
    run_dir, metrics = run(load_case(path, smoke_overrides(case, tmp_path)), progress=False)
    assert (run_dir.path / "summary.json").exists()
    assert metrics["eval/rel_l2"] == metrics["eval/rel_l2"]
