"""METALIC's five PDE families as sciml problems that can be split by cuts (Li et al., ICML 2023).

For each family (``burgers1d``, ``convection1d``, ``reaction1d``, ``heat1d``, ``poisson2d_bump``):
the exact solution (a torch version written here, independently of the problem modules) has a PDE
residual at round-off and satisfies the initial and boundary conditions, the reference matches it,
out-of-range parameters are refused in one line; with METALIC's cuts and all nine interface terms,
each term vanishes when the exact solution is on both sides and does not when one side is perturbed;
and each shipped case ``cases/metalic_<family>.yaml`` trains a few steps end to end.

Poisson's bump has no closed-form solution: its residual is checked as Δu − f on a trial function
(with f written here), its reference as a finite-difference solution (discrete residual, second-order
self-convergence), and its interface terms with a function that solves the equation to second order
about the interface (:func:`poisson_interface_solution`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite import hermgauss

from sciml import load_case, run_case
from sciml.config import OptionError
from sciml.ops import Derivatives
from sciml.problems.interfaces import metalic_terms
from sciml.registry import PROBLEMS

ROOT = Path(__file__).resolve().parents[2]
F64 = torch.float64

# family (the case file is cases/metalic_<family>.yaml) -> (problem type, METALIC's cuts)
FAMILIES = {
    "burgers": ("burgers1d", {"x": [-0.1, 0.1]}),
    "advection": ("convection1d", {"t": 0.5}),
    "reaction": ("reaction1d", {"t": 0.5}),
    "heat": ("heat1d", {"t": 0.5}),
    "poisson": ("poisson2d_bump", {"y": 0.5}),
}
WITH_EXACT = ("burgers", "advection", "reaction", "heat")


# --- the exact solutions, in torch, on (n, 2) points (x, t) -------------------------------------


def burgers_exact(x: torch.Tensor, p: dict) -> torch.Tensor:
    """Cole–Hopf by Gauss–Hermite (200 nodes) with log-sum-exp weights: u = −Σ sin(πy_q) softmax(s)_q,
    y_q = x − √(4νt) z_q, s_q = log w_q − cos(πy_q)/(2πν). Accurate to ~1e-12 for ν ≥ 0.001, t ≤ 1."""
    z, w = (torch.as_tensor(a, dtype=x.dtype) for a in hermgauss(200))
    nu = p["nu"]
    y = x[:, :1] - torch.sqrt(4 * nu * x[:, 1:2]) * z
    a = torch.softmax(torch.log(w) - torch.cos(np.pi * y) / (2 * np.pi * nu), dim=1)
    return -(torch.sin(np.pi * y) * a).sum(1)


def advection_exact(x, p):
    return torch.sin(x[:, 0] - p["beta"] * x[:, 1])


def reaction_exact(x, p):
    """h e^{ρt} / (h e^{ρt} + 1 − h), h = exp(−(x − π)² / (2 (π/4)²))."""
    h = torch.exp(-((x[:, 0] - np.pi) ** 2) / (2 * (np.pi / 4) ** 2))
    e = torch.exp(p["rho"] * x[:, 1])
    return h * e / (h * e + 1 - h)


def heat_exact(x, p):
    s, t = x[:, 0], x[:, 1]
    return (
        p["a"] * torch.exp(-(np.pi**2) * t) * torch.cos(np.pi * s)
        + p["b"] * torch.exp(-4 * np.pi**2 * t) * torch.cos(2 * np.pi * s)
        + p["c"] * torch.exp(4 * t - 4) * torch.cosh(2 * s)
        + p["d"] * torch.exp(t - 1) * torch.sinh(s)
    )


def bump(x, y, s):
    """f = g(x) g(y) / f_max, g(z) = erf(s(z − ¼)) − erf(s(z − ¾)), f_max = g(½)² (computed as such)."""

    def g(z):
        return torch.special.erf(s * (z - 0.25)) - torch.special.erf(s * (z - 0.75))

    half = torch.tensor(0.5, dtype=F64)
    return g(x) * g(y) / g(half) ** 2


def poisson_trial(x, p):
    """A trial function for the Poisson checks (not a solution): sin(πx) sin(πy) + x y²."""
    return torch.sin(np.pi * x[:, 0]) * torch.sin(np.pi * x[:, 1]) + x[:, 0] * x[:, 1] ** 2


def poisson_on_boundary(x, p):
    """sin(πx) sin(πy): zero on the boundary of the unit square, Poisson's boundary data."""
    return torch.sin(np.pi * x[:, 0]) * torch.sin(np.pi * x[:, 1])


