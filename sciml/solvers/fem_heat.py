r"""P1 finite elements for the heat / advection–diffusion equation on a triangle mesh.

.. math:: u_t + b\cdot\nabla u = \kappa\,\Delta u + f \quad\text{in } \Omega, \qquad
          u = 0 \text{ on } \Gamma_D, \qquad \kappa\,\partial_n u = 0 \text{ on } \partial\Omega\setminus\Gamma_D,

with a per-sample diffusivity :math:`\kappa > 0`, a constant velocity :math:`b = (b_x, b_y)` and a
time-independent source :math:`f`. Galerkin P1 (linear triangles) in space gives

.. math:: M\dot u + (\kappa K + b_x C_x + b_y C_y)\,u = M f,

with the consistent mass :math:`M_{ij} = \int\phi_i\phi_j`, the stiffness
:math:`K_{ij} = \int\nabla\phi_i\cdot\nabla\phi_j` and the convection matrices
:math:`(C_x)_{ij} = \int\phi_i\,\partial_x\phi_j`, :math:`(C_y)_{ij} = \int\phi_i\,\partial_y\phi_j`,
assembled vectorized with numpy/scipy.sparse. The θ-scheme (θ = ½: Crank–Nicolson, second order;
θ = 1: backward Euler, first order but L-stable)

.. math:: (M + \theta h A)\,u^{n+1} = (M - (1-\theta) h A)\,u^n + h M f

is solved on the free (non-Dirichlet) nodes with one sparse LU factorization per distinct
(κ, b, h) that is reused for every step and, as a multi-column right-hand side, for every sample
sharing κ and b. Dirichlet nodes (and mesh points used by no triangle) hold 0 at every recorded
time, including t = 0; the rest of the boundary is insulated (natural condition).

Notes
-----
The convection term is plain Galerkin (no upwinding). It is accurate while the mesh Péclet number
:math:`\mathrm{Pe}_h = |b|\,h/(2\kappa)` stays of order one; for :math:`\mathrm{Pe}_h \gg 1` and
sharp outflow boundary layers (width κ/|b| below the mesh size) it produces node-to-node
oscillations. On ``meshes/plate_hole.msh`` (edges 0.019–0.060, mean 0.037) the default
``mesh_heat`` ranges (|b| ≤ 0.5, κ ≥ 0.005) give :math:`\mathrm{Pe}_h \le 3`, and the measured
undershoots stay below 1e-4 of max|u0|.

By default the velocity is uniform and does not see obstacles: where it points into an insulated
hole, the equation's non-conservative form carries u out of the domain there (the total changes
by :math:`-\oint (b\cdot n)\,u\,ds`), so the hole acts as a sink on its upstream side. ``flow``
replaces the uniform field by nodal fields, e.g. :func:`cylinder_flow` (potential flow past the
hole, tangential on it), for which the hole is a true insulated wall.
Crank–Nicolson is A-stable but not L-stable: for steps with :math:`h\kappa\lambda_{\max} \gg 1`
the highest mesh modes of non-smooth data decay slowly with alternating sign; use a smaller
``dt`` (or ``theta`` slightly above ½) in that regime.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

__all__ = ["heat_matrices", "convection_matrices", "cylinder_flow", "solve_heat"]

DEFAULT_DIRICHLET = ("left", "right", "bottom", "top")


def _triangles(mesh) -> tuple[np.ndarray, np.ndarray]:
    """(points (n, 2), triangles (m, 3)) of a mesh made of linear triangles."""
    pts = np.asarray(mesh.points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise ValueError(f"P1 heat solver needs a 2D mesh; points have shape {pts.shape}")
    if pts.shape[1] == 3:
        if not np.allclose(pts[:, 2], pts[0, 2]):
            raise ValueError("P1 heat solver needs a planar 2D mesh; the points' z coordinates vary")
        pts = pts[:, :2]
    blocks = [np.asarray(c, dtype=np.int64) for t, c in mesh.cells if t == "triangle"]
    others = sorted({t for t, _ in mesh.cells if t not in ("triangle", "line", "vertex")})
    if others:
        raise ValueError(f"P1 heat solver supports linear triangles only; the mesh also has {others} cells")
    if not blocks or sum(len(b) for b in blocks) == 0:
        raise ValueError(
            f"P1 heat solver needs a mesh with 'triangle' cells; the mesh has {sorted({t for t, _ in mesh.cells})}"
        )
    return pts, np.concatenate(blocks, axis=0)


def _geometry(mesh):
    """Points, triangles, areas (m,) and gradients of the hat functions (m, 3, 2)."""
    pts, tri = _triangles(mesh)
    x = pts[tri]  # (m, 3, 2)
    d1, d2 = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    scale = np.maximum(np.abs(d1).max(1), np.abs(d2).max(1)) ** 2
    bad = np.abs(det) <= 1e-12 * scale
    if bad.any():
        raise ValueError(f"mesh has {int(bad.sum())} degenerate (zero-area) triangles, e.g. cell {int(np.argmax(bad))}")
    # ∇φ1 = J^{-T} e1, ∇φ2 = J^{-T} e2 with J = [d1 d2]; ∇φ0 = −∇φ1 − ∇φ2
    g1 = np.stack([d2[:, 1], -d2[:, 0]], 1) / det[:, None]
    g2 = np.stack([-d1[:, 1], d1[:, 0]], 1) / det[:, None]
    grads = np.stack([-g1 - g2, g1, g2], 1)
    return pts, tri, 0.5 * np.abs(det), grads


def _assemble(tri: np.ndarray, local: np.ndarray, n: int) -> sp.csr_matrix:
    """Sum element matrices ``local (m, 3, 3)`` into an (n, n) CSR matrix."""
    rows = np.repeat(tri, 3, axis=1).ravel()
    cols = np.tile(tri, (1, 3)).ravel()
    return sp.csr_matrix((local.ravel(), (rows, cols)), shape=(n, n))


def heat_matrices(mesh) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """P1 consistent mass and stiffness matrices ``(M, K)``, both (n_points, n_points) CSR.

    ``M[i, j] = ∫ φ_i φ_j`` and ``K[i, j] = ∫ ∇φ_i·∇φ_j`` over the mesh's triangles (other cell
    blocks such as boundary lines are ignored; quads or tetrahedra raise ValueError). Points used
    by no triangle get empty rows.
    """
    pts, tri, area, grads = _geometry(mesh)
    mloc = area[:, None, None] / 12.0 * (np.ones((3, 3)) + np.eye(3))
    kloc = area[:, None, None] * np.einsum("eid,ejd->eij", grads, grads)
    return _assemble(tri, mloc, len(pts)), _assemble(tri, kloc, len(pts))


def convection_matrices(mesh, flow=None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """P1 Galerkin convection matrices ``(Cx, Cy)``: ``Cx[i, j] = ∫ φ_i w_x·∇φ_j`` (same for y).

    ``flow`` is ``None`` (uniform: ``w_x = (1, 0)``, ``w_y = (0, 1)``, so ``Cx[i, j] = ∫ φ_i ∂φ_j/∂x``)
    or a pair of nodal velocity fields ``(w_x, w_y)``, each ``(n_points, 2)`` and interpolated by
    P1; ``bx * Cx + by * Cy`` then discretizes ``b(x)·∇u`` for ``b(x) = bx w_x(x) + by w_y(x)``.
    """
    pts, tri, area, grads = _geometry(mesh)
    n = len(pts)
    if flow is None:
        fields = [np.broadcast_to(e, (n, 2)) for e in np.eye(2)]
    else:
        if len(flow) != 2:
            raise ValueError(f"flow must be a pair of nodal velocity fields (w_x, w_y); got {len(flow)} entries")
        fields = [np.asarray(w, dtype=np.float64) for w in flow]
        for w in fields:
            if w.shape != (n, 2) or not np.all(np.isfinite(w)):
                raise ValueError(
                    f"each flow field must be a finite ({n}, 2) array of nodal velocities; got shape {w.shape}"
                )
    mloc = area[:, None, None] / 12.0 * (np.ones((3, 3)) + np.eye(3))
    out = []
    for w in fields:
        # ∫_e φ_i (w·∇φ_j) = Σ_k M_e[i, k] w_k·∇φ_j with w = Σ_k w_k φ_k (∇φ_j constant on e)
        wg = np.einsum("ekd,ejd->ekj", w[tri], grads)  # w_k·∇φ_j
        out.append(_assemble(tri, np.einsum("eik,ekj->eij", mloc, wg), n))
    return out[0], out[1]


def cylinder_flow(points, centre, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Potential flow past a disk: nodal fields ``(w_x, w_y)``, each ``(n, 2)``, for unit far-field
    velocity along x and along y (complex velocity ``U − conj(U) R² / z̄²``, z relative to the centre).

    Divergence- and curl-free, tangential on the circle (``w·n = 0``), speed up to 2 on it, → U far away.
    """
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    z = (pts[:, 0] - centre[0]) + 1j * (pts[:, 1] - centre[1])
    if radius <= 0 or np.any(np.abs(z) < 1e-12):
        raise ValueError("cylinder_flow needs a positive radius and no point at the centre")
    out = []
    for U in (1.0 + 0j, 1j):
        dw = np.conj(U) - U * radius**2 / z**2  # dW/dz = u − i v
        out.append(np.stack([dw.real, -dw.imag], 1))
    return out[0], out[1]


