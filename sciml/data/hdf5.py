"""The sciml HDF5 dataset format (versions 1 and 2): writer, lazy torch reader, collate, splits, caching.

The layout is specified in ``docs/data_format.md``. In short::

    /                 attrs format="sciml-dataset", format_version=1|2, problem, sciml_version,
                            created, seed, generator (JSON)
    /support          attrs kind = "grid" | "mesh" | "points"                 one support for all samples (v1)
                             kind = "per_sample_points" | "per_sample_mesh"   one per sample (v2): ragged
                                    groups points/, cells/<type>/, point_tags/<name>/, each {values, offsets}
    /times            optional (T,) float64
    /fields/<name>    (N, [T,] *space, C) on a shared support, ([T,] P, C) on per-sample supports
                      (samples concatenated along the point axis, split by /support/points/offsets);
                      attrs role, channels
    /params/<name>    (N,) per-sample scalars

A file is written with the lowest version that describes it: 1 unless its supports are per sample.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
import torch

from sciml.mesh import Grid, Mesh
from sciml.output import atomic_path, remove_stale_temps

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "write_dataset",
    "H5Dataset",
    "SampleSupports",
    "collate_samples",
    "split_indices",
    "ensure_dataset",
    "GenerationInterrupted",
]

FORMAT = "sciml-dataset"
FORMAT_VERSION = 2  # the newest version written; files that need no version-2 feature are written as 1
_KNOWN_VERSIONS = (1, 2)
_ROLES = ("input", "output")
_SAMPLE_KINDS = {"per_sample_points": "points", "per_sample_mesh": "mesh"}
RESERVED = ("points", "cells", "mask", "cell_mask")  # item/batch keys of per-sample datasets
_CHUNK_BYTES = (16 << 10, 1 << 20)  # a concatenated (ragged) dataset's chunks: about one sample, within these


def _sciml_version() -> str:
    try:
        from importlib.metadata import version

        return version("sciml")
    except Exception:  # not installed / metadata missing
        return "unknown"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"generator config value {obj!r} of type {type(obj).__name__} is not JSON-serialisable")


def _normalize_config(cfg: dict | None) -> dict:
    """The config as it reads back from JSON (tuples become lists, numpy scalars Python)."""
    return json.loads(json.dumps(cfg or {}, sort_keys=True, default=_json_default))


def _space_shape(support) -> tuple[int, ...]:
    if isinstance(support, Grid):
        return tuple(support.shape)
    if isinstance(support, Mesh):
        return (support.n_points,)
    if isinstance(support, SampleSupports):
        sizes = support.sizes
        raise ValueError(
            f"{support.path}: the samples have supports of their own ({sizes.min()} to {sizes.max()} points), "
            "not one shared space shape"
        )
    pts = np.asarray(support)
    if pts.ndim != 2:
        raise ValueError(f"a points support must have shape (n, d), got {pts.shape}")
    return (pts.shape[0],)


def _write_support(f: h5py.File, support) -> None:
    g = f.create_group("support")
    if isinstance(support, Grid):
        g.attrs["kind"] = "grid"
        g.attrs["shape"] = np.asarray(support.shape, dtype=np.int64)
        g.attrs["bounds"] = np.asarray(support.bounds, dtype=np.float64).reshape(-1, 2)
        g.attrs["periodic"] = np.asarray(support.periodic, dtype=bool)
        for i, ax in enumerate(support.axes()):
            g.create_dataset(f"axis{i}", data=ax)
    elif isinstance(support, Mesh):
        g.attrs["kind"] = "mesh"
        g.create_dataset("points", data=support.points)
        cells = g.create_group("cells", track_order=True)
        for ctype, conn in _cell_blocks(support).items():
            cells.create_dataset(ctype, data=conn)
        tags = g.create_group("point_tags", track_order=True)
        for name, idx in support.point_tags.items():
            tags.create_dataset(name, data=np.asarray(idx, dtype=np.int64))
    else:
        g.attrs["kind"] = "points"
        g.create_dataset("points", data=np.asarray(support, dtype=np.float64))


def _cell_blocks(mesh: Mesh) -> dict[str, np.ndarray]:
    """Cell type -> connectivity, repeated blocks of one type concatenated, in order of first appearance."""
    blocks: dict[str, list[np.ndarray]] = {}
    for ctype, conn in mesh.cells:
        blocks.setdefault(ctype, []).append(conn)
    return {ctype: np.concatenate(conns, axis=0) for ctype, conns in blocks.items()}


def _read_support(g: h5py.Group):
    kind = _as_str(g.attrs.get("kind", ""))
    if kind == "grid":
        bounds = np.asarray(g.attrs["bounds"], dtype=np.float64).reshape(-1, 2)
        return Grid(
            tuple(int(s) for s in g.attrs["shape"]),
            tuple(map(tuple, bounds)),
            tuple(bool(p) for p in g.attrs["periodic"]),
        )
    if kind == "mesh":
        cells = [(name, g["cells"][name][()]) for name in g["cells"]]
        tags = {name: g["point_tags"][name][()] for name in g.get("point_tags", {})}
        return Mesh(g["points"][()], cells, tags)
    if kind == "points":
        return g["points"][()]
    raise ValueError(f"unknown support kind {kind!r}")


def _as_str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _channel_names(path: Path, name: str, c: int, channels: dict) -> list[str]:
    chans = list(channels.get(name) or ([name] if c == 1 else [f"{name}{i}" for i in range(c)]))
    if len(chans) != c:
        raise ValueError(f"{path}: field {name!r} has {c} channels but {len(chans)} channel names {chans}")
    return chans


def _check_params(path: Path, params: dict[str, np.ndarray], fields, n: int | None) -> None:
    for name, v in params.items():
        if name in fields:
            raise ValueError(f"{path}: parameter {name!r} has the same name as a field")
        if v.shape != (n,):
            raise ValueError(f"{path}: parameter {name!r} has shape {v.shape}; expected ({n},)")


def _root_attrs(f: h5py.File, version: int, problem: str, seed: int, generator: dict | None) -> None:
    f.attrs.update(
        format=FORMAT,
        format_version=version,
        problem=str(problem),
        sciml_version=_sciml_version(),
        seed=int(seed),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        generator=json.dumps(generator or {}, sort_keys=True, default=_json_default),
    )


def _is_per_sample(support) -> bool:
    """A list or tuple of Meshes or of ``(n_i, d)`` arrays: one support per sample (format 2)."""
    if not isinstance(support, (list, tuple)) or not support:
        return False
    return isinstance(support[0], Mesh) or np.ndim(support[0]) == 2


def write_dataset(
    path,
    fields: dict[str, np.ndarray],
    roles: dict[str, str],
    support,
    channels: dict[str, list[str]] | None = None,
    params: dict[str, np.ndarray] | None = None,
    times: np.ndarray | None = None,
    problem: str = "",
    seed: int = 0,
    generator: dict | None = None,
    dtype=np.float32,
) -> Path:
    """Write a dataset in the sciml HDF5 format, atomically (temp file + fsync + ``os.replace``).

    Parameters
    ----------
    path : destination file; parent directories are created
    fields : name -> array, shape ``(N, *space, C)`` or ``(N, T, *space, C)`` when ``times`` is given;
        on per-sample supports, name -> N arrays, sample i's of shape ``(n_i, C)`` or ``(T, n_i, C)``
    roles : name -> ``"input"`` or ``"output"``, one per field; all ``"input"`` makes an input-only
        (unlabelled) dataset
    support : one support shared by all samples (format version 1): a :class:`~sciml.mesh.Grid`, a
        :class:`~sciml.mesh.Mesh` or an ``(n, d)`` points array, and ``space`` is ``grid.shape`` or
        ``(n_points,)``; or one per sample (format version 2): a list of N Meshes or of N ``(n_i, d)``
        point arrays, sizes free
    channels : name -> C channel names (default ``[name]`` or ``[name0, name1, ...]``)
    params : name -> ``(N,)`` per-sample scalars (e.g. ``nu``, ``beta``)
    times : ``(T,)`` output times
    problem, seed, generator : provenance; ``generator`` is the generator's full config (JSON-able)
    dtype : storage dtype of the fields

    Returns
    -------
    Path of the written file.

    Notes
    -----
    Per-sample files keep the whole dataset in memory while writing (the arrays are concatenated).
    """
    path = Path(path)
    if not fields:
        raise ValueError(f"{path}: write_dataset needs at least one field")
    if set(roles) != set(fields):
        raise ValueError(f"{path}: roles must name exactly the fields {sorted(fields)}, got {sorted(roles)}")
    times = None if times is None else np.asarray(times, dtype=np.float64).reshape(-1)
    channels = dict(channels or {})
    params = {k: np.asarray(v) for k, v in (params or {}).items()}
    if _is_per_sample(support):  # the fields, roles, times, channels and params checked above
        return _write_per_sample(path, fields, roles, support, channels, params, times, problem, seed, generator, dtype)
    space = _space_shape(support)
    arrays, n = {}, None
    for name, arr in fields.items():
        arr = np.asarray(arr, dtype=dtype)
        if roles[name] not in _ROLES:
            raise ValueError(f"{path}: field {name!r} has role {roles[name]!r}; expected one of {_ROLES}")
        expected = [f"(N, {', '.join(map(str, space))}, C)"]
        ok = arr.ndim == len(space) + 2 and arr.shape[1:-1] == space
        if times is not None:
            expected.append(f"(N, {len(times)}, {', '.join(map(str, space))}, C)")
            ok = ok or (arr.ndim == len(space) + 3 and arr.shape[1:-1] == (len(times), *space))
        if not ok:
            raise ValueError(f"{path}: field {name!r} has shape {arr.shape}; expected {' or '.join(expected)}")
        if n is not None and arr.shape[0] != n:
            raise ValueError(f"{path}: field {name!r} has {arr.shape[0]} samples, other fields have {n}")
        n = arr.shape[0]
        channels[name] = _channel_names(path, name, arr.shape[-1], channels)
        arrays[name] = arr
    _check_params(path, params, fields, n)

    remove_stale_temps(path)  # left by a killed writer; a live writer's file is kept
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _root_attrs(f, 1, problem, seed, generator)
            _write_support(f, support)
            if times is not None:
                f.create_dataset("times", data=times)
            g = f.create_group("fields", track_order=True)
            for name, arr in arrays.items():
                ds = g.create_dataset(
                    name, data=arr, chunks=(1, *arr.shape[1:]), compression="gzip", compression_opts=4, shuffle=True
                )
                ds.attrs["role"] = roles[name]
                ds.attrs["channels"] = channels[name]
            pg = f.create_group("params", track_order=True)
            for name, v in params.items():
                pg.create_dataset(name, data=v)
    return path


# ---- format 2: one support per sample ------------------------------------------------------------
def _offsets(sizes) -> np.ndarray:
    """``(N + 1,)`` int64: part i is rows ``offsets[i]:offsets[i + 1]`` of the concatenation."""
    return np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64)


def _chunked(g: h5py.Group, name: str, arr: np.ndarray, axis: int, typical_rows: int) -> h5py.Dataset:
    """A gzip-compressed dataset chunked along ``axis`` (the concatenation axis): a chunk holds about one
    sample's rows (``typical_rows``), but no less than 16 KiB and no more than 1 MiB where the data allow."""
    if arr.size == 0:  # HDF5 cannot chunk an empty dataset
        return g.create_dataset(name, data=arr)
    row_bytes = arr.dtype.itemsize * arr.size // arr.shape[axis]
    lo, hi = _CHUNK_BYTES[0] // row_bytes, _CHUNK_BYTES[1] // row_bytes
    rows = int(min(arr.shape[axis], max(1, min(max(typical_rows, lo), hi))))
    chunks = list(arr.shape)
    chunks[axis] = rows
    return g.create_dataset(name, data=arr, chunks=tuple(chunks), compression="gzip", compression_opts=4, shuffle=True)


