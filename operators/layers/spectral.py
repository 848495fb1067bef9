"""Spectral convolution: the global integral operator of a Fourier layer."""

from __future__ import annotations

import math

import torch
from torch import nn


class SpectralConv(nn.Module):
    r"""Fourier-space convolution with learned weights on the lowest modes.

    .. math::

        (K v)(x) = \mathcal{F}^{-1}\big[R_\phi(k) \cdot (\mathcal{F} v)(k)\big](x),
        \qquad R_\phi(k) = 0 \ \text{for modes that are not kept.}

    The transform is ``torch.fft.rfftn`` over the last ``d = len(n_modes)``
    axes and ``irfftn`` back, both with ``norm="forward"``: the forward
    transform divides by the number of grid points, so the coefficients
    approximate the continuous Fourier coefficients of the field and are the
    same at every resolution. (The end-to-end map does not depend on the norm
    pair; only the size of the intermediate coefficients does.)

    **Mode convention (legacy FNO, not neuraloperator v2).** On every axis but
    the last, ``n_modes[i]`` frequencies of *each sign* are kept: indices
    ``[:m]`` (``0..m-1``) and ``[-m:]`` (``-m..-1``). On the last (rfft) axis
    the first ``n_modes[-1]`` non-negative frequencies are kept. This gives
    ``2**(d-1)`` corner blocks. So axis ``i < d-1`` keeps the asymmetric range
    ``-m..m-1`` (a real wave :math:`\cos 2\pi(-m x + y)` passes, while
    :math:`\cos 2\pi(m x + y)` is removed, as in the legacy code).
    neuraloperator v2's ``n_modes=(2m, 2m)`` is roughly this layer's ``(m, m)``.

    **Weights.** One real parameter ``weight`` of shape
    ``(2**(d-1), C_in, C_out, *n_modes, 2)`` (real, imaginary). Corner ``c``
    takes the negative block on axis ``i < d-1`` when bit ``d-2-i`` of ``c``
    is set (axis 0 is the most significant bit), so in 2D corner 0 is legacy
    ``weights1`` ``[:m1, :m2]`` and corner 1 is ``weights2`` ``[-m1:, :m2]``.
    Initialisation follows the legacy code: uniform on ``[0, 1)`` for the real
    and imaginary parts, scaled by ``1 / (C_in * C_out)``. There is no bias
    (the FNO layer's pointwise ``W`` carries it).

    **Coarse grids.** Where a grid is too small for the requested modes, the
    kept modes are clipped to what fits: ``min(n_modes[i], n_i // 2)`` per sign
    on axis ``i < d-1`` and ``min(n_modes[-1], n_{d-1} // 2 + 1)`` on the last
    axis. Each kept frequency still uses the weight trained for it, so a model
    trained at a fine resolution can be evaluated zero-shot at a coarse one.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels ``C_in`` and ``C_out``.
    n_modes : tuple of int
        Kept modes per axis (convention above); ``d = len(n_modes)``.

    Shapes
    ------
    - input ``(B, C_in, n_0, ..., n_{d-1})`` (channels first), any resolution
    - output ``(B, C_out, n_0, ..., n_{d-1})``

    References
    ----------
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021, https://arxiv.org/abs/2010.08895 (legacy code:
    github.com/zongyi-li/fourier_neural_operator).
    """

    def __init__(self, in_channels: int, out_channels: int, n_modes: tuple[int, ...]):
        super().__init__()
        n_modes = tuple(int(m) for m in n_modes)
        if not n_modes or min(n_modes) < 1:
            raise ValueError(f"n_modes must be a non-empty tuple of positive ints, got {n_modes}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_modes = n_modes
        self.ndim = len(n_modes)
        n_corners = 2 ** (self.ndim - 1)
        scale = 1.0 / (in_channels * out_channels)
        self.weight = nn.Parameter(scale * torch.rand(n_corners, in_channels, out_channels, *n_modes, 2))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, n_modes={self.n_modes}"

    def kept_modes(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """Modes actually used on a grid of shape ``spatial`` (clipped to fit)."""
        *first, last = spatial
        kept = [min(m, n // 2) for m, n in zip(self.n_modes[:-1], first)]
        return (*kept, min(self.n_modes[-1], last // 2 + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.ndim
        if x.ndim != d + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input (B, {self.in_channels}, <{d} spatial axes>), got {tuple(x.shape)}")
        spatial = tuple(x.shape[-d:])
        kept = self.kept_modes(spatial)
        axes = tuple(range(-d, 0))

        x_ft = torch.fft.rfftn(x, dim=axes, norm="forward")
        x_low = _gather(x_ft, spatial, kept)  # (B, C_in, 2k_0, ..., k_{d-1})
        w = _corners_to_block(torch.view_as_complex(self.weight), self.n_modes, kept)
        y_low = torch.einsum("bi...,io...->bo...", x_low, w)  # (B, C_out, 2k_0, ..., k_{d-1})
        y_ft = _scatter(y_low, spatial, kept)  # (B, C_out, n_0, ..., n_{d-1}//2+1)
        return torch.fft.irfftn(y_ft, s=spatial, dim=axes, norm="forward")


def _gather(x_ft: torch.Tensor, spatial: tuple[int, ...], kept: tuple[int, ...]) -> torch.Tensor:
    """Concatenate the kept corners: ``[:k]`` and ``[-k:]`` on each axis but the last."""
    d = len(spatial)
    for i in range(d - 1):
        dim, n, k = i - d, spatial[i], kept[i]
        x_ft = torch.cat([x_ft.narrow(dim, 0, k), x_ft.narrow(dim, n - k, k)], dim=dim)
    return x_ft[..., : kept[-1]]


def _scatter(y_low: torch.Tensor, spatial: tuple[int, ...], kept: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`_gather`: put the blocks back and zero every other mode."""
    d = len(spatial)
    pad_last = spatial[-1] // 2 + 1 - kept[-1]
    y = torch.cat([y_low, y_low.new_zeros(*y_low.shape[:-1], pad_last)], dim=-1)
    for i in range(d - 1):
        dim, n, k = i - d, spatial[i], kept[i]
        shape = list(y.shape)
        shape[dim] = n - 2 * k
        y = torch.cat([y.narrow(dim, 0, k), y.new_zeros(shape), y.narrow(dim, k, k)], dim=dim)
    return y


def _corners_to_block(w: torch.Tensor, n_modes: tuple[int, ...], kept: tuple[int, ...]) -> torch.Tensor:
    """Corner weights ``(2**(d-1), C_in, C_out, *n_modes)`` to the layout of :func:`_gather`.

    On the negative block of axis ``i`` weight index ``j`` is frequency
    ``j - n_modes[i]``, so clipping to ``k`` keeps its *last* ``k`` entries.
    """
    d = len(n_modes)
    w = w.reshape((2,) * (d - 1) + tuple(w.shape[1:]))
    for i in range(d - 1):
        dim, m, k = i - d, n_modes[i], kept[i]
        w = torch.cat([w[0].narrow(dim, 0, k), w[1].narrow(dim, m - k, k)], dim=dim)
    return w[..., : kept[-1]]


def spectral_conv_param_count(in_channels: int, out_channels: int, n_modes: tuple[int, ...]) -> int:
    """Real parameters of :class:`SpectralConv` (a complex weight counts as 2)."""
    return 2 ** (len(n_modes) - 1) * in_channels * out_channels * math.prod(n_modes) * 2
