"""Discretizations: an unstructured :class:`Mesh` (meshio-shaped) and a structured :class:`Grid`.

One mesh type serves PINN sampling (``MeshDomain``), operator data (fields on nodes),
graphs for message passing (:func:`edges`) and output (VTU/PVD/XDMF writers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

# meshio cell type -> (topological dimension, edges as local node pairs)
_CELL_EDGES = {
    "line": (1, [(0, 1)]),
    "triangle": (2, [(0, 1), (1, 2), (2, 0)]),
    "quad": (2, [(0, 1), (1, 2), (2, 3), (3, 0)]),
    "tetra": (3, [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)]),
    "hexahedron": (3, [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]),
}


@dataclass
class Mesh:
    """Points, cell blocks and named tags.

    Parameters
    ----------
    points : (n_points, dim) float array
    cells : list of (cell_type, (n_cells, nodes_per_cell) int array), meshio names
    point_tags : name -> indices of points (boundaries such as ``"hole"``)
    cell_tags : name -> (block index, cell indices) regions
    """

    points: np.ndarray
    cells: list[tuple[str, np.ndarray]]
    point_tags: dict[str, np.ndarray] = field(default_factory=dict)
    cell_tags: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float64)
        if self.points.ndim != 2 or self.points.shape[1] not in (1, 2, 3):
            raise ValueError(f"mesh points must have shape (n, 1|2|3), got {self.points.shape}")
        n = len(self.points)
        checked = []
        for ctype, conn in self.cells:
            conn = np.asarray(conn, dtype=np.int64)
            if conn.size and (conn.min() < 0 or conn.max() >= n):
                raise ValueError(f"{ctype} cells reference point indices outside [0, {n})")
            checked.append((ctype, conn))
        self.cells = checked
        for name, idx in self.point_tags.items():
            idx = np.asarray(idx, dtype=np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"point tag {name!r} references points outside [0, {n})")
            self.point_tags[name] = idx

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    @property
    def n_points(self) -> int:
        return len(self.points)

    def cells_of_dim(self, tdim: int) -> list[tuple[str, np.ndarray]]:
        return [(t, c) for t, c in self.cells if _CELL_EDGES.get(t, (-1,))[0] == tdim]

    @property
    def tdim(self) -> int:
        """Highest topological dimension among the cell blocks."""
        return max((_CELL_EDGES[t][0] for t, _ in self.cells if t in _CELL_EDGES), default=0)

    # ---- meshio ---------------------------------------------------------------------
    @classmethod
    def from_meshio(cls, m: Any) -> Mesh:
        """Convert a ``meshio.Mesh``; physical groups (gmsh) become named tags.

        Lower-dimensional physical groups (boundary curves) become point tags; groups of
        the highest dimension become cell tags. Points unused by any cell are kept.
        """
        pts = np.asarray(m.points, dtype=np.float64)
        # drop a trailing all-zero z coordinate (2D meshes written in 3D)
        if pts.shape[1] == 3 and np.allclose(pts[:, 2], 0.0):
            pts = pts[:, :2]
        blocks = [(b.type, np.asarray(b.data)) for b in m.cells if b.type in _CELL_EDGES or b.type == "vertex"]
        tdim = max((_CELL_EDGES[t][0] for t, _ in blocks if t in _CELL_EDGES), default=0)
        physical = m.cell_data.get("gmsh:physical")
        names = {int(v[0]): k for k, v in (m.field_data or {}).items()}
        point_tags: dict[str, list] = {}
        cell_tags: dict[str, tuple[int, np.ndarray]] = {}
        keep = []
        for i, b in enumerate(m.cells):
            if b.type not in _CELL_EDGES and b.type != "vertex":
                continue
            bd = _CELL_EDGES.get(b.type, (0,))[0]
            if bd == tdim:
                keep.append((b.type, np.asarray(b.data)))
            if physical is None:
                continue
            tags = np.asarray(physical[i])
            for tag in np.unique(tags):
                name = names.get(int(tag), f"tag{int(tag)}")
                sel = np.nonzero(tags == tag)[0]
                if bd == tdim:
                    cell_tags[name] = (len(keep) - 1, sel)
                else:
                    point_tags.setdefault(name, []).append(np.asarray(b.data)[sel].ravel())
        ptags = {k: np.unique(np.concatenate(v)) for k, v in point_tags.items()}
        return cls(pts, keep, ptags, cell_tags)

    @classmethod
    def read(cls, path: str | Path) -> Mesh:
        """Read a mesh file (any format meshio reads: ``.msh``, ``.vtu``, ``.xdmf``...).

        A missing file is a FileNotFoundError; a file that does not parse, or parses to no usable
        cells or to non-finite points, is a one-line ValueError naming the file and why.
        """
        import meshio

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"mesh file not found: {path}")
        if path.is_dir():
            raise ValueError(f"mesh file {path} is a directory, not a mesh file")
        if path.stat().st_size == 0:
            raise ValueError(f"mesh file {path} is unreadable: the file is empty")
        try:
            m = meshio.read(path)
        except (Exception, SystemExit) as exc:  # meshio raises many types, and sys.exit()s on parse failure
            raise ValueError(f"mesh file {path} is unreadable: {_read_failure(path, exc)}") from None
        try:
            mesh = cls.from_meshio(m)
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"mesh file {path} is unreadable: its content is inconsistent ({exc})") from None
        if not mesh.cells:
            raise ValueError(f"mesh file {path} has no line/triangle/quad/tetra/hexahedron cells")
        if not np.isfinite(mesh.points).all():
            raise ValueError(f"mesh file {path} is unreadable: some point coordinates are NaN or infinite")
        return mesh

    def to_meshio(self, point_data: dict[str, np.ndarray] | None = None) -> Any:
        """A ``meshio.Mesh`` of the points (padded to 3D, as VTK wants) and cells, with ``point_data``."""
        import meshio

        pts = self.points
        if pts.shape[1] < 3:  # VTK wants 3D points
            pts = np.hstack([pts, np.zeros((len(pts), 3 - pts.shape[1]))])
        return meshio.Mesh(pts, [(t, c) for t, c in self.cells], point_data=dict(point_data or {}))

    # ---- geometry helpers ------------------------------------------------------------
    def cell_measures(self) -> tuple[np.ndarray, np.ndarray]:
        """Centroids and measures (length/area/volume) of the top-dimensional simplices/quads."""
        cents, meas = [], []
        for ctype, conn in self.cells_of_dim(self.tdim):
            p = self.points[conn]
            cents.append(p.mean(axis=1))
            if ctype == "line":
                meas.append(np.linalg.norm(p[:, 1] - p[:, 0], axis=-1))
            elif ctype in ("triangle", "quad"):
                polys = p if ctype == "quad" else p
                x, y = polys[..., 0], polys[..., 1]
                meas.append(0.5 * np.abs(np.sum(x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y, axis=1)))
            elif ctype == "tetra":
                d = p[:, 1:] - p[:, :1]
                meas.append(np.abs(np.linalg.det(d)) / 6.0)
            else:
                raise NotImplementedError(f"cell measures for {ctype}")
        return np.concatenate(cents), np.concatenate(meas)


_FORMATS = {
    ".msh": "Gmsh .msh",
    ".vtu": "VTK .vtu",
    ".vtk": "legacy VTK .vtk",
    ".xdmf": "XDMF",
    ".xmf": "XDMF",
    ".med": "MED",
    ".inp": "Abaqus .inp",
    ".obj": "Wavefront .obj",
    ".stl": "STL",
}


def _read_failure(path: Path, exc: BaseException) -> str:
    """Why meshio could not read ``path``, in words, with meshio's own message last."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        return (
            f"meshio cannot read '{path.suffix or '(no extension)'}' files ({detail}); "
            f"use a format it knows by its extension, e.g. .msh or .vtu"
        )
    return (
        f"it does not parse as a {fmt} file (corrupt, truncated or another format?) "
        f"[meshio: {detail}]; regenerate it (meshes/*.py) or point the case at another mesh"
    )


