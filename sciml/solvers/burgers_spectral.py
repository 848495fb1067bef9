"""Periodic 1D viscous Burgers equation by Fourier pseudo-spectral ETDRK4: the FNO Burgers data.

The Burgers benchmark of the Fourier Neural Operator paper (Li et al., 2021) learns the map
:math:`u_0 \\mapsto u(\\cdot, 1)` of

.. math::

    u_t + \\big(\\tfrac12 u^2\\big)_x = \\nu u_{xx}, \\qquad x \\in [0, 1) \\text{ periodic}, \\qquad \\nu = 0.1,

with :math:`u_0 \\sim \\mathcal N(0, 625(-\\Delta + 25 I)^{-2})` (:func:`burgers_initial_conditions`).

**Space.** Fourier pseudo-spectral on the grid :math:`x_j = j/n`: with :math:`\\hat u_k` the ``rfft``
coefficients (:math:`k = 2\\pi m`),

.. math::

    \\frac{d \\hat u_k}{dt} = L_k \\hat u_k + N_k(\\hat u), \\qquad L_k = -\\nu k^2, \\qquad
    N_k = -\\tfrac{i k}{2}\\, P_K \\mathcal F\\big[(\\mathcal F^{-1} P_K \\hat u)^2\\big],

where :math:`P_K` keeps :math:`|m| \\le K = \\lfloor (n-1)/3 \\rfloor` (the 2/3 rule: the square of a
field with modes up to :math:`K` has modes up to :math:`2K < n - K`, so no alias lands on a kept
mode and :math:`N` is the exact Galerkin projection). The mean :math:`\\hat u_0` is exactly
conserved (:math:`k = 0`) and the dealiased nonlinear term conserves :math:`\\int u^2`, which only
the viscosity decreases.

**Time.** Exponential time differencing Runge--Kutta of order four (ETDRK4, Cox & Matthews 2002):
the stiff diagonal linear part is integrated exactly and the nonlinear term by a fourth-order
Runge--Kutta-like quadrature,

.. math::

    a &= e^{Lh/2} \\hat u^n + Q\\, N(\\hat u^n), \\quad
    b = e^{Lh/2} \\hat u^n + Q\\, N(a), \\quad
    c = e^{Lh/2} a + Q\\,(2N(b) - N(\\hat u^n)), \\\\
    \\hat u^{n+1} &= e^{Lh} \\hat u^n + f_1 N(\\hat u^n) + 2 f_2 (N(a) + N(b)) + f_3 N(c),

with :math:`Q = h\\,\\frac{e^{z/2} - 1}{z}`, :math:`f_1 = h\\,\\frac{-4 - z + e^z(4 - 3z + z^2)}{z^3}`,
:math:`f_2 = h\\,\\frac{2 + z + e^z(z - 2)}{z^3}`, :math:`f_3 = h\\,\\frac{-4 - 3z - z^2 + e^z(4 - z)}{z^3}`,
:math:`z = L_k h`. These are evaluated as means over a circle of radius 1 around each :math:`z`
(Kassam & Trefethen 2005), which avoids the cancellation for small :math:`|z|`. Eight FFTs per step;
no step size restriction from the viscosity, only the advective one
:math:`h \\max|u|\\, \\min(2\\pi K, \\max|u|/\\nu) \\lesssim 1` (:func:`solve_burgers_periodic` picks such a
step by default; :math:`\\max|u|` cannot grow for Burgers).
"""

from __future__ import annotations

import numpy as np

from .navier_stokes import _check_count, _check_positive, _record_steps, periodic_grf, resample_periodic

__all__ = ["burgers_initial_conditions", "etdrk4_coefficients", "solve_burgers_periodic"]

_N_CONTOUR = 64  # points on the half circle of the Kassam--Trefethen contour mean
_DT_MAX = 1e-2  # largest default step


