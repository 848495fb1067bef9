"""Building blocks shared by the neural operators."""

from __future__ import annotations

from .spectral import SpectralConv, spectral_conv_param_count

__all__ = ["SpectralConv", "spectral_conv_param_count"]
