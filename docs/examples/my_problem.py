"""An L-shaped Poisson problem with mixed conditions, registered as ``lshape_poisson``.

−Δu = f on the L  (−1, 1)² minus the quadrant (0, 1) × (−1, 0), with the exact solution
u = sin(πx) eʸ, so f = (π² − 1) sin(πx) eʸ. Dirichlet u = u_exact on the four outer edges;
Neumann ∂u/∂n = g on the two edges of the notch:

- ``notch_x`` (x = 0, −1 < y < 0), outward normal (+1, 0):  g = ∂u/∂x =  π eʸ
- ``notch_y`` (y = 0,  0 < x < 1), outward normal (0, −1):  g = −∂u/∂y = −sin(πx)

The problem also carries its energy form (for ``method: {type: energy}``): the potential
Π[u] = ∫ ½|∇u|² − f u dΩ − ∫_notch g u ds over trial functions u = g_D + φ·N that meet the
Dirichlet data exactly (φ = (1 − x²)(1 − y²) vanishes on the four outer edges, which lie on the
square's sides, and not on the notch; g_D interpolates the data between bottom and top).

A second problem, ``plate_poisson``, is the same equation on a gmsh mesh of the unit square with
a hole (``meshes/plate_hole.msh``): Dirichlet on the square's sides, Neumann on the hole.

A case names them with ``imports: [my_problem.py]`` and ``problem: {type: lshape_poisson}``
(or ``plate_poisson``).
"""

from pathlib import Path

import numpy as np
import torch

from sciml.fields import Field
from sciml.geometry import Domain, MeshDomain, polygon
from sciml.mesh import Mesh
from sciml.problems import Condition, EnergyForm, HardConstraint, Problem
from sciml.registry import PROBLEMS


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else np


def exact(x):
    """u = sin(πx) eʸ on (n, 2) points (numpy or torch): (n,)."""
    m = _lib(x)
    return m.sin(np.pi * x[:, 0]) * m.exp(x[:, 1])


def grad_exact(x):
    """∇u = (π cos(πx) eʸ, sin(πx) eʸ) on (n, 2) torch points: (n, 2)."""
    e = torch.exp(x[:, 1])
    return torch.stack([np.pi * torch.cos(np.pi * x[:, 0]) * e, torch.sin(np.pi * x[:, 0]) * e], 1)


def source(x):
    """f = −Δu = (π² − 1) sin(πx) eʸ."""
    return (np.pi**2 - 1.0) * exact(x)


def lshape_domain() -> Domain:
    """The L with its six edges named (edge i runs from vertex i to vertex i + 1)."""
    vertices = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]
    names = ["bottom", "notch_x", "notch_y", "right", "top", "left"]
    return Domain(polygon(vertices, edge_names=names))


def poisson_density(u, grad_u, x, p):
    """ψ = ½|∇u|² − f u: its minimizer solves −Δu = f (with ∂u/∂n = g from the boundary terms)."""
    return 0.5 * grad_u.square().sum(-1) - source(x) * u


def lshape_lift(x):
    """g_D: the Dirichlet data sin(πx) e^∓1 on y = ∓1, interpolated linearly in y; it is 0 on x = ±1,
    as the data are. Built from the boundary data only, not from the exact solution."""
    s = torch.sin(np.pi * x[:, 0])
    return s * (np.exp(-1.0) * (1 - x[:, 1]) + np.e * (1 + x[:, 1])) / 2