def burgers_initial_conditions(
    n_samples: int, n: int, rng=None, alpha: float = 2.0, tau: float = 5.0, sigma: float = 25.0
) -> np.ndarray:
    """FNO Burgers initial conditions :math:`u_0 \\sim \\mathcal N(0, \\sigma^2(-\\Delta + \\tau^2 I)^{-\\alpha})`.

    With the defaults, :math:`\\mathcal N(0, 625(-\\Delta + 25 I)^{-2})` on the periodic interval
    :math:`[0, 1)`, sampled on the grid :math:`x_j = j/n` by :func:`periodic_grf` with ``dim=1``
    (mean zero; the samples lie in :math:`H^s` for :math:`s < 3/2`).

    Parameters
    ----------
    n_samples : int
        Number of independent samples.
    n : int
        Grid points (``>= 2``).
    rng : numpy.random.Generator or int or None
        Random generator or seed.
    alpha, tau, sigma : float
        Covariance parameters (see :func:`periodic_grf`).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, n)``, float64.
    """
    return periodic_grf(n_samples, n, alpha=alpha, tau=tau, sigma=sigma, rng=rng, dim=1)


def etdrk4_coefficients(z: np.ndarray, h: float) -> tuple[np.ndarray, ...]:
    """ETDRK4 weights :math:`(e^{z}, e^{z/2}, Q, f_1, f_2, f_3)` for the real diagonal ``z = L h``.

    :math:`Q, f_1, f_2, f_3` (module docstring) are the means of their formulas over
    :math:`z + e^{i\\theta}`, :math:`\\theta` on a half circle (real parts: the other half gives the
    conjugates), exact for these entire functions up to the trapezoidal-rule error, which is
    far below round-off with 64 points.

    Parameters
    ----------
    z : array_like
        Real values :math:`L_k h` (any shape).
    h : float
        Time step.

    Returns
    -------
    tuple of numpy.ndarray
        ``E, E2, Q, f1, f2, f3``, each of the shape of ``z``.
    """
    z = np.asarray(z, dtype=np.float64)
    r = np.exp(1j * np.pi * (np.arange(1, _N_CONTOUR + 1) - 0.5) / _N_CONTOUR)
    lr = z[..., None] + r
    e = np.exp(lr)
    q = h * np.mean((np.exp(lr / 2.0) - 1.0) / lr, axis=-1).real
    f1 = h * np.mean((-4.0 - lr + e * (4.0 - 3.0 * lr + lr**2)) / lr**3, axis=-1).real
    f2 = h * np.mean((2.0 + lr + e * (lr - 2.0)) / lr**3, axis=-1).real
    f3 = h * np.mean((-4.0 - 3.0 * lr - lr**2 + e * (4.0 - lr)) / lr**3, axis=-1).real
    return np.exp(z), np.exp(z / 2.0), q, f1, f2, f3


def _default_dt(u0: np.ndarray, nu: float, kmax: int) -> float:
    umax = float(np.abs(u0).max()) if u0.size else 0.0
    if umax == 0.0:
        return _DT_MAX
    k_adv = 2.0 * np.pi * kmax if nu == 0.0 else min(2.0 * np.pi * kmax, umax / nu)
    return min(_DT_MAX, 1.0 / (umax * max(k_adv, 2.0 * np.pi)))


