"""Normalizers for operator learning: fit on training data, encode inputs/targets, decode outputs.

Statistics are registered buffers, so they travel with ``state_dict`` and checkpoints and
follow ``.to(device)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["UnitGaussianNormalizer", "IdentityNormalizer"]


class UnitGaussianNormalizer(nn.Module):
    """``encode(x) = (x - mean) / (std + eps)``, ``decode`` its inverse.

    Parameters
    ----------
    reduce_dims : ``"pointwise"`` keeps one mean/std per location and channel (reduced over
        the sample axis only); ``"channel"`` keeps one per channel (reduced over all but the
        last axis)
    eps : added to the standard deviation

    Shapes
    ------
    fit: ``x`` is ``(N, *space, C)`` (``space`` may include a time axis). After fitting
    ``mean``/``std`` are ``(*space, C)`` (pointwise) or ``(C,)`` (channel). ``encode``/``decode``
    accept ``(..., *space, C)`` (pointwise) or ``(..., C)`` (channel).
    """

    mean: torch.Tensor  # buffers (register_buffer in __init__)
    std: torch.Tensor

    def __init__(self, reduce_dims: str = "pointwise", eps: float = 1e-5):
        super().__init__()
        if reduce_dims not in ("pointwise", "channel"):
            raise ValueError(f"reduce_dims must be 'pointwise' or 'channel', got {reduce_dims!r}")
        self.reduce_dims = reduce_dims
        self.eps = float(eps)
        self.register_buffer("mean", torch.empty(0))
        self.register_buffer("std", torch.empty(0))

    @property
    def fitted(self) -> bool:
        return self.mean.numel() > 0

    @torch.no_grad()
    def fit(self, x) -> UnitGaussianNormalizer:
        """Compute mean/std of ``x`` (tensor or array, ``(N, *space, C)``); returns ``self``."""
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        if x.ndim < 2:
            raise ValueError(f"fit expects (N, *space, C), got shape {tuple(x.shape)}")
        dtype = x.dtype if x.is_floating_point() else torch.float32
        dims = (0,) if self.reduce_dims == "pointwise" else tuple(range(x.ndim - 1))
        x64 = x.to(torch.float64)
        mean = x64.mean(dim=dims)
        std = x64.std(dim=dims, correction=0)
        self.mean = mean.to(dtype).to(self.mean.device)
        self.std = std.to(dtype).to(self.std.device)
        return self

    def _check(self):
        if not self.fitted:
            raise RuntimeError("UnitGaussianNormalizer used before fit() (or load_state_dict())")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check()
        return (x - self.mean.to(x)) / (self.std.to(x) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        self._check()
        return x * (self.std.to(x) + self.eps) + self.mean.to(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # an unfitted normalizer has empty buffers: take the checkpoint's shapes
        for name in ("mean", "std"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        shape = tuple(self.mean.shape) if self.fitted else "unfitted"
        return f"reduce_dims={self.reduce_dims!r}, eps={self.eps}, shape={shape}"


class IdentityNormalizer(nn.Module):
    """No-op normalizer with the :class:`UnitGaussianNormalizer` interface."""

    fitted = True

    def fit(self, x=None) -> IdentityNormalizer:
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
