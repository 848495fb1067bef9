"""Quadrature rules: composite Gauss–Legendre on boxes, symmetric rules on triangle meshes.

Every rule returns ``(points, weights)`` with ``points`` of shape ``(n, d)`` and ``weights`` of
shape ``(n,)`` so that

.. math:: \\int_\\Omega f(x)\\,dx \\approx \\sum_i w_i f(x_i).
"""

from __future__ import annotations

import numpy as np

from .mesh import Mesh

# symmetric triangle rules on the reference triangle: degree -> (barycentric coords (q, 3), weights (q,))
# the weights sum to 1 (they are multiplied by the cell area)
_A4, _B4 = 0.445948490915965, 0.091576213509771  # 6-point degree-4 rule (Strang & Fix / Dunavant)
_W4a, _W4b = 0.223381589678011, 0.109951743655322


def _perms(a: float) -> np.ndarray:
    b = 1.0 - 2.0 * a
    return np.array([[a, a, b], [a, b, a], [b, a, a]])


TRIANGLE_RULES: dict[int, tuple[np.ndarray, np.ndarray]] = {
    1: (np.array([[1 / 3, 1 / 3, 1 / 3]]), np.array([1.0])),
    2: (_perms(1 / 6), np.full(3, 1 / 3)),
    4: (np.vstack([_perms(_A4), _perms(_B4)]), np.array([_W4a] * 3 + [_W4b] * 3)),
}


