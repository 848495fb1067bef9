"""Composite batches: samples of one data source and points of another, in the same batch.

A physics-informed operator (DGNO: weak-form residuals of each input sample at quadrature points,
no labels) needs per-sample fields *and* fresh points where the residual is evaluated. The
``composite`` source serves both in one batch::

    data:
      type: composite
      samples: {type: hdf5, path: data/darcy.h5, n_train: 1000, n_test: 100, batch_size: 20}
      points:  {type: collocation, n_interior: 2000, n_boundary: 100}

The batch is the samples' batch (``x``, ``y``...) plus the point source's entries under
``points/<name>`` (``points/interior``, ``points/weights``...). Epochs are the samples' epochs;
``after_step`` reaches both sources (so collocation points are redrawn on their own schedule), and
the checkpointed state holds both states.
"""

from __future__ import annotations

from typing import Any

from ..config import CONTEXT_ARGS, OptionError
from ..registry import DATA
from .base import Data

PREFIX = "points/"


class CompositeData(Data):
    """``samples`` (a dataset source) and ``points`` (a point source) batched together."""

    def __init__(self, samples, points):
        self.samples, self.points = samples, points

    def __getattr__(self, name: str) -> Any:
        # what methods read from their data (normalizers, supports, test splits) is the samples'
        if name in ("samples", "points"):
            raise AttributeError(name)
        return getattr(self.samples, name)

    def next_batch(self, batch_size: int = 0) -> dict[str, Any]:
        batch = dict(self.samples.next_batch(batch_size))
        for k, v in self.points.next_batch().items():
            batch[PREFIX + k] = v
        return batch

    def to(self, device=None, dtype=None) -> CompositeData:
        self.samples.to(device=device, dtype=dtype)
        self.points.to(device=device, dtype=dtype)
        return self

    def steps_per_epoch(self, batch_size: int = 0) -> int:
        return self.samples.steps_per_epoch(batch_size)

    def after_step(self, state) -> None:
        self.samples.after_step(state)
        self.points.after_step(state)

    def shard(self, rank: int, world: int) -> None:
        self.samples.shard(rank, world)
        self.points.shard(rank, world)

    def state_dict(self) -> dict:
        return {"samples": self.samples.state_dict(), "points": self.points.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.samples.load_state_dict(state["samples"])
        self.points.load_state_dict(state["points"])


def _section(name: str, section) -> tuple[str, dict]:
    if not isinstance(section, dict) or "type" not in section:
        raise OptionError(name, f"composite data: {name} must be a data section with a type, e.g. {{type: hdf5, ...}}")
    if section["type"] == "composite" or section["type"] not in DATA:
        raise OptionError(
            f"{name}.type",
            f"composite data: unknown {name} type {section['type']!r}; choose one of: "
            f"{', '.join(n for n in DATA.names() if n != 'composite')}",
        )
    return section["type"], {k: v for k, v in section.items() if k != "type"}


def check_composite(*, problem, samples, points, seed: int = 0, **_) -> None:
    """Both sections name a data type, and each passes that type's own checks (run by
    ``sciml.config.validate`` before any work); an option error names ``samples.<key>``."""
    for name, section in (("samples", samples), ("points", points)):
        kind, opts = _section(name, section)
        try:
            DATA.check(kind, opts, exclude=CONTEXT_ARGS, problem=problem, seed=seed)
        except OptionError as exc:
            raise OptionError(f"{name}.{exc.option}", str(exc)) from None


@DATA.register("composite")
def composite(*, problem, seed: int = 0, samples: dict | None = None, points: dict | None = None) -> CompositeData:
    """Samples of one data source (``samples``) and points of another (``points``) in each batch."""
    check_composite(problem=problem, samples=samples, points=points, seed=seed)
    parts = [_section(name, s) for name, s in (("samples", samples), ("points", points))]
    return CompositeData(*(DATA.build(kind, opts, problem=problem, seed=seed) for kind, opts in parts))


composite.check = check_composite  # type: ignore[attr-defined]  # run by sciml.config.validate
