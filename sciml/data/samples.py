"""Samples on supports of their own: batches of a format-v2 HDF5 file for methods on any geometry.

Each sample of a version 2 file (``docs/data_format.md``) has its own point set or mesh, of its own
size. This source serves random minibatches of the training samples, padded to the largest sample
of the batch by :func:`~sciml.data.hdf5.collate_samples`: ``points`` ``(B, n_max, d)``, ``mask``
``(B, n_max)`` (True at real points), each field ``(B, [T,] n_max, C)``, each parameter ``(B,)``,
and for meshes ``cells``/``cell_mask``. Samples are read from the file batch by batch (nothing is
held in memory but the offsets). Test samples come from :meth:`SampleData.test_batches`. Values are
in the file's units (no normalization: statistics over padded points would need the mask).

Neural fields on general geometries (CORAL) train on these batches. In a case,
``data: {type: samples, path: FILE, n_train: 800, n_test: 200, batch_size: 16}`` with the problem
that generates the file, or ``problem: {type: from_data, path: FILE}`` for a file of one's own; from
Python::

    data = SampleData(H5Dataset("clouds.h5"), n_train=800, n_test=200, batch_size=16, seed=0)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..config import OptionError
from ..registry import DATA
from .hdf5 import H5Dataset, collate_samples, split_indices
from .operator import EpochBatches, check_dataset_file, count, open_problem_dataset, problem_file


class PointSubsets:
    """The supports of :class:`Subsampled`: sample ``i``'s kept points, ``(n_i, d)``."""

    def __init__(self, points: np.ndarray, keep: list[np.ndarray]):
        self._points, self._keep = points, keep

    def __len__(self) -> int:
        return len(self._keep)

    @property
    def sizes(self) -> np.ndarray:
        return np.array([len(k) for k in self._keep])

    def points(self, i: int) -> np.ndarray:
        return self._points[self._keep[i]]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.points(i)


class Subsampled:
    """A dataset on one shared support (format version 1: a grid or points) seen as samples on
    supports of their own: each sample keeps a ``fraction`` of the support's points, the same ones
    for every sample (``shared``) or its own (drawn from ``seed`` and the sample's index). What
    CORAL's subsampled-grid experiments train on; the file is not changed.

    It reads like a per-sample :class:`H5Dataset` (``ds[i]`` with ``points`` and each field at the
    kept points, ``([T,] n_i, C)``; ``support``, ``times``, ``inputs``, ``outputs``, ``channels``)."""

    per_sample = True

    def __init__(self, dataset: H5Dataset, fraction: float, shared: bool = True, seed: int = 0):
        if dataset.per_sample:
            raise ValueError(f"{dataset.path}: subsample keeps points of a shared grid; the samples have their own")
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ValueError(f"subsample must be a fraction in (0, 1] of the grid's points, got {fraction!r}")
        sup = dataset.support
        pts = sup.points if hasattr(sup, "cells") else sup.points() if hasattr(sup, "axes") else np.asarray(sup)
        pts = np.asarray(pts, dtype=np.float64)
        pts = pts.reshape(len(pts), -1)
        n = len(pts)
        m = max(1, int(round(fraction * n)))
        if shared:
            one = np.sort(np.random.default_rng([seed, 7]).choice(n, m, replace=False))
            keep = [one] * len(dataset)
        else:
            keep = [
                np.sort(np.random.default_rng([seed, 7, i]).choice(n, m, replace=False)) for i in range(len(dataset))
            ]
        self.dataset, self.fraction, self.shared, self.path = dataset, float(fraction), bool(shared), dataset.path
        self.grid_points, self.keep = pts, keep
        self.support = PointSubsets(pts, keep)
        self.times, self.inputs, self.outputs = dataset.times, dataset.inputs, dataset.outputs
        self.channels, self.params, self.fields = dataset.channels, dataset.params, dataset.fields

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.dataset[i]
        t = 1 if self.times is not None else 0
        out: dict[str, torch.Tensor] = {"points": torch.from_numpy(self.support.points(i).astype(np.float32))}
        idx = torch.from_numpy(self.keep[i])
        for k, v in item.items():
            if k in self.fields:  # ([T,] *space, C) -> ([T,] n_i, C)
                out[k] = v.reshape(*v.shape[:t], -1, v.shape[-1]).index_select(t, idx)
            else:
                out[k] = v
        return out


