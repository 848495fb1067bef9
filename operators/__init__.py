"""Neural operators (pure ``nn.Module`` architectures) and operator-learning methods."""

from __future__ import annotations

from .autoregressive import AutoregressiveOperator
from .coral import Coral, ModulatedSiren, NeuralField
from .deeponet import MultiONet
from .fno import FNO, fno_param_count
from .layers import SpectralConv
from .losses import relative_h1
from .mgno import MgNO, mgno_param_count
from .mppde import MPPDE, GridStepper, build_graph
from .supervised import SupervisedOperator, relative_l2

__all__ = [
    "AutoregressiveOperator",
    "Coral",
    "ModulatedSiren",
    "NeuralField",
    "FNO",
    "GridStepper",
    "MPPDE",
    "MgNO",
    "MultiONet",
    "build_graph",
    "SpectralConv",
    "SupervisedOperator",
    "fno_param_count",
    "mgno_param_count",
    "relative_h1",
    "relative_l2",
]
