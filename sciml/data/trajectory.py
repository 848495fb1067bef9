r"""Trajectory data for autoregressive operators: windows of K past steps → the next ``bundle`` steps.

A trajectory dataset stores each sample's solution at ``T`` uniformly spaced times,
``/fields/<name>`` of shape ``(N, T, *space, C)``, with per-sample PDE parameters in ``/params``
(see ``docs/data_format.md``). A training batch draws, for each trajectory of the per-epoch
permutation, a start index ``t`` and returns

- ``u``: the input window ``u[t − K : t]``, ``(B, K, *space, C)``;
- ``future``: the next ``bundle · (n + 1)`` steps, ``(B, bundle·(n+1), *space, C)``;
- ``t``: the start index (B,), ``params``: (B, P) scaled PDE parameters;
- ``unroll``: ``n``, the number of pushforward steps the method rolls out without gradient before
  the loss (Brandstetter et al. 2022): drawn uniformly from ``{0, …, min(epoch, pushforward)}``, the
  curriculum of the MP-PDE paper. An epoch here is one window per trajectory; the paper's code
  repeats its data loop once per time step in an epoch (~250× more windows), so the curriculum
  ramps up in far fewer windows here.

Randomness is seeded by ``(seed, epoch, position)``, so a resumed run sees the same batches.
Parameters are divided by their largest magnitude on the training set (a parameter constant over
the set, such as α in E1, is seen as a constant input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import OptionError
from ..mesh import Grid, Mesh
from ..problems.base import IOSpec
from ..registry import DATA
from .hdf5 import H5Dataset, _space_shape, split_indices
from .operator import EpochBatches, check_dataset_file, check_finite, count, open_problem_dataset, problem_file


@dataclass(frozen=True)
class WindowIO(IOSpec):
    """What an autoregressive model maps: K steps of C channels (+ time and P parameters) → ``bundle`` steps.

    ``inputs``/``outputs`` list the channels a grid model sees stacked (K·C values, then ``t`` and the
    parameters; bundle·C outputs), so channel-mixing operators (FNO, MgNO) build from it unchanged;
    graph models read the fields below.
    """

    window: int = 1
    bundle: int = 1
    channels: tuple[str, ...] = ()
    param_names: tuple[str, ...] = ()
    support: Any = None
    period: tuple[float | None, ...] | None = None
    dt: float = 1.0
    t_max: float = 1.0

    @property
    def n_fields(self) -> int:
        return len(self.channels)

    def positions(self) -> np.ndarray:
        """(n_nodes, d) node coordinates, in the stored node order."""
        s = self.support
        return s.points() if isinstance(s, Grid) else (s.points if isinstance(s, Mesh) else np.asarray(s))


class TrajectoryData(EpochBatches):
    """Train/test trajectories in memory, ``(N, T, *space, C)`` float tensors, and window batches."""

    def __init__(
        self,
        dataset: H5Dataset,
        n_train: int,
        n_test: int,
        batch_size: int,
        time_window: int,
        bundle: int | None,
        pushforward: int,
        seed: int,
        period: list | None = None,
        periodic: dict | None = None,
    ):
        n = len(dataset)
        count("n_train", n_train), count("n_test", n_test)
        if n_train + n_test > n:
            raise ValueError(f"{dataset.path}: n_train + n_test = {n_train + n_test} exceeds its {n} samples")
        times = dataset.times
        if times is None or len(times) < 2:
            raise ValueError(f"{dataset.path} has no time axis (/times): trajectory data need one")
        steps = np.diff(times)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-12):
            raise ValueError(f"{dataset.path}: times are not uniformly spaced (steps {steps.min():g}..{steps.max():g})")
        names = [f for f in dataset.outputs if len(dataset.shapes[f]) == 2 + len(_space_shape(dataset.support)) + 1]
        if not names:
            raise ValueError(f"{dataset.path}: no output field with a time axis (N, T, *space, C)")
        K = _positive("time_window", time_window)
        B = K if bundle is None else _positive("bundle", bundle)
        _positive("batch_size", batch_size)
        if isinstance(pushforward, bool) or not isinstance(pushforward, int) or pushforward < 0:
            raise ValueError(f"pushforward must be an integer >= 0, got {pushforward!r}")
        T = len(times)
        if K + B > T:
            raise ValueError(f"time_window {K} + bundle {B} exceeds the {T} stored times")
        self.dataset, self.support, self.times = dataset, dataset.support, np.asarray(times, dtype=np.float64)
        self.window, self.bundle, self.pushforward = K, B, int(pushforward)
        self.dt, self.t_max = float(steps[0]), float(max(abs(times[-1]), 1e-300))
        self.channels = tuple(c for f in names for c in dataset.channels[f])
        self.param_names = tuple(sorted(dataset.params))
        self.period = _period(dataset.support, period, periodic)
        split = split_indices(n, {"train": n_train, "test": n_test}, seed)

        def stack(idx):
            arrays = [dataset.load(f, idx) for f in names]
            for f, a in zip(names, arrays):
                check_finite(dataset, f, a, idx)
            return torch.as_tensor(np.concatenate(arrays, axis=-1))

        self.u = {k: stack(v) for k, v in split.items()}
        raw = {
            k: np.stack([dataset.load(p, v) for p in self.param_names], -1).astype(np.float64)
            if self.param_names
            else np.zeros((len(v), 0))
            for k, v in split.items()
        }
        for k, v in split.items():
            for j, name in enumerate(self.param_names):
                check_finite(dataset, name, raw[k][:, j], v)
        scale = np.abs(raw["train"]).max(0) if self.param_names else np.zeros(0)
        self.param_scale = np.where(scale > 0, scale, 1.0)
        self.params = {k: torch.as_tensor(v / self.param_scale, dtype=self.u[k].dtype) for k, v in raw.items()}
        self.raw_params = raw
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.epoch, self.pos, self.rank = 0, 0, 0
        self.train_index = torch.arange(n_train)

    # --- description for model builders ---
    def io_spec(self, problem) -> WindowIO:
        K, B = self.window, self.bundle
        ins = tuple(f"{c}@{-K + j}" for j in range(K) for c in self.channels) + ("t",) + self.param_names
        outs = tuple(f"{c}@{j}" for j in range(B) for c in self.channels)
        nd = self.support.dim if isinstance(self.support, Grid) else 0
        return WindowIO(
            ins,
            outs,
            nd,
            None,
            tuple(self.support.shape) if isinstance(self.support, Grid) else None,
            K,
            B,
            self.channels,
            self.param_names,
            self.support,
            self.period,
            self.dt,
            self.t_max,
        )

    # --- trainer interface ---
    def to(self, device=None, dtype=None):
        for d in (self.u, self.params):
            for k in d:
                d[k] = d[k].to(device=device, dtype=dtype)
        return self

    def shard(self, rank: int, world: int) -> None:
        super().shard(rank, world)
        self.rank = rank  # start times differ between ranks; the unroll count is shared

    def max_unroll(self) -> int:
        """Pushforward steps allowed this epoch: min(epoch, pushforward), and what the trajectory length allows."""
        fit = (len(self.times) - self.window) // self.bundle - 1
        return max(0, min(self.epoch, self.pushforward, fit))

    def next_batch(self, batch_size: int = 0) -> dict[str, torch.Tensor | int]:
        rng = np.random.default_rng([self.seed, self.epoch, self.pos])
        n = int(rng.integers(0, self.max_unroll() + 1))  # drawn before the position advances
        draw = np.random.default_rng([self.seed, self.epoch, self.pos, self.rank])
        idx = self.next_indices(batch_size)
        K, B, T = self.window, self.bundle, len(self.times)
        last = T - B * (n + 1)  # the start index t may go up to here
        t = torch.as_tensor(draw.integers(K, last + 1, size=len(idx)), device=self.u["train"].device)
        u = self.u["train"]
        rows = idx[:, None]
        past = u[rows, t[:, None] + torch.arange(-K, 0)]
        future = u[rows, t[:, None] + torch.arange(B * (n + 1))]
        return {"u": past, "future": future, "t": t, "params": self.params["train"][idx], "unroll": n}


def _positive(name: str, v) -> int:
    return count(name, v, 1)


def check_trajectories(
    *, problem, seed: int, path, n_train, n_test, batch_size, time_window, bundle, pushforward, period, generate
) -> None:
    """The ``trajectories`` data options, and an existing file against the case, without generating data."""
    path = path or problem_file(problem)  # problem from_data: its file
    count("n_train", n_train), count("n_test", n_test), count("batch_size", batch_size)
    K = count("time_window", time_window)
    B = K if bundle is None else count("bundle", bundle)
    count("pushforward", pushforward, 0)
    dataset = check_dataset_file(problem, path, n_train + n_test, seed, generate)
    if dataset is not None:  # None: it will be generated
        times = dataset.times
        if times is None or len(times) < 2:
            raise OptionError("path", f"{dataset.path} has no time axis (/times): trajectory data need one")
        if K + B > len(times):
            raise OptionError(
                "time_window", f"time_window {K} + bundle {B} exceeds the {len(times)} stored times of {dataset.path}"
            )


def _period(support, period, periodic: dict | None = None) -> tuple[float | None, ...] | None:
    """Per-axis periods: a periodic Grid's own; for a mesh or points the ``period`` option, else the
    problem's ``periodic`` declaration (coordinate ``x``, ``y``, ``z`` → period), else not periodic."""
    if isinstance(support, Grid):
        if period is not None:
            raise ValueError("data.period is for meshes and point sets; a grid's periodicity is its own")
        out = tuple((b - a) if p else None for (a, b), p in zip(support.bounds, support.periodic))
        return out if any(p is not None for p in out) else None
    dim = support.dim if isinstance(support, Mesh) else np.asarray(support).shape[1]
    if period is None and periodic:
        period = [periodic.get(ax) for ax in ("x", "y", "z")[:dim]]
    if period is None:
        return None
    if len(period) != dim or any(p is not None and not p > 0 for p in period):
        raise ValueError(f"data.period must list {dim} positive periods (or null per axis), got {period}")
    return tuple(None if p is None else float(p) for p in period)


