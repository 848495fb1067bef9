"""Tests for the Cole--Hopf reference solution of viscous Burgers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from sciml.solvers import burgers_cole_hopf

NU_BENCH = 0.01 / np.pi


def _burgers_mol(nu: float, n: int, t_end: float):
    """Independent reference: 2nd-order FD in x (conservative flux) + Radau in t."""
    x = np.linspace(-1.0, 1.0, n)
    h = x[1] - x[0]

    def pad(u):
        return np.concatenate([[0.0], u, [0.0]])

    def rhs(_t, u):
        v = pad(u)
        return -(v[2:] ** 2 - v[:-2] ** 2) / (4 * h) + nu * (v[2:] - 2 * v[1:-1] + v[:-2]) / h**2

    def jac(_t, u):
        v = pad(u)
        d = nu / h**2
        lower = d + v[1:-2] / (2 * h)
        upper = d - v[2:-1] / (2 * h)
        return sp.diags([lower, np.full(n - 2, -2 * d), upper], [-1, 0, 1], format="csc")

    sol = solve_ivp(
        rhs, (0.0, t_end), -np.sin(np.pi * x[1:-1]), method="Radau", jac=jac, rtol=1e-10, atol=1e-12, t_eval=[t_end]
    )
    assert sol.success
    return x, pad(sol.y[:, -1])


def test_initial_condition_exact():
    x = np.linspace(-1, 1, 101)
    u = burgers_cole_hopf(x, 0.0, NU_BENCH)
    np.testing.assert_array_equal(u, -np.sin(np.pi * x))


def test_shape_dtype_and_boundary():
    x = np.linspace(-1, 1, 256)
    t = np.linspace(0, 0.99, 100)
    X, T = np.meshgrid(x, t)
    u = burgers_cole_hopf(X, T, NU_BENCH)
    assert u.shape == X.shape and u.dtype == np.float64
    assert np.all(np.isfinite(u))
    assert np.max(np.abs(u[:, [0, -1]])) < 1e-12
    assert np.max(np.abs(u)) <= 1.0 + 1e-12
    # The shock forms at x = 0: u jumps from ~+1 to ~-1 there at late times.
    late = burgers_cole_hopf(np.array([-0.02, 0.02]), 0.99, NU_BENCH)
    assert late[0] > 0.6 and late[1] < -0.6


def test_matches_method_of_lines():
    nu, t_end = 0.05, 0.5
    xc, uc = _burgers_mol(nu, 401, t_end)
    xf, uf = _burgers_mol(nu, 801, t_end)
    exact_f = burgers_cole_hopf(xf, t_end, nu)
    assert np.max(np.abs(uf - exact_f)) < 1e-4
    # Richardson-extrapolated MOL is 4th order: a much sharper check.
    rich = (4 * uf[::2] - uc) / 3
    assert np.max(np.abs(rich - burgers_cole_hopf(xc, t_end, nu))) < 1e-6


def test_quadrature_converged():
    x = np.linspace(-1, 1, 128)
    t = np.linspace(0.05, 0.99, 20)
    X, T = np.meshgrid(x, t)
    u100 = burgers_cole_hopf(X, T, NU_BENCH, n_quad=100)
    u200 = burgers_cole_hopf(X, T, NU_BENCH, n_quad=200)
    assert np.max(np.abs(u100 - u200)) < 1e-10


def test_small_viscosity_no_overflow():
    u = burgers_cole_hopf(np.linspace(-1, 1, 64), 0.9, 1e-4, n_quad=100)
    assert np.all(np.isfinite(u)) and np.max(np.abs(u)) <= 1.0 + 1e-12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=0.1, t=0.5, nu=0.0), "nu"),
        (dict(x=0.1, t=0.5, nu=-1.0), "nu"),
        (dict(x=0.1, t=-0.1, nu=0.1), "t must be >= 0"),
        (dict(x=np.zeros(3), t=np.ones(4), nu=0.1), "broadcastable"),
    ],
)
def test_invalid_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        burgers_cole_hopf(**kwargs)