def poisson_interface_solution(x, p):
    """u = A(x) + (f(x, ½) − A''(x)) (y − ½)²/2 with A = sin πx: Δu = A'' + f(x, ½) − A'' = f on y = ½,
    and ∇(Δu − f) = 0 there (∂_x: the same identity differentiated; ∂_y: Δu_y = 0 and f_y(x, ½) = 0, since
    g'(½) = 0 by symmetry). So the residual and its gradient vanish on Poisson's interface y = ½: what the
    ``res`` and ``gres`` terms ask of a solution, without a closed-form solution of the whole problem."""
    a = torch.sin(np.pi * x[:, 0])
    c = bump(x[:, 0], torch.full_like(x[:, 0], 0.5), p["sharpness"]) + np.pi**2 * a
    return a + c * (x[:, 1] - 0.5) ** 2 / 2


EXACT = {"burgers": burgers_exact, "advection": advection_exact, "reaction": reaction_exact, "heat": heat_exact}


def build(family: str, **options):
    return PROBLEMS.build(FAMILIES[family][0], options)


def amax(t: torch.Tensor) -> float:
    return float(t.detach().abs().max())


def derivatives(problem, fn, x: np.ndarray, normals: np.ndarray | None = None) -> Derivatives:
    """``Derivatives`` of a torch function at numpy points (float64, autograd)."""
    z = torch.tensor(x, dtype=F64, requires_grad=True)
    n = None if normals is None else torch.as_tensor(normals, dtype=F64)
    return Derivatives(fn(z, problem.params)[:, None], z, problem.inputs, problem.outputs, normals=n)


def interior(problem, n: int = 400, seed: int = 0) -> np.ndarray:
    x = problem.domain.sample_interior(n, rng=seed)
    if problem.name == "burgers1d":  # Cole–Hopf's √t: keep away from t = 0, where its t-derivative is singular
        x[:, 1] = 0.05 + 0.94 * x[:, 1] / 0.99
    return x


def perturbation(x):
    """0.1 sin(3x + second coordinate): smooth, non-zero, with non-zero derivatives of every order used."""
    return 0.1 * torch.sin(3 * x[:, 0] + x[:, 1])


# --- the PDE residual, conditions, reference ----------------------------------------------------


def residual_terms(family: str, du, p) -> list[torch.Tensor]:
    """The separate terms of each family's residual (their size sets the round-off scale)."""
    u = du()
    return {
        "burgers": lambda: [du("t"), u * du("x"), p["nu"] * du("x", "x")],
        "advection": lambda: [du("t"), p["beta"] * du("x")],
        "reaction": lambda: [du("t"), p["rho"] * u * (1 - u)],
        "heat": lambda: [du("t"), du("x", "x")],
    }[family]()


@pytest.mark.parametrize("family", WITH_EXACT)
def test_the_exact_solution_has_a_round_off_pde_residual(family):
    """At 400 random interior points the residual is below 1e-12 of its largest term (float64 round-off
    times the few operations of autograd; Burgers: the Gauss–Hermite Cole–Hopf, observed ~1e-15 of
    terms up to 150 at ν = 0.01/π), and far from zero for the exact solution plus a perturbation."""
    problem = build(family)
    x = interior(problem)
    du = derivatives(problem, EXACT[family], x)
    r = problem.equations["pde"](du, problem.params)
    scale = max(amax(t) for t in residual_terms(family, du, problem.params))
    assert amax(r) < 1e-12 * scale, (amax(r), scale)
    bad = derivatives(problem, lambda z, p: EXACT[family](z, p) + perturbation(z), x)
    assert amax(problem.equations["pde"](bad, problem.params)) > 0.05