def solve_burgers_periodic(
    u0: np.ndarray,
    t_end: float,
    nu: float = 0.1,
    dt: float | None = None,
    n_record: int = 1,
    n_out: int | None = None,
    resample: str = "fourier",
    batch_size: int | None = None,
) -> np.ndarray:
    """Solve :math:`u_t + (u^2/2)_x = \\nu u_{xx}` on :math:`[0, 1)` (periodic) by pseudo-spectral ETDRK4.

    Parameters
    ----------
    u0 : (n_samples, n) or (n,) array
        Initial values on the grid :math:`x_j = j/n` (``n >= 4``).
    t_end : float
        Final time (> 0); the FNO operator is ``t_end = 1``.
    nu : float, default 0.1
        Viscosity (>= 0; for ``nu = 0`` the solution is only meaningful before shocks form).
    dt : float or None
        Largest time step (> 0), reduced so that each recording interval holds a whole number of
        steps. ``None``: :math:`\\min(10^{-2}, 1/(\\max|u_0|\\, \\min(2\\pi K, \\max|u_0|/\\nu)))`, the
        advective stability limit with a safety factor of about 3 (``1e-2`` for the FNO data, where
        it gives errors near 1e-9).
    n_record : int, default 1
        Number of snapshots, at :math:`t_j = j\\, t_{end}/n_{record}`, ``j = 1..n_record``.
    n_out : int or None
        Store the snapshots on ``n_out`` points with :func:`~sciml.solvers.navier_stokes.resample_periodic`
        (e.g. solve at 8192, store at 1024 as the FNO data); ``None`` keeps ``n``.
    resample : {"fourier", "subsample"}
        Method used with ``n_out``.
    batch_size : int or None
        Samples advanced together; ``None`` picks about :math:`2^{15}` grid points per batch.

    Returns
    -------
    numpy.ndarray
        ``(n_samples, n_record, n_out)`` float64 (``(n_record, n_out)`` for 1D ``u0``).

    References
    ----------
    S. M. Cox and P. C. Matthews, "Exponential time differencing for stiff systems",
    J. Comput. Phys. 176 (2002) 430-455; A.-K. Kassam and L. N. Trefethen, "Fourth-order
    time-stepping for stiff PDEs", SIAM J. Sci. Comput. 26 (2005) 1214-1233; Z. Li et al.,
    "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021, Sec. 5.1.
    """
    u0 = np.asarray(u0, dtype=np.float64)
    if u0.ndim not in (1, 2):
        raise ValueError(f"u0 must have shape (n,) or (n_samples, n), got {u0.shape}")
    n = u0.shape[-1]
    if n < 4:
        raise ValueError(f"the grid needs n >= 4 points, got n = {n}")
    if not np.all(np.isfinite(u0)):
        raise ValueError("u0 must be finite")
    t_end = _check_positive("t_end", t_end)
    nu = _check_positive("nu", nu, allow_zero=True)
    n_record = _check_count("n_record", n_record)
    kmax = (n - 1) // 3
    dt = _default_dt(u0, nu, kmax) if dt is None else _check_positive("dt", dt)
    n_keep = n if n_out is None else _check_count("n_out", n_out, 2)
    if n_out is not None and resample not in ("fourier", "subsample"):
        raise ValueError(f"resample must be 'fourier' or 'subsample', got {resample!r}")
    if n_out is not None and resample == "subsample" and n % n_keep:
        raise ValueError(f"resample='subsample' needs n_out to divide n = {n}, got n_out={n_out}")
    batch = max(1, 2**15 // n) if batch_size is None else _check_count("batch_size", batch_size)
    single = u0.ndim == 1
    u = u0[None] if single else u0

    steps, h = _record_steps(t_end, dt, n_record)
    k = 2.0 * np.pi * np.fft.rfftfreq(n, d=1.0 / n)
    coef = etdrk4_coefficients(-nu * k**2 * h, h)
    cols = kmax + 1
    g = -0.5j * k[:cols]  # the modes above K get no nonlinear forcing

    def nonlinear(v):
        w = np.fft.irfft(v[..., :cols], n=n, axis=-1)
        out = np.zeros_like(v)
        out[..., :cols] = g * np.fft.rfft(w * w, axis=-1)[..., :cols]
        return out

    out = np.empty((u.shape[0], n_record, n_keep))
    for s in range(0, u.shape[0], batch):
        v = np.fft.rfft(u[s : s + batch], axis=-1)
        for j in range(n_record):
            for _ in range(steps):
                v = _etdrk4_step(v, nonlinear, coef)
            snap = np.fft.irfft(v, n=n, axis=-1)
            out[s : s + batch, j] = snap if n_out is None else resample_periodic(snap, n_keep, 1, resample)
    return out[0] if single else out


def _etdrk4_step(v, nonlinear, coef):
    e, e2, q, f1, f2, f3 = coef
    nv = nonlinear(v)
    a = e2 * v + q * nv
    na = nonlinear(a)
    b = e2 * v + q * na
    nb = nonlinear(b)
    c = e2 * a + q * (2.0 * nb - nv)
    nc = nonlinear(c)
    return e * v + f1 * nv + 2.0 * f2 * (na + nb) + f3 * nc
