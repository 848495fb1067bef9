"""2D incompressible Navier--Stokes on the unit torus (vorticity form), FNO-style data.

The vorticity :math:`w = \\partial_x u_2 - \\partial_y u_1` of a periodic incompressible flow on
:math:`\\mathbb T^2 = [0, 1)^2` obeys

.. math::

    w_t + \\mathbf u \\cdot \\nabla w = \\nu \\Delta w + f, \\qquad
    \\mathbf u = \\nabla^\\perp \\psi = (\\partial_y \\psi, -\\partial_x \\psi), \\qquad -\\Delta \\psi = w,

the problem of the Navier--Stokes benchmark of the Fourier Neural Operator paper (Li et al., 2021):
:math:`\\nu = 10^{-3}`, forcing :math:`f = 0.1(\\sin 2\\pi(x + y) + \\cos 2\\pi(x + y))` and initial
vorticity :math:`w_0 \\sim \\mathcal N(0, \\sigma^2(-\\Delta + 49 I)^{-5/2})`, :math:`\\sigma = 7^{3/2}`.

**Space.** Fourier pseudo-spectral on an ``n x n`` grid :math:`x_i = i/n, y_j = j/n`, wavenumbers
:math:`\\mathbf k = 2\\pi \\mathbf m`. The stream function is :math:`\\hat\\psi_{\\mathbf k} = \\hat w_{\\mathbf k}
/ |\\mathbf k|^2` (:math:`\\hat\\psi_0 = 0`), so :math:`\\hat u_1 = i k_y \\hat\\psi`, :math:`\\hat u_2 = -i k_x
\\hat\\psi`. The advection :math:`\\mathbf u \\cdot \\nabla w` is formed by products on the grid and
dealiased by the 2/3 rule: both the fields entering the product and the product itself are truncated
to :math:`|m_x|, |m_y| \\le K = \\lfloor (n-1)/3 \\rfloor`. Since :math:`3K < n`, aliases of the
product (modes up to :math:`2K`) never land on a kept mode, so the retained modes are exactly the
Galerkin projection of :math:`\\mathbf u \\cdot \\nabla w` of the truncated field; modes above
:math:`K` evolve only linearly (viscous decay and forcing).

**Time.** IMEX Crank--Nicolson / Adams--Bashforth 2 (CNAB2): with :math:`G = -\\mathbf u\\cdot\\nabla w + f`,
:math:`a = \\nu |\\mathbf k|^2 \\Delta t`,

.. math::

    (1 + a/2)\\, \\hat w^{n+1} = (1 - a/2)\\, \\hat w^n
    + \\Delta t\\, \\big(\\tfrac32 \\hat G^n - \\tfrac12 \\hat G^{n-1}\\big),

second order, one evaluation of the advection per step: it is computed in the divergence form
:math:`\\partial_x(u_1 w) + \\partial_y(u_2 w)` (equal to :math:`\\mathbf u \\cdot \\nabla w` since
:math:`\\nabla \\cdot \\mathbf u = 0` holds exactly in Fourier space), three inverse and two forward real
FFTs, and its mean is exactly zero. The first step, which has no
:math:`G^{-1}`, is a Crank--Nicolson--Heun predictor--corrector step (:math:`G^n` in the predictor,
:math:`(G^n + G^*)/2` in the corrector), also second order. The viscous term is unconditionally
stable; the explicit advection needs a CFL bound, :math:`\\Delta t\\, \\max|\\mathbf u|\\, 2\\pi K \\lesssim 0.5`
as a rule of thumb (AB2 is only weakly stable for pure advection; the viscosity damps). For the FNO
data at 64 x 64 (:math:`|w| \\lesssim 2`), ``dt = 1e-2`` is stable up to T = 50 and within 1e-4 (relative)
of a ``dt = 2.5e-3`` run. (The FNO reference script uses Crank--Nicolson with forward Euler for the
advection, first order, with ``dt = 1e-4``.)

The mean vorticity obeys :math:`\\frac{d}{dt}\\int w = \\int f` (the advection is a divergence,
:math:`\\mathbf u \\cdot \\nabla w = \\nabla\\cdot(\\mathbf u w)`), so it is conserved for mean-free forcing.
"""

from __future__ import annotations

import numpy as np

from .grf import _as_generator, _check_sizes

__all__ = ["advection_term", "fno_forcing", "periodic_grf", "resample_periodic", "solve_navier_stokes"]


