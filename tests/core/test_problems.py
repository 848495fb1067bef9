"""Problems: residuals vanish on exact solutions; references agree with independent solvers."""

import numpy as np
import pytest
import torch

import sciml.components  # noqa: F401
from sciml.ops import Derivatives
from sciml.registry import PROBLEMS


def test_burgers_residual_vanishes_on_a_travelling_wave():
    # u = c - a tanh(a (x - c t) / (2 nu)) solves u_t + u u_x = nu u_xx exactly
    problem = PROBLEMS.build("burgers1d", {"params": {"nu": 0.05}})
    a, c, nu = 0.7, 0.3, problem.params["nu"]
    x = (torch.rand(200, 2, dtype=torch.float64) * torch.tensor([2.0, 1.0]) - torch.tensor([1.0, 0.0])).requires_grad_()
    u = (c - a * torch.tanh(a * (x[:, 0] - c * x[:, 1]) / (2 * nu)))[:, None]
    du = Derivatives(u, x, problem.inputs, problem.outputs)
    r = problem.equations["pde"](du, problem.params)
    assert r.abs().max() < 1e-12
    # and a wrong viscosity leaves a residual: the test can fail
    r_bad = problem.equations["pde"](du, {"nu": 0.06})
    assert r_bad.abs().max() > 1e-3


def _fd_residual(n_x, n_t, nu=0.05):
    problem = PROBLEMS.build("burgers1d", {"params": {"nu": nu}, "n_x": n_x, "n_t": n_t})
    ref = problem.reference()
    u, x, t = ref.values[..., 0], ref.support.axes()[0], ref.times  # u: (T, X)
    dx, dt = x[1] - x[0], t[1] - t[0]
    ut = (u[2:, 1:-1] - u[:-2, 1:-1]) / (2 * dt)
    ux = (u[1:-1, 2:] - u[1:-1, :-2]) / (2 * dx)
    uxx = (u[1:-1, 2:] - 2 * u[1:-1, 1:-1] + u[1:-1, :-2]) / dx**2
    return u, x, np.abs(ut + u[1:-1, 1:-1] * ux - nu * uxx).max()


def test_burgers_reference_satisfies_conditions_and_pde_to_second_order():
    u, x, r1 = _fd_residual(101, 51)
    np.testing.assert_allclose(u[0], -np.sin(np.pi * x), atol=1e-12)
    np.testing.assert_allclose(u[:, [0, -1]], 0.0, atol=1e-10)
    _, _, r2 = _fd_residual(201, 101)
    # the central-difference residual of the exact solution is pure truncation error: O(h^2)
    assert 3.3 < r1 / r2 < 4.7, (r1, r2)


def test_pinn_conditions_vanish_on_the_exact_initial_and_boundary_data():
    problem = PROBLEMS.build("burgers1d", {})
    io = (problem.inputs, problem.outputs)
    x0 = torch.tensor(problem.domain.sample_initial(50, rng=0))
    u0 = -torch.sin(np.pi * x0[:, :1])
    assert problem.conditions["initial"].residual(Derivatives(u0, x0, *io), problem.params).abs().max() < 1e-14
    xb = torch.tensor(problem.domain.sample_boundary(20, rng=0))
    ub = Derivatives(torch.zeros(20, 1), xb, *io)
    assert problem.conditions["boundary"].residual(ub, problem.params).abs().max() == 0


def test_darcy_dataset_generator_is_seeded_and_consistent():
    problem = PROBLEMS.build("darcy2d", {"resolution": 17})
    f1, grid = problem.dataset.generate(3, np.random.default_rng(1))
    f2, _ = problem.dataset.generate(3, np.random.default_rng(1))
    np.testing.assert_array_equal(f1["a"], f2["a"])
    assert f1["a"].shape == (3, 17, 17, 1) and grid.shape == (17, 17)
    assert set(np.unique(f1["a"])) <= {3.0, 12.0}
    assert np.all(f1["u"][:, 0] == 0) and np.all(f1["u"][:, 1:-1, 1:-1] > 0)
    io = problem.io_spec()
    assert (io.n_in, io.n_out, io.ndim) == (1, 1, 2)


def test_darcy_solved_fine_stored_coarse_and_lognormal():
    coarse = PROBLEMS.build("darcy2d", {"resolution": 17, "solve_factor": 2})
    fine = PROBLEMS.build("darcy2d", {"resolution": 33})
    fc, grid = coarse.dataset.generate(2, np.random.default_rng(4))
    ff, _ = fine.dataset.generate(2, np.random.default_rng(4))
    assert fc["u"].shape == (2, 17, 17, 1) and grid.shape == (17, 17)
    np.testing.assert_array_equal(fc["u"], ff["u"][:, ::2, ::2])  # the same fine solve, every other node
    np.testing.assert_array_equal(fc["a"], ff["a"][:, ::2, ::2])
    smooth = PROBLEMS.build("darcy2d", {"resolution": 17, "coefficient": "lognormal", "params": {"log_scale": 0.5}})
    fs, _ = smooth.dataset.generate(3, np.random.default_rng(0))
    log_a = np.log(fs["a"][..., 0])
    assert np.all(fs["a"] > 0) and len(np.unique(fs["a"])) > 100
    assert np.allclose(log_a.std(axis=(1, 2)), 0.5, rtol=1e-6)
    assert np.all(fs["u"][:, 1:-1, 1:-1] > 0)
    with pytest.raises(ValueError, match="coefficient"):
        PROBLEMS.build("darcy2d", {"coefficient": "smooth"})
    with pytest.raises(ValueError, match="solve_factor"):
        PROBLEMS.build("darcy2d", {"solve_factor": 0})