def dirichlet_nodes(mesh, dirichlet: Sequence[str] | str | None) -> np.ndarray:
    """Sorted unique node indices of the named point tags (ValueError for unknown names)."""
    if dirichlet is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(dirichlet, str):
        dirichlet = (dirichlet,)
    names = list(dirichlet)
    bad = [t for t in names if not isinstance(t, str)]
    if bad:
        raise ValueError(f"dirichlet must be a sequence of tag names (strings), got {bad[0]!r}")
    unknown = [t for t in names if t not in mesh.point_tags]
    if unknown:
        raise ValueError(
            f"unknown boundary tag(s) {unknown} in dirichlet; the mesh's point tags are {sorted(mesh.point_tags)}"
        )
    if not names:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([np.asarray(mesh.point_tags[t], dtype=np.int64).ravel() for t in names]))


def _per_sample(name: str, v, batch: int, width: int | None) -> np.ndarray:
    """Broadcast a scalar / (width,) value to (B,) / (B, width), checking the shape."""
    a = np.asarray(v, dtype=np.float64)
    want = (batch,) if width is None else (batch, width)
    single = () if width is None else (width,)
    if a.shape == single:
        return np.broadcast_to(a, want).copy()
    if a.shape != want:
        forms = "a scalar or shape" if width is None else f"shape ({width},) or"
        raise ValueError(
            f"{name} must be {forms} ({', '.join(map(str, want))}) for {batch} samples; got shape {a.shape}"
        )
    return a.copy()