def _int_wavenumbers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer wavenumbers of ``rfft2`` on an ``n x n`` grid: full axis (x), half axis (y)."""
    return np.fft.fftfreq(n, d=1.0 / n), np.fft.rfftfreq(n, d=1.0 / n)


def _dealias_mask(n: int) -> np.ndarray:
    """2/3-rule mask (n, n//2+1): keep ``|m_x|, |m_y| <= (n-1)//3``."""
    mx, my = _int_wavenumbers(n)
    kmax = (n - 1) // 3
    return (np.abs(mx)[:, None] <= kmax) & (np.abs(my)[None, :] <= kmax)


def _check_positive(name: str, value, allow_zero: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return value


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def periodic_grf(
    n_samples: int, n: int, alpha: float = 2.5, tau: float = 7.0, sigma: float | None = None, rng=None, dim: int = 2
) -> np.ndarray:
    """Sample a mean-zero periodic Gaussian random field on the unit torus.

    The field has covariance :math:`\\sigma^2(-\\Delta + \\tau^2 I)^{-\\alpha}` on :math:`[0, 1)^d`,
    i.e. Karhunen--Loeve expansion in the Fourier modes :math:`e^{2\\pi i \\mathbf m \\cdot \\mathbf x}`,

    .. math::

        u(\\mathbf x) = \\sum_{\\mathbf m \\ne 0} \\sigma\\,(4\\pi^2 |\\mathbf m|^2 + \\tau^2)^{-\\alpha/2}\\,
        \\zeta_{\\mathbf m}\\, e^{2\\pi i \\mathbf m \\cdot \\mathbf x},
        \\qquad \\zeta_{-\\mathbf m} = \\bar\\zeta_{\\mathbf m},\\ \\mathbb E|\\zeta_{\\mathbf m}|^2 = 1,

    truncated to the modes of the ``n``-point grid :math:`x_i = i/n` and with the constant mode
    removed (zero spatial mean). It is computed by filtering white noise: for i.i.d. standard normal
    node values :math:`\\xi`, :math:`u = n^{d/2}\\, \\mathcal F^{-1}[\\sigma \\lambda^{1/2} \\mathcal F \\xi]`,
    so the discrete Fourier coefficients :math:`c_{\\mathbf m} = n^{-d} \\sum_{\\mathbf x} u\\,
    e^{-2\\pi i \\mathbf m \\cdot \\mathbf x}` satisfy :math:`\\mathbb E|c_{\\mathbf m}|^2 = \\sigma^2
    (4\\pi^2|\\mathbf m|^2 + \\tau^2)^{-\\alpha}` (Nyquist modes of even ``n`` keep only their cosine part).

    Parameters
    ----------
    n_samples : int
        Number of independent fields.
    n : int
        Grid points per axis (``n >= 2``).
    alpha, tau : float
        Smoothness exponent and inverse length scale (both > 0).
    sigma : float or None
        Amplitude; ``None`` gives :math:`\\tau^{(2\\alpha - d)/2}`, the default of the FNO data
        generator: :math:`7^{3/2}` for the Navier--Stokes data (``alpha=2.5, tau=7``), which the
        paper writes as :math:`\\mathcal N(0, 7^{3/2}(-\\Delta + 49 I)^{-2.5})`. The 1D Burgers data
        use ``alpha=2, tau=5, sigma=25``, the paper's :math:`\\mathcal N(0, 625(-\\Delta + 25 I)^{-2})`.
    rng : numpy.random.Generator or int or None
        Random generator or seed.
    dim : {1, 2}
        Spatial dimension.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, n)`` for ``dim=1``, ``(n_samples, n, n)`` for ``dim=2`` (index order
        ``[sample, i_x, i_y]``), float64.

    References
    ----------
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
    ICLR 2021, Sec. 5.1 and 5.3.
    """
    _check_sizes(n_samples, n)
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    alpha = _check_positive("alpha", alpha)
    tau = _check_positive("tau", tau)
    sigma = tau ** (0.5 * (2.0 * alpha - dim)) if sigma is None else _check_positive("sigma", sigma, True)
    gen = _as_generator(rng)
    n = int(n)
    axes = tuple(range(-dim, 0))
    m_half = np.fft.rfftfreq(n, d=1.0 / n)
    if dim == 1:
        m2 = m_half**2
    else:
        m2 = np.fft.fftfreq(n, d=1.0 / n)[:, None] ** 2 + m_half[None, :] ** 2
    amp = sigma * n ** (dim / 2.0) * (4.0 * np.pi**2 * m2 + tau**2) ** (-alpha / 2.0)
    amp[(0,) * dim] = 0.0
    xi = gen.standard_normal((int(n_samples),) + (n,) * dim)
    return np.fft.irfftn(np.fft.rfftn(xi, axes=axes) * amp, s=(n,) * dim, axes=axes)


def resample_periodic(u: np.ndarray, n_out: int, dim: int = 2, method: str = "fourier") -> np.ndarray:
    """Move periodic grid data on the last ``dim`` axes from ``n`` to ``n_out`` points per axis.

    Parameters
    ----------
    u : (..., n) or (..., n, n) array
        Values on the grid :math:`x_i = i/n` of the unit period (equal sizes on the ``dim`` axes).
    n_out : int
        Points per axis of the result (``>= 2``).
    dim : {1, 2}
        Number of trailing spatial axes.
    method : {"fourier", "subsample"}
        ``"fourier"``: trigonometric interpolation of the Fourier modes :math:`|m| < \\min(n,
        n_{out})/2` on every axis (spectral truncation when coarsening, zero padding when refining;
        Nyquist modes are dropped). ``"subsample"``: keep every ``n // n_out``-th node (exact point
        values; ``n`` must be a multiple of ``n_out``), as the FNO data were coarsened.

    Returns
    -------
    numpy.ndarray
        Shape ``u.shape[:-dim] + (n_out,) * dim``.
    """
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    u = np.asarray(u, dtype=np.float64)
    if u.ndim < dim or len(set(u.shape[-dim:])) != 1:
        raise ValueError(f"u must end in {dim} equal grid axes, got shape {u.shape}")
    n = u.shape[-1]
    n_out = _check_count("n_out", n_out, 2)
    if method == "subsample":
        if n % n_out:
            raise ValueError(f"method='subsample' needs n_out to divide the grid size {n}, got n_out={n_out}")
        s = n // n_out
        return u[..., ::s] if dim == 1 else u[..., ::s, ::s]
    if method != "fourier":
        raise ValueError(f"method must be 'fourier' or 'subsample', got {method!r}")
    if n_out == n:
        return u.copy()
    axes = tuple(range(-dim, 0))
    mk = (min(n, n_out) - 1) // 2  # keep |m| <= mk, i.e. |m| < min(n, n_out)/2
    uh = np.fft.rfftn(u, axes=axes)
    out = np.zeros(u.shape[:-dim] + (n_out,) * (dim - 1) + (n_out // 2 + 1,), dtype=complex)
    if dim == 1:
        out[..., : mk + 1] = uh[..., : mk + 1]
    else:
        m = np.arange(-mk, mk + 1)
        out[..., m[:, None] % n_out, np.arange(mk + 1)] = uh[..., m[:, None] % n, np.arange(mk + 1)]
    return np.fft.irfftn(out, s=(n_out,) * dim, axes=axes) * (n_out / n) ** dim


def fno_forcing(n: int) -> np.ndarray:
    """The FNO forcing :math:`f = 0.1(\\sin 2\\pi(x + y) + \\cos 2\\pi(x + y))` on the ``n x n`` grid ``i/n``."""
    n = _check_count("n", n, 2)
    x = np.arange(n) / n
    s = 2.0 * np.pi * (x[:, None] + x[None, :])
    return 0.1 * (np.sin(s) + np.cos(s))


class _Spectral2D:
    """Precomputed multipliers of the pseudo-spectral vorticity operator on an ``n x n`` grid."""

    def __init__(self, n: int):
        self.n = n
        mx, my = _int_wavenumbers(n)
        kx = 2.0 * np.pi * mx[:, None] + 0.0 * my[None, :]
        ky = 2.0 * np.pi * my[None, :] + 0.0 * mx[:, None]
        self.k2 = kx**2 + ky**2
        inv_k2 = np.zeros_like(self.k2)
        inv_k2[self.k2 > 0] = 1.0 / self.k2[self.k2 > 0]
        self.mask = _dealias_mask(n)
        self.velocity = np.stack([1j * ky * inv_k2, -1j * kx * inv_k2])  # u1 = psi_y, u2 = -psi_x
        self.grad = np.stack([1j * kx, 1j * ky])

    def advection_hat(self, w_hat: np.ndarray, dealias: bool = True) -> np.ndarray:
        """Fourier coefficients of u . grad w = div(u w) from those of w (shape (..., n, n//2+1)).

        The 2D transforms are done axis by axis, the x-axis ones only on the ``K + 1`` kept
        ``m_y`` columns (the others are zero); ``numpy.fft`` is used for its fast ``irfft``.
        """
        n = self.n
        cols = (n - 1) // 3 + 1 if dealias else n // 2 + 1
        wm = w_hat[..., :cols] * self.mask[:, :cols] if dealias else w_hat
        spec = np.empty(wm.shape[:-2] + (3,) + wm.shape[-2:], dtype=complex)
        spec[..., :2, :, :] = wm[..., None, :, :] * self.velocity[..., :cols]
        spec[..., 2, :, :] = wm
        f = np.fft.irfft(np.fft.ifft(spec, axis=-2), n=n, axis=-1)  # u1, u2, w on the grid
        flux = f[..., :2, :, :] * f[..., 2:, :, :]  # u1 w, u2 w
        flux_hat = np.fft.fft(np.fft.rfft(flux, axis=-1)[..., :cols], axis=-2)
        part = np.sum(flux_hat * self.grad[..., :cols], axis=-3)
        out = np.zeros(w_hat.shape, dtype=complex)
        out[..., :cols] = part * self.mask[:, :cols] if dealias else part
        return out


def advection_term(w: np.ndarray, dealias: bool = True) -> np.ndarray:
    """The advection :math:`\\mathbf u \\cdot \\nabla w` of a vorticity field, pseudo-spectrally.

    Velocity from :math:`-\\Delta\\psi = w`, :math:`\\mathbf u = (\\psi_y, -\\psi_x)`; with ``dealias``
    (the solver's operator) the 2/3 rule of the module docstring is applied, without it the plain
    (aliased) grid product is returned.

    Parameters
    ----------
    w : (n, n) or (n_samples, n, n) array
        Vorticity on the grid :math:`(i/n, j/n)` of the unit torus, ``[..., i_x, i_y]``, ``n >= 4``.
    dealias : bool, default True
        Apply the 2/3 rule (as the solver does).

    Returns
    -------
    numpy.ndarray
        Same shape as ``w``.
    """
    w = _check_vorticity(w, "w")
    n = w.shape[-1]
    return np.fft.irfft2(_Spectral2D(n).advection_hat(np.fft.rfft2(w), dealias), s=(n, n))


def _check_vorticity(w0, name: str = "w0") -> np.ndarray:
    w0 = np.asarray(w0, dtype=np.float64)
    if w0.ndim not in (2, 3) or w0.shape[-1] != w0.shape[-2]:
        raise ValueError(f"{name} must have shape (n, n) or (n_samples, n, n) (square grid), got {w0.shape}")
    if w0.shape[-1] < 4:
        raise ValueError(f"the grid of {name} needs n >= 4 points per axis, got n = {w0.shape[-1]}")
    if not np.all(np.isfinite(w0)):
        raise ValueError(f"{name} must be finite")
    return w0


def _forcing_hat(forcing, n: int, batch_shape: tuple) -> np.ndarray | None:
    if forcing is None:
        return None
    if isinstance(forcing, str):
        if forcing != "fno":
            raise ValueError(f"forcing must be 'fno', None or an array, got {forcing!r}")
        return np.fft.rfft2(fno_forcing(n))
    f = np.asarray(forcing, dtype=np.float64)
    if f.shape not in ((n, n), batch_shape + (n, n)):
        raise ValueError(f"forcing array must have shape {(n, n)} or {batch_shape + (n, n)}, got {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("forcing must be finite")
    return np.fft.rfft2(f)


def _record_steps(t_end: float, dt: float, n_record: int) -> tuple[int, float]:
    """Steps per recording interval and the step that fits it exactly (never larger than dt)."""
    interval = t_end / n_record
    m = max(1, int(np.ceil(interval / dt * (1.0 - 1e-12))))
    return m, interval / m


def solve_navier_stokes(
    w0: np.ndarray,
    t_end: float,
    dt: float,
    nu: float = 1e-3,
    forcing="fno",
    n_record: int = 1,
    n_out: int | None = None,
    resample: str = "fourier",
    batch_size: int | None = None,
) -> np.ndarray:
    """Evolve vorticity fields with the pseudo-spectral CNAB2 scheme of the module docstring.

    Parameters
    ----------
    w0 : (n_samples, n, n) or (n, n) array
        Initial vorticity on the grid :math:`(i/n, j/n)` of :math:`[0, 1)^2` (index ``[.., i_x, i_y]``),
        ``n >= 4``.
    t_end : float
        Final time (> 0).
    dt : float
        Largest time step (> 0). It is reduced so that each recording interval
        ``t_end / n_record`` holds a whole number of steps.
    nu : float, default 1e-3
        Viscosity (>= 0).
    forcing : "fno", None or array
        ``"fno"``: :func:`fno_forcing`; ``None``: unforced; or the forcing values on the grid, shape
        ``(n, n)`` or one per sample ``(n_samples, n, n)`` (time independent).
    n_record : int, default 1
        Number of snapshots, taken at :math:`t_j = j\\, t_{end}/n_{record}`, ``j = 1..n_record``
        (the initial state is not included).
    n_out : int or None
        Store the snapshots on an ``n_out x n_out`` grid (solve fine, store coarse) with
        :func:`resample_periodic`; ``None`` keeps ``n``.
    resample : {"fourier", "subsample"}
        Method of :func:`resample_periodic` when ``n_out`` is given.
    batch_size : int or None
        Samples advanced together (vectorised FFTs). ``None`` picks about :math:`2^{15}` grid
        points per batch (8 samples at 64 x 64), which keeps the work arrays in cache: on one core
        this is about twice as fast as advancing 100 samples at once.

    Returns
    -------
    numpy.ndarray
        ``(n_samples, n_record, n_out, n_out)`` float64 (``(n_record, n_out, n_out)`` for 2D ``w0``).

    Notes
    -----
    Cost: five real 2D FFTs per sample and step (the x-axis passes on the dealiased third of the
    columns only); about 0.12 ms per sample and step at 64 x 64 on one core.
    """
    w0 = _check_vorticity(w0)
    t_end = _check_positive("t_end", t_end)
    dt = _check_positive("dt", dt)
    nu = _check_positive("nu", nu, allow_zero=True)
    n_record = _check_count("n_record", n_record)
    n = w0.shape[-1]
    n_keep = n if n_out is None else _check_count("n_out", n_out, 2)
    if n_out is not None and resample not in ("fourier", "subsample"):
        raise ValueError(f"resample must be 'fourier' or 'subsample', got {resample!r}")
    if n_out is not None and resample == "subsample" and n % n_keep:
        raise ValueError(f"resample='subsample' needs n_out to divide n = {n}, got n_out={n_out}")
    batch = max(1, 2**15 // n**2) if batch_size is None else _check_count("batch_size", batch_size)
    single = w0.ndim == 2
    w = w0[None] if single else w0
    f_hat = _forcing_hat(forcing, n, w.shape[:1])
    steps, h = _record_steps(t_end, dt, n_record)
    op = _Spectral2D(n)
    half = 0.5 * h * nu * op.k2
    lin = (1.0 - half, 1.0 / (1.0 + half))

    out = np.empty((w.shape[0], n_record, n_keep, n_keep))
    for s in range(0, w.shape[0], batch):
        fb = f_hat if f_hat is None or f_hat.ndim == 2 else f_hat[s : s + batch]
        for j, w_hat in enumerate(_cnab2(op, np.fft.rfft2(w[s : s + batch]), fb, h, lin, steps, n_record)):
            snap = np.fft.irfft2(w_hat, s=(n, n))
            out[s : s + batch, j] = snap if n_out is None else resample_periodic(snap, n_keep, 2, resample)
    return out[0] if single else out


def _cnab2(op: _Spectral2D, w_hat, f_hat, h: float, lin, steps: int, n_record: int):
    """Yield the spectral state after every ``steps`` CNAB2 steps, ``n_record`` times."""
    a_exp, a_imp = lin

    def rhs(wh):
        g = -op.advection_hat(wh)
        return g if f_hat is None else g + f_hat

    # first step: Crank--Nicolson--Heun predictor-corrector (no G^{-1} yet)
    g_old = rhs(w_hat)
    pred = (a_exp * w_hat + h * g_old) * a_imp
    w_hat = (a_exp * w_hat + 0.5 * h * (g_old + rhs(pred))) * a_imp
    done = 1
    for j in range(n_record):
        while done < (j + 1) * steps:
            g = rhs(w_hat)
            w_hat = (a_exp * w_hat + h * (1.5 * g - 0.5 * g_old)) * a_imp
            g_old = g
            done += 1
        yield w_hat