def _write_ragged(g: h5py.Group, name: str, parts: list[np.ndarray]) -> None:
    """Group ``name`` with ``values`` (the parts concatenated along axis 0) and ``offsets`` (N + 1)."""
    sub = g.create_group(name)
    sizes = [len(p) for p in parts]
    _chunked(sub, "values", np.concatenate(parts, axis=0), 0, int(np.median(sizes)))
    sub.create_dataset("offsets", data=_offsets(sizes))


def _split_supports(path: Path, supports: Sequence) -> tuple[str, list[np.ndarray], dict, dict]:
    """Kind, per-sample points, cell type -> per-sample connectivity, tag -> per-sample indices."""
    is_mesh = [isinstance(s, Mesh) for s in supports]
    if any(is_mesh) and not all(is_mesh):
        raise ValueError(
            f"{path}: per-sample supports mix Meshes and point arrays (sample {is_mesh.index(not is_mesh[0])} "
            f"differs from sample 0); use one kind for all samples"
        )
    mesh = is_mesh[0]
    points: list[np.ndarray] = []
    for i, s in enumerate(supports):
        p = s.points if mesh else np.asarray(s, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] not in (1, 2, 3):
            raise ValueError(
                f"{path}: the support of sample {i} has points of shape {p.shape}; expected (n_i, d) with "
                "n_i >= 1 and d = 1, 2 or 3"
            )
        if points and p.shape[1] != points[0].shape[1]:
            raise ValueError(f"{path}: sample {i} has {p.shape[1]}-D points but sample 0 has {points[0].shape[1]}-D")
        points.append(p)
    if not mesh:
        return "per_sample_points", points, {}, {}
    blocks = [_cell_blocks(s) for s in supports]
    widths: dict[str, int] = {}
    for i, b in enumerate(blocks):
        for ctype, conn in b.items():
            if conn.size == 0:
                continue
            if conn.ndim != 2:
                raise ValueError(f"{path}: sample {i}'s {ctype} cells have shape {conn.shape}; expected (n_cells, k)")
            if widths.setdefault(ctype, conn.shape[1]) != conn.shape[1]:
                raise ValueError(
                    f"{path}: sample {i}'s {ctype} cells have {conn.shape[1]} nodes, other samples' "
                    f"{widths[ctype]}; one cell type has one node count"
                )
    cells = {
        t: [b[t] if t in b and b[t].size else np.zeros((0, w), dtype=np.int64) for b in blocks]
        for t, w in widths.items()
    }
    names = list(dict.fromkeys(name for s in supports for name in s.point_tags))
    tags = {
        name: [np.asarray(s.point_tags.get(name, ()), dtype=np.int64).reshape(-1) for s in supports] for name in names
    }
    return "per_sample_mesh", points, cells, tags