class SampleData(EpochBatches):
    """Train/test minibatches of a per-sample (format version 2) dataset, padded and masked (or of
    a shared-grid dataset seen through :class:`Subsampled`)."""

    def __init__(self, dataset: H5Dataset | Subsampled, n_train: int, n_test: int, batch_size: int, seed: int = 0):
        count("n_train", n_train), count("n_test", n_test), count("batch_size", batch_size)
        if not dataset.per_sample:
            raise ValueError(
                f"{dataset.path}: all samples share one support (format version 1); use data type hdf5, or "
                "keep a fraction of its points per sample (subsample: FRACTION)"
            )
        if n_train + n_test > len(dataset):
            raise ValueError(
                f"{dataset.path}: n_train + n_test = {n_train + n_test} exceeds its {len(dataset)} samples"
            )
        split = split_indices(len(dataset), {"train": n_train, "test": n_test}, seed)
        self.dataset, self.support = dataset, dataset.support
        self.train_index = torch.as_tensor(split["train"])
        self.full_train_index = self.train_index  # shard() narrows train_index, not this
        self.test_index = torch.as_tensor(split["test"])
        self.batch_size, self.seed, self.epoch, self.pos = batch_size, seed, 0, 0
        self.device: torch.device | str | None = None
        self.dtype: torch.dtype = torch.float32

    def to(self, device=None, dtype=None) -> SampleData:
        self.device, self.dtype = device if device is not None else self.device, dtype or self.dtype
        return self

    def _move(self, batch: Any) -> Any:
        """Floating tensors to the source's dtype and device; masks and cells keep their types."""
        if isinstance(batch, dict):
            return {k: self._move(v) for k, v in batch.items()}
        if torch.is_floating_point(batch):
            return batch.to(device=self.device, dtype=self.dtype)
        return batch.to(device=self.device)

    def batch_of(self, indices) -> dict[str, Any]:
        """The padded batch of samples ``indices`` (file order), with ``index`` (B,): their indices
        in the file (a method may cache per-sample results, e.g. CORAL's codes)."""
        idx = np.asarray(indices).reshape(-1)
        batch = self._move(collate_samples([self.dataset[int(i)] for i in idx]))
        batch["index"] = torch.as_tensor(idx, dtype=torch.int64, device=self.device)
        return batch

    def next_batch(self, batch_size: int = 0) -> dict[str, Any]:
        return self.batch_of(self.next_indices(batch_size))

    def test_batches(self, batch_size: int = 0) -> Iterator[dict[str, Any]]:
        """The test samples in batches of ``batch_size`` (default the training batch size), in order."""
        bs = batch_size or self.batch_size
        for start in range(0, len(self.test_index), bs):
            yield self.batch_of(self.test_index[start : start + bs])


def check_samples(
    *, problem, seed: int, path, n_train, n_test, batch_size, generate, subsample=None, shared_points=True
) -> None:
    """The ``samples`` data options, and an existing file against the case, without generating data."""
    path = path or problem_file(problem)
    count("n_train", n_train), count("n_test", n_test), count("batch_size", batch_size)
    if subsample is not None and (
        isinstance(subsample, bool) or not isinstance(subsample, (int, float)) or not 0 < subsample <= 1
    ):
        raise OptionError(
            "subsample", f"subsample must be a fraction in (0, 1] of the grid's points, got {subsample!r}"
        )
    if not isinstance(shared_points, bool):
        raise OptionError("shared_points", f"shared_points must be true or false, got {shared_points!r}")
    check_dataset_file(problem, path, n_train + n_test, seed, generate)


@DATA.register("samples")
def samples_data(
    *,
    problem,
    seed: int = 0,
    path: str = "",
    n_train: int = 100,
    n_test: int = 20,
    batch_size: int = 8,
    generate: bool = True,
    subsample: float | None = None,
    shared_points: bool = True,
) -> SampleData:
    """Samples on supports of their own (HDF5 format version 2: a mesh or point set per sample),
    generated by the problem's solver on first use (``path`` defaults to a ``from_data`` problem's
    file); or a shared grid's samples each keeping a fraction ``subsample`` of its points, the same
    ones for all (``shared_points``) or each its own (:class:`Subsampled`)."""
    path = path or problem_file(problem)
    check_samples(
        problem=problem,
        seed=seed,
        path=path,
        n_train=n_train,
        n_test=n_test,
        batch_size=batch_size,
        generate=generate,
        subsample=subsample,
        shared_points=shared_points,
    )
    stored = open_problem_dataset(problem, path, n_train + n_test, seed, generate)
    dataset = stored if subsample is None else Subsampled(stored, subsample, shared_points, seed)
    return SampleData(dataset, n_train, n_test, batch_size, seed)


samples_data.check = check_samples  # type: ignore[attr-defined]  # run by sciml.config.validate, before any work
