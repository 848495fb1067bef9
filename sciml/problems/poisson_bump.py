r"""2D Poisson with a smoothed-box source on the unit square (METALIC's Poisson family).

.. math::

    \Delta u = f \ \text{in}\ (0, 1)^2, \qquad u = 0 \ \text{on the boundary},

    f(x, y) = \frac{g(x)\, g(y)}{g(1/2)^2}, \qquad
    g(z) = \operatorname{erf}\big(s (z - \tfrac14)\big) - \operatorname{erf}\big(s (z - \tfrac34)\big),

a bump that is ≈ 1 on the square [¼, ¾]² and ≈ 0 outside, with edges of width ~1/s; ``f_max = g(½)²``
= (2 erf(s/4))² is its value at the centre (its maximum), so max f = 1. The sharpness
s ∈ [1, 50] (METALIC's range). There is no closed-form solution: the reference is the second-order
5-point finite-difference solution (:func:`sciml.solvers.solve_poisson_dirichlet`) on an
``n_grid`` × ``n_grid`` node grid.

METALIC's reference code (``data/xpinn_poisson.py``, ``poisson_direct``) sets the boundary rows of
its linear system to u = f, so its "solution" takes the values of f on the boundary (not small for
small s: f(0, ½) ≈ 0.79 at s = 1) and its PINNs are trained on those boundary values. This problem
is the clean one, u = 0 on the boundary (condition ``boundary``), with a reference that solves it.

Multi-domain PINNs split the square with ``cuts`` (METALIC: ``{"y": 0.5}``, subdomains ``y0``,
``y1`` and interface ``y0|y1``) and tie the pieces with ``interface`` terms
(the ``cuts`` and ``interface`` options every problem takes: :func:`sciml.problems.interfaces.split_problem`).
"""

from __future__ import annotations

import torch
from scipy.special import erf

from ..fields import Field
from ..geometry import Domain, dde
from ..mesh import Grid
from ..registry import PROBLEMS
from ..solvers import solve_poisson_dirichlet
from .base import Condition, Param, Problem, WeakForm, check_int, resolve_params

PARAMS = {"sharpness": Param(10.0, 1.0, 50.0, "sharpness s of the source's edges (width ~1/s)")}


def source(x, y, s):
    """f(x, y) = g(x) g(y) / g(½)² with g(z) = erf(s(z − ¼)) − erf(s(z − ¾)) (numpy, or torch when
    ``x`` is a tensor; ``s`` a number or a tensor)."""
    if isinstance(x, torch.Tensor):
        s = torch.as_tensor(s, dtype=x.dtype, device=x.device)
        fn = torch.special.erf
    else:
        fn = erf

    def g(z):
        return fn(s * (z - 0.25)) - fn(s * (z - 0.75))

    return g(x) * g(y) / (2 * fn(s * 0.25)) ** 2  # g(½) = erf(s/4) − erf(−s/4) = 2 erf(s/4)


def poisson_residual(du, p):
    """u_xx + u_yy − f."""
    return du("x", "x") + du("y", "y") - source(du.coord("x"), du.coord("y"), p["sharpness"])


@PROBLEMS.register("poisson2d_bump")
def poisson2d_bump(*, params: dict | None = None, n_grid: int = 129) -> Problem:
    """Δu = f on the unit square, u = 0 on its boundary, f a smoothed box of sharpness s (METALIC's Poisson).

    Parameters
    ----------
    params : {sharpness: s in [1, 50]} (default 10)
    n_grid : nodes per side of the finite-difference reference (second order)
    """
    p = resolve_params("poisson2d_bump", PARAMS, params)
    n_grid = check_int("poisson2d_bump", "n_grid", n_grid, 3)
    domain = Domain(dde().geometry.Rectangle([0.0, 0.0], [1.0, 1.0]))

    def reference() -> Field:
        grid = Grid((n_grid, n_grid), ((0.0, 1.0), (0.0, 1.0)))
        u = solve_poisson_dirichlet(lambda x, y: source(x, y, p["sharpness"]), n_grid)
        return Field(u[..., None], grid, ("u",))

    return Problem(
        name="poisson2d_bump",
        inputs=("x", "y"),
        outputs=("u",),
        params=p,
        domain=domain,
        equations={"pde": poisson_residual},
        conditions={"boundary": Condition("boundary", lambda du, q: du())},
        # Δu = f is -∇·∇u = -f: flux ∇u, source -f (no second derivative of u)
        forms={"weak": WeakForm(lambda u, g, x, q, a: g, lambda x, q, a: -source(x[:, 0], x[:, 1], q["sharpness"]))},
        reference=reference,
    )