@DATA.register("trajectories")
def trajectory_data(
    *,
    problem,
    seed: int = 0,
    path: str = "",
    n_train: int = 256,
    n_test: int = 32,
    batch_size: int = 16,
    time_window: int = 25,
    bundle: int | None = None,
    pushforward: int = 0,
    period: list | None = None,
    generate: bool = True,
) -> TrajectoryData:
    """Trajectories from a sciml HDF5 file (generated by the problem's solver on first use), served as
    windows of ``time_window`` past steps and ``bundle`` (default: the same) future steps, with up to
    ``pushforward`` no-gradient unrolls (curriculum: at most the epoch number). ``period``: per-axis
    periods of a mesh or point-cloud support (default: the problem's ``periodic``); ``path``
    defaults to a ``from_data`` problem's file."""
    path = path or problem_file(problem)
    check_trajectories(
        problem=problem,
        seed=seed,
        path=path,
        n_train=n_train,
        n_test=n_test,
        batch_size=batch_size,
        time_window=time_window,
        bundle=bundle,
        pushforward=pushforward,
        period=period,
        generate=generate,
    )
    dataset = open_problem_dataset(problem, path, n_train + n_test, seed, generate)
    return TrajectoryData(
        dataset,
        n_train,
        n_test,
        batch_size,
        time_window,
        bundle,
        pushforward,
        seed,
        period,
        getattr(problem, "periodic", None),
    )


trajectory_data.check = check_trajectories  # type: ignore[attr-defined]  # run by sciml.config.validate, before any work