def gauss_legendre_grid(bounds, n_cells, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite tensor-product Gauss–Legendre rule on a box.

    Each axis ``[lo, hi]`` is cut into ``n_cells`` equal cells of width ``h``, each carrying the
    ``order``-point Gauss–Legendre rule, exact for polynomials of degree ``2·order − 1`` per axis;
    for smooth integrands the error is :math:`O(h^{2\\,\\mathrm{order}})`.

    Parameters
    ----------
    bounds : ((lo, hi), ...) per axis (1D or 2D; any dimension works)
    n_cells : cells per axis, an int or one int per axis
    order : Gauss points per cell and axis (>= 1)

    Returns
    -------
    points : (prod(n_cells) · order^d, d), weights : (prod(n_cells) · order^d,)
    """
    bounds = np.asarray(bounds, dtype=np.float64).reshape(-1, 2)
    d = len(bounds)
    cells = np.broadcast_to(np.asarray(n_cells, dtype=int), (d,))
    if order < 1 or (cells < 1).any():
        raise ValueError(f"gauss_legendre_grid needs order >= 1 and n_cells >= 1, got {order}, {n_cells}")
    if (bounds[:, 1] <= bounds[:, 0]).any():
        raise ValueError(f"bounds must be increasing, got {bounds.tolist()}")
    t, w = np.polynomial.legendre.leggauss(order)  # on [-1, 1]
    axes_x, axes_w = [], []
    for (lo, hi), n in zip(bounds, cells):
        h = (hi - lo) / n
        left = lo + h * np.arange(n)
        axes_x.append((left[:, None] + 0.5 * h * (t + 1.0)[None, :]).ravel())
        axes_w.append(np.tile(0.5 * h * w, n))
    X = np.meshgrid(*axes_x, indexing="ij")
    W = np.meshgrid(*axes_w, indexing="ij")
    return np.stack([x.ravel() for x in X], axis=-1), np.prod([v.ravel() for v in W], axis=0)


def triangle_quadrature(mesh: Mesh, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric rule on every triangle of ``mesh``, mapped by the cell's affine map.

    With barycentric points :math:`\\lambda_q` and reference weights :math:`\\hat w_q`
    (:math:`\\sum_q \\hat w_q = 1`), cell :math:`K` with vertices :math:`p_0, p_1, p_2` gets
    :math:`x_{Kq} = \\sum_j \\lambda_{qj} p_j` and :math:`w_{Kq} = |K|\\,\\hat w_q`.

    Parameters
    ----------
    mesh : a 2D Mesh with ``triangle`` cells
    order : polynomial degree the rule must integrate exactly: 1 (centroid), 2 (3 points) or
        3–4 (6 points, degree 4)

    Returns
    -------
    points : (n_triangles · q, 2), weights : (n_triangles · q,)
    """
    if not 1 <= order <= 4:
        raise ValueError(f"triangle_quadrature: order must be 1..4, got {order}")
    tris = [c for t, c in mesh.cells if t == "triangle"]
    if not tris:
        raise ValueError("triangle_quadrature needs a mesh with triangle cells")
    conn = np.concatenate(tris)
    lam, w = TRIANGLE_RULES[min(k for k in TRIANGLE_RULES if k >= order)]
    P = mesh.points[conn][..., :2]  # (c, 3, 2)
    e1, e2 = P[:, 1] - P[:, 0], P[:, 2] - P[:, 0]
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    pts = np.einsum("qj,cjd->cqd", lam, P).reshape(-1, 2)
    return pts, (area[:, None] * w[None, :]).ravel()


def line_quadrature(mesh: Mesh, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``order``-point Gauss–Legendre on every ``line`` cell of a 1D mesh: (n, 1), (n,)."""
    lines = [c for t, c in mesh.cells if t == "line"]
    if not lines or mesh.dim != 1:
        raise ValueError("line_quadrature needs a 1D mesh with line cells")
    t, w = np.polynomial.legendre.leggauss(order)
    P = mesh.points[np.concatenate(lines)][..., 0]  # (c, 2)
    a, b = P.min(1), P.max(1)
    x = 0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * t[None, :]
    return x.reshape(-1, 1), (0.5 * (b - a)[:, None] * w[None, :]).ravel()


def mesh_quadrature(mesh: Mesh, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature on a line or triangle mesh (``order``: Gauss points per line / triangle degree)."""
    if mesh.tdim == 1:
        return line_quadrature(mesh, order)
    return triangle_quadrature(mesh, order)


def segment_quadrature(pieces: np.ndarray, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``order``-point Gauss–Legendre on straight pieces ``(k, 2, d)`` (boundary edges, segments).

    Returns points ``(k · order, d)`` and weights with :math:`\\sum w = \\sum_k |b_k - a_k|`.
    """
    if order < 1:
        raise ValueError(f"segment_quadrature: order must be >= 1, got {order}")
    t, w = np.polynomial.legendre.leggauss(order)
    a, b = pieces[:, 0], pieces[:, 1]
    length = np.linalg.norm(b - a, axis=-1)
    s = 0.5 * (t + 1.0)
    pts = a[:, None, :] + s[None, :, None] * (b - a)[:, None, :]
    return pts.reshape(-1, pieces.shape[-1]), (0.5 * length[:, None] * w[None, :]).ravel()


def disk_quadrature(n_radial: int = 4, n_angular: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A product rule on the unit disk: Gauss–Legendre in the radius (with the Jacobian r) times the
    trapezoid rule in the angle. Exact for polynomials of degree ``min(2 n_radial - 2, n_angular - 1)``
    (the trapezoid rule integrates trigonometric polynomials of degree below ``n_angular`` exactly);
    the weights sum to π. Scale by R (points) and R² (weights) for a disk of radius R."""
    if n_radial < 1 or n_angular < 1:
        raise ValueError(f"n_radial and n_angular must be >= 1, got {n_radial}, {n_angular}")
    g, w = np.polynomial.legendre.leggauss(n_radial)
    r, wr = (g + 1) / 2, w / 2  # on [0, 1]
    theta = 2 * np.pi * np.arange(n_angular) / n_angular
    pts = np.stack([np.outer(r, np.cos(theta)), np.outer(r, np.sin(theta))], -1).reshape(-1, 2)
    weights = np.outer(wr * r, np.full(n_angular, 2 * np.pi / n_angular)).reshape(-1)
    return pts, weights


def disk_grid_quadrature(n: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """DGNO's reference rule: the points of an ``n`` × ``n`` grid on [-1, 1]² strictly inside the
    unit disk (25 for n = 7), equal weights summing to π (the disk's area times the mean). First order only:
    kept to compare with the reference code; :func:`disk_quadrature` is the accurate rule."""
    g = np.linspace(-1.0, 1.0, n)
    pts = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    pts = pts[np.linalg.norm(pts, axis=1) < 1.0 - 1e-12]
    return pts, np.full(len(pts), np.pi / len(pts))


def wendland(r, l: int = 3):  # noqa: E741  (the smoothness index is called l in the literature)
    """Wendland's compactly supported RBF φ(r) = (1 − r)^(l+2) ((l² + 4l + 3) r² + (3l + 6) r + 3) / 3
    for r < 1 (0 beyond; φ(0) = 1), C⁴ at r = 1 for l ≥ 2, as DGNO's test functions with
    r = |x − x_c| / R. Works on numpy arrays and torch tensors."""
    from .problems.base import array_module

    xp = array_module(r)
    s = xp.clip(1 - r, 0, None) if xp is np else (1 - r).clamp_min(0)
    return s ** (l + 2) * ((l * l + 4 * l + 3) * r * r + (3 * l + 6) * r + 3) / 3


def wendland_grad(r, l: int = 3):  # noqa: E741
    """dφ/dr of :func:`wendland`: −(l + 3)(l + 4) r (1 − r)^(l+1) (1 + (l + 1) r) / 3 for r < 1."""
    from .problems.base import array_module

    xp = array_module(r)
    s = xp.clip(1 - r, 0, None) if xp is np else (1 - r).clamp_min(0)
    return -(l + 3) * (l + 4) * r * s ** (l + 1) * (1 + (l + 1) * r) / 3
