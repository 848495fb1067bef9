"""The sciml HDF5 dataset format (version 1): writer, lazy torch reader, splits and caching.

The layout is specified in ``docs/data_format.md``. In short::

    /                 attrs format="sciml-dataset", format_version=1, problem, sciml_version,
                            created, seed, generator (JSON)
    /support          attrs kind = "grid" | "mesh" | "points" (+ grid attrs / mesh datasets)
    /times            optional (T,) float64
    /fields/<name>    (N, [T,] *space, C), attrs role, channels
    /params/<name>    (N,) per-sample scalars
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import torch

from sciml.mesh import Grid, Mesh
from sciml.output import atomic_path, remove_stale_temps

__all__ = ["FORMAT", "FORMAT_VERSION", "write_dataset", "H5Dataset", "split_indices", "ensure_dataset",
           "GenerationInterrupted"]

FORMAT = "sciml-dataset"
FORMAT_VERSION = 1
_KNOWN_VERSIONS = (1,)
_ROLES = ("input", "output")


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
        blocks: dict[str, list[np.ndarray]] = {}
        for ctype, conn in support.cells:  # repeated cell types are concatenated
            blocks.setdefault(ctype, []).append(conn)
        for ctype, conns in blocks.items():
            cells.create_dataset(ctype, data=np.concatenate(conns, axis=0))
        tags = g.create_group("point_tags", track_order=True)
        for name, idx in support.point_tags.items():
            tags.create_dataset(name, data=np.asarray(idx, dtype=np.int64))
    else:
        g.attrs["kind"] = "points"
        g.create_dataset("points", data=np.asarray(support, dtype=np.float64))


def _read_support(g: h5py.Group):
    kind = _as_str(g.attrs.get("kind", ""))
    if kind == "grid":
        bounds = np.asarray(g.attrs["bounds"], dtype=np.float64).reshape(-1, 2)
        return Grid(tuple(int(s) for s in g.attrs["shape"]), tuple(map(tuple, bounds)),
                    tuple(bool(p) for p in g.attrs["periodic"]))
    if kind == "mesh":
        cells = [(name, g["cells"][name][()]) for name in g["cells"]]
        tags = {name: g["point_tags"][name][()] for name in g.get("point_tags", {})}
        return Mesh(g["points"][()], cells, tags)
    if kind == "points":
        return g["points"][()]
    raise ValueError(f"unknown support kind {kind!r}")


def _as_str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def write_dataset(path, fields: dict[str, np.ndarray], roles: dict[str, str], support,
                  channels: dict[str, list[str]] | None = None, params: dict[str, np.ndarray] | None = None,
                  times: np.ndarray | None = None, problem: str = "", seed: int = 0,
                  generator: dict | None = None, dtype=np.float32) -> Path:
    """Write a dataset in the sciml HDF5 format, atomically (temp file + fsync + ``os.replace``).

    Parameters
    ----------
    path : destination file; parent directories are created
    fields : name -> array, shape ``(N, *space, C)`` or ``(N, T, *space, C)`` when ``times`` is given
    roles : name -> ``"input"`` or ``"output"``, one per field
    support : :class:`~sciml.mesh.Grid`, :class:`~sciml.mesh.Mesh` or an ``(n, d)`` points array;
        ``space`` is ``grid.shape`` or ``(n_points,)``
    channels : name -> C channel names (default ``[name]`` or ``[name0, name1, ...]``)
    params : name -> ``(N,)`` per-sample scalars (e.g. ``nu``, ``beta``)
    times : ``(T,)`` output times
    problem, seed, generator : provenance; ``generator`` is the generator's full config (JSON-able)
    dtype : storage dtype of the fields

    Returns
    -------
    Path of the written file.
    """
    path = Path(path)
    space = _space_shape(support)
    if not fields:
        raise ValueError(f"{path}: write_dataset needs at least one field")
    if set(roles) != set(fields):
        raise ValueError(f"{path}: roles must name exactly the fields {sorted(fields)}, got {sorted(roles)}")
    times = None if times is None else np.asarray(times, dtype=np.float64).reshape(-1)
    channels = dict(channels or {})
    params = {k: np.asarray(v) for k, v in (params or {}).items()}
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
        c = arr.shape[-1]
        chans = list(channels.get(name) or ([name] if c == 1 else [f"{name}{i}" for i in range(c)]))
        if len(chans) != c:
            raise ValueError(f"{path}: field {name!r} has {c} channels but {len(chans)} channel names {chans}")
        channels[name] = chans
        arrays[name] = arr
    for name, v in params.items():
        if name in fields:
            raise ValueError(f"{path}: parameter {name!r} has the same name as a field")
        if v.shape != (n,):
            raise ValueError(f"{path}: parameter {name!r} has shape {v.shape}; expected ({n},)")

    remove_stale_temps(path)  # left by a killed writer; a live writer's file is kept
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(format=FORMAT, format_version=FORMAT_VERSION, problem=str(problem),
                           sciml_version=_sciml_version(), seed=int(seed),
                           created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           generator=json.dumps(generator or {}, sort_keys=True, default=_json_default))
            _write_support(f, support)
            if times is not None:
                f.create_dataset("times", data=times)
            g = f.create_group("fields", track_order=True)
            for name, arr in arrays.items():
                ds = g.create_dataset(name, data=arr, chunks=(1, *arr.shape[1:]), compression="gzip",
                                      compression_opts=4, shuffle=True)
                ds.attrs["role"] = roles[name]
                ds.attrs["channels"] = channels[name]
            pg = f.create_group("params", track_order=True)
            for name, v in params.items():
                pg.create_dataset(name, data=v)
    return path


class H5Dataset(torch.utils.data.Dataset):
    """A sciml HDF5 dataset as a map-style torch ``Dataset``.

    Metadata is validated and read eagerly; the HDF5 handle for sample reads is opened
    lazily on the first ``__getitem__`` in each process (safe with DataLoader workers).

    Parameters
    ----------
    path : the ``.h5`` file
    fields : names of the fields returned by ``__getitem__`` (default: all)

    Notes
    -----
    ``ds[i]`` is a dict: each selected field as a float32 tensor of shape ``([T,] *space, C)``
    and each parameter as a 0-d tensor.
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
        attrs = {k: _as_str(v) if isinstance(v, (str, bytes)) else (v.item() if isinstance(v, np.generic) else v)
                 for k, v in f.attrs.items()}
        attrs["generator"] = json.loads(attrs.get("generator") or "{}")
        self._attrs = attrs
        try:
            self._support = _read_support(f["support"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{p}: malformed /support ({exc})") from exc
        space = _space_shape(self._support)
        self._times = f["times"][()] if "times" in f else None
        self._roles, self._channels, self._shapes, n = {}, {}, {}, None
        for name, ds in f["fields"].items():
            role = _as_str(ds.attrs.get("role", ""))
            if role not in _ROLES:
                raise ValueError(f"{p}: field {name!r} has role {role!r}; expected one of {_ROLES}")
            if n is not None and ds.shape[0] != n:
                raise ValueError(f"{p}: field {name!r} has {ds.shape[0]} samples, other fields have {n}")
            n = ds.shape[0]
            if tuple(ds.shape[-1 - len(space):-1]) != space:
                raise ValueError(f"{p}: field {name!r} has shape {ds.shape}, inconsistent with support {space}")
            self._roles[name] = role
            self._channels[name] = [_as_str(c) for c in ds.attrs.get("channels", [])]
            self._shapes[name] = tuple(ds.shape)
        if n is None:
            raise ValueError(f"{p}: sciml dataset has no fields")
        self._n = n
        self._params = {k: v[()] for k, v in f.get("params", {}).items()}
        for k, v in self._params.items():
            if v.shape != (n,):
                raise ValueError(f"{p}: parameter {k!r} has shape {v.shape}; expected ({n},)")

    # ---- metadata --------------------------------------------------------------------
    @property
    def support(self):
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
        """Stored shape ``(N, [T,] *space, C)`` of every field."""
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

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if not -self._n <= i < self._n:
            raise IndexError(f"sample {i} out of range for {self._n} samples")
        i %= self._n
        f = self._h5()
        out = {k: torch.from_numpy(np.asarray(f["fields"][k][i], dtype=np.float32)) for k in self.fields}
        for k, v in self._params.items():
            val = v[i]
            out[k] = torch.tensor(val, dtype=torch.float32) if np.issubdtype(v.dtype, np.floating) else torch.tensor(val)
        return out

    def load(self, name: str, indices=None) -> np.ndarray:
        """Read a field (``(n, [T,] *space, C)``) or parameter (``(n,)``) for ``indices`` (default all)."""
        if name in self._params:
            v = self._params[name]
            return v.copy() if indices is None else v[np.asarray(indices, dtype=np.int64)]
        if name not in self._roles:
            raise KeyError(f"{self.path}: no field or parameter {name!r}; fields: {list(self._roles)}")
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
        counts = np.floor(exact + 1e-9).astype(int)
        if abs(total - 1) <= 1e-9:  # distribute the rounding remainder by largest fractional part
            for j in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
                counts[j] += 1
        counts = counts.tolist()
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
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise GenerationInterrupted(f"{signal.Signals(signum).name} while generating {path}; "
                                        "nothing was written")

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
            raise ValueError(f"{path}: the generator wrote settings different from those requested: "
                             + "; ".join(diff))
        raise ValueError(f"{path}: existing dataset was generated with different settings: "
                         + "; ".join(diff) + ". If this is your own file, read it as it is (H5Dataset(path), "
                         "or data.generate: false in a case); if it was generated for another setting, delete "
                         "the file to regenerate it or choose another path.")
    return path