def test_burgers_residual_at_metalic_viscosities():
    """ν = 0.001 and 0.05, METALIC's range: the same round-off residual."""
    for nu in (0.001, 0.05):
        problem = build("burgers", params={"nu": nu})
        du = derivatives(problem, burgers_exact, interior(problem))
        r = problem.equations["pde"](du, problem.params)
        scale = max(amax(t) for t in residual_terms("burgers", du, problem.params))
        assert amax(r) < 1e-12 * scale, (nu, amax(r), scale)


def test_poisson_residual_is_laplacian_minus_the_source():
    """Δu − f for a trial function, f written here from its definition (f_max = g(½)² numerically):
    equal to round-off at several sharpnesses; f is 1 at the centre and symmetric."""
    from sciml.problems.poisson_bump import source

    for s in (1.0, 10.0, 50.0):
        problem = build("poisson", params={"sharpness": s})
        x = problem.domain.sample_interior(400, rng=1)
        du = derivatives(problem, poisson_trial, x)
        z = du.x
        laplacian = -2 * np.pi**2 * torch.sin(np.pi * z[:, 0]) * torch.sin(np.pi * z[:, 1]) + 2 * z[:, 0]
        expected = laplacian - bump(z[:, 0], z[:, 1], s)
        r = problem.equations["pde"](du, problem.params)
        torch.testing.assert_close(r, expected, rtol=0, atol=1e-12)
        assert abs(source(0.5, 0.5, s) - 1.0) < 1e-15
        pts = np.random.default_rng(0).random((50, 2))
        np.testing.assert_allclose(source(pts[:, 0], pts[:, 1], s), source(pts[:, 1], 1 - pts[:, 0], s), atol=1e-15)


def condition_points(problem, cond, n: int = 200, seed: int = 3) -> np.ndarray:
    if cond.where == "initial":
        return problem.domain.sample_initial(n, rng=seed)
    return problem.domain.sample_boundary(n, cond.boundary_tag, rng=seed)


@pytest.mark.parametrize("family", [*WITH_EXACT, "poisson"])
def test_initial_and_boundary_residuals_vanish_on_exact_data(family):
    """Every initial/boundary condition is zero (1e-12) on the exact solution at its own points and
    not on the solution plus 0.1 + 0.1 x (Poisson: on sin(πx) sin(πy), its zero boundary data)."""
    problem = build(family)
    fn = EXACT.get(family, poisson_on_boundary)
    assert problem.conditions, family
    for name, cond in problem.conditions.items():
        x = condition_points(problem, cond)
        r = cond.residual(derivatives(problem, fn, x), problem.params)
        assert amax(r) < 1e-12, (name, amax(r))
        shifted = cond.residual(derivatives(problem, lambda z, p: fn(z, p) + 0.1 + 0.1 * z[:, 0], x), problem.params)
        assert amax(shifted) > 0.05, name


@pytest.mark.parametrize("family", WITH_EXACT)
def test_the_reference_matches_the_exact_solution(family):
    """The reference field (a grid × times) equals the torch exact solution at its nodes (1e-12;
    Burgers: Cole–Hopf by numpy against the torch version here)."""
    problem = build(family, n_x=64, n_t=11)
    ref = problem.reference_field()
    assert ref.values.shape == (11, 64, 1)
    nodes = ref.support.points()[:, 0]
    X, T = np.meshgrid(nodes, ref.times)
    x = np.column_stack([X.ravel(), T.ravel()])
    if family == "burgers":  # √t at t = 0: the initial condition, exactly
        keep = x[:, 1] > 0
        np.testing.assert_array_equal(ref.values[0, :, 0], -np.sin(np.pi * nodes))
    else:
        keep = np.ones(len(x), dtype=bool)
    u = EXACT[family](torch.tensor(x[keep]), problem.params).numpy()
    np.testing.assert_allclose(ref.values[..., 0].ravel()[keep], u, rtol=0, atol=1e-12)


