"""Tests for the finite-difference Darcy solver."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.solvers import darcy_coefficient, solve_darcy


def _manufactured(n: int):
    """u = sin(pi x) sin(pi y), a = 1 + 0.5 sin(2 pi x) cos(pi y), f = -div(a grad u)."""
    pi = np.pi
    x = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    a = 1.0 + 0.5 * np.sin(2 * pi * X) * np.cos(pi * Y)
    u = np.sin(pi * X) * np.sin(pi * Y)
    a_x = pi * np.cos(2 * pi * X) * np.cos(pi * Y)
    a_y = -0.5 * pi * np.sin(2 * pi * X) * np.sin(pi * Y)
    u_x = pi * np.cos(pi * X) * np.sin(pi * Y)
    u_y = pi * np.sin(pi * X) * np.cos(pi * Y)
    f = 2 * pi**2 * a * u - a_x * u_x - a_y * u_y
    return a, f, u


def test_second_order_convergence():
    ns = np.array([17, 33, 65])
    errs = []
    for n in ns:
        a, f, u = _manufactured(n)
        uh = solve_darcy(a, f)
        assert uh.shape == (n, n)
        errs.append(np.max(np.abs(uh - u)))
    order = np.polyfit(np.log(1.0 / (ns - 1)), np.log(errs), 1)[0]  # err ~ C h^p
    assert 1.8 <= order <= 2.2, (order, errs)
    assert errs[-1] < 1e-3


def test_constant_coefficient_single_node():
    # n = 3: one unknown, 4 u / h^2 = f with h = 1/2.
    u = solve_darcy(np.ones((3, 3)), 1.0)
    assert u[1, 1] == pytest.approx(1.0 / 16.0)
    assert np.count_nonzero(u) == 1


def test_batch_equals_single_and_boundary_zero():
    a = darcy_coefficient(3, 21, rng=0)
    f = np.linspace(0.5, 1.5, 21)[:, None] * np.ones((21, 21))
    ub = solve_darcy(a, f)
    assert ub.shape == a.shape
    for s in range(3):
        np.testing.assert_allclose(ub[s], solve_darcy(a[s], f), rtol=1e-12, atol=1e-14)
    edges = np.concatenate([ub[:, 0], ub[:, -1], ub[:, :, 0], ub[:, :, -1]], axis=None)
    assert np.all(edges == 0.0)
    # Maximum principle: f > 0 gives u > 0 inside.
    assert np.all(ub[:, 1:-1, 1:-1] > 0)


def test_batch_with_scalar_forcing():
    a = darcy_coefficient(2, 9, rng=3)
    ub = solve_darcy(a, 1.0)
    for s in range(2):
        np.testing.assert_allclose(ub[s], solve_darcy(a[s], 1.0), rtol=1e-12, atol=1e-14)


def test_symmetry_under_transpose():
    a = darcy_coefficient(1, 17, rng=1)[0]
    np.testing.assert_allclose(solve_darcy(a.T), solve_darcy(a).T, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "a, f, match",
    [
        (-np.ones((5, 5)), 1.0, "positive"),
        (np.zeros((5, 5)), 1.0, "positive"),
        (np.full((5, 5), np.nan), 1.0, "finite"),
        (np.ones((5, 4)), 1.0, "square"),
        (np.ones(5), 1.0, "shape"),
        (np.ones((2, 2)), 1.0, "n must be >= 3"),
        (np.ones((5, 5)), np.ones((4, 4)), "broadcastable"),
    ],
)
def test_invalid_input(a, f, match):
    with pytest.raises(ValueError, match=match):
        solve_darcy(a, f)
