"""An L-shaped Poisson problem with mixed conditions, registered as ``lshape_poisson``.

−Δu = f on the L  (−1, 1)² minus the quadrant (0, 1) × (−1, 0), with the exact solution
u = sin(πx) eʸ, so f = (π² − 1) sin(πx) eʸ. Dirichlet u = u_exact on the four outer edges;
Neumann ∂u/∂n = g on the two edges of the notch:

- ``notch_x`` (x = 0, −1 < y < 0), outward normal (+1, 0):  g = ∂u/∂x =  π eʸ
- ``notch_y`` (y = 0,  0 < x < 1), outward normal (0, −1):  g = −∂u/∂y = −sin(πx)

A case names it with ``imports: [my_problem.py]`` and ``problem: {type: lshape_poisson}``.
"""
import numpy as np
import torch

from sciml.geometry import Domain, polygon
from sciml.problems import Condition, Problem
from sciml.registry import PROBLEMS


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else np


def exact(x):
    """u = sin(πx) eʸ on (n, 2) points (numpy or torch): (n,)."""
    m = _lib(x)
    return m.sin(np.pi * x[:, 0]) * m.exp(x[:, 1])


def source(x):
    """f = −Δu = (π² − 1) sin(πx) eʸ."""
    return (np.pi**2 - 1.0) * exact(x)


def lshape_domain() -> Domain:
    """The L with its six edges named (edge i runs from vertex i to vertex i + 1)."""
    vertices = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]
    names = ["bottom", "notch_x", "notch_y", "right", "top", "left"]
    return Domain(polygon(vertices, edge_names=names))


@PROBLEMS.register("lshape_poisson")
def lshape_poisson(*, params: dict | None = None, eval_h: float = 0.02) -> Problem:
    """−Δu = f on an L, u = sin(πx) eʸ; Dirichlet on the outer edges, Neumann on the notch."""
    def dirichlet(du, p):
        return du() - exact(du.x)

    return Problem(
        name="lshape_poisson", inputs=("x", "y"), outputs=("u",), params={},
        domain=lshape_domain(),
        equations={"pde": lambda du, p: -du("x", "x") - du("y", "y") - source(du.x)},
        conditions={
            "dirichlet_bottom": Condition("boundary:bottom", dirichlet),
            "dirichlet_right": Condition("boundary:right", dirichlet),
            "dirichlet_top": Condition("boundary:top", dirichlet),
            "dirichlet_left": Condition("boundary:left", dirichlet),
            "neumann_x": Condition("boundary:notch_x",
                                   lambda du, p: du.dn("u") - np.pi * torch.exp(du.x[:, 1]), normals=True),
            "neumann_y": Condition("boundary:notch_y",
                                   lambda du, p: du.dn("u") + torch.sin(np.pi * du.x[:, 0]), normals=True),
        },
        exact=exact,        # the reference: u on domain.to_mesh(eval_h), no grid to build
        eval_h=eval_h,
    )