def test_the_poisson_reference_is_a_second_order_finite_difference_solution():
    """The reference is zero on the boundary, its 5-point Laplacian is f at the interior nodes (to
    solver round-off), it has the problem's symmetries, and it converges at second order: the
    differences to the 257-node solution at the shared nodes fall by 4 per halving of h (s = 10)."""
    from sciml.problems.poisson_bump import source

    refs = {n: build("poisson", n_grid=n).reference_field().values[..., 0] for n in (33, 65, 129, 257)}
    u = refs[129]
    assert u.shape == (129, 129) and not np.concatenate([u[0], u[-1], u[:, 0], u[:, -1]]).any()
    h = 1 / 128
    lap = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1]) / h**2
    X, Y = np.meshgrid(np.linspace(0, 1, 129), np.linspace(0, 1, 129), indexing="ij")
    np.testing.assert_allclose(lap, source(X, Y, 10.0)[1:-1, 1:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(u, u.T, atol=1e-14)
    np.testing.assert_allclose(u, u[::-1], atol=1e-14)
    assert u.min() < -0.02 and u.max() <= 0  # Δu = f ≥ 0 with u = 0 on the boundary: u ≤ 0
    # u_n − u_257 ≈ c (h_n² − h_257²) at the shared nodes: divided by 1 − (h_257/h_n)², it falls by 4 per level
    gaps = [
        np.abs(refs[n] - refs[257][:: 256 // (n - 1), :: 256 // (n - 1)]).max() / (1 - ((n - 1) / 256) ** 2)
        for n in (33, 65, 129)
    ]
    orders = np.log2(np.array(gaps[:-1]) / np.array(gaps[1:]))
    assert np.all(np.abs(orders - 2) < 0.05), (gaps, orders)  # observed 2.0007, 2.0000


@pytest.mark.parametrize(
    "family, params, message",
    [
        ("burgers", {"nu": 20.0}, r"parameter 'nu'=20.0 is outside its range \[1e-05, 10.0\]"),
        ("advection", {"beta": -1.0}, r"parameter 'beta'=-1.0 is outside its range \[0.0, 1000.0\]"),
        ("reaction", {"rho": 16.0}, r"parameter 'rho'=16.0 is outside its range \[1.0, 15.0\]"),
        ("reaction", {"rho": 0.5}, r"parameter 'rho'=0.5 is outside its range \[1.0, 15.0\]"),
        ("heat", {"c": -2.5}, r"parameter 'c'=-2.5 is outside its range \[-2.0, 2.0\]"),
        ("poisson", {"sharpness": 60.0}, r"parameter 'sharpness'=60.0 is outside its range \[1.0, 50.0\]"),
        ("heat", {"e": 1.0}, r"has no parameter 'e'; its parameters are: a, b, c, d"),
    ],
)
def test_parameters_out_of_range_are_refused_in_one_line(family, params, message):
    with pytest.raises(OptionError, match=message) as err:
        build(family, params=params)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"interface": {"u": 1.0}}, r"^interface terms join the subdomains of a cut domain; 'reaction1d' has no cuts"),
        ({"cuts": {"t": 1.5}}, r"^cuts: cut t = 1.5 is outside the domain"),
        ({"cuts": {"t": 0.5}, "interface": {"ux": 1.0}}, r"^interface: unknown term 'ux'"),
        ({"n_t": 1}, r"n_t must be an integer >= 2"),
    ],
)
def test_bad_options_one_line(options, message):
    with pytest.raises(ValueError, match=message) as err:
        build("reaction", **options)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "problem.params={rho: 20}",
            r"metalic_reaction.yaml:\d+: problem.params: problem 'reaction1d': parameter 'rho'=20",
        ),
        ("problem.interface={ux: 1}", r"metalic_reaction.yaml:\d+: problem.interface: interface: unknown term 'ux'"),
        ("problem.cuts={t: 1.5}", r"metalic_reaction.yaml:\d+: problem.cuts: cuts: cut t = 1.5 is outside the domain"),
    ],
)
def test_a_case_with_bad_problem_options_is_refused_in_one_line(override, message):
    from sciml.config import CaseError

    with pytest.raises(CaseError, match=message) as err:
        load_case(ROOT / "cases" / "metalic_reaction.yaml", [override])
    assert "\n" not in str(err.value)


