"""What the Trainer asks of data: the one protocol every data source implements.

A data source hands the method one batch per optimizer step and keeps whatever state decides the
next batch (a point generator, an epoch position) in ``state_dict``, so that an interrupted run
resumes bit for bit. The sources in ``sciml.data``:

- ``collocation``: point sets in the problem's domain (interior, each condition, observations);
- ``quadrature``: a fixed quadrature rule (energy form);
- ``hdf5``: samples of an HDF5 dataset, minibatched by per-epoch permutations;
- ``trajectories``: time windows of trajectories (autoregressive operators);
- ``composite``: samples of one source and points of another in the same batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch


class Data(ABC):
    """A data source for :class:`~sciml.train.Trainer`.

    Required: :meth:`next_batch` and :meth:`to`. The others have defaults for sources without
    state (a fixed rule) and without epochs.
    """

    @abstractmethod
    def next_batch(self, batch_size: int = 0) -> dict[str, Any]:
        """The next training batch, a mapping of names to tensors (what the method's ``loss`` reads).
        ``batch_size`` 0 means the source's default."""

    @abstractmethod
    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Data:
        """Move the batches' floating tensors to ``device``/``dtype``; returns the source."""

    def steps_per_epoch(self, batch_size: int = 0) -> int:
        """Optimizer steps per pass over the training set (stages given in ``epochs``). Default 1."""
        return 1

    def after_step(self, state) -> None:
        """Called after every optimizer step with the Trainer's state (resampling). Default: nothing."""
        return None

    def shard(self, rank: int, world: int) -> None:
        """Keep this rank's share of the data under data-parallel training (``torchrun``)."""
        raise NotImplementedError(f"{type(self).__name__} does not support data-parallel training")

    def state_dict(self) -> dict:
        """What decides the next batches (generator states, epoch position), for checkpoints."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        return None
