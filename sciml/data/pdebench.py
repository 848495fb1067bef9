"""Readers for PDEBench's published HDF5 layouts, mapped onto sciml objects.

Three layouts (``layout`` of :func:`convert_pdebench` and ``sciml data convert-pdebench --layout``):

``darcy`` -- 2-D Darcy flow, ``2D_DarcyFlow_beta{beta}_Train.hdf5``:

============== ===================== ===========================
key            shape                 meaning
============== ===================== ===========================
``nu``         (N, nx, ny)           coefficient a(x) (input)
``tensor``     (N, 1, nx, ny)        solution u(x) (output)
``x-coordinate`` (nx,)               node coordinates along x
``y-coordinate`` (ny,)               node coordinates along y
============== ===================== ===========================

``1d`` -- 1-D advection and Burgers, ``1D_Advection_Sols_beta{beta}.hdf5``,
``1D_Burgers_Sols_Nu{nu}.hdf5`` (periodic in x):

================ ===================== ===========================
key              shape                 meaning
================ ===================== ===========================
``tensor``       (N, T, nx)            u(t, x) per sample
``x-coordinate`` (nx,)                 cell centres
``t-coordinate`` (T + 1,) or (T,)      times; the published files store one time more than
                                       ``tensor`` (0, dt, ..., T dt): the first T are used
================ ===================== ===========================

``diff-react`` -- 2-D diffusion–reaction, ``2D_diff-react_NA_NA.h5``: one group per sample
(``0000``, ``0001``, ...) with ``data`` (T, nx, ny, 2) (activator u, inhibitor v) and
``grid/x`` (nx,), ``grid/y`` (ny,), ``grid/t`` (T,).
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

from sciml.data.hdf5 import write_dataset
from sciml.mesh import Grid

__all__ = [
    "read_pdebench_darcy",
    "convert_pdebench_darcy",
    "read_pdebench_1d",
    "convert_pdebench_1d",
    "read_pdebench_diff_react",
    "convert_pdebench_diff_react",
    "convert_pdebench",
    "LAYOUTS",
    "TARGETS",
]

_DARCY_KEYS = ("tensor", "nu", "x-coordinate", "y-coordinate")
_BETA = re.compile(r"beta(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)")


def _uniform_axis(c: np.ndarray, name: str, file: str, what: str = "Darcy") -> tuple[float, float]:
    """Bounds ``(c[0], c[-1])`` of a uniform, increasing coordinate array; raise otherwise."""
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if c.size < 2:
        raise ValueError(f"PDEBench {what} file {file}: '{name}' needs at least 2 entries, got {c.size}")
    d = np.diff(c)
    h = (c[-1] - c[0]) / (c.size - 1)
    if h <= 0 or np.max(np.abs(d - h)) > 1e-4 * h:
        raise ValueError(
            f"PDEBench {what} file {file}: '{name}' is not uniformly spaced and increasing "
            f"(spacings in [{d.min():.6g}, {d.max():.6g}])"
        )
    return float(c[0]), float(c[-1])


def read_pdebench_darcy(path, max_samples: int | None = None) -> dict:
    """Read a PDEBench 2-D Darcy file.

    Parameters
    ----------
    path : ``2D_DarcyFlow_beta*_Train.hdf5``
    max_samples : read only the first ``max_samples`` samples (default all)

    Returns
    -------
    dict with
        ``a`` : (N, nx, ny, 1) float32, the coefficient (input)
        ``u`` : (N, nx, ny, 1) float32, the solution (output)
        ``grid`` : :class:`~sciml.mesh.Grid` of shape ``(nx, ny)`` whose nodes are the file's
        coordinates (bounds = first/last coordinate, so cell-centred data keeps its positions)
        ``beta`` : float parsed from the file name (``..._beta1.0_...``), or ``None``

    Notes
    -----
    Axis order is an assumption: PDEBench does not document it, its own loader builds the
    coordinate grid with ``meshgrid(x, y, indexing="ij")``, so we read the arrays as
    ``nu[i, ix, iy]`` with x along the first spatial axis -- the same 'ij' convention as
    :class:`~sciml.mesh.Grid`. (The published files use identical x and y coordinates on
    [0, 1], so a transposition would only swap the axes' labels.)
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise FileNotFoundError(f"PDEBench Darcy file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"PDEBench Darcy file {name} is not a readable HDF5 file ({exc})") from exc
    with f:
        for key in _DARCY_KEYS:
            if key not in f:
                raise ValueError(f"PDEBench Darcy file {name} has no dataset '{key}'; found: {sorted(f.keys())}")
        tensor, nu = f["tensor"], f["nu"]
        if nu.ndim != 3:
            raise ValueError(f"PDEBench Darcy file {name}: 'nu' has shape {nu.shape}; expected (N, nx, ny)")
        n, nx, ny = nu.shape
        if tensor.shape != (n, 1, nx, ny):
            raise ValueError(
                f"PDEBench Darcy file {name}: 'tensor' has shape {tensor.shape}; "
                f"expected {(n, 1, nx, ny)} to match 'nu' {nu.shape}"
            )
        x, y = f["x-coordinate"][()], f["y-coordinate"][()]
        if x.shape != (nx,) or y.shape != (ny,):
            raise ValueError(
                f"PDEBench Darcy file {name}: coordinates have shapes {x.shape}, {y.shape}; "
                f"expected ({nx},), ({ny},) to match 'nu' {nu.shape}"
            )
        m = _n_read(max_samples, n)
        a = np.asarray(nu[:m], dtype=np.float32)[..., None]
        u = np.asarray(tensor[:m, 0], dtype=np.float32)[..., None]
    grid = Grid((nx, ny), (_uniform_axis(x, "x-coordinate", name), _uniform_axis(y, "y-coordinate", name)))
    match = _BETA.search(name)
    beta = float(match.group(1).rstrip(".")) if match else None
    return {"a": a, "u": u, "grid": grid, "beta": beta}


def convert_pdebench_darcy(src, dst, max_samples: int | None = None) -> Path:
    """Convert a PDEBench 2-D Darcy file into the sciml dataset format.

    Fields ``a`` (input) and ``u`` (output) on the file's grid; ``beta`` (if it is in the
    file name) becomes a per-sample parameter; ``problem="darcy2d"`` and
    ``generator={"source": "pdebench", "file": <file name>}``.

    Returns
    -------
    Path of the written sciml dataset.
    """
    src = Path(src)
    d = read_pdebench_darcy(src, max_samples=max_samples)
    n = len(d["a"])
    params = {} if d["beta"] is None else {"beta": np.full(n, d["beta"], dtype=np.float64)}
    return write_dataset(
        dst,
        {"a": d["a"], "u": d["u"]},
        {"a": "input", "u": "output"},
        d["grid"],
        channels={"a": ["a"], "u": ["u"]},
        params=params,
        problem="darcy2d",
        generator={"source": "pdebench", "file": src.name},
    )


# ---- 1-D advection / Burgers ---------------------------------------------------------------
LAYOUTS = ("darcy", "1d", "diff-react")
TARGETS = ("operator", "trajectories")
_PARAM_1D = re.compile(r"(beta|nu)(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)", re.IGNORECASE)


def _open(path, what: str) -> tuple[Path, h5py.File]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"PDEBench {what} file not found: {path}")
    try:
        return path, h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"PDEBench {what} file {path.name} is not a readable HDF5 file ({exc})") from exc


