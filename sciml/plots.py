"""Quick-look figures: loss curves, prediction vs reference, fields (PNG, Agg backend).

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, nothing to
close) and saved through :func:`sciml.output.atomic_path`.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TypeGuard

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # never switch the backend of a live pyplot session
    matplotlib.use("Agg")
# the imports below come after the backend choice, as matplotlib requires
import matplotlib.pyplot
import numpy as np
from matplotlib.figure import Figure
from matplotlib.tri import Triangulation

from .fields import Field
from .mesh import Grid, Mesh
from .output import atomic_path

DPI = 110


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        # tight: the saved area grows to every artist (colour-bar tick labels, offsets, titles), never clips them
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    return path


def _is_number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numeric_keys(records: list[dict], prefix: str) -> list[str]:
    keys = {k for r in records for k, v in r.items() if k.startswith(prefix) and _is_number(v)}
    return sorted(keys, key=lambda k: (k != prefix.rstrip("/"), k))


# ---- losses ----------------------------------------------------------------------------
def stage_boundaries(records: list[dict]) -> list[tuple[int, float]]:
    """``(stage, step)`` where each stage after the first begins: the last step logged in the stage
    before it (records carry ``stage`` and ``step``; the stage's end is always logged)."""
    ends: dict[int, float] = {}
    for r in records:
        st, step = r.get("stage"), r.get("step")
        if _is_number(st) and _is_number(step):
            ends[int(st)] = max(ends.get(int(st), -math.inf), float(step))
    return [(s, ends[s - 1]) for s in sorted(ends) if s - 1 in ends and s > 0]


def loss_figure(records: list[dict]) -> Figure:
    """The figure of :func:`plot_losses` (not saved): loss curves, eval curves, and a dotted vertical
    line labelled "stage N" at the step where each stage after the first begins."""
    recs = [r for r in records if _is_number(r.get("step"))]
    loss_keys = _numeric_keys(recs, "loss")
    eval_keys = [k for k in _numeric_keys(recs, "eval/") if k != "eval/n_points"]  # a count, not an error
    fig = Figure(figsize=(7, 6.5 if eval_keys else 4), layout="constrained")
    axes = fig.subplots(2 if eval_keys else 1, 1, squeeze=False, sharex=True)[:, 0]  # steps line up
    panels = [(axes[0], loss_keys, "loss")] + ([(axes[1], eval_keys, "eval")] if eval_keys else [])
    boundaries = stage_boundaries(recs)
    for ax, ks, ylabel in panels:
        positive = True
        for k in ks:
            pts = [(r["step"], float(r[k])) for r in recs if _is_number(r.get(k)) and math.isfinite(r[k])]
            if pts:
                x, y = zip(*pts)
                ax.plot(x, y, label=k, lw=1.4 if k == "loss" else 0.9)
                positive &= min(y) > 0
        if ks:
            ax.set_yscale("log" if positive else "linear")
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no {ylabel} records", ha="center", va="center", transform=ax.transAxes)
        for stage, step in boundaries:
            ax.axvline(step, color="0.4", ls=":", lw=1.0, gid=f"stage_{stage}")
            ax.text(
                step,
                0.98,
                f" stage {stage}",
                transform=ax.get_xaxis_transform(),
                fontsize=7,
                color="0.3",
                ha="left",
                va="top",
            )
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_losses(records: list[dict], path: str | os.PathLike) -> Path:
    """Loss curves (log scale) of every key starting with ``loss`` against ``step``.

    Keys starting with ``eval/`` go to a second panel. Records without ``step`` are ignored. A
    dotted vertical line marks where each stage after the first begins (from the records' ``stage``).
    """
    return _save(loss_figure(records), path)


# ---- layouts ---------------------------------------------------------------------------
def _spatial_dim(field: Field) -> int:
    if isinstance(field.support, Grid):
        return field.support.dim
    pts = field.points()
    if pts.shape[1] == 3 and np.allclose(pts[:, 2], 0.0):
        return 2
    return pts.shape[1]


def _layout(field: Field) -> str:
    dim = _spatial_dim(field)
    if dim == 1:
        return "xt" if field.times is not None else "line"
    if isinstance(field.support, Grid) and dim == 2:
        return "image"
    if dim == 2:
        return "tri"
    return "slice3d"


def _channel(field: Field, c: int) -> tuple[np.ndarray, str]:
    """Values of channel ``c``; for 2D/3D time series only the last step (with its label)."""
    v = field.values[..., c]
    if field.times is not None and _layout(field) != "xt":
        return v[-1], f" (t={field.times[-1]:.4g})"
    return v, ""


def _triangulation(field: Field) -> Triangulation:
    pts = field.points()
    tris = []
    if isinstance(field.support, Mesh):
        for ctype, conn in field.support.cells:
            if ctype == "triangle":
                tris.append(conn)
            elif ctype == "quad":
                tris += [conn[:, [0, 1, 2]], conn[:, [0, 2, 3]]]
    return Triangulation(pts[:, 0], pts[:, 1], np.concatenate(tris) if tris else None)


def _draw(fig: Figure, ax, field: Field, arr: np.ndarray, title: str, cmap: str = "viridis", vlim=None):
    """Draw one channel array (already reduced by :func:`_channel`) with a colorbar."""
    kind = _layout(field)
    vmin, vmax = vlim if vlim is not None else (None, None)
    if kind == "line":
        x = field.points()[:, 0]
        order = np.argsort(x)
        ax.plot(x[order], arr.reshape(-1)[order])
        ax.ticklabel_format(axis="y", useOffset=False)
        if vlim is not None:
            ax.set_ylim(*vlim)
        ax.set_xlabel("x")
        ax.set_title(title, fontsize=9)
        return
    if kind == "image":
        # values are indexed [ix, iy]: transpose; pixel centres sit on the grid nodes
        assert isinstance(field.support, Grid)  # the "image" layout is that of a 2D grid
        (xs, ys), (dx, dy) = field.support.axes(), field.support.spacing()
        ext = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2)
        im = ax.imshow(arr.T, origin="lower", extent=ext, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    elif kind == "xt":
        assert field.times is not None  # the "xt" layout is that of a 1D time series
        x = field.points()[:, 0]
        order = np.argsort(x)
        a = arr.reshape(len(field.times), -1)[:, order]
        im = ax.pcolormesh(x[order], field.times, a, shading="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xlabel("x")
        ax.set_ylabel("t")
    elif kind == "tri":
        im = ax.tripcolor(_triangulation(field), arr.reshape(-1), shading="gouraud", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    else:  # 3D: the slab of points around the middle z plane
        pts = field.points()
        z = pts[:, 2]
        zm, dz = 0.5 * (z.min() + z.max()), 0.1 * (np.ptp(z) or 1.0)
        sel = np.abs(z - zm) <= dz
        im = ax.scatter(pts[sel, 0], pts[sel, 1], c=arr.reshape(-1)[sel], s=6, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_aspect("equal")
        title += f" [|z-{zm:.3g}|<={dz:.2g}]"
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.85)


def _channel_index(field: Field, channel) -> list[int]:
    if channel is None:
        return list(range(len(field.names)))
    if isinstance(channel, str):
        if channel not in field.names:
            raise KeyError(f"unknown channel {channel!r}; channels: {', '.join(field.names)}")
        return [field.names.index(channel)]
    return [int(channel)]


def relative_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    """``||pred - ref|| / ||ref||`` (absolute error if the reference is zero)."""
    num = float(np.linalg.norm(np.ravel(pred) - np.ravel(ref)))
    den = float(np.linalg.norm(np.ravel(ref)))
    return num / den if den > 0 else num


# ---- public figures --------------------------------------------------------------------
def plot_comparison(
    pred: Field, ref: Field, path: str | os.PathLike, channel: str | int | None = None, title: str | None = None
) -> Path:
    """Prediction, reference and |error| side by side, one row per channel (all if None).

    The row title gives the relative L2 error over the whole channel (all time steps); ``title``
    goes above the figure (e.g. an operator method's ``sample_labels[stem]``, "worst sample #7
    (rel L2 0.31)"). Raises :class:`~sciml.fields.InconsistentDiscretizationError` if the supports differ.
    """
    return _save(comparison_figure(pred, ref, channel, title), path)


def comparison_figure(pred: Field, ref: Field, channel: str | int | None = None, title: str | None = None) -> Figure:
    """The figure of :func:`plot_comparison` (not saved)."""
    pred._check(ref)
    if pred.values.shape != ref.values.shape:
        raise ValueError(f"prediction {pred.values.shape} and reference {ref.values.shape} differ in shape")
    chans = _channel_index(pred, channel)
    line = _layout(pred) == "line"
    ncol = 2 if line else 3
    fig = Figure(figsize=(4.2 * ncol, 3.4 * len(chans)), layout="constrained")
    axes = fig.subplots(len(chans), ncol, squeeze=False)
    for row, c in zip(axes, chans):
        name = pred.names[c]
        err = relative_l2(pred.values[..., c], ref.values[..., c])
        p, label = _channel(pred, c)
        r, _ = _channel(ref, c)
        e = np.abs(p - r)
        if line:
            x = pred.points()[:, 0]
            o = np.argsort(x)
            row[0].plot(x[o], r.reshape(-1)[o], "k-", lw=2, label="reference")
            row[0].plot(x[o], p.reshape(-1)[o], "r--", lw=1.2, label="prediction")
            row[0].legend(fontsize=8)
            row[0].set_title(f"{name}: relative L2 error {err:.3e}", fontsize=9)
            row[0].set_xlabel("x")
            _draw(fig, row[1], pred, e, f"|error| {name}", vlim=(0.0, 1.1 * float(np.nanmax(e)) or 1.0))
            continue
        lim = (float(min(np.nanmin(p), np.nanmin(r))), float(max(np.nanmax(p), np.nanmax(r))))
        _draw(fig, row[0], pred, p, f"prediction {name}{label}", vlim=lim)
        _draw(fig, row[1], pred, r, f"reference {name}{label}\nrelative L2 error {err:.3e}", vlim=lim)
        _draw(fig, row[2], pred, e, f"|error| {name}{label}", cmap="magma")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_field(field: Field, path: str | os.PathLike) -> Path:
    """One panel per channel (same layouts as :func:`plot_comparison`)."""
    n = len(field.names)
    ncol = min(n, 3)
    nrow = -(-n // ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.4 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for c, name in enumerate(field.names):
        arr, label = _channel(field, c)
        _draw(fig, axes[c], field, arr, f"{name}{label}")
    for ax in axes[n:]:
        ax.set_visible(False)
    return _save(fig, path)
