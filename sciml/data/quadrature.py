"""Quadrature points and weights for energy-form methods (deep energy method).

The batch is ``{"points": (n, d), "weights": (n,)}`` with :math:`\\sum_i w_i f(x_i) \\approx
\\int_\\Omega f\\,dx`: composite Gauss–Legendre on a box domain, or a per-cell rule on the mesh
of a :class:`~sciml.geometry.MeshDomain` or on the automatic triangle mesh of any other 2D
``Domain`` (``Domain.to_mesh``: exact area for polygons, chords on curves); plus
``"points:<tag>"``/``"weights:<tag>"`` (a Gauss rule on the mesh's boundary edges, the polygon
edges named ``tag`` or the internal segment ``tag``) for each boundary term of the problem's
energy form, and ``"<condition>"`` points for each penalty condition. The rules are
deterministic, so there is no generator state to checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import OptionError
from ..quadrature import gauss_legendre_grid, mesh_quadrature, segment_quadrature
from ..registry import DATA
from .base import Data


def domain_quadrature(domain, n_cells: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(points, weights) over a steady domain: Gauss–Legendre on a box, cell rules on a mesh.

    ``order`` is the number of Gauss points per cell and axis on boxes and 1D meshes, and the
    degree of exactness on triangles; ``n_cells`` is cells per axis on boxes (unused on meshes).
    """
    if getattr(domain, "time", None):
        raise ValueError("quadrature data needs a steady domain (no time axis)")
    if hasattr(domain, "mesh"):
        return mesh_quadrature(domain.mesh, order)
    if domain._is_box():
        return gauss_legendre_grid(domain.bounds[: domain.dim], n_cells, order)
    if domain.dim != 2:
        raise ValueError(
            f"quadrature data on a {domain.dim}-D {type(domain.geometry).__name__} needs a MeshDomain "
            "(mesh it with gmsh, meshes/); boxes and 2D shapes are covered"
        )
    return mesh_quadrature(domain.to_mesh(_spacing(domain, n_cells)), order)


def _spacing(domain, n_cells: int) -> float:
    """The mesh spacing of ``n_cells`` cells across the longest side of the bounding box."""
    b = domain.bounds[: domain.dim]
    return float(np.max(b[:, 1] - b[:, 0])) / n_cells


