r"""1D logistic reaction (METALIC's reaction family, after Krishnapriyan et al., NeurIPS 2021).

.. math::

    u_t = \rho\, u (1 - u), \quad x \in [0, 2\pi],\ t \in [0, 1], \qquad
    u(x, 0) = h(x) = \exp\!\Big(-\frac{(x - \pi)^2}{2 (\pi/4)^2}\Big),

an ODE at every x, whose exact solution is

.. math::

    u(x, t) = \frac{h(x)\, e^{\rho t}}{h(x)\, e^{\rho t} + 1 - h(x)}
            = \frac{h(x)}{h(x) + (1 - h(x))\, e^{-\rho t}}

(the second form is the one evaluated: no overflow for any ρt). The reaction rate ρ ∈ [1, 15]
(METALIC's range). The conditions are the initial value ``initial`` and the exact solution as
Dirichlet data on x = 0 and x = 2π (``boundary``), as METALIC imposes it; the reference is the exact
solution on a grid.

Multi-domain PINNs split the domain with ``cuts`` (METALIC: ``{"t": 0.5}``, subdomains ``t0``,
``t1`` and interface ``t0|t1``) and tie the pieces with ``interface`` terms
(the ``cuts`` and ``interface`` options every problem takes: :func:`sciml.problems.interfaces.split_problem`).
"""

from __future__ import annotations

import numpy as np

from ..fields import Field
from ..geometry import Domain, dde
from ..mesh import Grid
from ..registry import PROBLEMS
from .base import Condition, Param, Problem, array_module, check_int, resolve_params

TWO_PI = 2.0 * np.pi
PARAMS = {"rho": Param(5.0, 1.0, 15.0, "reaction rate ρ")}


def initial_profile(x):
    """h(x) = exp(−(x − π)² / (2 (π/4)²)) (numpy or torch, any shape)."""
    return array_module(x).exp(-((x - np.pi) ** 2) / (2 * (np.pi / 4) ** 2))


def exact(x, t, rho: float):
    """u(x, t) = h / (h + (1 − h) e^{−ρt}) (numpy or torch, broadcastable shapes)."""
    h = initial_profile(x)
    return h / (h + (1 - h) * array_module(t).exp(-rho * t))


def reaction_residual(du, p):
    """u_t − ρ u (1 − u)."""
    u = du()
    return du("t") - p["rho"] * u * (1 - u)


@PROBLEMS.register("reaction1d")
def reaction1d(*, params: dict | None = None, n_x: int = 256, n_t: int = 101) -> Problem:
    """1D logistic reaction u_t = ρ u (1 − u), u0 a Gaussian bump, exact solution (METALIC's reaction).

    Parameters
    ----------
    params : {rho: ρ in [1, 15]} (default 5)
    n_x, n_t : the reference grid: nodes on [0, 2π] and times on [0, 1]
    """
    p = resolve_params("reaction1d", PARAMS, params)
    n_x, n_t = check_int("reaction1d", "n_x", n_x, 2), check_int("reaction1d", "n_t", n_t, 2)
    ends = {"left": lambda x: np.isclose(x[:, 0], 0.0), "right": lambda x: np.isclose(x[:, 0], TWO_PI)}
    domain = Domain(dde().geometry.Interval(0.0, TWO_PI), ends, time=(0.0, 1.0), names=("x", "t"))

    def reference() -> Field:
        grid = Grid((n_x,), ((0.0, TWO_PI),))
        times = np.linspace(0.0, 1.0, n_t)
        u = exact(grid.axes()[0][None, :], times[:, None], p["rho"])  # (n_t, n_x)
        return Field(u[..., None], grid, ("u",), times)

    return Problem(
        name="reaction1d",
        inputs=("x", "t"),
        outputs=("u",),
        params=p,
        domain=domain,
        equations={"pde": reaction_residual},
        conditions={
            "initial": Condition("initial", lambda du, q: du() - initial_profile(du.coord("x"))),
            "boundary": Condition("boundary", lambda du, q: du() - exact(du.coord("x"), du.coord("t"), q["rho"])),
        },
        reference=reference,
        exact=lambda x: exact(x[:, 0], x[:, 1], p["rho"]),
    )
