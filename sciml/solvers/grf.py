"""Gaussian random fields on the unit square and Darcy coefficient fields.

Follows the input distribution of the Darcy-flow benchmark of the Fourier
Neural Operator paper (Li et al., 2021, ``GRF.m``): a Gaussian measure
:math:`\\mathcal N(0, (-\\Delta + \\tau^2 I)^{-\\alpha})` with homogeneous
Neumann conditions, sampled through its Karhunen--Loeve expansion.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import idctn

__all__ = ["gaussian_random_field", "darcy_coefficient", "grf_eigenvalues"]


def _as_generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _check_sizes(n_samples, n) -> None:
    if int(n_samples) != n_samples or n_samples < 0:
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}")
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")


def grf_eigenvalues(n: int, alpha: float = 2.0, tau: float = 3.0) -> np.ndarray:
    """Covariance eigenvalues of the GRF for the cosine modes ``k in [0, n)^2``.

    .. math::

        \\lambda_k = \\tau^{2\\alpha - 2}\\,(\\pi^2 |k|^2 + \\tau^2)^{-\\alpha},
        \\qquad \\lambda_{(0,0)} = 0,

    i.e. the eigenvalues of :math:`\\tau^{2\\alpha-2}(-\\Delta + \\tau^2)^{-\\alpha}`
    for the Neumann eigenfunctions
    :math:`\\phi_k(x, y) = c_{k_1} c_{k_2} \\cos(\\pi k_1 x) \\cos(\\pi k_2 y)`
    (:math:`c_0 = 1`, :math:`c_{k>0} = \\sqrt 2`), with the constant mode removed.

    Parameters
    ----------
    n : int
        Number of modes per axis.
    alpha, tau : float
        Smoothness exponent and inverse length scale (both > 0).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n)``, entry ``[k1, k2]`` (``k1`` along x).
    """
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be positive and finite, got {alpha!r}")
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be positive and finite, got {tau!r}")
    k = np.arange(n, dtype=np.float64)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    lam = tau ** (2.0 * alpha - 2.0) * (np.pi**2 * k2 + tau**2) ** (-alpha)
    lam[0, 0] = 0.0
    return lam


def gaussian_random_field(n_samples: int, n: int, alpha: float = 2.0, tau: float = 3.0, rng=None) -> np.ndarray:
    """Sample a Neumann Gaussian random field on the ``n x n`` node grid.

    Karhunen--Loeve expansion truncated to the modes the grid resolves,

    .. math::

        u(x, y) = \\sum_{k_1, k_2 = 0}^{n-1} \\sqrt{\\lambda_k}\\, \\xi_k\\,
        \\phi_k(x, y), \\qquad \\xi_k \\sim \\mathcal N(0, 1)\\ \\text{i.i.d.},

    with :math:`\\lambda_k, \\phi_k` as in :func:`grf_eigenvalues`, evaluated
    at the nodes :math:`x_i = i/(n-1)`, :math:`y_j = j/(n-1)`. On these nodes
    :math:`\\cos(\\pi k i/(n-1))` is the DCT-I kernel, so the sum is one
    inverse DCT-I per axis (``scipy.fft.idctn(type=1)``, which computes
    :math:`\\frac{1}{2(n-1)}[c_0 + (-1)^i c_{n-1} + 2\\sum_{k=1}^{n-2} c_k
    \\cos(\\pi k i/(n-1))]`), costing :math:`O(n^2 \\log n)` per sample.

    Parameters
    ----------
    n_samples : int
        Number of independent fields.
    n : int
        Grid points per axis (``n >= 2``).
    alpha : float, default 2.0
        Smoothness exponent; samples lie in :math:`H^s` for :math:`s < \\alpha - 1`.
    tau : float, default 3.0
        Inverse length scale.
    rng : numpy.random.Generator or int or None
        Random generator or seed.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, n, n)``, float64, index order ``[sample, i_x, i_y]``.

    Notes
    -----
    The FNO ``GRF.m`` evaluates the same expansion on the cell-centred grid
    with an orthonormal DCT-II inverse; here the nodes include the boundary,
    hence DCT-I. The field has zero spatial mean (constant mode dropped).

    References
    ----------
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021; M. Dashti and A. M. Stuart, "The Bayesian Approach
    to Inverse Problems", Handbook of UQ (2017), Sec. 2.
    """
    _check_sizes(n_samples, n)
    gen = _as_generator(rng)
    n = int(n)
    # Basis normalisation c_k and DCT-I end-point weights, one axis.
    c = np.full(n, np.sqrt(2.0))
    c[0] = 1.0
    dct_w = np.full(n, float(n - 1))  # idct type-1 weight: 2(n-1) at ends, (n-1) inside
    dct_w[0] = dct_w[-1] = 2.0 * (n - 1)
    axis_w = c * dct_w
    coef = np.sqrt(grf_eigenvalues(n, alpha, tau)) * axis_w[:, None] * axis_w[None, :]
    xi = gen.standard_normal((int(n_samples), n, n))
    return idctn(xi * coef, type=1, axes=(-2, -1))


def darcy_coefficient(
    n_samples: int, n: int, rng=None, high: float = 12.0, low: float = 3.0, alpha: float = 2.0, tau: float = 3.0
) -> np.ndarray:
    """Piecewise-constant Darcy permeability obtained by thresholding a GRF.

    .. math::

        a(x) = \\begin{cases} \\text{high}, & u(x) \\ge 0 \\\\
        \\text{low}, & u(x) < 0 \\end{cases},
        \\qquad u \\sim \\mathcal N(0, (-\\Delta + \\tau^2)^{-\\alpha}),

    as in the FNO Darcy data set (``high = 12``, ``low = 3``).

    Parameters
    ----------
    n_samples, n, alpha, tau, rng
        As in :func:`gaussian_random_field`.
    high, low : float
        Values on the two phases; both must be positive and finite.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, n, n)``, float64, entries in ``{low, high}``.

    References
    ----------
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021, Sec. 5.2.
    """
    for name, val in (("high", high), ("low", low)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be positive and finite, got {val!r}")
    u = gaussian_random_field(n_samples, n, alpha=alpha, tau=tau, rng=rng)
    return np.where(u >= 0.0, float(high), float(low))
