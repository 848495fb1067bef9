"""The FFT convection–diffusion solver: closed forms, PDE residual, spectral derivatives."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.mesh import Grid
from sciml.solvers.spectral import convection_diffusion_fft, fourier_derivative

L = 2 * np.pi


def grid(n=128, lo=0.0, length=L):
    return Grid((n,), ((lo, lo + length),), periodic=(True,)).axes()[0]


@pytest.mark.parametrize("beta,nu", [(30.0, 0.0), (30.0, 0.01), (1.0, 0.5), (0.0, 0.0)])
def test_sine_matches_closed_form(beta, nu):
    x, t = grid(256), np.linspace(0, 1, 100)
    u = convection_diffusion_fft(np.sin(x), x, t, beta, nu)
    exact = np.exp(-nu * t)[:, None] * np.sin(x[None] - beta * t[:, None])
    assert u.shape == (100, 256)
    np.testing.assert_allclose(u, exact, atol=1e-12)


def test_multimode_matches_modewise_closed_form_on_shifted_period():
    rng = np.random.default_rng(1)
    lo, length, beta, nu = -1.0, 3.0, 2.5, 0.05
    x, t = grid(64, lo, length), np.linspace(0, 2, 7)
    m = np.arange(1, 6)
    a, ph = rng.normal(size=5), rng.uniform(0, 2 * np.pi, 5)
    k = 2 * np.pi * m / length

    def f(x, t):
        arg = k * (x[..., None] - beta * t) + ph
        return np.sum(a * np.exp(-nu * k**2 * t) * np.sin(arg), axis=-1)

    u = convection_diffusion_fft(f(x, 0.0) + 0.7, x, t, beta, nu)
    exact = np.stack([f(x, s) for s in t]) + 0.7
    np.testing.assert_allclose(u, exact, atol=1e-11)


def test_multimode_satisfies_the_pde():
    """u_t (central difference in time) + β u_x − ν u_xx (spectral) vanishes for a random smooth u0."""
    rng = np.random.default_rng(0)
    n, beta, nu, dt = 128, 10.0, 0.02, 1e-5
    x = grid(n)
    m = np.arange(1, 9)
    u0 = (rng.normal(size=(8, 1)) / m[:, None] ** 2 * np.cos(m[:, None] * x + rng.uniform(0, 6, (8, 1)))).sum(0)
    t = np.array([0.3, 0.7])
    u = convection_diffusion_fft(u0, x, t, beta, nu)
    later, earlier = (convection_diffusion_fft(u0, x, t + s, beta, nu) for s in (dt, -dt))
    u_t = (later - earlier) / (2 * dt)
    r = u_t + beta * fourier_derivative(u, L, 1) - nu * fourier_derivative(u, L, 2)
    assert np.abs(r).max() < 1e-6 * np.abs(u_t).max()
    # and a wrong speed leaves a residual of the size of the missing term
    r_wrong = u_t + (beta + 1) * fourier_derivative(u, L, 1) - nu * fourier_derivative(u, L, 2)
    assert np.abs(r_wrong).max() > 0.1 * np.abs(fourier_derivative(u, L, 1)).max()


def test_batched_initial_conditions():
    x, t = grid(32), np.linspace(0, 1, 5)
    u0 = np.stack([np.sin(x), np.cos(2 * x)])
    u = convection_diffusion_fft(u0, x, t, 3.0, 0.1)
    assert u.shape == (2, 5, 32)
    np.testing.assert_allclose(u[1], convection_diffusion_fft(u0[1], x, t, 3.0, 0.1))


def test_fourier_derivative_of_sine():
    x = grid(64)
    np.testing.assert_allclose(fourier_derivative(np.sin(3 * x), L, 1), 3 * np.cos(3 * x), atol=1e-12)
    np.testing.assert_allclose(fourier_derivative(np.sin(3 * x), L, 2), -9 * np.sin(3 * x), atol=1e-11)


def test_bad_input():
    x = grid(16)
    with pytest.raises(ValueError, match="nu"):
        convection_diffusion_fft(np.sin(x), x, [0.0], 1.0, -1.0)
    with pytest.raises(ValueError, match="equispaced"):
        convection_diffusion_fft(np.sin(x), x**2, [0.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="length"):
        convection_diffusion_fft(np.sin(x), x[:-1], [0.0], 1.0, 0.0)
