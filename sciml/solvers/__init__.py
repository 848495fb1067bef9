"""Reference solvers and input samplers for the SciML benchmarks.

- :func:`burgers_cole_hopf` -- exact viscous Burgers solution (Cole--Hopf).
- :func:`solve_darcy` -- finite-difference Darcy flow on the unit square.
- :func:`solve_poisson_dirichlet` -- 5-point finite-difference Poisson on a rectangle, Dirichlet data.
- :func:`solve_heat`, :func:`heat_matrices`, :func:`convection_matrices` -- P1 finite-element heat /
  advection–diffusion on a triangle mesh (Crank–Nicolson).
- :func:`gaussian_random_field`, :func:`darcy_coefficient` -- FNO-style inputs.
- :func:`solve_navier_stokes`, :func:`periodic_grf` -- 2D vorticity on the torus (CN/AB2, dealiased).
- :func:`solve_burgers_periodic`, :func:`burgers_initial_conditions` -- 1D periodic Burgers (ETDRK4).
- :func:`solve_combined_equation`, :func:`random_forcing`, :func:`downsample_periodic` -- MP-PDE combined
  equation (WENO5 finite volumes, integrating-factor RK4).
"""

from __future__ import annotations

from .burgers_spectral import burgers_initial_conditions, etdrk4_coefficients, solve_burgers_periodic
from .cole_hopf import burgers_cole_hopf
from .darcy import solve_darcy
from .fem_heat import convection_matrices, heat_matrices, solve_heat
from .grf import darcy_coefficient, gaussian_random_field, grf_eigenvalues
from .navier_stokes import advection_term, fno_forcing, periodic_grf, resample_periodic, solve_navier_stokes
from .poisson_fd import solve_poisson_dirichlet
from .weno import (
    SineForcing,
    cell_centres,
    combined_rhs,
    downsample_periodic,
    forcing_values,
    godunov_flux_quadratic,
    linear_symbol,
    random_forcing,
    solve_combined_equation,
    weno5_reconstruct,
)

__all__ = [
    "advection_term",
    "burgers_cole_hopf",
    "burgers_initial_conditions",
    "convection_matrices",
    "etdrk4_coefficients",
    "fno_forcing",
    "periodic_grf",
    "resample_periodic",
    "solve_burgers_periodic",
    "solve_navier_stokes",
    "darcy_coefficient",
    "gaussian_random_field",
    "grf_eigenvalues",
    "heat_matrices",
    "solve_darcy",
    "solve_poisson_dirichlet",
    "SineForcing",
    "cell_centres",
    "combined_rhs",
    "downsample_periodic",
    "forcing_values",
    "godunov_flux_quadratic",
    "linear_symbol",
    "random_forcing",
    "solve_combined_equation",
    "weno5_reconstruct",
    "solve_heat",
]
