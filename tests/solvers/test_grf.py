"""Tests for the Gaussian random field sampler and Darcy coefficients."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import dctn

from sciml.solvers import darcy_coefficient, gaussian_random_field, grf_eigenvalues


def _kl_coefficients(u: np.ndarray) -> np.ndarray:
    """Project node values back onto the orthonormal cosine basis (forward DCT-I)."""
    n = u.shape[-1]
    b = dctn(u, type=1, axes=(-2, -1)) / (2 * (n - 1)) ** 2
    # b holds plain-cosine amplitudes, halved at interior modes by DCT-I;
    # divide by the basis normalisation c_0 = 1, c_k = sqrt(2).
    w = np.full(n, 2.0 / np.sqrt(2.0))
    w[0] = 1.0
    w[-1] = 1.0 / np.sqrt(2.0)
    return b * w[:, None] * w[None, :]


def test_shape_and_reproducible():
    u1 = gaussian_random_field(4, 32, rng=123)
    u2 = gaussian_random_field(4, 32, rng=np.random.default_rng(123))
    assert u1.shape == (4, 32, 32) and u1.dtype == np.float64
    np.testing.assert_array_equal(u1, u2)
    assert not np.allclose(u1, gaussian_random_field(4, 32, rng=124))


def test_zero_mean():
    u = gaussian_random_field(2000, 16, rng=0)
    pointwise_sd = u.std(axis=0)
    sem = pointwise_sd / np.sqrt(u.shape[0])
    assert np.all(np.abs(u.mean(axis=0)) < 5 * sem)
    # Constant mode is removed: each sample has zero mean in the L2 sense.
    assert np.max(np.abs(_kl_coefficients(u)[:, 0, 0])) < 1e-12


def test_coefficient_variance_matches_eigenvalues():
    n, n_samples = 33, 3000
    alpha, tau = 2.0, 3.0
    coef = _kl_coefficients(gaussian_random_field(n_samples, n, alpha, tau, rng=7))
    lam = grf_eigenvalues(n, alpha, tau)
    assert lam[1, 0] == pytest.approx(tau**2 * (np.pi**2 + tau**2) ** -2)
    tol = 5 * np.sqrt(2.0 / n_samples)  # 5 sigma for a chi^2 variance estimate
    for k in [(1, 0), (0, 1), (2, 3), (5, 5), (n - 1, 0)]:
        var = np.mean(coef[:, k[0], k[1]] ** 2)
        assert abs(var / lam[k] - 1.0) < tol, (k, var, lam[k])


def test_darcy_coefficient_two_values():
    a = darcy_coefficient(8, 32, rng=3)
    assert a.shape == (8, 32, 32)
    assert set(np.unique(a)) == {3.0, 12.0}
    b = darcy_coefficient(2, 16, rng=3, high=5.0, low=1.0)
    assert set(np.unique(b)) <= {1.0, 5.0}


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_samples=2, n=1),
        dict(n_samples=-1, n=8),
        dict(n_samples=2, n=8, tau=0.0),
        dict(n_samples=2, n=8, alpha=-1.0),
        dict(n_samples=2, n=8, rng="seed"),
    ],
)
def test_invalid_input(kwargs):
    with pytest.raises(ValueError):
        gaussian_random_field(**kwargs)