# --- cuts and interface terms ----------------------------------------------------------------------


def test_without_cuts_the_existing_problems_do_not_move():
    """burgers1d and convection1d: the same conditions, in the same order, no subdomains; cuts alone give
    subdomains and no interface conditions."""
    burgers, convection = build("burgers"), build("advection")
    assert list(burgers.conditions) == ["initial", "boundary"] and not burgers.subdomains
    assert list(convection.conditions) == ["initial", "periodic"] and not convection.subdomains
    assert burgers.params == {"nu": 0.01 / np.pi} and convection.params == {"beta": 30.0}
    assert burgers.offers == ("strong", "characteristic", "flux")
    cut = build("burgers", cuts={"x": [-0.1, 0.1]})
    assert list(cut.conditions) == ["initial", "boundary"] and list(cut.subdomains) == ["x0", "x1", "x2"]


def test_the_burgers_flux_form_is_the_conservation_form():
    """∂_x F_x + ∂_t F_t of F = (u²/2 − ν u_x, u) is the residual u_t + u u_x − ν u_xx (any u)."""
    problem = build("burgers")
    du = derivatives(problem, lambda z, p: burgers_exact(z, p) + perturbation(z), interior(problem, 100))
    flux = problem.form("flux").flux(du, problem.params)
    div = sum(torch.autograd.grad(flux[:, k].sum(), du.x, create_graph=True)[0][:, k] for k in range(2))
    torch.testing.assert_close(div, problem.equations["pde"](du, problem.params), rtol=0, atol=1e-10)


def split(family: str):
    """The family with METALIC's cuts and all nine interface terms, weight 1 each."""
    inputs = ("x", "y") if family == "poisson" else ("x", "t")
    return build(family, cuts=FAMILIES[family][1], interface=dict.fromkeys(metalic_terms(inputs), 1.0))


def interface_normals(problem, name: str, n: int) -> np.ndarray:
    """The interface's unit normal in space(-time), from its first side to its second: (n, ndim)."""
    return np.tile(problem.domain.interfaces[name].normal, (n, 1))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_all_nine_interface_terms_exist_with_their_names(family):
    problem = split(family)
    interfaces = list(problem.domain.interfaces)
    expected = {"burgers": ["x0|x1", "x1|x2"], "poisson": ["y0|y1"]}.get(family, ["t0|t1"])
    assert interfaces == expected
    assert list(problem.subdomains) == list(problem.domain.subdomains)
    terms = metalic_terms(problem.inputs)
    assert terms[5] == ("u_yy" if family == "poisson" else "u_tt")
    plain = list(build(family).conditions)
    assert list(problem.conditions) == plain + [f"{t}@{i}" for t in terms for i in interfaces]
    for t in terms:
        for i in interfaces:
            cond = problem.conditions[f"{t}@{i}"]
            assert cond.where == f"boundary:{i}" and cond.subdomain == problem.domain.interfaces[i].sides
            assert cond.weight == 1.0 and cond.normals == (t == "flux")


