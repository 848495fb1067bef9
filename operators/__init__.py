"""Neural operators (pure ``nn.Module`` architectures) and operator-learning methods."""
from __future__ import annotations

from .fno import FNO, fno_param_count
from .layers import SpectralConv
from .supervised import SupervisedOperator, relative_l2

__all__ = ["FNO", "SpectralConv", "SupervisedOperator", "fno_param_count", "relative_l2"]
