"""PDE problems, one module per family; importing this package registers them."""

from . import burgers, combined_equation, convection, crack, darcy, elasticity, mesh_heat, periodic_operators, poisson  # noqa: F401  (registration)
from .base import Condition, DatasetSpec, EnergyForm, HardConstraint, IOSpec, Param, Problem, resolve_params

__all__ = ["Condition", "DatasetSpec", "EnergyForm", "HardConstraint", "IOSpec", "Param", "Problem", "resolve_params"]