def sides_residual(problem, name: str, fa, fb, n: int = 64) -> tuple[torch.Tensor, np.ndarray]:
    cond = problem.conditions[name]
    face = cond.boundary_tag
    x = problem.domain.sample_boundary(n, face, rng=7)
    normals = interface_normals(problem, face, n) if cond.normals else None
    a = derivatives(problem, fa, x, normals)
    b = derivatives(problem, fb, x, normals)
    return cond.residual(a, b, problem.params), x


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_interface_term_vanishes_on_the_exact_solution_and_not_on_a_perturbed_side(family):
    """64 points on each interface (from the domain's interface sampler), the exact solution on both sides:
    every term is zero to round-off (the difference terms exactly, being the same function on both sides;
    ``res``/``gres``, each side's residual and its gradient: below 1e-10, the level of the residual test
    above for the larger second derivatives of the gradient). Side b perturbed by 0.1 sin(3x + t): every
    term is clearly non-zero (> 1e-3). ``flux`` gets the interface's space-time normal (``Condition.normals_at``, tested below)."""
    problem = split(family)
    exact = poisson_interface_solution if family == "poisson" else EXACT[family]
    interface_names = [k for k, c in problem.conditions.items() if c.is_interface]
    assert len(interface_names) == 9 * len(problem.domain.interfaces)
    for name in interface_names:
        r, x = sides_residual(problem, name, exact, exact)
        assert amax(r) < 1e-10, (name, amax(r))
        r, _ = sides_residual(problem, name, exact, lambda z, p: exact(z, p) + perturbation(z))
        assert amax(r) > 1e-3, (name, amax(r))


def test_the_flux_term_is_the_normal_flux_jump():
    """With the interface's normal: Burgers' flux term is the jump of F_x = u²/2 − ν u_x across x = ±0.1
    (the flux form), a time cut's is the jump of u_t (the normal derivative; METALIC's flux on t = 0.5),
    Poisson's the jump of u_y."""
    for family, jump in (
        ("burgers", lambda d, p: 0.5 * d() ** 2 - p["nu"] * d("x")),
        ("reaction", lambda d, p: d("t")),
        ("poisson", lambda d, p: d("y")),
    ):
        problem = split(family)
        name = next(k for k in problem.conditions if k.startswith("flux@"))
        exact = poisson_interface_solution if family == "poisson" else EXACT[family]
        other = lambda z, p: exact(z, p) + perturbation(z)  # noqa: E731
        r, x = sides_residual(problem, name, exact, other)
        a, b = (derivatives(problem, f, x) for f in (exact, other))
        torch.testing.assert_close(
            r[:, 0], jump(a, problem.params) - jump(b, problem.params), rtol=0, atol=1e-12
        )  # (n, 1)


@pytest.mark.parametrize("family", ["burgers", "reaction"])
def test_flux_normals_from_the_condition_are_the_interfaces_space_time_normal(family):
    problem = split(family)
    name = next(k for k in problem.conditions if k.startswith("flux@"))
    cond = problem.conditions[name]
    x = problem.domain.sample_boundary(8, cond.boundary_tag, rng=0)
    np.testing.assert_array_equal(cond.normals_at(problem.domain, x), interface_normals(problem, cond.boundary_tag, 8))


def test_poisson_flux_normals_from_the_condition():
    """A cut in space of a steady problem: the condition's normals are the interface's (0, 1)."""
    problem = split("poisson")
    cond = problem.conditions["flux@y0|y1"]
    x = problem.domain.sample_boundary(8, "y0|y1", rng=0)
    np.testing.assert_array_equal(cond.normals_at(problem.domain, x), np.tile([0.0, 1.0], (8, 1)))


