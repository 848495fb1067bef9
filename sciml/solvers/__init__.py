"""Reference solvers and input samplers for the SciML benchmarks.

- :func:`burgers_cole_hopf` -- exact viscous Burgers solution (Cole--Hopf).
- :func:`solve_darcy` -- finite-difference Darcy flow on the unit square.
- :func:`gaussian_random_field`, :func:`darcy_coefficient` -- FNO-style inputs.
"""
from __future__ import annotations

from .cole_hopf import burgers_cole_hopf
from .darcy import solve_darcy
from .grf import darcy_coefficient, gaussian_random_field, grf_eigenvalues

__all__ = [
    "burgers_cole_hopf",
    "darcy_coefficient",
    "gaussian_random_field",
    "grf_eigenvalues",
    "solve_darcy",
]
