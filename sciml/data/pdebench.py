"""Readers for PDEBench's published HDF5 layouts, mapped onto sciml objects.

Only the 2-D Darcy flow files (``2D_DarcyFlow_beta{beta}_Train.hdf5``) are supported so far:

============== ===================== ===========================
key            shape                 meaning
============== ===================== ===========================
``nu``         (N, nx, ny)           coefficient a(x) (input)
``tensor``     (N, 1, nx, ny)        solution u(x) (output)
``x-coordinate`` (nx,)               node coordinates along x
``y-coordinate`` (ny,)               node coordinates along y
============== ===================== ===========================
"""
from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

from sciml.data.hdf5 import write_dataset
from sciml.mesh import Grid

__all__ = ["read_pdebench_darcy", "convert_pdebench_darcy"]

_DARCY_KEYS = ("tensor", "nu", "x-coordinate", "y-coordinate")
_BETA = re.compile(r"beta(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)")


def _uniform_axis(c: np.ndarray, name: str, file: str) -> tuple[float, float]:
    """Bounds ``(c[0], c[-1])`` of a uniform, increasing coordinate array; raise otherwise."""
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if c.size < 2:
        raise ValueError(f"PDEBench Darcy file {file}: '{name}' needs at least 2 entries, got {c.size}")
    d = np.diff(c)
    h = (c[-1] - c[0]) / (c.size - 1)
    if h <= 0 or np.max(np.abs(d - h)) > 1e-4 * h:
        raise ValueError(f"PDEBench Darcy file {file}: '{name}' is not uniformly spaced and increasing "
                         f"(spacings in [{d.min():.6g}, {d.max():.6g}])")
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
            raise ValueError(f"PDEBench Darcy file {name}: 'tensor' has shape {tensor.shape}; "
                             f"expected {(n, 1, nx, ny)} to match 'nu' {nu.shape}")
        x, y = f["x-coordinate"][()], f["y-coordinate"][()]
        if x.shape != (nx,) or y.shape != (ny,):
            raise ValueError(f"PDEBench Darcy file {name}: coordinates have shapes {x.shape}, {y.shape}; "
                             f"expected ({nx},), ({ny},) to match 'nu' {nu.shape}")
        m = n if max_samples is None else min(int(max_samples), n)
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
    return write_dataset(dst, {"a": d["a"], "u": d["u"]}, {"a": "input", "u": "output"}, d["grid"],
                         channels={"a": ["a"], "u": ["u"]}, params=params, problem="darcy2d",
                         generator={"source": "pdebench", "file": src.name})
