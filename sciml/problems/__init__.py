"""PDE problems, one module per family; importing this package registers them."""
from .base import Condition, DatasetSpec, EnergyForm, IOSpec, Param, Problem, resolve_params
from . import burgers, convection, darcy, poisson  # noqa: F401  (registration)

__all__ = ["Condition", "DatasetSpec", "EnergyForm", "IOSpec", "Param", "Problem", "resolve_params"]
