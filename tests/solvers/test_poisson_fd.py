"""The 5-point Poisson solver: second-order convergence on a manufactured solution, exactness on
quadratics, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.solvers import solve_poisson_dirichlet


def manufactured(X, Y):
    """u = sin(πx) sin(2πy) + e^{x+2y}: smooth, non-zero on the boundary, different scales in x and y."""
    return np.sin(np.pi * X) * np.sin(2 * np.pi * Y) + np.exp(X + 2 * Y)


def laplacian(X, Y):
    """Δu = −5π² sin(πx) sin(2πy) + 5 e^{x+2y}."""
    return -5 * np.pi**2 * np.sin(np.pi * X) * np.sin(2 * np.pi * Y) + 5 * np.exp(X + 2 * Y)


def test_second_order_convergence_on_a_manufactured_solution():
    """Max nodal error at n = 17, 33, 65, 129 nodes per side on [0, 1] x [0, 2]: each halving of h
    divides it by 4 (observed orders within 0.1 of 2), and the error constant matches the leading
    truncation term (errors / h² level off)."""
    bounds = ((0.0, 1.0), (0.0, 2.0))
    errors, hs = [], []
    for n in (17, 33, 65, 129):
        u = solve_poisson_dirichlet(laplacian, (n, 2 * n - 1), bounds, g=manufactured)
        X, Y = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 2, 2 * n - 1), indexing="ij")
        errors.append(np.abs(u - manufactured(X, Y)).max())
        hs.append(1.0 / (n - 1))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(orders - 2) < 0.1), (errors, orders)
    assert errors[-1] < 5e-6 * np.exp(5.0), errors  # relative to max |u| = e⁵
    const = np.array(errors) / np.array(hs) ** 2
    assert abs(const[-1] / const[-2] - 1) < 0.02, const


def test_exact_on_quadratics_and_zero_data():
    """The stencil is exact for quadratics (its truncation error is a fourth derivative): u = x² − y² + xy
    is harmonic and is reproduced to round-off; f = 2 with g = x² gives u = x² exactly."""
    n = 21
    X, Y = np.meshgrid(np.linspace(-1, 2, n), np.linspace(0, 1, n), indexing="ij")
    u = solve_poisson_dirichlet(np.zeros((n, n)), n, ((-1.0, 2.0), (0.0, 1.0)), g=lambda x, y: x**2 - y**2 + x * y)
    np.testing.assert_allclose(u, X**2 - Y**2 + X * Y, rtol=0, atol=1e-12)
    u = solve_poisson_dirichlet(lambda x, y: np.full_like(x, 2.0), n, ((-1.0, 2.0), (0.0, 1.0)), g=lambda x, y: x**2)
    np.testing.assert_allclose(u, X**2, rtol=0, atol=1e-12)
    assert not solve_poisson_dirichlet(np.zeros((5, 5)), 5).any()  # f = 0, g = 0: u = 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"f": np.zeros((4, 4)), "shape": 2}, r"n_x must be an integer >= 3, got 2"),
        ({"f": np.zeros((4, 4)), "shape": (4, 2.5)}, r"n_y must be an integer >= 3"),
        ({"f": np.zeros((4, 5)), "shape": 4}, r"f must have the grid's shape \(4, 4\), got \(4, 5\)"),
        ({"f": np.zeros((4, 4)), "shape": 4, "bounds": ((1, 0), (0, 1))}, r"bounds must be"),
        ({"f": np.full((4, 4), np.nan), "shape": 4}, r"f and g must be finite"),
    ],
)
def test_bad_input_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        solve_poisson_dirichlet(**kwargs)
    assert "\n" not in str(err.value)
