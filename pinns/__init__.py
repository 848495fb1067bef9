"""PINN methods and their parts. Importing registers them."""
from .kan import KAN, KANLayer, bspline_basis
from .pinn import PINN

__all__ = ["KAN", "KANLayer", "PINN", "bspline_basis"]
