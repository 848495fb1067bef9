"""1D viscous Burgers: u_t + u u_x = ν u_xx on x ∈ [-1, 1], t ∈ [0, T], u0 = -sin(πx), u(±1, t) = 0.

Reference: the exact Cole–Hopf solution (:func:`sciml.solvers.burgers_cole_hopf`).

The solution is odd about x = ±1, so it is also the solution of the 2-periodic problem: the
problem declares ``periodic = {"x": 2}`` and its characteristic form (speed a(u) = u, viscosity ν)
for Lagrangian methods (``lpinn``); the PINN keeps the Dirichlet condition ``boundary``. Its flux
form ``forms["flux"]`` writes the equation as ∇·F = 0 in (x, t) with F = (u²/2 − ν u_x, u), for the
``flux`` interface term of multi-domain PINNs.

Multi-domain PINNs (XPINN, cPINN, METALIC) split the domain with ``cuts`` and tie the pieces with
``interface`` terms (the ``cuts`` and ``interface`` options every problem takes: :func:`sciml.problems.interfaces.split_problem`). METALIC's Burgers family
is ν ∈ [0.001, 0.05] with ``cuts={"x": [-0.1, 0.1]}``: METALIC has two subdomains, the strip
|x| < 0.1 and the rest (one network for both outer pieces); these cuts give three, the outer two
with networks of their own, joined to the strip on the interfaces ``x0|x1`` (x = −0.1) and
``x1|x2`` (x = 0.1). The Cole–Hopf reference at ν = 0.001 agrees with an independent
pseudo-spectral solve to within the test's bound of 2e-6 (``tests/solvers/test_cole_hopf_small_nu.py``,
marked slow).
"""

from __future__ import annotations

import numpy as np
import torch

from ..fields import Field
from ..geometry import Domain, dde
from ..mesh import Grid
from ..registry import PROBLEMS
from ..solvers import burgers_cole_hopf
from .base import CharacteristicForm, Condition, FluxForm, Param, Problem, check_int, check_number, resolve_params

PARAMS = {"nu": Param(0.01 / np.pi, 1e-5, 10.0, "viscosity")}


def burgers_residual(du, p):
    """u_t + u u_x - ν u_xx."""
    return du("t") + du() * du("x") - p["nu"] * du("x", "x")


def burgers_flux(du, p):
    """F = (u²/2 − ν u_x, u) in (x, t): ∂_x F_x + ∂_t F_t = u_t + u u_x − ν u_xx. (n, 2)."""
    u = du()
    return torch.stack([0.5 * u * u - p["nu"] * du("x"), u], dim=1)


@PROBLEMS.register("burgers1d")
def burgers1d(*, params: dict | None = None, t_end: float = 0.99, n_x: int = 256, n_t: int = 100) -> Problem:
    """1D viscous Burgers with the sine initial condition (Raissi et al.; DeepXDE's example).

    Parameters
    ----------
    params : {nu: ν in [1e-5, 10]} (default 0.01/π; METALIC's range is [0.001, 0.05])
    t_end : the final time
    n_x, n_t : the Cole–Hopf reference grid: nodes on [−1, 1] and times on [0, t_end]
    """
    p = resolve_params("burgers1d", PARAMS, params)
    t_end = check_number("burgers1d", "t_end", t_end, 0.0, strict=True)
    n_x, n_t = check_int("burgers1d", "n_x", n_x, 2), check_int("burgers1d", "n_t", n_t, 1)  # reference grid
    geom = dde().geometry.Interval(-1.0, 1.0)
    domain = Domain(
        geom,
        {"left": lambda x: np.isclose(x[:, 0], -1.0), "right": lambda x: np.isclose(x[:, 0], 1.0)},
        time=(0.0, t_end),
        names=("x", "t"),
    )

    def reference() -> Field:
        grid = Grid((n_x,), ((-1.0, 1.0),))
        times = np.linspace(0.0, t_end, n_t)
        X, T = np.meshgrid(grid.axes()[0], times)  # (n_t, n_x)
        u = burgers_cole_hopf(X, T, p["nu"])
        return Field(u[..., None], grid, ("u",), times)

    return Problem(
        name="burgers1d",
        inputs=("x", "t"),
        outputs=("u",),
        params=p,
        domain=domain,
        equations={"pde": burgers_residual},
        conditions={
            "initial": Condition("initial", lambda du, p: du() + torch.sin(np.pi * du.coord("x"))),
            "boundary": Condition("boundary", lambda du, p: du()),
        },
        reference=reference,
        exact=lambda x: burgers_cole_hopf(x[:, 0], x[:, 1], p["nu"]),
        periodic={"x": 2.0},
        forms={"characteristic": CharacteristicForm(speed=lambda u, p: u, nu="nu"), "flux": FluxForm(burgers_flux)},
    )
