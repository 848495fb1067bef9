r"""Mode-III crack: Laplace's equation on a square with a slit, the singularity benchmark of KINN.

.. math:: \Delta u = 0 \ \text{in}\ (-1, 1)^2 \setminus \{y = 0,\ x \le 0\}, \qquad
          u = \sqrt r \sin(\theta/2) \ \text{on the outer boundary and both crack faces}

with polar coordinates about the crack tip, :math:`\theta \in (-\pi, \pi]` cut along the crack,
so u jumps from :math:`+\sqrt{|x|}` (upper face) to :math:`-\sqrt{|x|}` (lower face) and
:math:`|\nabla u| \sim r^{-1/2}` at the tip. A continuous network cannot jump, so the square is
split into two subdomains, ``upper`` (y ≥ 0) and ``lower`` (y < 0), each with its own network
(:class:`~sciml.nn.SubdomainNet`), joined along the interface y = 0, x ∈ (0, 1] by continuity of
u and ∂u/∂y — the CPINN set-up of the KINN paper.

Strong form (``pinn``): equation ``pde`` (Δu, each point by its owner's network); conditions
``outer`` (the square's boundary), ``crack_upper``/``crack_lower`` (each face by its side's
network), ``interface_u`` and ``interface_flux``.

Energy form (``energy``): :math:`\Pi[u] = \tfrac12\int |\nabla u|^2`, with the outer data exact
through u = g + (1 − x²)(1 − y²)·N, g a Coons patch of the outer data on each half. The crack
faces are penalty terms: every lift of ±√|x| with finite energy already carries the √r tip
singularity the networks are meant to find, so none is built in. Interface continuity of u is a
penalty too (flux continuity is the energy's natural condition). At the minimizer
:math:`\Pi = \tfrac18\int r^{-1} dA = \ln(1 + \sqrt 2)` (:func:`exact_energy`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..fields import Field
from ..geometry import Domain, dde
from ..mesh import Grid
from ..registry import PROBLEMS
from .base import Condition, EnergyForm, HardConstraint, Problem, array_module


def exact(x, y):
    """u = √r sin(θ/2), θ = atan2(y, x) ∈ (−π, π] (numpy or torch); on y = 0, x < 0 the upper face."""
    m = array_module(x)
    r = m.sqrt(x**2 + y**2)
    return m.sqrt(r) * m.sin(0.5 * m.arctan2(y, x))


def exact_energy() -> float:
    """Π[u] = ½∫|∇u|² = ⅛∫r⁻¹dA over the square = ⅛·8 ln(1 + √2) (|∇u|² = 1/(4r))."""
    return float(np.log1p(np.sqrt(2.0)))


def _upper_lift(x, y):
    """Coons patch on [−1, 1] × [0, 1] of the outer data, with max(−x, 0) on y = 0
    (it matches the corners, and vanishes on the interface x > 0, so the odd mirror on the lower half
    is continuous there; that edge is the crack and interface, not an essential boundary)."""
    s = 0.5 * (x + 1.0)
    left, right = exact(-torch.ones_like(y), y), exact(torch.ones_like(y), y)
    top = exact(x, torch.ones_like(x))
    bottom = torch.clamp(-x, min=0.0)
    one = torch.ones_like(x)
    c_bl, c_br = 1.0, 0.0  # bottom corners: u(−1, 0⁺) = 1, u(1, 0) = 0
    c_tl, c_tr = exact(-one, one), exact(one, one)
    return (
        (1 - s) * left
        + s * right
        + (1 - y) * bottom
        + y * top
        - ((1 - s) * (1 - y) * c_bl + s * (1 - y) * c_br + (1 - s) * y * c_tl + s * y * c_tr)
    )


def lift(x, side: str | None = None):
    """g: the outer data on the square's boundary; odd in y (the lower half mirrors the upper).

    On y = 0 the two sides differ (the crack faces): ``side`` says which one is evaluated;
    ``None`` picks each point's owner (y ≥ 0: upper).
    """
    sign: torch.Tensor | float
    if side is None:
        sign = torch.where(x[:, 1] >= 0, 1.0, -1.0).to(x.dtype)
    else:
        sign = {"upper": 1.0, "lower": -1.0}[side]
    return sign * _upper_lift(x[:, 0], x[:, 1].abs())


def distance(x, side: str | None = None):
    """φ = (1 − x²)(1 − y²): zero on the outer boundary only."""
    return (1.0 - x[:, 0] ** 2) * (1.0 - x[:, 1] ** 2)


def energy_density(u, grad_u, x, p):
    """ψ = ½|∇u|²."""
    return 0.5 * grad_u.square().sum(-1)


def _face(sign: float):
    def residual(du, p):
        return du() - sign * torch.sqrt(torch.clamp(-du.coord("x"), min=0.0))

    return residual


def _outer(du, p):
    return du() - exact(du.coord("x"), du.coord("y"))


def _laplace(du, p):
    return du("x", "x") + du("y", "y")


@PROBLEMS.register("crack_mode3")
def crack_mode3(*, params: dict | None = None, n_grid: int = 100) -> Problem:
    """Laplace on a square with a crack (mode III): exact u = √r sin(θ/2), two subdomains."""
    if params:
        raise ValueError(f"problem 'crack_mode3' has no parameters, got {sorted(params)}")
    if n_grid < 2 or n_grid % 2:
        raise ValueError(f"crack_mode3: n_grid must be even (no evaluation point on the crack), got {n_grid}")
    domain = Domain(
        dde().geometry.Rectangle([-1.0, -1.0], [1.0, 1.0]),
        names=("x", "y"),
        segments={"crack": ((-1.0, 0.0), (0.0, 0.0)), "interface": ((0.0, 0.0), (1.0, 0.0))},
    )

    def reference() -> Field:
        grid = Grid((n_grid, n_grid), ((-1.0, 1.0), (-1.0, 1.0)))
        pts = grid.points()
        return Field(exact(pts[:, 0], pts[:, 1]).reshape(n_grid, n_grid, 1), grid, ("u",))

    return Problem(
        name="crack_mode3",
        inputs=("x", "y"),
        outputs=("u",),
        params={},
        domain=domain,
        equations={"pde": _laplace},
        conditions={
            "outer": Condition("boundary", _outer),
            "crack_upper": Condition("boundary:crack", _face(1.0), "upper"),
            "crack_lower": Condition("boundary:crack", _face(-1.0), "lower"),
            "interface_u": Condition("boundary:interface", lambda a, b, p: a() - b(), ("upper", "lower")),
            "interface_flux": Condition("boundary:interface", lambda a, b, p: a("y") - b("y"), ("upper", "lower")),
        },
        reference=reference,
        exact=lambda x: exact(np.asarray(x)[:, 0], np.asarray(x)[:, 1])[:, None],
        forms={
            "energy": EnergyForm(
                energy_density, penalties={"crack_upper": 100.0, "crack_lower": 100.0, "interface_u": 100.0}
            )
        },
        constraint=HardConstraint(distance, lift, covers=("outer",), sided=True),
        subdomains={"upper": lambda x: x[:, 1] >= 0, "lower": lambda x: x[:, 1] < 0},
    )
