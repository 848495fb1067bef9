"""Samples on supports of their own: batches of a format-v2 HDF5 file for methods on any geometry.

Each sample of a version 2 file (``docs/data_format.md``) has its own point set or mesh, of its own
size. This source serves random minibatches of the training samples, padded to the largest sample
of the batch by :func:`~sciml.data.hdf5.collate_samples`: ``points`` ``(B, n_max, d)``, ``mask``
``(B, n_max)`` (True at real points), each field ``(B, [T,] n_max, C)``, each parameter ``(B,)``,
and for meshes ``cells``/``cell_mask``. Samples are read from the file batch by batch (nothing is
held in memory but the offsets). Test samples come from :meth:`SampleData.test_batches`. Values are
in the file's units (no normalization: statistics over padded points would need the mask).

Neural fields on general geometries (CORAL) train on these batches; from Python::

    data = SampleData(H5Dataset("clouds.h5"), n_train=800, n_test=200, batch_size=16, seed=0)

Not yet a case-file data type: a case also needs a problem for such a file (``problem: from_data``
reads format version 1 only), which comes with CORAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .hdf5 import H5Dataset, collate_samples, split_indices
from .operator import EpochBatches, count


class SampleData(EpochBatches):
    """Train/test minibatches of a per-sample (format version 2) dataset, padded and masked."""

    def __init__(self, dataset: H5Dataset, n_train: int, n_test: int, batch_size: int, seed: int = 0):
        count("n_train", n_train), count("n_test", n_test), count("batch_size", batch_size)
        if not dataset.per_sample:
            raise ValueError(f"{dataset.path}: all samples share one support (format version 1); use data type hdf5")
        if n_train + n_test > len(dataset):
            raise ValueError(
                f"{dataset.path}: n_train + n_test = {n_train + n_test} exceeds its {len(dataset)} samples"
            )
        split = split_indices(len(dataset), {"train": n_train, "test": n_test}, seed)
        self.dataset, self.support = dataset, dataset.support
        self.train_index = torch.as_tensor(split["train"])
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
        """The padded batch of samples ``indices`` (file order)."""
        return self._move(collate_samples([self.dataset[int(i)] for i in np.asarray(indices).reshape(-1)]))

    def next_batch(self, batch_size: int = 0) -> dict[str, Any]:
        return self.batch_of(self.next_indices(batch_size))

    def test_batches(self, batch_size: int = 0) -> Iterator[dict[str, Any]]:
        """The test samples in batches of ``batch_size`` (default the training batch size), in order."""
        bs = batch_size or self.batch_size
        for start in range(0, len(self.test_index), bs):
            yield self.batch_of(self.test_index[start : start + bs])
