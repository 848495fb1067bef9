"""Fourier (pseudo-)spectral tools on periodic grids: the exact convection–diffusion solver.

For the linear problem

.. math::

    u_t + \\beta u_x = \\nu u_{xx}, \\qquad x \\in [a, a + L) \\text{ periodic},

each Fourier mode :math:`\\hat u_k e^{i k x}` (:math:`k = 2\\pi m / L`) evolves independently,

.. math::

    \\hat u_k(t) = \\hat u_k(0)\\, e^{-(\\nu k^2 + i \\beta k)\\, t},

i.e. it travels at speed β and decays at rate ν k². On a grid of ``n`` equispaced nodes the
solution is therefore exact up to the representation of the initial datum by its ``n``
Fourier modes (no time-stepping error): the reference used by Krishnapriyan et al. (2021)
and Mojgani et al. (2023) for the convection "failure mode" benchmark.
"""

from __future__ import annotations

import numpy as np

__all__ = ["convection_diffusion_fft", "fourier_derivative", "wavenumbers"]


def _check_grid(x: np.ndarray, n: int) -> float:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(x) != n or n < 2:
        raise ValueError(f"x must be the 1D grid of the last axis of u (length {n}), got shape {x.shape}")
    h = x[1] - x[0]
    if h <= 0 or not np.allclose(np.diff(x), h, rtol=1e-10, atol=1e-12):
        raise ValueError("x must be an increasing equispaced periodic grid (right end excluded)")
    return float(h * n)  # the period L


def wavenumbers(n: int, length: float) -> np.ndarray:
    """Angular wavenumbers :math:`k_m = 2\\pi m / L`, ``m = 0..n//2``, of ``numpy.fft.rfft`` (n//2+1,)."""
    return 2.0 * np.pi * np.fft.rfftfreq(n, d=length / n)


def fourier_derivative(u: np.ndarray, length: float, order: int = 1) -> np.ndarray:
    """Spectral derivative :math:`\\partial_x^p u = \\mathcal F^{-1}[(ik)^p \\hat u]` along the last axis.

    For odd ``order`` the Nyquist mode of an even ``n`` is dropped (its derivative is not a real
    grid function), the usual convention.

    Parameters
    ----------
    u : (..., n) real values on ``n`` equispaced nodes of one period ``[a, a + length)``
    length : the period L
    order : derivative order p >= 0
    """
    u = np.asarray(u, dtype=np.float64)
    n = u.shape[-1]
    k = wavenumbers(n, length)
    mult = (1j * k) ** order
    if order % 2 and n % 2 == 0:
        mult[-1] = 0.0
    return np.fft.irfft(mult * np.fft.rfft(u, axis=-1), n=n, axis=-1)


def convection_diffusion_fft(u0: np.ndarray, x: np.ndarray, t: np.ndarray, beta: float, nu: float) -> np.ndarray:
    """Exact solution of :math:`u_t + \\beta u_x = \\nu u_{xx}` on a periodic grid, by FFT.

    .. math::

        u(x, t) = \\sum_k \\hat u_k(0)\\, e^{-\\nu k^2 t}\\, e^{i k (x - \\beta t)}

    All times at once (one outer product of modes and times, no loop). For even ``n`` the
    Nyquist mode cannot travel on the grid; only its real part is kept (``irfft``), so give
    initial data resolved well below the Nyquist frequency.

    Parameters
    ----------
    u0 : (..., n) initial values at the nodes ``x`` (leading axes are independent samples)
    x : (n,) equispaced nodes of one period, right end excluded (e.g. ``Grid(periodic=(True,))``)
    t : (T,) times (any order, may be negative for ν = 0)
    beta : convection speed β
    nu : diffusivity ν >= 0

    Returns
    -------
    (..., T, n) array: ``u[..., i, :]`` is the solution at time ``t[i]``.
    """
    if nu < 0:
        raise ValueError(f"diffusivity nu must be >= 0, got {nu}")
    u0 = np.asarray(u0, dtype=np.float64)
    n = u0.shape[-1]
    length = _check_grid(x, n)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    k = wavenumbers(n, length)
    # the grid may start at a != 0: rfft assumes nodes a + j h, which only multiplies every mode
    # by e^{ika}; the evolution factor is the same, so the shift needs no correction
    uh0 = np.fft.rfft(u0, axis=-1)[..., None, :]  # (..., 1, K)
    growth = np.exp(-(nu * k**2 + 1j * beta * k)[None, :] * t[:, None])  # (T, K)
    return np.fft.irfft(uh0 * growth, n=n, axis=-1)
