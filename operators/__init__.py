"""Neural operators: pure ``nn.Module`` architectures with explicit ``forward(x)``."""
from __future__ import annotations

from .fno import FNO, fno_param_count
from .layers import SpectralConv

__all__ = ["FNO", "SpectralConv", "fno_param_count"]
