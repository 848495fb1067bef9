r"""1D heat equation with a four-parameter exact solution (METALIC's heat family).

.. math::

    u_t = u_{xx}, \quad x \in [-1, 1],\ t \in [0, 1],

    u(x, t) = a\, e^{-\pi^2 t} \cos \pi x + b\, e^{-4\pi^2 t} \cos 2\pi x
            + c\, e^{4t - 4} \cosh 2x + d\, e^{t - 1} \sinh x,

each term a separable solution (decaying Fourier modes, and growing ones that u_t = u_xx allows
with cosh/sinh in x). The parameters a, b, c, d ∈ [−2, 2] (METALIC's range); the defaults are
non-zero so that every term counts. The conditions are the initial value ``initial``
(u(x, 0) from the formula) and the exact solution as Dirichlet data on x = ±1 (``boundary``); the
reference is the exact solution on a grid.

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

PARAMS = {
    "a": Param(1.0, -2.0, 2.0, "amplitude of e^{−π²t} cos πx"),
    "b": Param(0.5, -2.0, 2.0, "amplitude of e^{−4π²t} cos 2πx"),
    "c": Param(0.1, -2.0, 2.0, "amplitude of e^{4t−4} cosh 2x"),
    "d": Param(0.2, -2.0, 2.0, "amplitude of e^{t−1} sinh x"),
}


def exact(x, t, p: dict):
    """u(x, t) for parameters ``p`` = {a, b, c, d} (numpy or torch, broadcastable shapes)."""
    m = array_module(x)
    pi2 = np.pi**2
    return (
        p["a"] * m.exp(-pi2 * t) * m.cos(np.pi * x)
        + p["b"] * m.exp(-4 * pi2 * t) * m.cos(2 * np.pi * x)
        + p["c"] * m.exp(4 * t - 4) * m.cosh(2 * x)
        + p["d"] * m.exp(t - 1) * m.sinh(x)
    )


def heat_residual(du, p):
    """u_t − u_xx."""
    return du("t") - du("x", "x")


@PROBLEMS.register("heat1d")
def heat1d(*, params: dict | None = None, n_x: int = 201, n_t: int = 101) -> Problem:
    """1D heat u_t = u_xx on [−1, 1] × [0, 1] with a four-term exact solution (METALIC's heat).

    Parameters
    ----------
    params : {a, b, c, d}, each in [−2, 2] (defaults 1, 0.5, 0.1, 0.2)
    n_x, n_t : the reference grid: nodes on [−1, 1] and times on [0, 1]
    """
    p = resolve_params("heat1d", PARAMS, params)
    n_x, n_t = check_int("heat1d", "n_x", n_x, 2), check_int("heat1d", "n_t", n_t, 2)
    ends = {"left": lambda x: np.isclose(x[:, 0], -1.0), "right": lambda x: np.isclose(x[:, 0], 1.0)}
    domain = Domain(dde().geometry.Interval(-1.0, 1.0), ends, time=(0.0, 1.0), names=("x", "t"))

    def reference() -> Field:
        grid = Grid((n_x,), ((-1.0, 1.0),))
        times = np.linspace(0.0, 1.0, n_t)
        u = exact(grid.axes()[0][None, :], times[:, None], p)  # (n_t, n_x)
        return Field(u[..., None], grid, ("u",), times)

    return Problem(
        name="heat1d",
        inputs=("x", "t"),
        outputs=("u",),
        params=p,
        domain=domain,
        equations={"pde": heat_residual},
        conditions={
            "initial": Condition("initial", lambda du, q: du() - exact(du.coord("x"), du.coord("t"), q)),
            "boundary": Condition("boundary", lambda du, q: du() - exact(du.coord("x"), du.coord("t"), q)),
        },
        reference=reference,
        exact=lambda x: exact(x[:, 0], x[:, 1], p),
    )