def _write_per_sample(path, fields, roles, supports, channels, params, times, problem, seed, generator, dtype):
    n = len(supports)
    kind, points, cells, tags = _split_supports(path, supports)
    sizes = [len(p) for p in points]
    reserved = [k for k in (*fields, *params) if k in RESERVED]
    if reserved:
        raise ValueError(
            f"{path}: {reserved[0]!r} cannot name a field or parameter of a per-sample dataset "
            f"(reserved: {', '.join(RESERVED)})"
        )
    arrays = {}
    for name, values in fields.items():
        if roles[name] not in _ROLES:
            raise ValueError(f"{path}: field {name!r} has role {roles[name]!r}; expected one of {_ROLES}")
        if len(values) != n:
            raise ValueError(f"{path}: field {name!r} has {len(values)} samples but there are {n} per-sample supports")
        parts = [np.asarray(v, dtype=dtype) for v in values]
        for i, (v, m) in enumerate(zip(parts, sizes)):
            ok = v.ndim == 2 and v.shape[0] == m
            expected = f"({m}, C)"
            if times is not None:
                ok = ok or (v.ndim == 3 and v.shape[:2] == (len(times), m))
                expected += f" or ({len(times)}, {m}, C)"
            if not ok:
                raise ValueError(
                    f"{path}: field {name!r} of sample {i} has shape {v.shape}; expected {expected} "
                    f"(the sample's support has {m} points)"
                )
            if v.ndim != parts[0].ndim or v.shape[-1] != parts[0].shape[-1]:
                raise ValueError(
                    f"{path}: field {name!r} of sample {i} has shape {v.shape} but sample 0 has {parts[0].shape}; "
                    "every sample needs the same channels and the same time axis"
                )
        channels[name] = _channel_names(path, name, parts[0].shape[-1], channels)
        arrays[name] = np.concatenate(parts, axis=-2)
    _check_params(path, params, fields, n)

    remove_stale_temps(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _root_attrs(f, 2, problem, seed, generator)
            g = f.create_group("support")
            g.attrs["kind"] = kind
            _write_ragged(g, "points", points)
            if kind == "per_sample_mesh":
                cg = g.create_group("cells", track_order=True)
                for ctype, parts in cells.items():
                    _write_ragged(cg, ctype, parts)
                tg = g.create_group("point_tags", track_order=True)
                for name, parts in tags.items():
                    _write_ragged(tg, name, parts)
            if times is not None:
                f.create_dataset("times", data=times)
            fg = f.create_group("fields", track_order=True)
            for name, arr in arrays.items():
                ds = _chunked(fg, name, arr, arr.ndim - 2, int(np.median(sizes)))
                ds.attrs["role"] = roles[name]
                ds.attrs["channels"] = channels[name]
            pg = f.create_group("params", track_order=True)
            for name, v in params.items():
                pg.create_dataset(name, data=v)
    return path


def _ragged_offsets(p: Path, g: h5py.Group, name: str, n: int | None, what: str, ndim: int) -> np.ndarray:
    """The validated offsets of the ragged group ``g[name]``: ``(n + 1,)`` integers from 0, increasing
    (strictly when ``what`` is "points": every sample has a point), ending at the number of values."""
    sub = g.get(name)
    where = f"{g.name}/{name}"
    if not isinstance(sub, h5py.Group) or not isinstance(sub.get("values"), h5py.Dataset):
        raise ValueError(f"{p}: malformed {where} (a per-sample quantity is a group with datasets values and offsets)")
    if not isinstance(sub.get("offsets"), h5py.Dataset):
        raise ValueError(f"{p}: malformed {where} (no dataset offsets)")
    values, off = sub["values"], sub["offsets"]
    if values.ndim != ndim:
        raise ValueError(f"{p}: {where}/values has shape {values.shape}; expected {ndim} dimension(s)")
    if what != "points" and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{p}: {where}/values holds {values.dtype} values; expected integer point indices")
    if off.ndim != 1 or not np.issubdtype(off.dtype, np.integer):
        raise ValueError(
            f"{p}: {where}/offsets has shape {off.shape} and dtype {off.dtype}; expected (N + 1,) integers"
        )
    off = off[()].astype(np.int64)
    if n is None and len(off) < 2:
        raise ValueError(f"{p}: {where}/offsets has {len(off)} entries; expected N + 1 for N >= 1 samples")
    if n is not None and len(off) != n + 1:
        raise ValueError(
            f"{p}: {where}/offsets has {len(off)} entries but /support/points/offsets has {n + 1} "
            f"(N + 1 for the {n} samples): truncated offsets?"
        )
    if off[0] != 0:
        raise ValueError(f"{p}: {where}/offsets starts at {off[0]}; expected 0")
    steps = np.diff(off)
    bad = steps < 1 if what == "points" else steps < 0
    if bad.any():
        j = int(np.argmax(bad))
        why = "every sample has at least one point" if what == "points" else "offsets never decrease"
        raise ValueError(f"{p}: {where}/offsets is not increasing: sample {j} spans {off[j]}..{off[j + 1]} ({why})")
    if off[-1] != values.shape[0]:
        raise ValueError(
            f"{p}: {where}/offsets ends at {off[-1]} but {where}/values has {values.shape[0]} rows: "
            "truncated offsets or values?"
        )
    return off


class SampleSupports:
    """The per-sample supports of a format-2 dataset, read lazily: ``supports[i]`` is sample i's
    :class:`~sciml.mesh.Mesh` (kind ``"mesh"``) or ``(n_i, d)`` float64 points (kind ``"points"``).

    Built by :class:`H5Dataset` from the file's validated offsets; reads go through the dataset's
    lazily opened handle. A sample's Mesh has the cell blocks it has cells of and every stored point
    tag (empty where the sample has none); cell tags are not stored.
    """

    def __init__(self, path: Path, kind: str, dim: int, points: np.ndarray, cells: dict, tags: dict, h5):
        self.path, self.kind, self.dim = path, kind, dim
        self.offsets = points  # (N + 1,) of /support/points
        self.cell_offsets, self.tag_offsets = cells, tags
        self._h5 = h5

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def sizes(self) -> np.ndarray:
        """``(N,)`` number of points of each sample."""
        return np.diff(self.offsets)

    @property
    def cell_types(self) -> list[str]:
        return list(self.cell_offsets)

    def _index(self, i) -> int:
        i, n = int(i), len(self)
        if not -n <= i < n:
            raise IndexError(f"sample {i} out of range for {n} samples")
        return i % n

    def points(self, i: int) -> np.ndarray:
        """Sample i's ``(n_i, d)`` float64 points."""
        i = self._index(i)
        return self._h5()["support/points/values"][self.offsets[i] : self.offsets[i + 1]]

    def _indices(self, group: str, name: str, offsets: np.ndarray, i: int) -> np.ndarray:
        a, b = offsets[i], offsets[i + 1]
        idx = self._h5()[f"support/{group}/{name}/values"][a:b].astype(np.int64)
        m = self.offsets[i + 1] - self.offsets[i]
        if idx.size and (idx.min() < 0 or idx.max() >= m):
            raise ValueError(
                f"{self.path}: /support/{group}/{name} of sample {i} references points outside [0, {m}) "
                "(indices are local to the sample)"
            )
        return idx

    def cells(self, i: int) -> dict[str, np.ndarray]:
        """Sample i's connectivity (indices into its own points) for every stored cell type; ``(0, k)``
        where it has none of a type."""
        i = self._index(i)
        return {t: self._indices("cells", t, off, i) for t, off in self.cell_offsets.items()}

    def point_tags(self, i: int) -> dict[str, np.ndarray]:
        i = self._index(i)
        return {t: self._indices("point_tags", t, off, i) for t, off in self.tag_offsets.items()}

    def __getitem__(self, i):
        if self.kind == "points":
            return self.points(i)
        cells = [(t, c) for t, c in self.cells(i).items() if len(c)]
        return Mesh(self.points(i), cells, self.point_tags(i))


def _read_sample_support(p: Path, g: h5py.Group, kind: str, h5) -> SampleSupports:
    off = _ragged_offsets(p, g, "points", None, "points", 2)
    n, dim = len(off) - 1, g["points/values"].shape[1]
    if dim not in (1, 2, 3):
        raise ValueError(f"{p}: /support/points/values has shape {g['points/values'].shape}; expected (P, 1|2|3)")
    cells, tags = {}, {}
    if kind == "mesh":
        if not isinstance(g.get("cells"), h5py.Group):
            raise ValueError(f"{p}: malformed /support (kind per_sample_mesh needs a group cells)")
        cells = {t: _ragged_offsets(p, g["cells"], t, n, "cells", 2) for t in g["cells"]}
    if kind == "mesh" and "point_tags" in g:
        tags = {t: _ragged_offsets(p, g["point_tags"], t, n, "point tags", 1) for t in g["point_tags"]}
    return SampleSupports(p, kind, dim, off, cells, tags, h5)


class H5Dataset(torch.utils.data.Dataset):
    """A sciml HDF5 dataset (format version 1 or 2) as a map-style torch ``Dataset``.

    Metadata is validated and read eagerly (for per-sample supports: their offsets, ``N + 1``
    integers per stored quantity); the HDF5 handle for sample reads is opened lazily on the first
    ``__getitem__`` in each process (safe with DataLoader workers), and a sample read touches only
    that sample's rows.

    Parameters
    ----------
    path : the ``.h5`` file
    fields : names of the fields returned by ``__getitem__`` (default: all)

    Notes
    -----
    ``ds[i]`` is a dict: each selected field as a float32 tensor of shape ``([T,] *space, C)``
    and each parameter as a 0-d tensor. On per-sample supports (``ds.per_sample``) the fields are
    ``([T,] n_i, C)`` and the dict also holds ``"points"``, ``(n_i, d)`` float32, and for meshes
    ``"cells"``, a dict cell type -> ``(k_i, nodes)`` int64 indices into the sample's points (every
    stored cell type, ``(0, nodes)`` where the sample has none). :func:`collate_samples` batches
    such samples. An input-only dataset has no outputs: ``ds.outputs == []``.
    """

    def __init__(self, path, fields: list[str] | None = None):
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: dataset file not found")
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise ValueError(f"{self.path}: not a readable HDF5 file ({exc})") from exc
        with f:
            self._read_meta(f)
        if fields is not None:
            unknown = [k for k in fields if k not in self._roles]
            if unknown:
                raise ValueError(f"{self.path}: no field(s) {unknown}; available: {list(self._roles)}")
        self.fields = list(fields) if fields is not None else list(self._roles)

    def _read_meta(self, f: h5py.File) -> None:
        p = self.path
        if "format" not in f.attrs:
            raise ValueError(f"{p}: not a sciml dataset (missing attribute 'format')")
        if _as_str(f.attrs["format"]) != FORMAT:
            raise ValueError(f"{p}: not a sciml dataset (format is {_as_str(f.attrs['format'])!r})")
        version = int(f.attrs.get("format_version", -1))
        if version not in _KNOWN_VERSIONS:
            raise ValueError(f"{p}: unknown sciml dataset format_version {version} (known: {_KNOWN_VERSIONS})")
        for key in ("support", "fields"):
            if key not in f:
                raise ValueError(f"{p}: malformed sciml dataset (missing group '/{key}')")
        attrs = {
            k: _as_str(v) if isinstance(v, (str, bytes)) else (v.item() if isinstance(v, np.generic) else v)
            for k, v in f.attrs.items()
        }
        attrs["generator"] = json.loads(attrs.get("generator") or "{}")
        self._attrs = attrs
        kind = _as_str(f["support"].attrs.get("kind", ""))
        self.per_sample = kind in _SAMPLE_KINDS
        if self.per_sample:
            if version < 2:
                raise ValueError(f"{p}: support kind {kind!r} needs format_version 2, the file says {version}")
            self._support = _read_sample_support(p, f["support"], _SAMPLE_KINDS[kind], self._h5)
            n_points = int(self._support.offsets[-1])
        else:
            try:
                self._support = _read_support(f["support"])
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{p}: malformed /support ({exc})") from exc
            space = _space_shape(self._support)
        self._times = f["times"][()] if "times" in f else None
        self._roles, self._channels, self._shapes, n = {}, {}, {}, None
        for name, ds in f["fields"].items():
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(f"{p}: malformed field {name!r} (a group, not a dataset)")
            role = _as_str(ds.attrs.get("role", ""))
            if role not in _ROLES:
                raise ValueError(f"{p}: field {name!r} has role {role!r}; expected one of {_ROLES}")
            if self.per_sample:
                self._check_sample_field(name, ds, n_points)
            else:
                if n is not None and ds.shape[0] != n:
                    raise ValueError(f"{p}: field {name!r} has {ds.shape[0]} samples, other fields have {n}")
                n = ds.shape[0]
                if tuple(ds.shape[-1 - len(space) : -1]) != space:
                    raise ValueError(f"{p}: field {name!r} has shape {ds.shape}, inconsistent with support {space}")
            self._roles[name] = role
            self._channels[name] = [_as_str(c) for c in ds.attrs.get("channels", [])]
            self._shapes[name] = tuple(ds.shape)
        if not self._roles:
            raise ValueError(f"{p}: sciml dataset has no fields")
        if self.per_sample:
            n = len(self._support)
        assert n is not None  # set by the first field
        self._n: int = n
        self._params = {k: v[()] for k, v in f.get("params", {}).items()}
        for k, v in self._params.items():
            if v.shape != (n,):
                raise ValueError(f"{p}: parameter {k!r} has shape {v.shape}; expected ({n},)")
        reserved = [k for k in (*self._roles, *self._params) if k in RESERVED]
        if self.per_sample and reserved:
            raise ValueError(f"{p}: field or parameter {reserved[0]!r} has a reserved name ({', '.join(RESERVED)})")

    def _check_sample_field(self, name: str, ds: h5py.Dataset, n_points: int) -> None:
        p, times = self.path, self._times
        if ds.ndim not in (2, 3):
            raise ValueError(f"{p}: field {name!r} has shape {ds.shape}; expected (P, C) or (T, P, C)")
        if ds.shape[-2] != n_points:
            raise ValueError(
                f"{p}: field {name!r} has {ds.shape[-2]} values along its point axis but the per-sample supports "
                f"have {n_points} points (all samples together)"
            )
        if ds.ndim == 3 and (times is None or ds.shape[0] != len(times)):
            have = "no /times" if times is None else f"{len(times)} times"
            raise ValueError(f"{p}: field {name!r} has shape {ds.shape} (T = {ds.shape[0]}) but the file has {have}")

    # ---- metadata --------------------------------------------------------------------
    @property
    def support(self):
        """The shared Grid, Mesh or points (version 1 layout), or a :class:`SampleSupports`."""
        return self._support

    @property
    def times(self) -> np.ndarray | None:
        return self._times

    @property
    def n_samples(self) -> int:
        return self._n

    @property
    def inputs(self) -> list[str]:
        return [k for k in self.fields if self._roles[k] == "input"]

    @property
    def outputs(self) -> list[str]:
        return [k for k in self.fields if self._roles[k] == "output"]

    @property
    def channels(self) -> dict[str, list[str]]:
        return dict(self._channels)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Stored shape of every field: ``(N, [T,] *space, C)``, or ``([T,] P, C)`` on per-sample supports."""
        return dict(self._shapes)

    @property
    def attrs(self) -> dict:
        return dict(self._attrs)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return dict(self._params)

    # ---- data ------------------------------------------------------------------------
    def _h5(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def __len__(self) -> int:
        return self._n

    def _sample_values(self, name: str, i: int) -> np.ndarray:
        a, b = self._support.offsets[i], self._support.offsets[i + 1]
        return self._h5()["fields"][name][..., a:b, :]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if not -self._n <= i < self._n:
            raise IndexError(f"sample {i} out of range for {self._n} samples")
        i %= self._n
        f = self._h5()
        out: dict = {}
        if self.per_sample:
            out["points"] = torch.from_numpy(self._support.points(i).astype(np.float32))
            if self._support.kind == "mesh":
                out["cells"] = {t: torch.from_numpy(c) for t, c in self._support.cells(i).items()}
            for k in self.fields:
                out[k] = torch.from_numpy(np.asarray(self._sample_values(k, i), dtype=np.float32))
        else:
            out.update({k: torch.from_numpy(np.asarray(f["fields"][k][i], dtype=np.float32)) for k in self.fields})
        for k, v in self._params.items():
            val = v[i]
            out[k] = (
                torch.tensor(val, dtype=torch.float32) if np.issubdtype(v.dtype, np.floating) else torch.tensor(val)
            )
        return out

    def load(self, name: str, indices=None) -> np.ndarray | list[np.ndarray]:
        """Read a field (``(n, [T,] *space, C)``) or parameter (``(n,)``) for ``indices`` (default all).

        On per-sample supports a field reads as a list of n arrays ``([T,] n_i, C)``, as stored.
        """
        if name in self._params:
            v = self._params[name]
            return v.copy() if indices is None else v[np.asarray(indices, dtype=np.int64)]
        if name not in self._roles:
            raise KeyError(f"{self.path}: no field or parameter {name!r}; fields: {list(self._roles)}")
        if self.per_sample:
            idx = range(self._n) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1) % self._n
            return [self._sample_values(name, int(i)) for i in idx]
        ds = self._h5()["fields"][name]
        if indices is None:
            return ds[()]
        idx = np.asarray(indices, dtype=np.int64).reshape(-1) % self._n
        if idx.size == 0:
            return np.empty((0, *ds.shape[1:]), dtype=ds.dtype)
        uniq, inv = np.unique(idx, return_inverse=True)  # h5py wants increasing, unique indices
        lo, hi = int(uniq[0]), int(uniq[-1]) + 1
        block = ds[lo:hi][uniq - lo] if hi - lo <= 2 * uniq.size else ds[uniq]
        return block[inv]


def _pad(tensors: list[torch.Tensor], axis: int, fill) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack tensors that differ only in length along ``axis``, padded with ``fill`` to the longest;
    and the ``(B, longest)`` mask of real entries."""
    lengths = torch.tensor([t.shape[axis] for t in tensors])
    shape = list(tensors[0].shape)
    shape[axis] = int(lengths.max())
    out = tensors[0].new_full((len(tensors), *shape), fill)
    for b, t in enumerate(tensors):
        out[b].narrow(axis, 0, t.shape[axis]).copy_(t)
    return out, torch.arange(shape[axis])[None, :] < lengths[:, None]


def collate_samples(items: list[dict]) -> dict:
    """Batch samples of different sizes (items of a per-sample :class:`H5Dataset`); a ``collate_fn``.

    Returns
    -------
    A dict with the batch size B first in every entry: ``points`` ``(B, n_max, d)`` and each field
    ``(B, [T,] n_max, C)``, zero-padded along the point axis to the largest sample's ``n_max`` points;
    ``mask`` ``(B, n_max)`` bool, True at a sample's real points (padding must be masked out of
    every loss and metric); each parameter ``(B,)``; for meshes ``cells`` (type -> ``(B, k_max, nodes)``
    int64, padded with -1) and ``cell_mask`` (type -> ``(B, k_max)`` bool). Items without
    ``points`` (shared support, equal sizes) are batched by torch's ``default_collate``.
    """
    if not items:
        raise ValueError("collate_samples needs at least one sample")
    if "points" not in items[0]:
        return torch.utils.data.default_collate(items)
    keys = list(items[0])
    for b, it in enumerate(items):
        if list(it) != keys or ("cells" in it and list(it["cells"]) != list(items[0]["cells"])):
            have = list(it) + [f"cells/{t}" for t in it.get("cells", ())]
            want = keys + [f"cells/{t}" for t in items[0].get("cells", ())]
            raise ValueError(f"collate_samples: sample {b} has keys {have}, sample 0 has {want}")
        n = it["points"].shape[0]
        bad = [k for k, v in it.items() if k != "cells" and v.ndim >= 2 and v.shape[-2] != n]
        if bad:
            raise ValueError(
                f"collate_samples: {bad[0]!r} of sample {b} has shape {tuple(it[bad[0]].shape)} but "
                f"the sample has {n} points"
            )
    out: dict = {}
    for k in keys:
        if k == "cells":
            pairs = {t: _pad([it["cells"][t] for it in items], 0, -1) for t in items[0]["cells"]}
            out["cells"] = {t: c for t, (c, _) in pairs.items()}
            out["cell_mask"] = {t: m for t, (_, m) in pairs.items()}
        elif items[0][k].ndim == 0:
            out[k] = torch.stack([it[k] for it in items])
        else:
            out[k], mask = _pad([it[k] for it in items], items[0][k].ndim - 2, 0)
            if k == "points":
                out["mask"] = mask
    return out


def split_indices(n: int, fractions: dict[str, float] | tuple, seed: int = 0) -> dict[str, np.ndarray]:
    """Reproducible random split of ``range(n)`` into disjoint, sorted index arrays.

    Parameters
    ----------
    n : number of samples
    fractions : ``{"train": 0.9, "test": 0.1}`` (fractions, sum <= 1; if they sum to 1 every
        sample is used) or explicit counts ``{"train": 1000, "test": 100}``; a tuple names its
        parts ``("train", "test")`` or ``("train", "val", "test")``
    seed : seed of the permutation

    Returns
    -------
    name -> ``(n_part,)`` int64 indices, sorted.
    """
    if not isinstance(fractions, dict):
        names = {2: ("train", "test"), 3: ("train", "val", "test")}.get(len(fractions))
        if names is None:
            raise ValueError(f"a tuple split needs 2 or 3 entries, got {fractions}")
        fractions = dict(zip(names, fractions))
    vals = list(fractions.values())
    if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or v < 0 for v in vals):
        raise ValueError(f"split sizes must be non-negative numbers, got {fractions}")
    if all(isinstance(v, (int, np.integer)) for v in vals):
        counts = [int(v) for v in vals]
        if sum(counts) > n:
            raise ValueError(f"split counts {fractions} sum to {sum(counts)} > {n} samples")
    elif all(isinstance(v, (float, np.floating)) for v in vals):
        total = float(sum(vals))
        if total > 1 + 1e-9:
            raise ValueError(f"split fractions {fractions} sum to {total} > 1")
        exact = np.asarray(vals, dtype=np.float64) * n
        floors = np.floor(exact + 1e-9).astype(int)
        if abs(total - 1) <= 1e-9:  # distribute the rounding remainder by largest fractional part
            for j in np.argsort(-(exact - floors), kind="stable")[: n - floors.sum()]:
                floors[j] += 1
        counts = floors.tolist()
    else:
        raise ValueError(f"split sizes must be all fractions (float) or all counts (int), got {fractions}")
    perm = np.random.default_rng(seed).permutation(n)
    ends = np.cumsum([0] + counts)
    return {k: np.sort(perm[a:b]) for k, a, b in zip(fractions, ends[:-1], ends[1:])}