def solve_heat(
    mesh,
    u0,
    t_out,
    kappa,
    *,
    velocity=(0.0, 0.0),
    dirichlet=DEFAULT_DIRICHLET,
    dt: float,
    theta: float = 0.5,
    source=None,
    flow=None,
) -> np.ndarray:
    r"""Integrate :math:`u_t + b\cdot\nabla u = \kappa\Delta u + f` with P1 elements and the θ-scheme.

    Parameters
    ----------
    mesh : :class:`sciml.mesh.Mesh` of linear triangles (2D)
    u0 : ``(B, n_points)`` initial nodal values (or ``(n_points,)`` for one sample); values on
        Dirichlet nodes are replaced by 0
    t_out : ``(T,)`` strictly increasing output times, ``t_out[0] >= 0`` (the start time is 0;
        ``t_out[0] == 0`` records the initial state)
    kappa : diffusivity, a positive float or ``(B,)``
    velocity : constant velocity ``(bx, by)`` or ``(B, 2)``; zero (default) is pure heat
    dirichlet : point-tag names where u = 0 (default the unit square's ``left, right, bottom,
        top``); ``()`` or ``None`` makes every boundary insulated. The rest is homogeneous Neumann.
    dt : largest internal time step; each output interval is split into ``ceil(Δt / dt)`` equal
        steps (uniform output times therefore use a single step size and factorization per κ, b)
    theta : 0.5 Crank–Nicolson (default), 1 backward Euler; must lie in [0.5, 1]
    source : time-independent source f as nodal values ``(n_points,)`` or ``(B, n_points)``;
        ``None`` is f = 0
    flow : ``None`` (uniform velocity ``b``) or nodal fields ``(w_x, w_y)``, each ``(n_points, 2)``:
        a sample's velocity field is ``bx w_x(x) + by w_y(x)`` (e.g. :func:`cylinder_flow`, whose
        field is tangential on the hole); see :func:`convection_matrices`

    Returns
    -------
    ``(B, T, n_points)`` float64 nodal values at ``t_out`` (``(T, n_points)`` when ``u0`` is 1-D).
    """
    pts, tri = _triangles(mesh)
    n = len(pts)
    u0 = np.asarray(u0, dtype=np.float64)
    single = u0.ndim == 1
    if single:
        u0 = u0[None]
    if u0.ndim != 2 or u0.shape[1] != n:
        raise ValueError(f"u0 must have shape (B, {n}) (or ({n},)) for a mesh with {n} points; got {np.shape(u0)}")
    if not np.all(np.isfinite(u0)):
        raise ValueError("u0 has non-finite values")
    batch = u0.shape[0]
    t_out = np.asarray(t_out, dtype=np.float64)
    if t_out.ndim != 1 or t_out.size == 0:
        raise ValueError(f"t_out must be a non-empty 1-D array of times; got shape {t_out.shape}")
    if not np.all(np.isfinite(t_out)) or t_out[0] < 0:
        raise ValueError(f"t_out must be finite and start at t >= 0; got t_out[0] = {t_out[0]}")
    if np.any(np.diff(t_out) <= 0):
        k = int(np.argmax(np.diff(t_out) <= 0))
        raise ValueError(
            f"t_out must be strictly increasing; t_out[{k}] = {t_out[k]} >= t_out[{k + 1}] = {t_out[k + 1]}"
        )
    if (
        isinstance(dt, bool)
        or not isinstance(dt, (int, float, np.floating, np.integer))
        or not (np.isfinite(dt) and dt > 0)
    ):
        raise ValueError(f"dt must be a positive finite number; got {dt!r}")
    if (
        isinstance(theta, bool)
        or not isinstance(theta, (int, float, np.floating, np.integer))
        or not 0.5 <= theta <= 1.0
    ):
        raise ValueError(f"theta must be a number in [0.5, 1] (0.5 Crank–Nicolson, 1 backward Euler); got {theta!r}")
    kap = _per_sample("kappa", kappa, batch, None)
    if not np.all(np.isfinite(kap)) or np.any(kap <= 0):
        raise ValueError(f"kappa must be positive and finite; got min {kap.min()}")
    vel = _per_sample("velocity", velocity, batch, 2)
    if not np.all(np.isfinite(vel)):
        raise ValueError("velocity has non-finite values")
    f = None
    if source is not None:
        f = np.asarray(source, dtype=np.float64)
        if f.shape == (n,):
            f = np.broadcast_to(f, (batch, n))
        if f.shape != (batch, n):
            raise ValueError(f"source must have shape ({n},) or ({batch}, {n}); got {np.shape(source)}")
        if not np.all(np.isfinite(f)):
            raise ValueError("source has non-finite values")

    fixed = np.zeros(n, dtype=bool)
    fixed[dirichlet_nodes(mesh, dirichlet)] = True
    used = np.zeros(n, dtype=bool)
    used[tri.ravel()] = True
    free = np.nonzero(used & ~fixed)[0]

    M, K = heat_matrices(mesh)
    Mf, Kf = M[free][:, free].tocsr(), K[free][:, free].tocsr()
    advect = np.any(vel != 0)
    if advect or flow is not None:  # (validates flow)
        Cx, Cy = convection_matrices(mesh, flow)
        Cxf, Cyf = Cx[free][:, free].tocsr(), Cy[free][:, free].tocsr()
    load = None if f is None else (M @ f.T)[free]  # (n_free, B)

    # steps: each output interval split into equal steps <= dt; step sizes equal to 1e-9 share a factorization
    starts = np.concatenate([[0.0], t_out[:-1]])
    spans = t_out - starts
    n_steps = np.where(spans > 0, np.maximum(1, np.ceil(spans / dt * (1 - 1e-12))), 0).astype(np.int64)
    hs: list[float] = []
    h_index = np.zeros(len(t_out), dtype=np.int64)
    for k, (span, m) in enumerate(zip(spans, n_steps)):
        if m == 0:
            continue
        h = span / m
        match = [i for i, g in enumerate(hs) if abs(g - h) <= 1e-9 * g]
        if not match:
            hs.append(h)
            match = [len(hs) - 1]
        h_index[k] = match[0]

    out = np.zeros((batch, len(t_out), n))
    if free.size == 0:  # every node is clamped
        return out[0] if single else out
    keys = np.column_stack([kap, vel])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    for g, (kg, bx, by) in enumerate(uniq):
        cols = np.nonzero(inverse.ravel() == g)[0]
        A = kg * Kf
        if advect and (bx != 0 or by != 0):
            A = A + bx * Cxf + by * Cyf
        steppers = []
        for h in hs:
            lu = splu((Mf + (theta * h) * A).tocsc())
            rhs = (Mf - ((1.0 - theta) * h) * A).tocsr()
            steppers.append((h, lu, rhs))
        u = u0[cols][:, free].T.copy()  # (n_free, b)
        lg = None if load is None else load[:, cols]
        for k in range(len(t_out)):
            if n_steps[k]:
                h, lu, rhs = steppers[h_index[k]]
                for _ in range(n_steps[k]):
                    r = rhs @ u
                    if lg is not None:
                        r += h * lg
                    u = lu.solve(r)
            out[cols[:, None], k, free[None, :]] = u.T
    return out[0] if single else out