def _n_read(max_samples, n: int) -> int:
    """How many of the file's ``n`` samples to read: all (``max_samples`` None) or the first
    ``max_samples``, which must be >= 1 (a negative count would slice samples off the end)."""
    if max_samples is None:
        return n
    if isinstance(max_samples, bool) or int(max_samples) < 1:
        raise ValueError(f"max_samples must be an integer >= 1 (or None: every sample), got {max_samples!r}")
    return min(int(max_samples), n)


def _stride(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    return int(v)


def _times(t: np.ndarray, n_steps: int, name: str, file: str, what: str) -> np.ndarray:
    """The ``n_steps`` times of the stored steps: ``t`` itself, or its first ``n_steps`` entries when
    the file stores one more (PDEBench's 1-D files: ``t-coordinate`` has T + 1 entries)."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if t.size not in (n_steps, n_steps + 1):
        raise ValueError(
            f"PDEBench {what} file {file}: '{name}' has {t.size} entries; expected {n_steps} "
            f"or {n_steps + 1} for {n_steps} stored time steps"
        )
    return t[:n_steps]


def read_pdebench_1d(
    path, max_samples: int | None = None, t_stride: int = 1, periodic: bool = True, ends: bool = False
) -> dict:
    """Read a PDEBench 1-D file (advection, Burgers): ``tensor`` (N, T, nx), ``x-coordinate`` (nx,),
    ``t-coordinate`` (T + 1,) or (T,).

    Parameters
    ----------
    path : e.g. ``1D_Burgers_Sols_Nu0.001.hdf5``
    max_samples : read only the first ``max_samples`` samples (default all)
    t_stride : keep every ``t_stride``-th time step (the first and, when it falls on the stride, the last)
    periodic : the grid is periodic (PDEBench's advection and Burgers are); then its bounds are
        ``(x[0], x[0] + nx·h)`` (the right end excluded, as :class:`~sciml.mesh.Grid`), so its nodes are
        the file's coordinates
    ends : read only the first and the last stored step (``t_stride`` is then ignored)

    Returns
    -------
    dict with ``u`` (N, T', nx, 1) float32, ``times`` (T',) float64, ``grid`` (:class:`~sciml.mesh.Grid`)
    and ``params`` (``{"beta": β}`` or ``{"nu": ν}`` parsed from the file name, else ``{}``).
    """
    path, f = _open(path, "1D")
    name, ts = path.name, _stride("t_stride", t_stride)
    with f:
        for key in ("tensor", "x-coordinate", "t-coordinate"):
            if key not in f:
                raise ValueError(f"PDEBench 1D file {name} has no dataset '{key}'; found: {sorted(f.keys())}")
        tensor = f["tensor"]
        if tensor.ndim != 3:
            raise ValueError(f"PDEBench 1D file {name}: 'tensor' has shape {tensor.shape}; expected (N, T, nx)")
        n, nt, nx = tensor.shape
        x = np.asarray(f["x-coordinate"][()], dtype=np.float64).reshape(-1)
        if x.shape != (nx,):
            raise ValueError(
                f"PDEBench 1D file {name}: 'x-coordinate' has shape {x.shape}; expected ({nx},) "
                f"to match 'tensor' {tensor.shape}"
            )
        steps = [0, nt - 1] if ends and nt > 1 else slice(None, None, ts)
        times = _times(f["t-coordinate"][()], nt, "t-coordinate", name, "1D")[steps]
        m = _n_read(max_samples, n)
        u = np.asarray(tensor[:m, steps], dtype=np.float32)[..., None]
    lo, hi = _uniform_axis(x, "x-coordinate", name, "1D")
    if periodic:
        hi = lo + nx * (hi - lo) / (nx - 1)
    grid = Grid((nx,), ((lo, hi),), periodic=(bool(periodic),))
    match = _PARAM_1D.search(name)
    params = {match.group(1).lower(): float(match.group(2).rstrip("."))} if match else {}
    return {"u": u, "times": times, "grid": grid, "params": params}


def _write(
    dst, src: Path, d: dict, target: str, problem: dict[str, str], layout: str, t_stride: int, channels: list[str]
) -> Path:
    """Write ``d`` (``u`` (N, T, *space, C), ``times``, ``grid``, ``params``) as an operator dataset
    ``u0 = u(t_0) → u = u(t_last)`` or as one trajectory field ``u`` with ``/times``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    u, n = d["u"], len(d["u"])
    params = {k: np.full(n, v, dtype=np.float64) for k, v in d["params"].items()}
    gen = {"source": "pdebench", "file": src.name, "layout": layout, "target": target, "t_stride": t_stride}
    if target == "operator":
        gen["t"] = [float(d["times"][0]), float(d["times"][-1])]
        return write_dataset(
            dst,
            {"u0": u[:, 0], "u": u[:, -1]},
            {"u0": "input", "u": "output"},
            d["grid"],
            channels={"u0": [f"{c}0" for c in channels], "u": channels},
            params=params,
            problem=problem[target],
            generator=gen,
        )
    return write_dataset(
        dst,
        {"u": u},
        {"u": "output"},
        d["grid"],
        channels={"u": channels},
        params=params,
        times=d["times"],
        problem=problem[target],
        generator=gen,
    )


def convert_pdebench_1d(src, dst, target: str = "operator", max_samples: int | None = None, t_stride: int = 1) -> Path:
    """Convert a PDEBench 1-D file into the sciml dataset format.

    ``target="operator"``: fields ``u0`` = u(t_0) (input) and ``u`` = u(t_last) (output), the layout of
    problem ``burgers_operator``; ``target="trajectories"``: one output field ``u`` (N, T, nx, 1) with
    ``/times``, the layout ``data: {type: trajectories}`` trains on (as ``combined_equation``'s). The
    parameter in the file name (``beta`` or ``nu``) becomes a per-sample parameter; ``generator``
    records the source file, layout, target and stride.
    """
    src = Path(src)
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    d = read_pdebench_1d(src, max_samples=max_samples, t_stride=t_stride, ends=target == "operator")
    return _write(
        dst,
        src,
        d,
        target,
        {"operator": "burgers_operator", "trajectories": "combined_equation"},
        "1d",
        _stride("t_stride", t_stride),
        ["u"],
    )


# ---- 2-D diffusion-reaction ----------------------------------------------------------------
def read_pdebench_diff_react(path, max_samples: int | None = None, t_stride: int = 1) -> dict:
    """Read PDEBench's 2-D diffusion–reaction file: groups ``0000``, ``0001``, ... each with ``data``
    (T, nx, ny, 2) and ``grid/x`` (nx,), ``grid/y`` (ny,), ``grid/t`` (T,).

    Returns
    -------
    dict with ``u`` (N, T', nx, ny, 2) float32 (channels u, v), ``times`` (T',), ``grid`` (a non-periodic
    :class:`~sciml.mesh.Grid` whose nodes are the cell centres, bounds = first/last coordinate) and
    ``params`` ``{}``. Samples are taken in sorted group-name order; every sample must share the
    first one's coordinates. Arrays are read as ``data[t, ix, iy, c]`` (x along the first spatial axis,
    the same 'ij' assumption as the Darcy reader).
    """
    path, f = _open(path, "diff-react")
    name, ts = path.name, _stride("t_stride", t_stride)
    with f:
        keys = sorted(k for k in f.keys() if isinstance(f[k], h5py.Group))
        if not keys:
            raise ValueError(
                f"PDEBench diff-react file {name} has no sample groups ('0000', ...); found: {sorted(f.keys())}"
            )
        keys = keys[: _n_read(max_samples, len(keys))]
        first: tuple[np.ndarray, ...] | None = None
        us = []
        for k in keys:
            g = f[k]
            for key in ("data", "grid/x", "grid/y", "grid/t"):
                if key not in g:
                    raise ValueError(f"PDEBench diff-react file {name}: sample '{k}' has no '{key}'")
            data = g["data"]
            coords = tuple(np.asarray(g[f"grid/{a}"][()], dtype=np.float64).reshape(-1) for a in "xyt")
            if first is None:
                first = coords
                if data.ndim != 4:
                    raise ValueError(
                        f"PDEBench diff-react file {name}: '{k}/data' has shape {data.shape}; expected (T, nx, ny, C)"
                    )
                shape = data.shape
                if shape[1:3] != (coords[0].size, coords[1].size):
                    raise ValueError(
                        f"PDEBench diff-react file {name}: '{k}/data' has shape {shape} but "
                        f"grid/x, grid/y have {coords[0].size}, {coords[1].size} entries"
                    )
                times = _times(coords[2], shape[0], f"{k}/grid/t", name, "diff-react")[::ts]
            else:
                if data.shape != shape:
                    raise ValueError(
                        f"PDEBench diff-react file {name}: '{k}/data' has shape {data.shape}, "
                        f"sample '{keys[0]}' has {shape}"
                    )
                for a, c, c0 in zip("xyt", coords, first):
                    if c.shape != c0.shape or not np.allclose(c, c0):
                        raise ValueError(
                            f"PDEBench diff-react file {name}: sample '{k}' has other grid/{a} "
                            f"coordinates than sample '{keys[0]}'"
                        )
            us.append(np.asarray(data[::ts], dtype=np.float32))
    assert first is not None  # there is at least one sample (checked above)
    grid = Grid(
        tuple(shape[1:3]),
        (_uniform_axis(first[0], "grid/x", name, "diff-react"), _uniform_axis(first[1], "grid/y", name, "diff-react")),
    )
    return {"u": np.stack(us), "times": times, "grid": grid, "params": {}}


def convert_pdebench_diff_react(
    src, dst, target: str = "trajectories", max_samples: int | None = None, t_stride: int = 1
) -> Path:
    """Convert PDEBench's 2-D diffusion–reaction file into the sciml dataset format.

    ``target="trajectories"`` (default): one output field ``u`` (N, T, nx, ny, 2) with channels
    ``u, v`` and ``/times``, for ``data: {type: trajectories}``; ``target="operator"``: ``u0`` (channels
    ``u0, v0``) = the first stored step (input) → ``u`` = the last (output).
    """
    src = Path(src)
    d = read_pdebench_diff_react(src, max_samples=max_samples, t_stride=t_stride)
    return _write(
        dst,
        src,
        d,
        target,
        {"operator": "pdebench_diff_react", "trajectories": "pdebench_diff_react"},
        "diff-react",
        _stride("t_stride", t_stride),
        ["u", "v"],
    )


def convert_pdebench(
    src, dst, layout: str = "darcy", target: str | None = None, max_samples: int | None = None, t_stride: int = 1
) -> Path:
    """Convert a PDEBench file of ``layout`` (``darcy``, ``1d``, ``diff-react``) into the sciml format;
    ``target`` (``operator`` or ``trajectories``) for the time-dependent layouts (default: ``operator`` for
    ``1d``, ``trajectories`` for ``diff-react``)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == "darcy":
        if target not in (None, "operator") or t_stride != 1:
            raise ValueError("the darcy layout has no time axis: target and t_stride do not apply")
        return convert_pdebench_darcy(src, dst, max_samples=max_samples)
    if layout == "1d":
        return convert_pdebench_1d(src, dst, target or "operator", max_samples=max_samples, t_stride=t_stride)
    return convert_pdebench_diff_react(src, dst, target or "trajectories", max_samples=max_samples, t_stride=t_stride)
