r"""Plane-stress linear elasticity: a square plate with a circular hole under uniaxial tension.

The stress-concentration benchmark of KINN, on the gmsh mesh ``meshes/plate_hole.msh`` (the full
plate [0, 1]² minus a disk of radius 0.2 at the centre). Tractions :math:`t = (\mp T, 0)` pull on
the ``left`` and ``right`` edges; ``top``, ``bottom`` and ``hole`` are traction free.

.. math:: \nabla\cdot\sigma = 0, \qquad
          \sigma = \lambda^*\,\mathrm{tr}(\varepsilon) I + 2\mu\varepsilon, \qquad
          \varepsilon = \tfrac12(\nabla u + \nabla u^T),

with the plane-stress :math:`\lambda^* = E\nu/(1-\nu^2)`, :math:`\mu = E/(2(1+\nu))`. The loads are
self-equilibrated, so the rigid-body motion is fixed by the plate's two mirror symmetries:
:math:`u_x = 0` on x = ½ and :math:`u_y = 0` on y = ½ (conditions ``symmetry_x``/``symmetry_y``
on internal segments, or exactly through the hard constraint
:math:`u = (T/E)\,(x - \tfrac12,\ y - \tfrac12)\odot N`).

Strong form (``pinn``), ``formulation: displacement`` (default): equations
``equilibrium_x``/``equilibrium_y`` in displacements (Navier, second order) and the traction
conditions, all divided by T. ``formulation: mixed``: the network also outputs the stresses
(``ux, uy, sxx, syy, sxy``); equilibrium is first order in σ, ``constitutive`` ties σ to ε(u),
and tractions act on σ directly — better conditioned, as mixed PINNs for elasticity report
(Rezaei et al. 2022); its hard constraint also scales σ by T. Both score ``rel_l2`` on the
displacements and ``rel_l2_<name>`` on each stress. Energy form (``energy``): :math:`\Pi = \int_\Omega \tfrac12\sigma:\varepsilon
\,d\Omega - \int_{\Gamma_t} t\cdot u\,ds` with the symmetry constraint exact. Derived fields
``sxx, syy, sxy, von_mises`` are written and scored next to ``ux, uy``. Reference: P2 finite
elements on the same mesh (:func:`sciml.solvers.elasticity.plate_with_hole_reference`),
displacements shifted by the rigid translation that makes them mirror-symmetric.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import OptionError
from ..fields import Field
from ..geometry import MeshDomain
from ..mesh import Mesh
from ..registry import PROBLEMS
from .base import Condition, EnergyForm, HardConstraint, Param, Problem, resolve_params

PARAMS = {
    "E": Param(1000.0, 1e-12, np.inf, "Young's modulus"),
    "nu": Param(0.3, -0.999, 0.499, "Poisson ratio"),
    "traction": Param(100.0, 1e-12, np.inf, "applied tension T on the left and right edges"),
}
DEFAULT_MESH = "meshes/plate_hole.msh"
STRESSES = ("sxx", "syy", "sxy", "von_mises")


def lame(p) -> tuple[float, float]:
    """Plane-stress (λ*, μ)."""
    E, nu = p["E"], p["nu"]
    return E * nu / (1.0 - nu**2), E / (2.0 * (1.0 + nu))


def stress(grad_u, p):
    """(σxx, σyy, σxy) from the displacement gradient ``grad_u[:, i, j] = ∂u_i/∂x_j``."""
    lam, mu = lame(p)
    exx, eyy = grad_u[:, 0, 0], grad_u[:, 1, 1]
    exy = 0.5 * (grad_u[:, 0, 1] + grad_u[:, 1, 0])
    tr = exx + eyy
    return lam * tr + 2 * mu * exx, lam * tr + 2 * mu * eyy, 2 * mu * exy


def von_mises(sxx, syy, sxy):
    """Plane-stress von Mises stress (torch)."""
    return torch.sqrt(torch.clamp(sxx**2 - sxx * syy + syy**2 + 3 * sxy**2, min=0.0))


def _grad(du):
    """(n, 2, 2) displacement gradient from a derivative accessor."""
    return torch.stack([torch.stack([du("x", out=o), du("y", out=o)], -1) for o in ("ux", "uy")], 1)


def _sigma(du, p):
    return stress(_grad(du), p)


def _equilibrium(axis: int):
    def residual(du, p):
        lam, mu = lame(p)
        ux_xx, ux_yy, ux_xy = du("x", "x", out="ux"), du("y", "y", out="ux"), du("x", "y", out="ux")
        uy_xx, uy_yy, uy_xy = du("x", "x", out="uy"), du("y", "y", out="uy"), du("x", "y", out="uy")
        if axis == 0:  # ∂x σxx + ∂y σxy
            r = (lam + 2 * mu) * ux_xx + lam * uy_xy + mu * (ux_yy + uy_xy)
        else:  # ∂x σxy + ∂y σyy
            r = mu * (ux_xy + uy_xx) + lam * ux_xy + (lam + 2 * mu) * uy_yy
        return r / p["traction"]

    return residual


def _stress_outputs(du, p):
    return du(out="sxx"), du(out="syy"), du(out="sxy")


def _mixed_equilibrium(du, p):
    """(∂x σxx + ∂y σxy, ∂x σxy + ∂y σyy) / T on the stress outputs."""
    return (
        torch.stack([du("x", out="sxx") + du("y", out="sxy"), du("x", out="sxy") + du("y", out="syy")], 1)
        / p["traction"]
    )


def _constitutive(du, p):
    """(σ − C:ε(u)) / T, three components."""
    s = stress(_grad(du), p)
    return torch.stack([du(out=n) - c for n, c in zip(("sxx", "syy", "sxy"), s)], 1) / p["traction"]


def _traction(normal, load: tuple[float, float] = (0.0, 0.0), sigma=_sigma):
    """σ·n − t, divided by T; ``normal(x) -> (n, 2)``, ``load`` in units of T."""

    def residual(du, p):
        sxx, syy, sxy = sigma(du, p)
        n = normal(du.x)
        tx = sxx * n[:, 0] + sxy * n[:, 1] - load[0] * p["traction"]
        ty = sxy * n[:, 0] + syy * n[:, 1] - load[1] * p["traction"]
        return torch.stack([tx, ty], 1) / p["traction"]

    return residual


def _const_normal(nx: float, ny: float):
    return lambda x: torch.tensor([nx, ny], dtype=x.dtype, device=x.device).expand(len(x), 2)


def _read_mesh(path: str) -> Mesh:
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = Path(__file__).resolve().parents[2] / path  # the repository's meshes/
    if not p.exists():
        raise FileNotFoundError(f"plate_hole: mesh file {path!r} not found (generate it with meshes/plate_hole.py)")
    try:
        mesh = Mesh.read(p)
    except ValueError as exc:
        raise OptionError("mesh", f"plate_hole: {exc}") from None
    missing = sorted({"left", "right", "top", "bottom", "hole"} - set(mesh.point_tags))
    if missing:
        raise OptionError(
            "mesh", f"plate_hole: mesh {p} lacks the boundary tags {missing}; it has {sorted(mesh.point_tags)}"
        )
    return mesh


@PROBLEMS.register("plate_hole")
def plate_hole(
    *, params: dict | None = None, mesh: str = DEFAULT_MESH, fe_order: int = 2, formulation: str = "displacement"
) -> Problem:
    """Plane-stress plate with a circular hole under tension (gmsh mesh, FE reference, von Mises)."""
    p = resolve_params("plate_hole", PARAMS, params)
    if formulation not in ("displacement", "mixed"):
        raise ValueError(f"plate_hole: formulation must be 'displacement' or 'mixed', got {formulation!r}")
    mixed = formulation == "mixed"
    if fe_order not in (1, 2):
        raise ValueError(f"plate_hole: fe_order must be 1 or 2, got {fe_order}")
    m = _read_mesh(mesh)
    pts = m.points[:, :2]
    lo, hi = pts.min(0), pts.max(0)
    hole = pts[m.point_tags["hole"]]
    centre = hole.mean(0)
    radius = float(np.linalg.norm(hole - centre, axis=1).mean())
    cx, cy = (float(c) for c in centre)
    if not (np.allclose(centre, 0.5 * (lo + hi), atol=1e-6 * (hi - lo).max())):
        raise ValueError(
            f"plate_hole: the hole (centre {centre}) must sit at the plate's centre {0.5 * (lo + hi)}, "
            "where the mirror symmetries hold"
        )
    segments = {
        "mid_x": [((cx, lo[1]), (cx, cy - radius)), ((cx, cy + radius), (cx, hi[1]))],
        "mid_y": [((lo[0], cy), (cx - radius, cy)), ((cx + radius, cy), (hi[0], cy))],
    }
    domain = MeshDomain(m, segments=segments)
    scale = p["traction"] / p["E"]

    def hole_normal(x):  # outward from the material: towards the hole's centre
        d = torch.stack([cx - x[:, 0], cy - x[:, 1]], 1)
        return d / d.norm(dim=1, keepdim=True)

    def density(u, grad_u, x, p):
        sxx, syy, sxy = stress(grad_u, p)
        exy2 = grad_u[:, 0, 1] + grad_u[:, 1, 0]
        return 0.5 * (sxx * grad_u[:, 0, 0] + syy * grad_u[:, 1, 1] + sxy * exy2)

    def derived(u, grad_u, x, p):
        if mixed:  # the stresses are outputs; von Mises from them
            return {"von_mises": von_mises(u[:, 2], u[:, 3], u[:, 4])}
        sxx, syy, sxy = stress(grad_u, p)
        return {"sxx": sxx, "syy": syy, "sxy": sxy, "von_mises": von_mises(sxx, syy, sxy)}

    def reference() -> Field:
        from ..solvers.elasticity import plate_with_hole_reference

        res = plate_with_hole_reference(m, p["E"], p["nu"], p["traction"], order=fe_order)
        disp = res["displacement"].copy()
        disp[:, 0] -= 0.5 * disp[res["pinned_nodes"][1], 0]  # rigid x-translation to the symmetric solution
        vals = np.column_stack([disp, res["sigma_xx"], res["sigma_yy"], res["sigma_xy"], res["von_mises"]])
        return Field(vals, m, ("ux", "uy") + STRESSES)

    sig = _stress_outputs if mixed else _sigma
    if mixed:
        equations = {"equilibrium": _mixed_equilibrium, "constitutive": _constitutive}
    else:
        equations = {"equilibrium_x": _equilibrium(0), "equilibrium_y": _equilibrium(1)}
    outputs = ("ux", "uy") + (("sxx", "syy", "sxy") if mixed else ())
    t = p["traction"]

    def distance(x):  # u = (T/E)(x − cx, y − cy)·N_u; mixed: σ = T·N_σ
        d = [scale * (x[:, 0] - cx), scale * (x[:, 1] - cy)]
        return torch.stack(d + [torch.full_like(x[:, 0], t)] * (3 if mixed else 0), 1)

    return Problem(
        name="plate_hole",
        inputs=("x", "y"),
        outputs=outputs,
        params=p,
        domain=domain,
        equations=equations,
        conditions={
            "left": Condition("boundary:left", _traction(_const_normal(-1.0, 0.0), (-1.0, 0.0), sig)),
            "right": Condition("boundary:right", _traction(_const_normal(1.0, 0.0), (1.0, 0.0), sig)),
            "top": Condition("boundary:top", _traction(_const_normal(0.0, 1.0), sigma=sig)),
            "bottom": Condition("boundary:bottom", _traction(_const_normal(0.0, -1.0), sigma=sig)),
            "hole": Condition("boundary:hole", _traction(hole_normal, sigma=sig)),
            "symmetry_x": Condition("boundary:mid_x", lambda du, p: du(out="ux") / scale),
            "symmetry_y": Condition("boundary:mid_y", lambda du, p: du(out="uy") / scale),
        },
        reference=reference,
        forms={}
        if mixed
        else {
            "energy": EnergyForm(
                density,
                boundary={
                    "left": lambda u, x, p: p["traction"] * u[:, 0],
                    "right": lambda u, x, p: -p["traction"] * u[:, 0],
                },
            )
        },
        constraint=HardConstraint(
            distance=distance,
            lift=lambda x: torch.zeros(len(x), len(outputs), dtype=x.dtype, device=x.device),
            covers=("symmetry_x", "symmetry_y"),
        ),
        derived=derived,
        derived_names=("von_mises",) if mixed else STRESSES,
        primary=("ux", "uy"),
    )
