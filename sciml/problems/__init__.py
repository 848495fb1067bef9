"""PDE problems, one module per family; importing this package registers them."""
from .base import Condition, DatasetSpec, IOSpec, Param, Problem, resolve_params
from . import burgers, convection, darcy  # noqa: F401  (registration)

__all__ = ["Condition", "DatasetSpec", "IOSpec", "Param", "Problem", "resolve_params"]
