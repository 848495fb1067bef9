"""Fourier Neural Operator (Li et al. 2021), legacy architecture, channels-last I/O."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers.spectral import SpectralConv, spectral_conv_param_count

__all__ = ["FNO", "fno_param_count", "grid_coordinates"]

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


class FNO(nn.Module):
    r"""Fourier Neural Operator in 1D, 2D or 3D (``d = len(n_modes)``).

    .. math::

        v_0 = P(a, x), \qquad
        v_{t+1} = \sigma\big(W_t v_t + K_t v_t\big), \qquad
        u = Q(v_T),

    with :math:`K_t` a :class:`~operators.layers.SpectralConv`, :math:`W_t` a
    pointwise (1x1) linear map with bias, :math:`\sigma` skipped after the last
    layer, :math:`P` a linear lift of the input plus grid coordinates and
    :math:`Q` = Linear → σ → Linear. This is the legacy architecture
    (``fourier_{1,2,3}d.py``); see :class:`SpectralConv` for the mode
    convention (``n_modes[i]`` frequencies of each sign, legacy ``modes``).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input function ``a`` and the output ``u``.
    n_modes : tuple of int
        Kept Fourier modes per spatial axis; its length sets ``d``.
    hidden_channels : int
        Width of the Fourier layers (legacy ``width``).
    n_layers : int
        Number of Fourier layers.
    projection_channels : int
        Hidden width of the projection ``Q``.
    padding : int or float
        Zero padding added on the right of every spatial axis after lifting and
        cropped before the projection, for non-periodic problems. An ``int`` is
        a number of cells; a ``float`` in ``(0, 1)`` a fraction of each axis'
        size (rounded). ``0`` means periodic (no padding).
    positional_embedding : bool
        Append ``d`` coordinate channels, ``linspace(0, 1, n_i)`` on axis ``i``
        (both ends included), built for the resolution of each input.
    activation : str
        One of ``"gelu"``, ``"relu"``, ``"tanh"``, ``"silu"``.

    Shapes
    ------
    - input ``(B, n_0, ..., n_{d-1}, in_channels)`` (channels last), any resolution
    - output ``(B, n_0, ..., n_{d-1}, out_channels)``

    References
    ----------
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021, https://arxiv.org/abs/2010.08895.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: tuple[int, ...],
        hidden_channels: int = 32,
        n_layers: int = 4,
        projection_channels: int = 128,
        padding: int | float = 0,
        positional_embedding: bool = True,
        activation: str = "gelu",
    ):
        super().__init__()
        n_modes = tuple(int(m) for m in n_modes)
        d = len(n_modes)
        if not 1 <= d <= 3:
            raise ValueError(f"FNO supports 1 to 3 spatial dimensions, got n_modes={n_modes}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; options: {sorted(_ACTIVATIONS)}")
        _check_padding(padding)
        self.ndim = d
        self.n_modes = n_modes
        self.padding = padding
        self.positional_embedding = positional_embedding

        conv = getattr(nn, f"Conv{d}d")
        lift_in = in_channels + (d if positional_embedding else 0)
        self.lift = nn.Linear(lift_in, hidden_channels)
        self.spectral = nn.ModuleList(SpectralConv(hidden_channels, hidden_channels, n_modes) for _ in range(n_layers))
        self.pointwise = nn.ModuleList(conv(hidden_channels, hidden_channels, kernel_size=1) for _ in range(n_layers))
        self.act = _ACTIVATIONS[activation]()
        self.proj1 = nn.Linear(hidden_channels, projection_channels)
        self.proj2 = nn.Linear(projection_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.ndim
        if x.ndim != d + 2:
            raise ValueError(f"expected input (B, <{d} spatial axes>, C), got {tuple(x.shape)}")
        spatial = tuple(x.shape[1:-1])
        if self.positional_embedding:
            x = torch.cat([x, grid_coordinates(spatial, x).expand(x.shape[0], *spatial, d)], dim=-1)

        v = self.lift(x).movedim(-1, 1)  # (B, hidden, *space)
        pads = [_pad_cells(self.padding, n) for n in spatial]
        if any(pads):
            v = F.pad(v, [p for n in reversed(pads) for p in (0, n)])
        for i, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
            v = spectral(v) + pointwise(v)
            if i < len(self.spectral) - 1:
                v = self.act(v)
        v = v[(..., *(slice(0, n) for n in spatial))]  # crop the padding

        v = v.movedim(1, -1)  # (B, *space, hidden)
        return self.proj2(self.act(self.proj1(v)))


def grid_coordinates(spatial: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """Coordinates on ``[0, 1]^d`` (ends included), shape ``(1, *spatial, d)``."""
    axes = [torch.linspace(0.0, 1.0, n, dtype=like.dtype, device=like.device) for n in spatial]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).unsqueeze(0)


def _check_padding(padding: int | float) -> None:
    if isinstance(padding, bool) or not isinstance(padding, (int, float)):
        raise TypeError(f"padding must be an int or a float, got {padding!r}")
    if isinstance(padding, int) and padding < 0:
        raise ValueError(f"padding must be >= 0 cells, got {padding}")
    if isinstance(padding, float) and not 0.0 <= padding < 1.0:
        raise ValueError(f"a float padding is a fraction in [0, 1), got {padding}")


def _pad_cells(padding: int | float, n: int) -> int:
    return padding if isinstance(padding, int) else int(round(padding * n))


def fno_param_count(
    in_channels: int,
    out_channels: int,
    n_modes: tuple[int, ...],
    hidden_channels: int,
    n_layers: int,
    projection_channels: int,
    ndim_embed: bool = True,
) -> int:
    """Number of real parameters of :class:`FNO` (complex weights count as 2).

    ``ndim_embed`` mirrors ``positional_embedding`` (``d`` extra lift inputs).
    """
    d, h, p = len(n_modes), hidden_channels, projection_channels
    lift = (in_channels + (d if ndim_embed else 0)) * h + h
    layer = spectral_conv_param_count(h, h, n_modes) + h * h + h
    projection = h * p + p + p * out_channels + out_channels
    return lift + n_layers * layer + projection