@dataclass(frozen=True)
class Grid:
    """A structured tensor-product grid of nodes, ``shape[i]`` nodes over ``bounds[i]``.

    Parameters
    ----------
    shape : nodes per axis
    bounds : ((lo, hi), ...) per axis
    periodic : per-axis flags; a periodic axis excludes its right end (x_n = hi is x_0).
        Omitted (None): no axis is periodic; after construction it is always a tuple of flags.
    """

    shape: tuple[int, ...]
    bounds: tuple[tuple[float, float], ...]
    # None is accepted and replaced by all-False flags in __post_init__, so the attribute is
    # always a tuple; declaring it Optional would make every reader narrow it again
    periodic: tuple[bool, ...] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "bounds", tuple((float(a), float(b)) for a, b in self.bounds))
        if self.periodic is None:
            object.__setattr__(self, "periodic", (False,) * len(self.shape))
        if len(self.bounds) != len(self.shape) or len(self.periodic) != len(self.shape):
            raise ValueError(f"grid shape {self.shape} and bounds {self.bounds} disagree in dimension")
        if any(s < 2 for s in self.shape):
            raise ValueError(f"grid needs at least 2 nodes per axis, got {self.shape}")
        if any(b <= a for a, b in self.bounds):
            raise ValueError(f"grid bounds must be increasing, got {self.bounds}")

    @property
    def dim(self) -> int:
        return len(self.shape)

    def axes(self) -> list[np.ndarray]:
        return [np.linspace(a, b, n, endpoint=not p) for n, (a, b), p in zip(self.shape, self.bounds, self.periodic)]

    def spacing(self) -> tuple[float, ...]:
        return tuple(float(ax[1] - ax[0]) for ax in self.axes())

    def points(self) -> np.ndarray:
        """(prod(shape), dim) node coordinates, C order ('ij' indexing)."""
        mg = np.meshgrid(*self.axes(), indexing="ij")
        return np.stack([m.ravel() for m in mg], axis=-1)

    def to_mesh(self) -> Mesh:
        """Lines (1D), quads (2D) or hexahedra (3D) over the grid nodes, same node order as :meth:`points`."""
        idx = np.arange(int(np.prod(self.shape))).reshape(self.shape)
        if self.dim == 1:
            cells = [("line", np.stack([idx[:-1], idx[1:]], -1))]
        elif self.dim == 2:
            q = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 4)
            cells = [("quad", q)]
        elif self.dim == 3:
            c = [
                idx[:-1, :-1, :-1],
                idx[1:, :-1, :-1],
                idx[1:, 1:, :-1],
                idx[:-1, 1:, :-1],
                idx[:-1, :-1, 1:],
                idx[1:, :-1, 1:],
                idx[1:, 1:, 1:],
                idx[:-1, 1:, 1:],
            ]
            cells = [("hexahedron", np.stack(c, -1).reshape(-1, 8))]
        else:
            raise ValueError("grids of dimension > 3 have no mesh")
        tags = {}
        names = (("left", "right"), ("bottom", "top"), ("back", "front"))
        for ax in range(self.dim):
            if self.periodic[ax]:
                continue
            lo, hi = names[ax]
            tags[lo] = np.take(idx, 0, axis=ax).ravel()
            tags[hi] = np.take(idx, -1, axis=ax).ravel()
        return Mesh(self.points(), cells, tags)

    def resample(self, factor: int) -> Grid:
        """The grid obtained by keeping every ``factor``-th node (``values[..., ::factor, ::factor]``)."""
        for n, p in zip(self.shape, self.periodic):
            if factor < 1 or (n if p else n - 1) % factor:
                raise ValueError(f"cannot resample grid {self.shape} (periodic={self.periodic}) by {factor}")
        shape = tuple((n - 1) // factor + 1 if not p else n // factor for n, p in zip(self.shape, self.periodic))
        return Grid(shape, self.bounds, self.periodic)


def edges(
    points: np.ndarray | torch.Tensor | None = None,
    *,
    mesh: Mesh | None = None,
    k: int | None = None,
    radius: float | None = None,
    period: tuple[float | None, ...] | None = None,
    self_loops: bool = False,
) -> torch.Tensor:
    """Graph connectivity as a ``(2, n_edges)`` long tensor, symmetric (both directions).

    Exactly one of ``mesh`` (edges of the mesh cells), ``k`` (k nearest neighbours) or
    ``radius`` (all neighbours within radius) selects the construction. ``period`` gives a
    per-axis period for distances on periodic domains (``None`` for non-periodic axes).
    Pure torch (``cdist`` + ``topk``); O(n^2) memory, meant for up to ~20k nodes.
    """
    chosen = [mesh is not None, k is not None, radius is not None]
    if sum(chosen) != 1:
        raise ValueError("edges() needs exactly one of mesh=, k=, radius=")
    if mesh is not None:
        pairs = []
        for ctype, conn in mesh.cells:
            if ctype not in _CELL_EDGES:
                continue
            for a, b in _CELL_EDGES[ctype][1]:
                pairs.append(np.stack([conn[:, a], conn[:, b]]))
        e = np.concatenate(pairs, axis=1)
        e = np.concatenate([e, e[::-1]], axis=1)
        e = np.unique(e, axis=1)
        out = torch.as_tensor(e, dtype=torch.long)
        n = mesh.n_points
    else:
        x = torch.as_tensor(points, dtype=torch.float64)
        if x.ndim == 1:
            x = x[:, None]
        diff = x[:, None, :] - x[None, :, :]
        if period is not None:
            for ax, p in enumerate(period):
                if p:
                    d = diff[..., ax]
                    diff[..., ax] = d - p * torch.round(d / p)
        dist = diff.norm(dim=-1)
        n = len(x)
        if k is not None:
            if not 0 < k < n:
                raise ValueError(f"k must be in [1, {n - 1}], got {k}")
            dist.fill_diagonal_(float("inf"))
            nbr = dist.topk(k, largest=False).indices  # (n, k)
            src = nbr.reshape(-1)
            dst = torch.arange(n).repeat_interleave(k)
            both = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
            out = torch.unique(both, dim=1)
        else:
            adj = dist <= radius
            adj.fill_diagonal_(False)
            out = adj.nonzero().T.contiguous()
    if self_loops:
        loops = torch.arange(n).repeat(2, 1)
        out = torch.unique(torch.cat([out, loops], 1), dim=1)
    return out
