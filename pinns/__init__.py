"""PINN methods and their parts. Importing registers them."""
from .pinn import PINN

__all__ = ["PINN"]