def _diff_keys(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix[:-1] or '<root>'} (stored {a!r}, requested {b!r})"]


class GenerationInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a dataset generation; the partial file was removed."""


@contextlib.contextmanager
def _interrupt_on_signals(path: Path):
    """Turn SIGINT and SIGTERM into :class:`GenerationInterrupted` while generating ``path``.

    The exception unwinds through :func:`~sciml.output.atomic_path`, which removes the
    temporary file; a second signal while it unwinds is ignored. Signals the process ignores
    stay ignored, and outside the main thread (where Python cannot set handlers) nothing changes.
    """
    fired: list[int] = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise GenerationInterrupted(f"{signal.Signals(signum).name} while generating {path}; nothing was written")

    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(s) is not signal.SIG_IGN:
                old[s] = signal.signal(s, handler)
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def ensure_dataset(path, generate: Callable[[], None], generator: dict) -> Path:
    """Generate-on-first-use cache of a dataset.

    If ``path`` is missing, call ``generate()`` (which must write ``path`` with
    ``generator=generator``). If it exists, reuse it when its stored generator config equals
    ``generator``; otherwise raise ``ValueError`` naming the path and the differing keys.

    Before generating, temporary files that a killed generator left next to ``path`` are
    removed (see :func:`~sciml.output.remove_stale_temps`). While ``generate()`` runs, SIGINT
    and SIGTERM raise :class:`GenerationInterrupted` (a ``KeyboardInterrupt``), so the
    partial file is removed and nothing is left at ``path``.
    """
    path = Path(path)
    wanted = _normalize_config(generator)
    fresh = not path.exists()
    if fresh:
        remove_stale_temps(path)
        with _interrupt_on_signals(path):
            generate()
        if not path.exists():
            raise RuntimeError(f"{path}: the dataset generator returned without writing the file")
    stored = H5Dataset(path).attrs["generator"]
    diff = _diff_keys(stored, wanted)
    if diff:
        if fresh:
            raise ValueError(f"{path}: the generator wrote settings different from those requested: " + "; ".join(diff))
        raise ValueError(
            f"{path}: existing dataset was generated with different settings: "
            + "; ".join(diff)
            + ". If this is your own file, read it as it is (H5Dataset(path), "
            "or data.generate: false in a case); if it was generated for another setting, delete "
            "the file to regenerate it or choose another path."
        )
    return path
