"""The one extension point: a Method holds its model(s) and defines the loss.

The Trainer calls ``loss``, ``after_step``, ``evaluate`` and ``predict``, and around each stage
the phase hooks: ``check_phases`` once, then per stage ``start_stage`` and ``param_groups``. A
new method is a new subclass of :class:`AbstractMethod` (concrete methods are final: compose, do
not subclass them again).

Phases: a stage of ``train.stages`` may name a ``phase`` (default :data:`DEFAULT_PHASE`). A
method that trains different parts in different stages (CORAL: fit the fields, then a processor
on frozen codes; DGNO: train, then invert with frozen decoders) lists its phases in
:attr:`AbstractMethod.phases` and returns the parameter groups of each from ``param_groups``;
parameters in no group are frozen for that stage. Parts that act only in some stages (point
selection, for instance) are told the phase in ``start_stage``, never a step count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, cast

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
    phase: str = ""  # the current stage's phase ("" before the first stage starts)


DEFAULT_PHASE = "train"  # the phase of a stage that names none


def phase_names(option: str, phases: Any) -> list[str] | None:
    """A method option naming the phases in which a part acts (``selection.phases``...): None (every
    stage) or a non-empty list of names; anything else is one line naming ``option``."""
    if phases is not None and (
        not isinstance(phases, list) or not phases or not all(isinstance(p, str) and p for p in phases)
    ):
        raise ValueError(f"method.{option} must be a non-empty list of phase names, got {phases!r}")
    return phases


class AbstractMethod(nn.Module, ABC):
    """A training method.

    Attributes
    ----------
    weights : name -> weight of each loss term; terms without an entry weigh 1.
    """

    weights: dict[str, float]
    #: the phases this method gives a meaning to (its own parameter groups); empty: any phase name
    #: is a label for the stages (selection and the like may refer to it) and every parameter trains
    phases: tuple[str, ...] = ()

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

    # --- phases ---
    def check_phases(self, phases: list[str]) -> None:
        """Check the phases the case's stages name (in stage order), before any training. Default:
        a method with :attr:`phases` refuses names it does not know; options of the method that
        refer to phases (``selection.phases``...) are checked by overriding this."""
        unknown = [p for p in phases if self.phases and p not in self.phases]
        if unknown:
            raise ValueError(
                f"train.stages: phase {unknown[0]!r} is not a phase of method {type(self).__name__}; "
                f"its phases: {', '.join(self.phases)}"
            )

    def start_stage(self, phase: str, state: TrainState, data: Any) -> None:
        """Hook before a stage starts, and again when a run resumes inside it (so it must only set
        what the phase implies, idempotently). Called before :meth:`param_groups`. Default: nothing."""

    def param_groups(self, phase: str) -> list[dict]:
        """The optimizer's parameter groups for a stage of ``phase``: dicts with ``"params"`` and
        optionally ``"lr_scale"`` (a factor on the stage's ``lr``). Parameters in no group are
        frozen (no gradient) for the stage. Default: one group, every parameter."""
        return [{"params": list(self.parameters())}]

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        # sum() starts from the int 0; a method returns at least one term, so this is a tensor
        return cast(torch.Tensor, sum(self.weights.get(k, 1.0) * v for k, v in terms.items()))
