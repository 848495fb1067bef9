"""The one extension point: a Method holds its model(s) and defines the loss.

The Trainer only ever calls ``loss``, ``after_step``, ``evaluate`` and ``predict``; a new
method is a new subclass of :class:`AbstractMethod` (concrete methods are final: compose,
do not subclass them again).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .fields import Field


@dataclass
class TrainState:
    """Where training is: stage index, step within the stage, global step count, the training
    seconds spent up to the last checkpoint (so a time budget spans interruptions) and those spent
    when the current stage began (a time-horizon schedule anneals over the rest of the budget)."""

    stage: int = 0
    step_in_stage: int = 0
    step: int = 0
    elapsed_s: float = 0.0
    stage_start_s: float = 0.0


class AbstractMethod(nn.Module, ABC):
    """A training method.

    Attributes
    ----------
    weights : name -> weight of each loss term; terms without an entry weigh 1.
    """

    weights: dict[str, float]

    @abstractmethod
    def loss(self, batch: Any) -> dict[str, torch.Tensor]:
        """Unweighted named loss terms for one batch."""

    @abstractmethod
    def evaluate(self, data: Any) -> dict[str, float]:
        """Metrics against the reference (relative L2...), computed without gradients."""

    @abstractmethod
    def predict(self, data: Any, n_samples: int = 4) -> list[tuple[str, Field]]:
        """Named output fields (prediction, reference and error channels) ready for writers.

        Dataset methods write their first ``n_samples`` test samples; others ignore it.
        """

    def after_step(self, state: TrainState, data: Any) -> None:
        """Hook after every optimizer step (resampling, multiplier updates...). Default: nothing."""

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights.get(k, 1.0) * v for k, v in terms.items())