def boundary_quadrature(domain, tag: str, n_cells: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(points, weights) on boundary ``tag``: Gauss–Legendre on the mesh's boundary edges with that
    tag, or on an internal segment split into ``n_cells`` pieces."""
    if tag in getattr(domain, "segments", {}):
        return segment_quadrature(np.concatenate([_split(a, b, n_cells) for a, b in domain.segments[tag]]), order)
    if hasattr(domain, "boundary_facets") and domain.dim == 2:
        return segment_quadrature(domain.mesh.points[domain.boundary_facets(tag)][..., :2], order)
    if tag in getattr(domain, "edge_names", ()) and domain.dim == 2:
        return _edge_quadrature(domain, tag, _spacing(domain, n_cells), order)
    raise ValueError(
        f"boundary quadrature on {tag!r} needs a 2D MeshDomain boundary tag, a named edge of a 2D "
        "Domain (polygon edge_names) or an internal segment"
    )


def _split(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """The segment from ``a`` to ``b`` cut into ``m`` equal pieces: their end points, ``(m, 2, d)``."""
    ends = a + np.linspace(0.0, 1.0, m + 1)[:, None] * (b - a)
    return np.stack([ends[:-1], ends[1:]], axis=1)


def _edge_quadrature(domain, tag: str, h: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre on the straight pieces named ``tag`` (polygon edges), each split into pieces of
    length ≤ ``h``. Refused where a piece is curved or lies only partly on the shape's boundary (a
    named edge inside a CSG shape that another primitive cuts): its rule would not integrate the
    boundary."""
    from ..geometry import _Segment

    pieces = [(i, p) for i, p in enumerate(domain._pieces) if p.name == tag]
    if not all(isinstance(p, _Segment) for _, p in pieces):
        raise ValueError(
            f"boundary quadrature on {tag!r}: only straight named edges are supported; "
            "mesh curved boundaries with gmsh and use a MeshDomain"
        )
    subs = [_split(p.a, p.b, max(int(np.ceil(p.measure / h)), 1)) for _, p in pieces]
    pts, w = segment_quadrature(np.concatenate(subs), order)
    if domain._csg:
        owner = np.concatenate([np.full(len(s) * order, i) for (i, _), s in zip(pieces, subs)])
        if not domain._on_composite(pts, owner).all():
            raise ValueError(
                f"boundary quadrature on {tag!r}: the named edge lies (partly) off the shape's "
                "boundary (another CSG piece cuts or covers it); name the edges of the final shape instead"
            )
    return pts, w


class QuadratureData(Data):
    """A fixed quadrature rule on the problem's domain (full batch).

    Parameters
    ----------
    problem : a steady Problem with a ``Domain`` (boxes; 2D shapes through their triangle mesh) or a
        ``MeshDomain``
    n_cells : cells per axis (box domains); other 2D shapes: mesh spacing = longest side of the
        bounding box / ``n_cells``, and named edges split into pieces no longer than that;
        pieces per internal segment
    order : Gauss points per cell and axis (boxes, lines, edges) or degree of the triangle rule
    n_boundary : points per penalty condition of the energy form
    """

    def __init__(self, problem, n_cells: int, order: int, n_boundary: int = 256, seed: int = 0):
        if problem.domain is None:
            raise ValueError(f"problem {problem.name!r} has no domain; quadrature data needs a point-wise problem")
        if n_cells < 1 or order < 1:
            raise ValueError(f"quadrature n_cells and order must be >= 1, got {n_cells}, {order}")
        self.problem = problem
        self.points, self.weights = domain_quadrature(problem.domain, n_cells, order)
        form = problem.forms.get("energy")
        self.extra: dict[str, np.ndarray] = {}  # boundary rules and penalty points, keyed as in the batch
        for tag in form.boundary if form else {}:
            self.extra[f"points:{tag}"], self.extra[f"weights:{tag}"] = boundary_quadrature(
                problem.domain, tag, n_cells, order
            )
        rng = np.random.default_rng(seed)
        for name in form.penalties if form else {}:
            cond = problem.conditions[name]
            if not cond.where.startswith("boundary"):
                raise ValueError(f"penalty condition {name!r} must live on a boundary or segment, not {cond.where!r}")
            self.extra[name] = problem.domain.sample_boundary(n_boundary, cond.boundary_tag, "uniform", rng)
        self.dtype, self.device = torch.float32, torch.device("cpu")
        self.shard_of = (0, 1)
        self._batch: dict[str, torch.Tensor] | None = None  # built on first use

    # --- Trainer interface ---
    def to(self, device=None, dtype=None):
        self.device = torch.device(device) if device is not None else self.device
        self.dtype = dtype or self.dtype
        self._batch = None
        return self

    def shard(self, rank: int, world: int) -> None:
        """Keep every ``world``-th point from ``rank``, weights × ``world``: the ranks' mean energy
        (what data-parallel gradient averaging sees) is then the full integral."""
        self.shard_of = (rank, world)
        self._batch = None

    def steps_per_epoch(self, batch_size: int = 0) -> int:
        return 1

    def next_batch(self, batch_size: int = 0) -> dict[str, torch.Tensor]:
        if self._batch is None:
            r, w = self.shard_of
            arrays = {"points": self.points, "weights": self.weights, **self.extra}
            self._batch = {
                k: torch.as_tensor(
                    v[r::w] * (w if k.startswith("weights") else 1), dtype=self.dtype, device=self.device
                )
                for k, v in arrays.items()
            }
        return self._batch

    def after_step(self, state) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def check_quadrature(*, problem, n_cells, order, n_boundary, **_) -> None:
    """The ``quadrature`` options (and by ``sciml.config.validate``, before any work)."""
    if problem.domain is None:
        raise ValueError(f"problem {problem.name!r} has no domain; quadrature data needs a point-wise problem")
    for k, v in (("n_cells", n_cells), ("order", order), ("n_boundary", n_boundary)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise OptionError(k, f"quadrature {k} must be an integer >= 1, got {v!r}")


@DATA.register("quadrature")
def quadrature(*, problem, seed: int = 0, n_cells: int = 64, order: int = 4, n_boundary: int = 256) -> QuadratureData:
    """Quadrature points and weights on the problem's domain (box: Gauss–Legendre; mesh: cell rules)."""
    check_quadrature(problem=problem, n_cells=n_cells, order=order, n_boundary=n_boundary)
    return QuadratureData(problem, n_cells, order, n_boundary, seed)


quadrature.check = check_quadrature  # type: ignore[attr-defined]  # run by sciml.config.validate, before any work