@PROBLEMS.register("lshape_poisson")
def lshape_poisson(*, params: dict | None = None, eval_h: float = 0.02) -> Problem:
    """−Δu = f on an L, u = sin(πx) eʸ; Dirichlet on the outer edges, Neumann on the notch."""

    def dirichlet(du, p):
        return du() - exact(du.x)

    def g_notch_x(x):  # ∂u/∂n on x = 0 with n = (1, 0)
        return np.pi * torch.exp(x[:, 1])

    def g_notch_y(x):  # ∂u/∂n on y = 0 with n = (0, −1)
        return -torch.sin(np.pi * x[:, 0])

    return Problem(
        name="lshape_poisson",
        inputs=("x", "y"),
        outputs=("u",),
        params={},
        domain=lshape_domain(),
        equations={"pde": lambda du, p: -du("x", "x") - du("y", "y") - source(du.x)},
        conditions={
            "dirichlet_bottom": Condition("boundary:bottom", dirichlet),
            "dirichlet_right": Condition("boundary:right", dirichlet),
            "dirichlet_top": Condition("boundary:top", dirichlet),
            "dirichlet_left": Condition("boundary:left", dirichlet),
            "neumann_x": Condition("boundary:notch_x", lambda du, p: du.dn("u") - g_notch_x(du.x), normals=True),
            "neumann_y": Condition("boundary:notch_y", lambda du, p: du.dn("u") - g_notch_y(du.x), normals=True),
        },
        exact=exact,  # the reference: u on domain.to_mesh(eval_h), no grid to build
        eval_h=eval_h,
        # for the energy method: Π = ∫ ψ dΩ + Σ ∫ ψ_Γ ds, the Neumann data as boundary terms −g u
        forms={
            "energy": EnergyForm(
                poisson_density,
                boundary={"notch_x": lambda u, x, p: -g_notch_x(x) * u, "notch_y": lambda u, x, p: -g_notch_y(x) * u},
            )
        },
        constraint=HardConstraint(
            distance=lambda x: (1 - x[:, 0] ** 2) * (1 - x[:, 1] ** 2),
            lift=lshape_lift,
            covers=("dirichlet_bottom", "dirichlet_right", "dirichlet_top", "dirichlet_left"),
        ),
    )


PLATE_MESH = Path(__file__).resolve().parents[2] / "meshes" / "plate_hole.msh"
HOLE_CENTRE = (0.5, 0.5)  # the hole of meshes/plate_hole.msh: radius 0.2 at the plate's centre


def hole_normal(x):
    """The outward normal of the plate on its hole (into the hole), from the circle: (n, 2)."""
    d = torch.as_tensor(HOLE_CENTRE, dtype=x.dtype, device=x.device) - x
    return d / d.norm(dim=1, keepdim=True)


@PROBLEMS.register("plate_poisson")
def plate_poisson(*, params: dict | None = None, mesh: str = str(PLATE_MESH)) -> Problem:
    """−Δu = f on a gmsh mesh of the unit square with a hole, u = sin(πx) eʸ; Dirichlet on the
    sides, Neumann on the hole (``mesh``: an MSH file with the groups left/right/bottom/top/hole)."""
    m = Mesh.read(mesh)
    missing = {"left", "right", "bottom", "top", "hole"} - set(m.point_tags)
    if missing:
        raise ValueError(f"plate_poisson: mesh {mesh} lacks the physical group(s) {sorted(missing)}")

    def dirichlet(du, p):
        return du() - exact(du.x)

    def g_hole(x):  # ∂u/∂n on the hole, with the circle's outward (into-the-hole) normal
        return (grad_exact(x) * hole_normal(x)).sum(1)

    return Problem(
        name="plate_poisson",
        inputs=("x", "y"),
        outputs=("u",),
        params={},
        domain=MeshDomain(m),
        equations={"pde": lambda du, p: -du("x", "x") - du("y", "y") - source(du.x)},
        conditions={
            **{f"dirichlet_{e}": Condition(f"boundary:{e}", dirichlet) for e in ("left", "right", "bottom", "top")},
            # du.dn uses the mesh facets' normals, which differ from the circle's by the chord angle
            "neumann_hole": Condition("boundary:hole", lambda du, p: du.dn("u") - g_hole(du.x), normals=True),
        },
        # a MeshDomain has no automatic mesh: the reference is the exact u on the mesh's own nodes
        reference=lambda: Field(exact(m.points[:, :2])[:, None], m, ("u",)),
        forms={"energy": EnergyForm(poisson_density, boundary={"hole": lambda u, x, p: -g_hole(x) * u})},
        # φ = 0 on the square's sides; g_D = sin(πx)(1 + (e − 1) y) is the data there (0 on x = 0, 1)
        constraint=HardConstraint(
            distance=lambda x: x[:, 0] * (1 - x[:, 0]) * x[:, 1] * (1 - x[:, 1]),
            lift=lambda x: torch.sin(np.pi * x[:, 0]) * (1 + (np.e - 1) * x[:, 1]),
            covers=("dirichlet_left", "dirichlet_right", "dirichlet_bottom", "dirichlet_top"),
        ),
    )
