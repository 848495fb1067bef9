"""Finite-element reference solver for 2-D linear elasticity in plane stress (scikit-fem).

:func:`solve_plane_stress` solves the displacement formulation on a sciml triangle
:class:`~sciml.mesh.Mesh` with P1 or P2 vector Lagrange elements;
:func:`plate_with_hole_reference` is the plate-with-a-hole benchmark the energy-form
and strong-form PINNs are compared against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Real

import numpy as np
from scipy.sparse.linalg import factorized
from skfem import Basis, BilinearForm, ElementTriP1, ElementTriP2, ElementVector, LinearForm, MeshTri, condense, solve
from skfem.helpers import ddot, dot, eye, sym_grad, trace

from ..mesh import Mesh

__all__ = ["element_stress", "plane_stress_lame", "plate_with_hole_reference", "solve_plane_stress", "von_mises"]

Value = float | Callable[[np.ndarray, np.ndarray], np.ndarray]
VectorValue = tuple[float, float] | Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def plane_stress_lame(E: float, nu: float) -> tuple[float, float]:
    r"""Plane-stress Lamé parameters :math:`(\lambda^*, \mu)`.

    .. math::

        \lambda^* = \frac{E\nu}{1-\nu^2}, \qquad \mu = \frac{E}{2(1+\nu)},

    so that :math:`\sigma = \lambda^* \operatorname{tr}(\varepsilon) I + 2\mu\varepsilon`
    reproduces :math:`\sigma_{zz} = 0` (the in-plane block of 3-D Hooke's law after
    eliminating :math:`\varepsilon_{zz} = -\nu(\sigma_{xx}+\sigma_{yy})/E`).
    """
    return E * nu / (1.0 - nu**2), E / (2.0 * (1.0 + nu))


def von_mises(sxx, syy, sxy):
    r"""Plane-stress von Mises stress.

    .. math::

        \sigma_{vm} = \sqrt{\sigma_{xx}^2 - \sigma_{xx}\sigma_{yy} + \sigma_{yy}^2 + 3\sigma_{xy}^2}
    """
    return np.sqrt(np.maximum(sxx**2 - sxx * syy + syy**2 + 3.0 * sxy**2, 0.0))


# ---- input checks ------------------------------------------------------------------------
def _check_material(E, nu) -> tuple[float, float]:
    if not isinstance(E, Real) or not np.isfinite(float(E)) or float(E) <= 0:
        raise ValueError(f"Young's modulus E must be a finite number > 0, got {E!r}")
    if not isinstance(nu, Real) or not np.isfinite(float(nu)) or not -1.0 < float(nu) < 0.5:
        raise ValueError(f"Poisson ratio nu must satisfy -1 < nu < 0.5, got {nu!r}")
    return float(E), float(nu)


def _tag_nodes(mesh: Mesh, tag: str, what: str) -> np.ndarray:
    if tag not in mesh.point_tags:
        raise ValueError(f"unknown {what} tag {tag!r}; the mesh has point tags {sorted(mesh.point_tags)}")
    return mesh.point_tags[tag]


def _triangles(mesh: Mesh) -> np.ndarray:
    if mesh.dim != 2:
        raise ValueError(f"plane stress needs a 2-D mesh, got points of dimension {mesh.dim}")
    tris = [c for t, c in mesh.cells if t == "triangle"]
    if not tris:
        kinds = sorted({t for t, _ in mesh.cells})
        raise ValueError(f"mesh has no triangle cells (found {kinds}); split quads into triangles first")
    return np.concatenate(tris)


def _eval_vector(value, x, y, where: str):
    """A constant 2-vector or a callable ``(x, y) -> (vx, vy)`` evaluated and broadcast to ``x``."""
    if callable(value):
        vx, vy = value(x, y)
    else:
        v = np.asarray(value, dtype=np.float64)
        if v.shape != (2,):
            raise ValueError(f"{where} must be a 2-vector (tx, ty) or a callable, got {value!r}")
        vx, vy = v
    out = np.stack([np.broadcast_to(vx, x.shape), np.broadcast_to(vy, x.shape)]).astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{where} must be finite (found NaN or inf)")
    return out


# ---- the solver --------------------------------------------------------------------------
def solve_plane_stress(
    mesh: Mesh,
    E: float,
    nu: float,
    dirichlet: Mapping[str, Mapping[int, Value]],
    traction: Mapping[str, VectorValue] | None = None,
    order: int = 1,
    *,
    body_force: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict:
    r"""Linear elasticity in plane stress with P1 or P2 triangles (scikit-fem).

    Finds :math:`u \in V_g = \{v \in H^1(\Omega)^2: v_c = g_c \text{ on } \Gamma_{D,c}\}` with

    .. math::

        \int_\Omega \sigma(u) : \varepsilon(v)\,dx
        = \int_\Omega f\cdot v\,dx + \int_{\Gamma_N} t\cdot v\,ds
        \quad \forall v \in V_0,

    :math:`\varepsilon(u) = \tfrac12(\nabla u + \nabla u^T)` and
    :math:`\sigma = \lambda^*\operatorname{tr}(\varepsilon) I + 2\mu\varepsilon`,
    :math:`\lambda^* = E\nu/(1-\nu^2)`, :math:`\mu = E/(2(1+\nu))` (unit thickness).
    Boundaries not named in ``dirichlet`` or ``traction`` are traction free.

    Parameters
    ----------
    mesh : Mesh
        2-D mesh with ``"triangle"`` cells; boundaries are ``mesh.point_tags``.
    E, nu : float
        Young's modulus (> 0) and Poisson ratio (-1 < nu < 0.5).
    dirichlet : dict
        ``{tag: {component: value}}``; ``{"left": {0: 0.0}}`` fixes :math:`u_x = 0` at the
        nodes tagged ``"left"``. Components are 0 (x) or 1 (y); a value is a number or a
        callable ``g(x, y) -> array`` evaluated at the DOF locations. For ``order=2`` the
        edge (mid-side) DOFs of the boundary edges whose two end nodes are both in the tag
        are constrained too. A tag may be a single node (a point support).
    traction : dict, optional
        ``{tag: (tx, ty)}``: surface traction :math:`t = \sigma n` (force per length) on the
        boundary edges whose end nodes are both in the tag, integrated exactly for a
        constant vector. A callable ``(x, y) -> (tx, ty)`` is also accepted.
    order : {1, 2}
        Polynomial degree of the Lagrange elements.
    body_force : callable, optional
        ``f(x, y) -> (fx, fy)`` (force per area), evaluated at quadrature points.

    Returns
    -------
    dict
        ``displacement`` (n, 2) at the mesh nodes; ``sigma_xx``, ``sigma_yy``, ``sigma_xy``,
        ``von_mises`` (n,) at the nodes; ``stress`` (n, 3) = (xx, yy, xy);
        ``strain_energy`` :math:`U = \tfrac12\int\sigma:\varepsilon\,dx = \tfrac12 u^T K u`;
        ``external_work`` :math:`W = \int f\cdot u\,dx + \int t\cdot u\,ds` (for homogeneous
        Dirichlet data :math:`W = 2U` and the potential energy is :math:`U - W = -U`);
        ``n_dofs``; ``order``; ``basis`` (the skfem vector basis) and ``dofs`` (the
        solution coefficients) for post-processing (errors, probes).

        Nodal stresses are the :math:`L^2` projection of the discrete element stress
        :math:`\sigma(u_h)` onto the continuous scalar Lagrange space of the same order
        (consistent mass matrix), read at the vertices; von Mises is computed from the
        projected components. Mesh nodes used by no triangle get NaN.

    Raises
    ------
    ValueError
        Bad material constants, unknown tags (the message lists the mesh's tags), bad
        components or values, conflicting Dirichlet values, a traction tag without
        boundary edges, non-triangle meshes, or Dirichlet conditions that leave a
        rigid-body mode (translation or rotation) free.
    """
    E, nu = _check_material(E, nu)
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    traction = dict(traction or {})
    if not isinstance(dirichlet, Mapping):
        raise ValueError(f"dirichlet must be a dict {{tag: {{component: value}}}}, got {type(dirichlet).__name__}")
    for tag in list(dirichlet) + list(traction):
        _tag_nodes(mesh, tag, "dirichlet" if tag in dirichlet else "traction")

    # skfem mesh on the used nodes only (gmsh files may keep unused geometry points).
    tri = _triangles(mesh)
    used = np.unique(tri)
    new_id = np.full(mesh.n_points, -1, dtype=np.int64)
    new_id[used] = np.arange(used.size)
    m = MeshTri(np.ascontiguousarray(mesh.points[used].T), np.ascontiguousarray(new_id[tri].T))
    elem = ElementVector(ElementTriP1() if order == 1 else ElementTriP2())
    basis = Basis(m, elem)
    lam, mu = plane_stress_lame(E, nu)

    # boundary facets, as (2, n_bf) node pairs in skfem numbering
    bfacets = m.boundary_facets()
    bnodes = m.facets[:, bfacets]

    def tag_entities(tag: str) -> tuple[np.ndarray, np.ndarray]:
        nodes = new_id[mesh.point_tags[tag]]
        nodes = nodes[nodes >= 0]
        facets = bfacets[np.isin(bnodes, nodes).all(axis=0)]
        return nodes, facets

    # ---- Dirichlet DOFs and values
    fixed: dict[int, float] = {}
    for tag, comps in dirichlet.items():
        if not isinstance(comps, Mapping):
            raise ValueError(f"dirichlet[{tag!r}] must be a dict {{component: value}}, got {comps!r}")
        nodes, facets = tag_entities(tag)
        for c, val in comps.items():
            if c not in (0, 1):
                raise ValueError(f"dirichlet[{tag!r}]: component must be 0 (x) or 1 (y), got {c!r}")
            dofs = basis.nodal_dofs[c][nodes]
            if order == 2:
                dofs = np.concatenate([dofs, basis.facet_dofs[c][facets]])
            if callable(val):
                x, y = basis.doflocs[:, dofs]
                vals = np.broadcast_to(np.asarray(val(x, y), dtype=np.float64), dofs.shape)
            elif isinstance(val, Real):
                vals = np.full(dofs.shape, float(val))
            else:
                raise ValueError(f"dirichlet[{tag!r}][{c}] must be a number or a callable, got {val!r}")
            if not np.all(np.isfinite(vals)):
                raise ValueError(f"dirichlet[{tag!r}][{c}] must be finite (found NaN or inf)")
            for d, v in zip(dofs.tolist(), vals.tolist()):
                old = fixed.setdefault(d, v)
                if abs(old - v) > 1e-12 * max(1.0, abs(old), abs(v)):
                    raise ValueError(
                        f"conflicting Dirichlet values for u_{'xy'[c]} at {basis.doflocs[:, d]}: "
                        f"{old} and {v} (tag {tag!r})"
                    )
    D = np.fromiter(fixed.keys(), dtype=np.int64, count=len(fixed))
    _check_rigid_modes(basis, D)

    # ---- assemble K and the load vector
    K = _stiffness(lam, mu).assemble(basis)
    f = np.zeros(basis.N)
    if body_force is not None:
        xq, yq = np.asarray(basis.global_coordinates())
        f += _load().assemble(basis, g=_eval_vector(body_force, xq, yq, "body_force"))
    for tag, t in traction.items():
        _, facets = tag_entities(tag)
        if facets.size == 0:
            raise ValueError(f"traction tag {tag!r} has no boundary edges (needs two adjacent tagged nodes)")
        fb = basis.boundary(facets=facets)
        xq, yq = np.asarray(fb.global_coordinates())
        f += _load().assemble(fb, g=_eval_vector(t, xq, yq, f"traction[{tag!r}]"))

    u = np.zeros(basis.N)
    u[D] = np.fromiter(fixed.values(), dtype=np.float64, count=len(fixed))
    u = solve(*condense(K, f, x=u, D=D))

    # ---- post-processing
    energy = 0.5 * float(u @ (K @ u))
    work = float(f @ u)
    stress_nodes = _nodal_stress(basis, u, lam, mu, order)
    n = mesh.n_points
    disp = np.full((n, 2), np.nan)
    disp[used] = u[basis.nodal_dofs].T
    stress = np.full((n, 3), np.nan)
    stress[used] = stress_nodes
    sxx, syy, sxy = stress.T
    return {
        "displacement": disp,
        "sigma_xx": sxx.copy(),
        "sigma_yy": syy.copy(),
        "sigma_xy": sxy.copy(),
        "von_mises": von_mises(sxx, syy, sxy),
        "stress": stress,
        "strain_energy": energy,
        "external_work": work,
        "n_dofs": int(basis.N),
        "order": order,
        "basis": basis,
        "dofs": u,
    }


def _stiffness(lam: float, mu: float):
    @BilinearForm
    def a(u, v, w):
        eps = sym_grad(u)
        return ddot(lam * eye(trace(eps), 2) + 2.0 * mu * eps, sym_grad(v))

    return a


def _load():
    @LinearForm
    def ell(v, w):
        return dot(w.g, v)

    return ell


def element_stress(basis, u: np.ndarray, lam: float, mu: float) -> np.ndarray:
    r"""Stress :math:`(\sigma_{xx}, \sigma_{yy}, \sigma_{xy})` of the FE field ``u`` at quadrature points.

    ``lam``, ``mu`` are the plane-stress Lamé parameters (:func:`plane_stress_lame`);
    returns an array of shape (3, n_elems, n_qp).
    """
    g = basis.interpolate(u).grad  # g[i, j] = d u_i / d x_j
    exx, eyy, exy = g[0, 0], g[1, 1], 0.5 * (g[0, 1] + g[1, 0])
    tr = exx + eyy
    return np.stack([lam * tr + 2 * mu * exx, lam * tr + 2 * mu * eyy, 2 * mu * exy])


def _nodal_stress(basis, u, lam, mu, order) -> np.ndarray:
    r"""Vertex values of the :math:`L^2` projection of the element stress.

    Solves :math:`M s_k = (\sigma_k(u_h), \phi_i)` with the consistent scalar P1/P2 mass matrix.
    """
    sb = basis.with_element(ElementTriP1() if order == 1 else ElementTriP2())
    M = BilinearForm(lambda p, q, w: p * q).assemble(sb)
    rhs = LinearForm(lambda q, w: w.s * q)
    lu = factorized(M.tocsc())
    sig = element_stress(basis, u, lam, mu)
    return np.stack([lu(rhs.assemble(sb, s=s))[sb.nodal_dofs[0]] for s in sig], axis=1)


def _check_rigid_modes(basis, D: np.ndarray) -> None:
    r"""Raise unless the constrained DOFs ``D`` pin all three rigid-body modes.

    The modes :math:`r_1 = (1, 0)`, :math:`r_2 = (0, 1)`, :math:`r_3 = (-(y-\bar y), x-\bar x)`
    lie in the FE space; a combination vanishing on every constrained DOF is a null vector
    of the condensed stiffness matrix. So the rows of :math:`R` at ``D`` must have rank 3.
    """
    comp = np.zeros(basis.N, dtype=np.int64)
    for c in (0, 1):
        comp[basis.nodal_dofs[c]] = c
        if basis.facet_dofs.size:
            comp[basis.facet_dofs[c]] = c
    xy = basis.doflocs - basis.doflocs.mean(axis=1, keepdims=True)
    scale = np.abs(xy).max() or 1.0
    R = np.zeros((basis.N, 3))
    R[comp == 0, 0] = 1.0
    R[comp == 1, 1] = 1.0
    R[comp == 0, 2] = -xy[1, comp == 0] / scale
    R[comp == 1, 2] = xy[0, comp == 1] / scale
    rank = np.linalg.matrix_rank(R[D]) if D.size else 0
    if rank < 3:
        raise ValueError(
            f"the Dirichlet conditions leave {3 - rank} rigid-body mode(s) free (x/y translation, "
            "rotation): the stiffness matrix is singular. Fix both components somewhere and one "
            "more component at a second point (e.g. u_x = 0 on 'left' plus u_y = 0 at one node)."
        )


# ---- the benchmark ------------------------------------------------------------------------
def plate_with_hole_reference(
    mesh: Mesh, E: float = 1000.0, nu: float = 0.3, traction: float = 100.0, order: int = 2
) -> dict:
    r"""Plate with a central hole in uniaxial tension: the FE reference for the PINNs.

    Geometry: ``meshes/plate_hole.msh``, the full plate :math:`[0,1]^2` with a hole of
    radius 0.2 at (0.5, 0.5) (tags ``left``, ``right``, ``bottom``, ``top``, ``hole``).
    Loads: :math:`t = (-\sigma, 0)` on ``left`` and :math:`(\sigma, 0)` on ``right``, a
    self-equilibrated pair; ``top``, ``bottom`` and ``hole`` are traction free.
    Supports (statically determinate, so they carry no reaction force): the ``left`` node
    nearest to (0, 0.5) is pinned (:math:`u_x = u_y = 0`) and the ``right`` node nearest
    to (1, 0.5) has :math:`u_y = 0`. They only remove the rigid-body motion; stresses are
    those of the free plate, and on a mesh with nodes at (0, 0.5), (1, 0.5) the exact
    displacement is mirror symmetric about :math:`y = 0.5`
    (:math:`u_x(x, 1-y) = u_x(x, y)`, :math:`u_y(x, 1-y) = -u_y(x, y)`). This is the
    full-plate equivalent of the quarter model with symmetry rollers that DEM/KINN-style
    studies use (same stresses, displacements up to a rigid translation in x).

    Expected peak: :math:`\sigma_{vm} = \sigma_{xx} = K_{t}\,\sigma` at the top and bottom of
    the hole. For a long strip with :math:`d/W = 0.4`, Peterson's fit to Howland's solution
    gives :math:`K_{tg} = 3.73` (this solver: 3.735 on a 4 W long strip). The square plate's
    loaded ends lie only 0.3 W from the hole, which raises it (short-plate effect, Troyani
    et al., J. Mech. Des. 2002): about 4.77 with P2 on a fine mesh, 4.72 (P2) / 4.60 (P1)
    with nodal stresses on ``meshes/plate_hole.msh``.

    Parameters
    ----------
    mesh : Mesh
        Needs point tags ``left`` and ``right``.
    E, nu : float
        Material (defaults as in the PINN cases: E = 1000, nu = 0.3).
    traction : float
        Applied tension :math:`\sigma` (force per length, unit thickness).
    order : {1, 2}
        Element degree; P2 by default for an accurate reference.

    Returns
    -------
    dict
        :func:`solve_plane_stress`'s result plus ``scf`` = max nodal von Mises / :math:`\sigma`,
        ``applied_traction`` and ``pinned_nodes`` = (left pin, right roller) node indices.
    """
    for tag in ("left", "right"):
        _tag_nodes(mesh, tag, "required")
    if not isinstance(traction, Real) or not np.isfinite(traction) or traction == 0:
        raise ValueError(f"traction must be a finite non-zero number, got {traction!r}")
    lo, hi = mesh.points.min(axis=0), mesh.points.max(axis=0)
    ymid = 0.5 * (lo[1] + hi[1])

    def nearest(tag):
        idx = mesh.point_tags[tag]
        return int(idx[np.argmin(np.abs(mesh.points[idx, 1] - ymid))])

    pin, roller = nearest("left"), nearest("right")
    tags = {**mesh.point_tags, "_pin": np.array([pin]), "_roller": np.array([roller])}
    if "_pin" in mesh.point_tags or "_roller" in mesh.point_tags:
        raise ValueError("mesh already has point tags '_pin'/'_roller', which this function adds")
    m2 = Mesh(mesh.points, mesh.cells, tags, mesh.cell_tags)
    s = float(traction)
    res = solve_plane_stress(
        m2,
        E,
        nu,
        dirichlet={"_pin": {0: 0.0, 1: 0.0}, "_roller": {1: 0.0}},
        traction={"left": (-s, 0.0), "right": (s, 0.0)},
        order=order,
    )
    res["scf"] = float(np.nanmax(res["von_mises"]) / abs(s))
    res["applied_traction"] = s
    res["pinned_nodes"] = (pin, roller)
    return res
