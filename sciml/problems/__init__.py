"""PDE problems, one module per family; importing this package registers them."""

from . import (  # noqa: F401  (registration)
    burgers,
    combined_equation,
    convection,
    crack,
    darcy,
    elasticity,
    heat,
    mesh_heat,
    periodic_operators,
    poisson,
    poisson_bump,
    poisson_hole,
    reaction,
)
from .base import (
    FORMS,
    CharacteristicForm,
    Condition,
    DatasetSpec,
    EnergyForm,
    FluxForm,
    HardConstraint,
    IOSpec,
    Param,
    Problem,
    WeakForm,
    resolve_params,
)

__all__ = [
    "FORMS",
    "CharacteristicForm",
    "Condition",
    "DatasetSpec",
    "EnergyForm",
    "FluxForm",
    "HardConstraint",
    "IOSpec",
    "Param",
    "Problem",
    "WeakForm",
    "resolve_params",
]
