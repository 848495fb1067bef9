"""PINN methods and their parts. Importing registers them."""

from . import pinnacle, selection  # noqa: F401  (registers the point selectors)
from .energy import EnergyMethod
from .kan import KAN, KANLayer, bspline_basis
from .lpinn import LPINN
from .pinn import PINN

__all__ = ["KAN", "EnergyMethod", "KANLayer", "LPINN", "PINN", "bspline_basis"]
