r"""Point selection for PINNs: which collocation points of each type to train on, between steps.

A selector is owned by the PINN method (``method: {type: pinn, selection: {type: rad, ...}}``) and
runs in its ``after_step`` hook: every ``every`` steps it may replace or grow the point set of
every named type — ``interior`` (the equations) and each condition — within a total ``budget``
and per-type minimums. New points come from the data's generator (checkpointed, so a resumed run
selects exactly as an uninterrupted one) and are written back with ``data.set_points``.

Baselines here:

- ``random``: redraw every type's points pseudo-randomly, same sizes.
- ``rad`` (residual-based adaptive distribution, Wu et al., CMAME 403 (2023)): redraw a type's
  points from a pool of ``pool_factor`` × as many, with probability
  :math:`p(x) \propto |r(x)|^k / \mathrm{mean}|r|^k + c`.
- ``rar_d`` (residual-based adaptive refinement with distribution, same paper): keep the points
  and add ``n_add`` per type from the same density, until the budget is reached.

The type's residual magnitude at a point is :math:`\sqrt{\sum_e r_e^2}` over the type's terms
(all equations for ``interior``). Time spent selecting is accumulated in ``overhead_s``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sciml.registry import SAMPLERS


class PointSelector:
    """Base class: decides when to select and enforces the budget and the per-type minimums.

    Parameters
    ----------
    every : select after every ``every`` optimizer steps (0 = never)
    budget : total points over all selected types (None: the initial total)
    min_points : minimum points per type (an int for all, or type -> int)
    types : the point sets it may change (None: all of the method's that do not couple points)
    max_points : type -> cap (e.g. how many observations may be used at once)

    ``phases`` (set by the method from ``selection.phases``): rounds happen only in stages of these
    phases (e.g. select during Adam, then refine the final sets with L-BFGS, whose curvature memory
    a change of points would invalidate); None = in every stage. The method sets ``in_phase``
    when a stage starts.
    """

    def __init__(
        self,
        every: int = 1000,
        budget: int | None = None,
        min_points: int | dict = 1,
        types: list[str] | None = None,
        max_points: dict | None = None,
    ):
        if every < 0:
            raise ValueError(f"selection.every must be >= 0, got {every}")
        if budget is not None and budget < 1:
            raise ValueError(f"selection.budget must be >= 1, got {budget}")
        self.every, self.budget, self.min_points = int(every), budget, min_points
        self.types = None if types is None else list(types)
        self.max_points = dict(max_points or {})
        bad = [
            t
            for t, m in self.max_points.items()
            if m < (min_points.get(t, 1) if isinstance(min_points, dict) else min_points)
        ]
        if bad:
            raise ValueError(f"selection.max_points of {bad[0]!r} is below its min_points")
        self.overhead_s = 0.0
        self.rounds = 0
        self.phases: list[str] | None = None
        self.in_phase = True  # whether the current stage's phase is one of ``phases``

    # --- wiring ---
    def bind(self, method, data) -> None:
        """Check the selector against the method's point sets and the data (first call)."""
        conds = method.problem.conditions
        names = [g for g in method.groups if g not in conds or conds[g].pointwise]
        names += ["observations"] if "observations" in getattr(data, "points", {}) else []
        unknown = sorted((set(self.types or []) | set(self.max_points)) - set(names))
        if unknown:
            raise ValueError(
                f"selection.types: no selectable point set {unknown[0]!r} (conditions coupling points, "
                f"such as periodic pairs, stay fixed); selectable: {', '.join(names)}"
            )
        if self.types is None:
            self.types = names
        if not hasattr(data, "set_points"):
            raise ValueError(f"point selection needs collocation data, got {type(data).__name__}")
        if getattr(data, "shard_of", (0, 1))[1] > 1:
            raise NotImplementedError("point selection under data-parallel training is not supported yet")
        total = sum(len(data.points[t]) for t in self.types)
        if self.budget is None:
            self.budget = total
        if total > self.budget:
            raise ValueError(f"selection.budget {self.budget} is below the initial {total} points of {self.types}")
        if sum(self.minimum(t) for t in self.types) > self.budget:
            raise ValueError(f"selection.min_points sum to more than the budget {self.budget}")

    def minimum(self, name: str) -> int:
        m = self.min_points.get(name, 1) if isinstance(self.min_points, dict) else self.min_points
        return int(m)

    def maximum(self, name: str) -> int | None:
        return self.max_points.get(name)

    def active(self, step: int) -> bool:
        return self.in_phase

    def due(self, step: int) -> bool:
        return self.every > 0 and step > 0 and step % self.every == 0 and self.active(step)

    def __call__(self, method, data, step: int) -> None:
        if self.due(step):
            self.round(method, data, step)

    def round(self, method, data, step: int) -> None:
        """Select, write the new point sets back, count the round and its time."""
        t0 = time.perf_counter()
        for name, x in self.select(method, data, step).items():
            data.set_points(name, x)
        self.rounds += 1
        self.after_round(method, data)
        self.overhead_s += time.perf_counter() - t0

    def after_round(self, method, data) -> None:
        """Hook after the new points are in place (inside the timed round). Default: nothing."""

    def select(self, method, data, step: int) -> dict[str, np.ndarray]:
        """New point sets by type (only the types that change)."""
        raise NotImplementedError

    # --- state (part of the method's checkpoint) ---
    def state_dict(self) -> dict:
        return {"overhead_s": self.overhead_s, "rounds": self.rounds, "budget": self.budget, "types": self.types}

    def load_state_dict(self, state: dict) -> None:
        self.overhead_s, self.rounds = state["overhead_s"], state["rounds"]
        self.budget, self.types = state["budget"], state["types"]


def residual_magnitude(method, name: str, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """|r| at points ``x`` for point set ``name``: √(Σ_terms Σ_components r²), float64 numpy
    (for ``"observations"`` rows (x, y): |u(x) − y|)."""
    p = next(method.parameters())
    out = []
    for c in torch.as_tensor(x, dtype=p.dtype, device=p.device).split(chunk):
        if name == "observations":
            r = method.observation_misfit(c)
        else:
            du = method.derivatives(name, c)
            r = torch.cat([f(du, method.params()).reshape(len(c), -1) for f in method.groups[name].values()], 1)
        out.append(r.detach().square().sum(1).sqrt().double().cpu())
    return torch.cat(out).numpy()


def candidates(data, name: str, n: int) -> np.ndarray:
    """A candidate pool of point set ``name``: ``n`` fresh pseudo-random points, or the whole
    (finite) pool for ``"observations"``."""
    return data.observation_pool if name == "observations" else data.sample(name, n, "pseudo")


def residual_density(r: np.ndarray, k: float, c: float) -> np.ndarray:
    """RAD's sampling probabilities p ∝ |r|^k / mean|r|^k + c (normalized)."""
    w = np.abs(r) ** k
    w = w / w.mean() + c if w.mean() > 0 else np.ones_like(w)
    return w / w.sum()


class RandomSelector(PointSelector):
    """Redraw every type's points pseudo-randomly (same sizes)."""

    def select(self, method, data, step):
        return {t: data.sample(t, len(data.points[t]), "pseudo") for t in self.types}  # observations: a new subset


class RAD(PointSelector):
    """Residual-based adaptive distribution: redraw ∝ |r|^k/mean + c from a larger pool."""

    def __init__(self, k: float = 1.0, c: float = 1.0, pool_factor: int = 5, **kw):
        super().__init__(**kw)
        if k < 0 or c < 0 or pool_factor < 1:
            raise ValueError(f"rad needs k >= 0, c >= 0, pool_factor >= 1; got {k}, {c}, {pool_factor}")
        self.k, self.c, self.pool_factor = float(k), float(c), int(pool_factor)

    def select(self, method, data, step):
        out = {}
        for t in self.types:
            n = len(data.points[t])
            pool = candidates(data, t, self.pool_factor * n)
            prob = residual_density(residual_magnitude(method, t, pool), self.k, self.c)
            out[t] = pool[data.rng.choice(len(pool), size=n, replace=False, p=prob)]
        return out


class RARD(RAD):
    """Residual-based adaptive refinement with distribution: add ``n_add`` points per type per round."""

    def __init__(self, n_add: int = 100, **kw):
        super().__init__(**kw)
        if n_add < 1:
            raise ValueError(f"rar_d n_add must be >= 1, got {n_add}")
        self.n_add = int(n_add)

    def select(self, method, data, step):
        out, room = {}, self.budget - sum(len(data.points[t]) for t in self.types)
        for t in self.types:
            cap = self.maximum(t)
            m = min(self.n_add, room, (cap - len(data.points[t])) if cap is not None else room)
            if m <= 0:
                continue
            pool = candidates(data, t, self.pool_factor * m)
            if t == "observations":  # the pool minus the points already in use
                used = {r.tobytes() for r in data.points[t]}
                pool = pool[[r.tobytes() not in used for r in pool]]
                m = min(m, len(pool))
                if m <= 0:
                    continue
            prob = residual_density(residual_magnitude(method, t, pool), self.k, self.c)
            out[t] = np.concatenate([data.points[t], pool[data.rng.choice(len(pool), size=m, replace=False, p=prob)]])
            room -= m
        return out


@SAMPLERS.register("random")
def random_selection(
    *, every: int = 1000, budget: int | None = None, min_points: int | dict = 1, types: list | None = None
) -> RandomSelector:
    """Redraw every point set pseudo-randomly every ``every`` steps (same sizes)."""
    return RandomSelector(every, budget, min_points, types)


@SAMPLERS.register("rad")
def rad(
    *,
    every: int = 1000,
    budget: int | None = None,
    min_points: int | dict = 1,
    types: list | None = None,
    k: float = 1.0,
    c: float = 1.0,
    pool_factor: int = 5,
) -> RAD:
    """RAD: redraw points ∝ |r|^k/mean|r|^k + c from a pool (Wu et al. 2023)."""
    return RAD(
        k=k,
        c=c,
        pool_factor=pool_factor,
        every=every,
        budget=budget,
        min_points=min_points,
        types=types or ["interior"],
    )


@SAMPLERS.register("rar_d")
def rar_d(
    *,
    every: int = 1000,
    budget: int | None = None,
    min_points: int | dict = 1,
    types: list | None = None,
    k: float = 2.0,
    c: float = 0.0,
    pool_factor: int = 5,
    n_add: int = 100,
    max_points: dict | None = None,
) -> RARD:
    """RAR-D: add points ∝ |r|^k/mean|r|^k + c each round, up to the budget (Wu et al. 2023)."""
    if budget is None:
        raise ValueError("rar_d grows the point sets: give selection.budget (total points)")
    return RARD(
        n_add=n_add,
        k=k,
        c=c,
        pool_factor=pool_factor,
        every=every,
        budget=budget,
        min_points=min_points,
        types=types or ["interior"],
        max_points=max_points,
    )
