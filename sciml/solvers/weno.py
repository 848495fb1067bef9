r"""WENO5 finite-volume solver for the "combined equation" of the MP-PDE paper.

Brandstetter, Worrall & Welling, *Message Passing Neural PDE Solvers* (ICLR 2022), eq. (13):

.. math::

    \partial_t u + \partial_x\big(\alpha u^2 - \beta\,\partial_x u + \gamma\,\partial_{xx} u\big) = \delta(t, x),
    \qquad x \in [0, L) \text{ periodic},

    \delta(t, x) = \sum_{j=1}^{J} A_j \sin\big(\omega_j t + 2\pi \ell_j x / L + \phi_j\big).

**The advective flux is** :math:`\alpha u^2` **exactly as written above**: with :math:`\alpha = 1`
this is :math:`u_t + (u^2)_x = 0`, i.e. Burgers' equation with characteristic speed :math:`2u`
(twice that of the textbook :math:`u_t + (u^2/2)_x = 0`). The published MP-PDE data generator
uses :math:`\alpha\,u^2/2`; data made here are therefore *not* numerically interchangeable with
theirs at equal α (α here corresponds to 2α there). β is a viscosity (:math:`u_t = \beta u_{xx}`)
and γ a dispersion coefficient (:math:`u_t = -\gamma u_{xxx}`: a mode :math:`\sin(kx)` travels as
:math:`\sin(k x + \gamma k^3 t)`).

**Cells.** ``nx`` uniform cells of width :math:`h = L/n_x`; the unknowns are cell averages
:math:`\bar u_i`. Which cell centres the caller uses is up to them (the solver only sees cells and
the source it is given); :func:`cell_centres` returns :math:`x_i = x_0 + i h`, and the dataset
generator (:mod:`sciml.problems.combined_equation`) centres the stored cells on the grid nodes
:math:`x_i = i h` (cell :math:`[x_i - h/2, x_i + h/2]`).

**Semi-discretization** (conservative flux form, so :math:`\sum_i \bar u_i h` changes only by the
source):

.. math::

    \frac{d\bar u_i}{dt} = -\frac{F_{i+1/2} - F_{i-1/2}}{h} + \bar\delta_i(t), \qquad
    F_{i+1/2} = \hat f(u^-_{i+1/2}, u^+_{i+1/2}) - \beta\,(u_x)_{i+1/2} + \gamma\,(u_{xx})_{i+1/2}.

- :math:`u^\mp_{i+1/2}`: WENO5-JS reconstructions (Jiang & Shu 1996; linear weights 1/10, 6/10,
  3/10, smoothness indicators of Jiang--Shu, :math:`\varepsilon = 10^{-6}`, exponent 2) from cells
  :math:`i-2..i+2` (left state) and :math:`i-1..i+3` (right state).
- :math:`\hat f`: the exact Godunov flux of :math:`f(u) = \alpha u^2` (min of f over
  :math:`[u^-, u^+]` if :math:`u^- \le u^+`, else max over :math:`[u^+, u^-]`; the extremum of f is
  at u = 0), valid for either sign of α.
- :math:`(u_x)_{i+1/2} = (\bar u_{i-1} - 15\bar u_i + 15\bar u_{i+1} - \bar u_{i+2})/(12h)` and
  :math:`(u_{xx})_{i+1/2} = (-\bar u_{i-2} + 7\bar u_{i-1} - 6\bar u_i - 6\bar u_{i+1} + 7\bar u_{i+2}
  - \bar u_{i+3})/(8h^2)`: the derivatives at the interface of the primitive's interpolant, both
  fourth-order accurate *for cell averages*.
- :math:`\bar\delta_i(t)`: the source, supplied by the caller as ``forcing(t) -> (B, nx)``;
  :meth:`SineForcing.source` gives the exact cell averages of δ (each sine integrates in closed
  form: the point value at the centre times :math:`\operatorname{sinc}`), or centre point values.

**Time.** Classical fourth-order Runge--Kutta, in one of two forms (``linear=``):

- ``"exact"`` (default): integrating-factor (Lawson) RK4. The linear part
  :math:`-\partial_x(-\beta u_x + \gamma u_{xx})` of the semi-discrete system is a circulant
  matrix, diagonal in the discrete Fourier basis with eigenvalues :func:`linear_symbol`; it is
  integrated exactly by :math:`e^{\lambda\tau}` (FFT), and the WENO flux and source by RK4. Only the
  convective CFL limits the step, so E3's dispersion (:math:`\gamma\,dt/h^3` would otherwise force
  :math:`dt \sim 10^{-4}` at h = 0.08) costs nothing. Mode 0 is untouched, so conservation holds.
- ``"explicit"``: plain RK4 on the full right-hand side, with the step also bounded by the linear
  operator's spectral radius (the diffusive :math:`\beta\,dt/h^2 \le 2.4/5.33 = 0.45` and dispersive
  :math:`\gamma\,dt/h^3 \le 2.4/4.61 = 0.52` bounds of these stencils, spectral radii
  :math:`5.33\beta/h^2` and :math:`4.61\gamma/h^3`); meant for checking the exact form, it is
  10--50x slower on E3-like data.

The step is chosen per step, common to the batch: :math:`dt = \mathrm{cfl}\cdot h / \max|2\alpha u|`
(``"exact"``), or :math:`dt = 1/(1/dt_{conv} + \rho_{lin}/2.4)` (``"explicit"``), shortened to land
exactly on every requested output time. RK4 is not strong-stability-preserving; with WENO at
CFL ≤ 0.5 this is the usual practice (a Burgers shock of jump 2 overshoots by ~7e-5 here).

:func:`downsample_periodic` turns a fine solution into exact coarse cell averages (the mean of
``factor`` consecutive fine cells), the way coarse datasets are made from a fine solve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SineForcing",
    "cell_centres",
    "combined_rhs",
    "downsample_periodic",
    "forcing_values",
    "godunov_flux_quadratic",
    "linear_symbol",
    "random_forcing",
    "solve_combined_equation",
    "weno5_reconstruct",
]

_EPS = 1e-6  # WENO-JS epsilon
_D = (0.1, 0.6, 0.3)  # linear weights
_G = 3  # ghost cells on each side
_MIN_CELLS = 6  # the widest stencil (u_xx at an interface) spans 6 cells
_RK4_LIN = 2.4  # |λ| dt bound for the explicit linear part (RK4's region holds |z| ≤ 2.6 in Re z ≤ 0)


# --------------------------------------------------------------------------------------------
# helpers and validation
# --------------------------------------------------------------------------------------------
def _pad(u: np.ndarray) -> np.ndarray:
    """Periodic ghost cells: (B, nx) -> (B, nx + 6), ``p[:, k] = u[:, (k - 3) mod nx]``."""
    return np.concatenate([u[:, -_G:], u, u[:, :_G]], axis=1)


def _shifts(p: np.ndarray, nx: int, lo: int, hi: int) -> dict[int, np.ndarray]:
    """Views ``s[m][:, i] = u[:, i + m]`` for m in [lo, hi] from the padded array."""
    return {m: p[:, _G + m : _G + m + nx] for m in range(lo, hi + 1)}


def _as_2d(u, name: str = "u0") -> tuple[np.ndarray, bool]:
    u = np.asarray(u, dtype=np.float64)
    if u.ndim == 1:
        return u[None], True
    if u.ndim != 2:
        raise ValueError(f"{name} must have shape (B, nx) or (nx,), got {u.shape}")
    return u, False


def _per_sample(v, b: int, name: str, nonneg: bool = False) -> np.ndarray:
    """A coefficient as (B, 1): a scalar or a (B,) array; finite, and >= 0 when ``nonneg``."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(b, float(a))
    elif a.shape != (b,):
        raise ValueError(f"{name} must be a scalar or have shape ({b},) (one per sample), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    if nonneg and np.any(a < 0):
        raise ValueError(f"{name} must be >= 0 (got min {a.min():g}); negative {name} makes the problem ill-posed")
    return a[:, None]


def _check_cells(nx: int) -> None:
    if nx < _MIN_CELLS:
        raise ValueError(f"the WENO5 solver needs at least {_MIN_CELLS} cells, got nx = {nx}")


def _check_length(L) -> float:
    L = float(L)
    if not np.isfinite(L) or L <= 0:
        raise ValueError(f"domain length L must be positive and finite, got {L}")
    return L


def cell_centres(nx: int, L: float = 16.0, offset: float = 0.0) -> np.ndarray:
    """Centres ``x_i = offset + i L / nx`` of ``nx`` uniform cells (cell i is ``[x_i - h/2, x_i + h/2]``)."""
    if isinstance(nx, bool) or not isinstance(nx, (int, np.integer)) or nx < 1:
        raise ValueError(f"nx must be a positive integer, got {nx!r}")
    return float(offset) + np.arange(int(nx)) * (_check_length(L) / int(nx))


# --------------------------------------------------------------------------------------------
# spatial operator
# --------------------------------------------------------------------------------------------
def _weno5_left(a, b, c, d, e):
    """WENO5-JS value at the right face of the cell holding ``c`` from cell averages a..e (i-2..i+2)."""
    q0 = (2.0 * a - 7.0 * b + 11.0 * c) / 6.0
    q1 = (-b + 5.0 * c + 2.0 * d) / 6.0
    q2 = (2.0 * c + 5.0 * d - e) / 6.0
    b0 = 13.0 / 12.0 * (a - 2.0 * b + c) ** 2 + 0.25 * (a - 4.0 * b + 3.0 * c) ** 2
    b1 = 13.0 / 12.0 * (b - 2.0 * c + d) ** 2 + 0.25 * (b - d) ** 2
    b2 = 13.0 / 12.0 * (c - 2.0 * d + e) ** 2 + 0.25 * (3.0 * c - 4.0 * d + e) ** 2
    w0 = _D[0] / (_EPS + b0) ** 2
    w1 = _D[1] / (_EPS + b1) ** 2
    w2 = _D[2] / (_EPS + b2) ** 2
    return (w0 * q0 + w1 * q1 + w2 * q2) / (w0 + w1 + w2)


def weno5_reconstruct(u) -> tuple[np.ndarray, np.ndarray]:
    """WENO5-JS interface states ``(u_minus, u_plus)`` at the right face ``i + 1/2`` of every cell.

    ``u``: (B, nx) or (nx,) periodic cell averages. ``u_minus[:, i]`` is reconstructed from cells
    i-2..i+2 (the limit from the left), ``u_plus[:, i]`` from cells i-1..i+3 (from the right).
    """
    u2, flat = _as_2d(u, "u")
    nx = u2.shape[1]
    _check_cells(nx)
    s = _shifts(_pad(u2), nx, -2, 3)
    um = _weno5_left(s[-2], s[-1], s[0], s[1], s[2])
    up = _weno5_left(s[3], s[2], s[1], s[0], s[-1])
    return (um[0], up[0]) if flat else (um, up)


def godunov_flux_quadratic(u_minus: np.ndarray, u_plus: np.ndarray, alpha) -> np.ndarray:
    """Exact Godunov flux of ``f(u) = alpha u^2`` (any sign of alpha; alpha broadcasts against the states)."""
    fm, fp = alpha * u_minus * u_minus, alpha * u_plus * u_plus
    lo, hi = np.minimum(fm, fp), np.maximum(fm, fp)
    sonic = (np.minimum(u_minus, u_plus) <= 0.0) & (np.maximum(u_minus, u_plus) >= 0.0)  # f(0) = 0 is attained
    fmin = np.where(sonic, np.minimum(lo, 0.0), lo)
    fmax = np.where(sonic, np.maximum(hi, 0.0), hi)
    return np.where(u_minus <= u_plus, fmin, fmax)


def _interface_flux(
    u: np.ndarray, h: float, alpha, beta, gamma, convective: bool = True, linear: bool = True
) -> np.ndarray:
    """F_{i+1/2} (B, nx); alpha, beta, gamma are (B, 1)."""
    nx = u.shape[1]
    s = _shifts(_pad(u), nx, -2, 3)
    flux = np.zeros_like(u)
    if convective:
        um = _weno5_left(s[-2], s[-1], s[0], s[1], s[2])
        up = _weno5_left(s[3], s[2], s[1], s[0], s[-1])
        flux += godunov_flux_quadratic(um, up, alpha)
    if linear:
        if np.any(beta != 0):
            ux = (s[-1] - 15.0 * s[0] + 15.0 * s[1] - s[2]) / (12.0 * h)
            flux -= beta * ux
        if np.any(gamma != 0):
            uxx = (-s[-2] + 7.0 * s[-1] - 6.0 * s[0] - 6.0 * s[1] + 7.0 * s[2] - s[3]) / (8.0 * h * h)
            flux += gamma * uxx
    return flux


def _divergence(flux: np.ndarray, h: float) -> np.ndarray:
    return -(flux - np.roll(flux, 1, axis=1)) / h


def combined_rhs(u, L: float = 16.0, alpha=1.0, beta=0.0, gamma=0.0, terms: str = "all") -> np.ndarray:
    r"""The semi-discrete operator :math:`-(F_{i+1/2} - F_{i-1/2})/h` (no source), shape of ``u``.

    ``u``: (B, nx) or (nx,) periodic cell averages on [0, L); alpha, beta, gamma scalars or (B,).
    ``terms``: ``"all"``, ``"convective"`` (only :math:`-\partial_x(\alpha u^2)`) or ``"linear"``
    (only the diffusive and dispersive fluxes).
    """
    u2, flat = _as_2d(u, "u")
    b, nx = u2.shape
    _check_cells(nx)
    if terms not in ("all", "convective", "linear"):
        raise ValueError(f"terms must be 'all', 'convective' or 'linear', got {terms!r}")
    h = _check_length(L) / nx
    a, be, ga = (
        _per_sample(alpha, b, "alpha"),
        _per_sample(beta, b, "beta", True),
        _per_sample(gamma, b, "gamma", True),
    )
    flux = _interface_flux(u2, h, a, be, ga, convective=terms != "linear", linear=terms != "convective")
    out = _divergence(flux, h)
    return out[0] if flat else out


def linear_symbol(nx: int, L: float = 16.0, beta=0.0, gamma=0.0) -> np.ndarray:
    r"""Eigenvalues :math:`\lambda_m` of the discrete linear operator on the ``rfft`` modes m = 0..nx//2.

    Shape (B, nx//2 + 1) with B the length of beta/gamma (1 for scalars). A mode
    :math:`\bar u_j = e^{i\theta j}`, :math:`\theta = 2\pi m/n_x`, is an eigenvector of
    :math:`-\partial_x(-\beta u_x + \gamma u_{xx})` discretized as in the module docstring; the
    diffusive part is real and <= 0, the dispersive part imaginary, and :math:`\lambda_0 = 0`.
    """
    _check_cells(nx)
    h = _check_length(L) / nx
    be, ga = np.atleast_1d(np.asarray(beta, dtype=np.float64)), np.atleast_1d(np.asarray(gamma, dtype=np.float64))
    if be.ndim != 1 or ga.ndim != 1 or (len(be) != len(ga) and 1 not in (len(be), len(ga))):
        raise ValueError(f"beta and gamma must be scalars or (B,) arrays of one length, got {be.shape}, {ga.shape}")
    b = max(len(be), len(ga))
    be = _per_sample(np.broadcast_to(be, (b,)), b, "beta", True)
    ga = _per_sample(np.broadcast_to(ga, (b,)), b, "gamma", True)
    th = 2.0 * np.pi * np.arange(nx // 2 + 1) / nx
    z = np.exp(1j * th)
    s1 = (1.0 / z - 15.0 + 15.0 * z - z * z) / (12.0 * h)  # (u_x)_{i+1/2} / ū_i
    s2 = (-1.0 / z**2 + 7.0 / z - 6.0 - 6.0 * z + 7.0 * z**2 - z**3) / (8.0 * h * h)  # (u_xx)_{i+1/2} / ū_i
    g = -be * s1 + ga * s2
    lam = -g * (1.0 - 1.0 / z) / h
    lam[:, 0] = 0.0
    if nx % 2 == 0:
        lam[:, -1] = lam[:, -1].real  # the Nyquist mode of a real field has a real eigenvalue
    return lam


# --------------------------------------------------------------------------------------------
# forcing
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SineForcing:
    r"""Per-sample sums of travelling sines :math:`\delta(t,x) = \sum_j A_j \sin(\omega_j t + 2\pi\ell_j x/L + \phi_j)`.

    ``A``, ``omega``, ``phi``: (B, J) floats; ``ell``: (B, J) positive integers; ``L``: the period.
    """

    A: np.ndarray
    omega: np.ndarray
    phi: np.ndarray
    ell: np.ndarray
    L: float = 16.0

    def __post_init__(self):
        arrs = {k: np.asarray(getattr(self, k)) for k in ("A", "omega", "phi", "ell")}
        shape = arrs["A"].shape
        if len(shape) != 2 or any(v.shape != shape for v in arrs.values()):
            raise ValueError(
                f"A, omega, phi, ell must share one shape (B, J); got { {k: v.shape for k, v in arrs.items()} }"
            )
        if (
            not np.all(np.isfinite(arrs["A"]))
            or not np.all(np.isfinite(arrs["omega"]))
            or not np.all(np.isfinite(arrs["phi"]))
        ):
            raise ValueError("forcing A, omega, phi must be finite")
        ell = arrs["ell"]
        if ell.size and (np.any(ell != np.round(ell)) or np.any(ell < 1)):
            raise ValueError("forcing wavenumbers ell must be positive integers (periodic on [0, L))")
        object.__setattr__(self, "L", _check_length(self.L))
        for k in ("A", "omega", "phi"):
            object.__setattr__(self, k, arrs[k].astype(np.float64))
        object.__setattr__(self, "ell", ell.astype(np.int64))

    @property
    def n_samples(self) -> int:
        return self.A.shape[0]

    def _spatial(self, x, dx):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"x must be a 1D array of positions, got shape {x.shape}")
        kappa = 2.0 * np.pi * self.ell / self.L  # (B, J)
        amp = self.A
        if dx is not None:
            dx = float(dx)
            if not dx > 0:
                raise ValueError(f"dx must be positive, got {dx}")
            amp = amp * np.sinc(kappa * dx / (2.0 * np.pi))  # np.sinc(y) = sin(πy)/(πy): cell average factor
        kx = kappa[:, :, None] * x[None, None, :]  # (B, J, nx)
        return amp[:, :, None] * np.cos(kx), amp[:, :, None] * np.sin(kx)

    def values(self, t: float, x, dx: float | None = None) -> np.ndarray:
        """(B, nx): δ(t, x) at the points ``x`` (``dx=None``), or its exact averages over ``[x - dx/2, x + dx/2]``."""
        c, s = self._spatial(x, dx)
        ph = self.omega * float(t) + self.phi  # (B, J)
        return np.einsum("bj,bjx->bx", np.sin(ph), c) + np.einsum("bj,bjx->bx", np.cos(ph), s)

    def source(self, x, dx: float | None = None) -> Callable[[float], np.ndarray]:
        """A ``forcing(t) -> (B, nx)`` for :func:`solve_combined_equation` (the x-dependence precomputed)."""
        c, s = self._spatial(x, dx)
        om, phi = self.omega, self.phi

        def forcing(t: float) -> np.ndarray:
            ph = om * float(t) + phi
            return np.einsum("bj,bjx->bx", np.sin(ph), c) + np.einsum("bj,bjx->bx", np.cos(ph), s)

        return forcing


def random_forcing(
    n: int,
    rng: np.random.Generator | None = None,
    J: int = 5,
    L: float = 16.0,
    amplitude: float = 0.5,
    omega_max: float = 0.4,
    ell_max: int = 3,
) -> SineForcing:
    """MP-PDE forcing draws: A ~ U(-amplitude, amplitude), ω ~ U(-omega_max, omega_max), φ ~ U(0, 2π),
    ℓ uniform on {1, ..., ell_max}, each (n, J), drawn in that order from ``rng``."""
    for name, v, lo in (("n", n, 1), ("J", J, 1), ("ell_max", ell_max, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"random_forcing: {name} must be an integer >= {lo}, got {v!r}")
    if not (np.isfinite(amplitude) and amplitude >= 0 and np.isfinite(omega_max) and omega_max >= 0):
        raise ValueError(
            f"random_forcing: amplitude and omega_max must be finite and >= 0, got {amplitude}, {omega_max}"
        )
    rng = np.random.default_rng() if rng is None else rng
    shape = (int(n), int(J))
    A = rng.uniform(-amplitude, amplitude, shape)
    omega = rng.uniform(-omega_max, omega_max, shape)
    phi = rng.uniform(0.0, 2.0 * np.pi, shape)
    ell = rng.integers(1, int(ell_max) + 1, shape)
    return SineForcing(A, omega, phi, ell, L)


def forcing_values(params: SineForcing, t: float, x, dx: float | None = None) -> np.ndarray:
    """(B, nx): the forcing ``params`` at time t, point values at ``x`` or (``dx`` given) exact cell averages."""
    if not isinstance(params, SineForcing):
        raise ValueError(f"forcing_values expects a SineForcing (see random_forcing), got {type(params).__name__}")
    return params.values(t, x, dx)


# --------------------------------------------------------------------------------------------
# time integration
# --------------------------------------------------------------------------------------------
def solve_combined_equation(
    u0,
    t_out,
    L: float = 16.0,
    alpha=1.0,
    beta=0.0,
    gamma=0.0,
    forcing: Callable[[float], np.ndarray] | None = None,
    *,
    t0: float = 0.0,
    cfl: float = 0.4,
    linear: str = "exact",
    dt_max: float | None = None,
    max_steps: int = 1_000_000,
) -> np.ndarray:
    r"""Solve the combined equation for a batch of periodic cell-average initial conditions.

    Parameters
    ----------
    u0 : (B, nx) cell averages at ``t0`` (or (nx,), then the result is (T, nx))
    t_out : (T,) strictly increasing output times, ``t_out[0] >= t0`` (``t_out[0] == t0`` returns u0 there)
    L : period of the domain [0, L)
    alpha, beta, gamma : scalars or (B,) per-sample coefficients; beta, gamma >= 0
    forcing : ``forcing(t) -> (B, nx)`` (or (nx,)) source per cell, e.g. :meth:`SineForcing.source`; None = 0
    t0 : initial time
    cfl : convective Courant number ``dt max|2 alpha u| / h`` (0 < cfl <= 1)
    linear : ``"exact"`` (integrating-factor RK4, linear terms integrated exactly by FFT) or
        ``"explicit"`` (plain RK4, step also bounded by the diffusive/dispersive stability limits)
    dt_max : optional cap on the step
    max_steps : guard against runaway step counts (RuntimeError)

    Returns
    -------
    (B, T, nx) cell averages at ``t_out``.
    """
    u, flat = _as_2d(u0)
    b, nx = u.shape
    _check_cells(nx)
    if not np.all(np.isfinite(u)):
        raise ValueError("u0 must be finite")
    L = _check_length(L)
    h = L / nx
    t_out = np.asarray(t_out, dtype=np.float64)
    if t_out.ndim != 1 or t_out.size == 0 or not np.all(np.isfinite(t_out)):
        raise ValueError(f"t_out must be a non-empty 1D array of finite times, got shape {t_out.shape}")
    if np.any(np.diff(t_out) <= 0):
        raise ValueError("t_out must be strictly increasing")
    t0 = float(t0)
    if t_out[0] < t0:
        raise ValueError(f"output times must not precede t0 = {t0} (t_out[0] = {t_out[0]})")
    if not (np.isfinite(cfl) and 0.0 < cfl <= 1.0):
        raise ValueError(f"cfl must lie in (0, 1], got {cfl}")
    if linear not in ("exact", "explicit"):
        raise ValueError(f"linear must be 'exact' or 'explicit', got {linear!r}")
    if dt_max is not None and not (np.isfinite(dt_max) and dt_max > 0):
        raise ValueError(f"dt_max must be positive, got {dt_max}")
    a, be, ga = (
        _per_sample(alpha, b, "alpha"),
        _per_sample(beta, b, "beta", True),
        _per_sample(gamma, b, "gamma", True),
    )
    has_linear = bool(np.any(be != 0) or np.any(ga != 0))
    exact = linear == "exact" and has_linear

    if forcing is None:

        def src(t):
            return 0.0
    else:
        if not callable(forcing):
            raise ValueError("forcing must be a callable forcing(t) -> (B, nx), or None")

        def src(t):
            f = np.asarray(forcing(t), dtype=np.float64)
            if f.shape not in ((b, nx), (nx,)):
                raise ValueError(f"forcing(t) must return shape ({b}, {nx}) or ({nx},), got {f.shape}")
            return f

    if exact:
        lam = linear_symbol(nx, L, be[:, 0], ga[:, 0])  # (B, nk)

        def nonlinear(v, t):
            return _divergence(_interface_flux(v, h, a, be, ga, linear=False), h) + src(t)
    else:

        def nonlinear(v, t):
            return _divergence(_interface_flux(v, h, a, be, ga, linear=has_linear), h) + src(t)

    rho_lin = float(np.max(np.abs(linear_symbol(nx, L, be[:, 0], ga[:, 0])))) if has_linear and not exact else 0.0
    amax = np.abs(2.0 * a)

    def choose_dt(v):
        speed = float(np.max(amax * np.max(np.abs(v), axis=1, keepdims=True)))
        rate = speed / (cfl * h) + rho_lin / _RK4_LIN
        dt = 1.0 / rate if rate > 0 else np.inf
        return dt if dt_max is None else min(dt, dt_max)

    def step(v, t, dt):
        k1 = nonlinear(v, t)
        if not exact:
            k2 = nonlinear(v + 0.5 * dt * k1, t + 0.5 * dt)
            k3 = nonlinear(v + 0.5 * dt * k2, t + 0.5 * dt)
            k4 = nonlinear(v + dt * k3, t + dt)
            return v + dt / 6.0 * (k1 + 2.0 * (k2 + k3) + k4)
        e_half = np.exp(lam * (0.5 * dt))
        e_full = e_half * e_half

        def ev(spec, e):
            return np.fft.irfft(e * spec, n=nx, axis=1)

        vh = np.fft.rfft(v, axis=1)
        k2 = nonlinear(ev(np.fft.rfft(v + 0.5 * dt * k1, axis=1), e_half), t + 0.5 * dt)
        k3 = nonlinear(ev(vh, e_half) + 0.5 * dt * k2, t + 0.5 * dt)
        k4 = nonlinear(np.fft.irfft(e_full * vh + dt * e_half * np.fft.rfft(k3, axis=1), n=nx, axis=1), t + dt)
        spec = e_full * np.fft.rfft(v + dt / 6.0 * k1, axis=1) + e_half * np.fft.rfft(dt / 3.0 * (k2 + k3), axis=1)
        return np.fft.irfft(spec, n=nx, axis=1) + dt / 6.0 * k4

    out = np.empty((b, len(t_out), nx))
    t, v, steps = t0, u.copy(), 0
    for j, t_next in enumerate(t_out):
        tol = 1e-12 * max(1.0, abs(t_next))
        while t_next - t > tol:
            dt = choose_dt(v)
            remaining = t_next - t
            if dt >= remaining - tol:
                dt = remaining
            elif 2.0 * dt > remaining:
                dt = 0.5 * remaining  # two equal steps rather than a long one and a sliver
            v = step(v, t, dt)
            t = t_next if dt == remaining else t + dt
            steps += 1
            if steps > max_steps:
                raise RuntimeError(
                    f"solve_combined_equation: more than max_steps = {max_steps} steps before t = {t_next}"
                )
        if not np.all(np.isfinite(v)):
            raise FloatingPointError(f"solve_combined_equation: the solution became non-finite by t = {t_next:g}")
        out[:, j] = v
    return out[0] if flat else out


# --------------------------------------------------------------------------------------------
# coarse graining
# --------------------------------------------------------------------------------------------
def downsample_periodic(u, factor: int | None = None, *, nx: int | None = None) -> np.ndarray:
    """Coarse cell averages of a fine periodic finite-volume field along the last axis.

    Coarse cell j is the union of fine cells ``j*factor .. (j+1)*factor - 1`` and its value their
    mean (exact for cell averages). Give either ``factor`` or the target ``nx`` (= n_fine / factor).
    If the coarse cells are to be centred at ``x_j = j * L / nx``, the fine cells must be centred at
    ``x_i = -(factor - 1) h_fine / 2 + i h_fine`` (see :func:`cell_centres`).
    """
    u = np.asarray(u)
    if u.ndim < 1:
        raise ValueError("downsample_periodic needs an array with a spatial last axis")
    n = u.shape[-1]
    if (factor is None) == (nx is None):
        raise ValueError("downsample_periodic: give exactly one of factor and nx")
    if nx is not None:
        if isinstance(nx, bool) or not isinstance(nx, (int, np.integer)) or nx < 1:
            raise ValueError(f"downsample_periodic: nx must be a positive integer, got {nx!r}")
        if n % nx:
            raise ValueError(
                f"downsample_periodic: {n} fine cells cannot be grouped into {nx} coarse cells "
                f"({n} is not a multiple of {nx})"
            )
        factor = n // nx
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"downsample_periodic: factor must be a positive integer, got {factor!r}")
    if n % factor:
        raise ValueError(f"downsample_periodic: {n} fine cells are not divisible by factor {factor}")
    return u.reshape(*u.shape[:-1], n // factor, int(factor)).mean(axis=-1)