# --- the shipped cases: a multi-domain PINN trains a few steps --------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_metalic_case_trains_a_few_steps(family, tmp_path):
    path = ROOT / "cases" / f"metalic_{family}.yaml"
    case = load_case(path)
    assert case.problem["type"] == FAMILIES[family][0] and case.problem["cuts"] == FAMILIES[family][1]
    assert case.problem["interface"] == {"uavg": 5.0, "res_continuity": 5.0}
    assert case.model == {"type": "mlp", "width": 20, "depth": 2, "activation": "tanh", "init": "glorot_normal"}
    over = [
        "train.stages=[{optimizer: adam, lr: 1.0e-3, steps: 3}, {optimizer: lbfgs, lr: 1.0, steps: 2}]",
        "train.progress=false",
        f"output.dir={tmp_path / 'runs'}",
        "output.formats=[vtu]",
        "data.n_interior=64",
        "data.n_boundary=8",
    ]
    over += {"burgers": ["problem.n_x=16", "problem.n_t=4"], "poisson": ["problem.n_grid=17"]}.get(
        family, ["problem.n_x=16", "problem.n_t=4"]
    )
    run_dir, metrics = run_case(load_case(path, over), progress=False)
    assert np.isfinite(metrics["eval/rel_l2"]) and metrics["steps"] == 5
    n_faces = len(FAMILIES[family][1].get("x", [])) or 1
    assert sum(k.startswith(("loss/uavg@", "loss/res_continuity@")) for k in metrics) == 2 * n_faces
    assert (run_dir.path / "summary.json").exists()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_metalic_case_is_a_study_of_the_nine_terms(family, tmp_path):
    """Each case's ``study:`` section: METALIC over the family's parameter range with the nine terms as
    arms (512); the first proposals build problems with the proposed terms and nothing else."""
    from sciml.run import build
    from sciml.study import episode_case, plan_of

    case = load_case(ROOT / "cases" / f"metalic_{family}.yaml", ["problem.n_grid=17"] if family == "poisson" else [])
    plan = plan_of(case)
    terms = metalic_terms(PROBLEMS.build(FAMILIES[family][0], {}).inputs)
    assert plan.policy_name == "metalic" and plan.arms.keys == [f"problem.interface.{t}" for t in terms]
    assert len(plan.arms.grid()) == 512 and plan.trials >= 40
    for k in range(2):
        context, arm = plan.policy.propose(k, [])
        problem = build(episode_case(case, k, context, arm)).problem
        on = {t for t in terms if arm[f"problem.interface.{t}"] > 0}
        assert {name.split("@")[0] for name in problem.conditions if "@" in name} == on
        for key, value in context.items():
            assert problem.params[key.split(".")[-1]] == value


def test_interior_points_per_subdomain():
    """``interior_per_subdomain``: n_interior points in each piece (Burgers' thin strip gets as many as
    the outer pieces); refused on an uncut problem and for a non-boolean."""
    from sciml.data.collocation import CollocationData

    pb = PROBLEMS.build("burgers1d", {"cuts": {"x": [-0.1, 0.1]}, "interface": {"u": 5.0}})
    data = CollocationData(pb, n_interior=90, n_boundary=10, n_initial=10, interior_per_subdomain=True)
    x = data.points["interior"]
    owners = np.stack([np.asarray(s(x)) for s in pb.domain.subdomains.values()])
    assert x.shape == (270, 2) and owners.sum(axis=1).tolist() == [90, 90, 90]
    assert data.sample("interior", 5).shape == (15, 2)  # resampling keeps the split
    whole = CollocationData(pb, n_interior=90, n_boundary=10, n_initial=10).points["interior"]
    assert int(np.asarray(pb.domain.subdomains["x1"](whole)).sum()) < 30  # the strip is a tenth of the domain
    with pytest.raises(OptionError, match="interior_per_subdomain draws points in each subdomain of a cut domain"):
        CollocationData(PROBLEMS.build("burgers1d", {}), 90, 10, interior_per_subdomain=True)
    with pytest.raises(OptionError, match="interior_per_subdomain must be true or false, got 'yes'"):
        CollocationData(pb, 90, 10, interior_per_subdomain="yes")