def test_periodic_operator_datasets():
    from sciml.solvers import burgers_initial_conditions, solve_burgers_periodic

    bo = PROBLEMS.build("burgers_operator", {"resolution": 64, "solve_factor": 2})
    f, grid = bo.dataset.generate(3, np.random.default_rng(5))
    assert f["u0"].shape == f["u"].shape == (3, 64, 1) and grid.periodic == (True,)
    u0 = burgers_initial_conditions(3, 128, rng=np.random.default_rng(5))
    np.testing.assert_allclose(f["u0"][..., 0], u0[:, ::2])
    direct = solve_burgers_periodic(u0, 1.0, nu=0.1, n_record=1, n_out=64)[:, -1]
    np.testing.assert_allclose(f["u"][..., 0], direct, atol=1e-12)
    assert np.abs(f["u"]).max() < np.abs(f["u0"]).max()  # viscous decay
    ns = PROBLEMS.build("ns2d", {"resolution": 16, "t_in": 3, "t_out": 2, "params": {"dt": 0.05}})
    g, grid = ns.dataset.generate(2, np.random.default_rng(0))
    assert g["w_in"].shape == (2, 16, 16, 3) and g["w_out"].shape == (2, 16, 16, 2)
    assert np.abs(g["w_in"].mean(axis=(1, 2))).max() < 1e-10  # zero-mean vorticity stays zero-mean
    io = ns.io_spec()
    assert (io.n_in, io.n_out, io.ndim) == (3, 2, 2) and io.outputs == ("w_t4", "w_t5")
    with pytest.raises(ValueError, match="t_in"):
        PROBLEMS.build("ns2d", {"t_in": 0})


def test_forms_in_one_mapping_with_clear_errors():
    """A problem's forms are one mapping of known kinds; asking for one it lacks names what it offers."""
    from sciml.problems.base import CharacteristicForm, EnergyForm, Problem

    burgers = PROBLEMS.build("burgers1d", {})
    assert burgers.offers == ("strong", "characteristic", "flux")
    with pytest.raises(
        ValueError,
        match=r"the energy method needs a problem with an energy form; 'burgers1d' offers: strong, characteristic",
    ):
        burgers.form("energy", method="the energy method")
    assert PROBLEMS.build("poisson1d_multiscale", {}).offers == ("strong", "energy")
    with pytest.raises(ValueError, match="no form kind 'mixed'; the kinds are: strong .*energy, characteristic"):
        Problem("p", ("x",), ("u",), {}, forms={"mixed": object()})
    with pytest.raises(ValueError, match="its weak form must be an instance of WeakForm, got object"):
        Problem("p", ("x",), ("u",), {}, forms={"weak": object()})
    with pytest.raises(ValueError, match="its energy form must be an instance of EnergyForm, got CharacteristicForm"):
        Problem("p", ("x",), ("u",), {}, forms={"energy": CharacteristicForm(lambda u, p: u)})
    assert isinstance(PROBLEMS.build("poisson1d_multiscale", {}).form("energy"), EnergyForm)


def test_parameters_reach_the_characteristic_form_and_the_reference():
    from sciml.fields import Field
    from sciml.mesh import Grid
    from sciml.problems.base import CharacteristicForm, Problem

    form = CharacteristicForm(lambda u, p: p["a"] * u, nu="nu")
    nu = torch.tensor(0.3, requires_grad=True)
    assert form.diffusion({"nu": nu}) is nu  # a trained coefficient stays in the graph
    assert CharacteristicForm(lambda u, p: u, nu=lambda p: 2 * p["k"]).diffusion({"k": 0.5}) == 1.0
    assert CharacteristicForm(lambda u, p: u, nu=0.1).diffusion({}) == 0.1
    grid = Grid((3,), ((0.0, 1.0),))
    seen = []

    def reference(params):  # reference(params): the reference at the problem's parameters
        seen.append(dict(params))
        return Field(np.full((3, 1), params["k"]), grid, ("u",))

    pb = Problem("p", ("x",), ("u",), {"k": 2.5}, reference=reference)
    assert pb.reference_field().values[0, 0] == 2.5 and seen == [{"k": 2.5}]
    plain = Problem("q", ("x",), ("u",), {"k": 1.0}, reference=lambda: Field(np.zeros((3, 1)), grid, ("u",)))
    assert plain.reference_field().values.shape == (3, 1)  # reference() without params still works
