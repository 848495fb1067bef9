"""The one outer loop over runs (DESIGN.md §3 "Study"): contexts × arms × a policy.

A case's ``study:`` section names dotted case keys (as ``--set`` does) and their values::

    study:
      contexts: {problem.params.nu: [0.01, 0.02]}          # the situation an episode is played in
      arms: {train.stages.0.lr: [1.0e-3, 3.0e-3, 1.0e-2]}  # what the policy picks from
      policy: grid                                          # or {type: random, seed: 0}, or a plugin
      objective: eval/rel_l2                                # or {metric: ..., direction: maximize}
      trials: 6                                             # grid: every combination by default

Each episode is an ordinary :func:`sciml.run.run_case` with its own run directory under the study
directory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .registry import Registry

POLICIES = Registry("policy")
SECTION_KEYS = ("contexts", "arms", "policy", "objective", "trials", "storage")
RANGE_KEYS = ("low", "high", "log", "n", "integer")
DIRECTIONS = ("minimize", "maximize")
DEFAULT_METRIC = "eval/rel_l2"
POLICY_ARGS = {"contexts", "arms"}  # supplied by the study


# ---------------------------------------------------------------- spaces of case values
@dataclass(frozen=True)
class Dim:
    """One dotted case key and the values it takes: listed ``values``, or a range ``[low, high]``
    (log-uniform if ``log``, integers if ``integer``) with ``n`` grid points (0: drawn only)."""

    key: str
    values: tuple = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    n: int = 0
    integer: bool = False

    @property
    def listed(self) -> bool:
        return bool(self.values)

    def grid(self) -> list:
        """The values a grid visits: the listed ones, or ``n`` points spanning the range."""
        if self.listed:
            return list(self.values)
        pts = np.geomspace(self.low, self.high, self.n) if self.log else np.linspace(self.low, self.high, self.n)
        return [int(round(p)) if self.integer else float(p) for p in pts]

    def draw(self, rng: np.random.Generator) -> Any:
        """A value drawn uniformly: one of the listed values, or a point of the range."""
        if self.listed:
            return self.values[int(rng.integers(len(self.values)))]
        if self.log:
            v = float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        else:
            v = float(rng.uniform(self.low, self.high))
        return int(round(v)) if self.integer else v

    def candidates(self) -> list:
        """Values that stand for this key when episode cases are checked before any work: the grid,
        or a range's ends."""
        return self.grid() if self.listed or self.n else [self.low, self.high]


@dataclass(frozen=True)
class Space:
    """The values of several keys: the product of ``dims``, or explicitly listed ``points``
    (mappings of key to value). An empty space has one point, ``{}``."""

    dims: tuple[Dim, ...] = ()
    points: tuple[dict, ...] = ()

    @property
    def keys(self) -> list[str]:
        if self.points:
            return list(dict.fromkeys(k for p in self.points for k in p))
        return [d.key for d in self.dims]

    @property
    def finite(self) -> bool:
        """Whether a grid can enumerate it (every range has ``n`` points)."""
        return bool(self.points) or all(d.listed or d.n for d in self.dims)

    def grid(self) -> list[dict]:
        """Every point, in order (the first key varies slowest)."""
        if self.points:
            return [dict(p) for p in self.points]
        return [dict(zip(self.keys, combo)) for combo in itertools.product(*(d.grid() for d in self.dims))]

    def draw(self, rng: np.random.Generator) -> dict:
        if self.points:
            return dict(self.points[int(rng.integers(len(self.points)))])
        return {d.key: d.draw(rng) for d in self.dims}

    def candidates(self) -> list[tuple[str, Any]]:
        """(key, value) pairs to check one at a time before any work."""
        if self.points:
            return [(k, v) for p in self.points for k, v in p.items()]
        return [(d.key, v) for d in self.dims for v in d.candidates()]


# ---------------------------------------------------------------- policies
Proposal = tuple[dict, dict]  # (context, arm)


class Policy(Protocol):
    """What picks the episodes. Built from the study's spaces, ``POLICIES.build(name, options,
    contexts=..., arms=...)``; then asked once per episode.

    ``size`` is the number of episodes it offers (``None``: unbounded, the study's ``trials`` decides).
    ``adaptive`` says whether a proposal depends on the results (a bandit); a policy that does not
    is asked for all its proposals up front, so every episode's case is checked before any work.
    ``propose(k, history)`` returns episode ``k``'s ``(context, arm)`` (or ``None``: no more),
    given the finished episodes before it (:class:`Episode`, in order). It must be a function of
    ``k`` and ``history`` alone (seeded), so that a resumed study proposes what the first one did.
    """

    size: int | None
    adaptive: bool

    def propose(self, k: int, history: Sequence[Any]) -> Proposal | None: ...


@POLICIES.register("grid")
class GridPolicy:
    """Every context × arm combination in order: contexts vary slowest, arms fastest."""

    adaptive = False

    def __init__(self, contexts: Space, arms: Space):
        if not contexts.finite or not arms.finite:
            rng = next(d for d in (*contexts.dims, *arms.dims) if not (d.listed or d.n))
            raise ValueError(
                f"grid needs listed values or a range with n points; {rng.key} is a range without n "
                f"(give n: POINTS, or use policy random)"
            )
        self.combos = [(c, a) for c in contexts.grid() for a in arms.grid()]
        self.size = len(self.combos)

    def propose(self, k: int, history: Sequence[Any] = ()) -> Proposal | None:
        return self.combos[k] if k < self.size else None


@POLICIES.register("random")
class RandomPolicy:
    """A context and an arm drawn uniformly for each episode, from a generator seeded by ``seed``
    and the episode's index (so episode ``k`` is the same in every run of the study)."""

    adaptive = False
    size = None

    def __init__(self, contexts: Space, arms: Space, seed: int = 0):
        if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.contexts, self.arms, self.seed = contexts, arms, seed

    def propose(self, k: int, history: Sequence[Any] = ()) -> Proposal | None:
        rng = np.random.default_rng([self.seed, k])
        return self.contexts.draw(rng), self.arms.draw(rng)


# ---------------------------------------------------------------- the section
@dataclass
class Plan:
    """A checked ``study:`` section."""

    contexts: Space
    arms: Space
    policy: Any
    policy_name: str
    metric: str
    direction: str
    trials: int
    storage: str


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _space(c, path: tuple, value) -> Space:
    """Parse ``contexts``/``arms``: a mapping of dotted keys to lists or ranges, or a list of mappings."""
    if value is None:
        return Space()
    if isinstance(value, list):
        if not value:
            c.fail(path, "an empty list; give mappings of case keys to values, or leave it out")
        for i, p in enumerate(value):
            if not isinstance(p, dict) or not p:
                c.fail(path + (i,), f"expected a mapping of dotted case keys to values, got {p!r}")
            for k in p:
                _key(c, path + (i, k), k)
        return Space(points=tuple(dict(p) for p in value))
    if not isinstance(value, dict):
        c.fail(path, f"expected a mapping of dotted case keys to values or ranges, got {type(value).__name__}")
    dims = []
    for k, v in value.items():
        _key(c, path + (k,), k)
        dims.append(_dim(c, path + (k,), k, v))
    return Space(dims=tuple(dims))


def _key(c, path, k) -> None:
    if not isinstance(k, str) or not k or not all(k.split(".")):
        c.fail(path, f"expected a dotted case key such as train.stages.0.lr, got {k!r}")
    if k.split(".")[0] == "study":
        c.fail(path, "a study cannot vary its own section")


def _dim(c, path: tuple, key: str, v) -> Dim:
    if isinstance(v, list):
        if not v:
            c.fail(path, "an empty list of values")
        return Dim(key, values=tuple(v))
    if not isinstance(v, dict):
        c.fail(path, f"expected a list of values or a range {{low: .., high: ..}}, got {v!r}")
    for k in v:
        if k not in RANGE_KEYS:
            c.fail(path + (k,), f"unknown key in a range; valid keys: {', '.join(RANGE_KEYS)}")
    for k in ("low", "high"):
        if k not in v:
            c.fail(path, f"a range needs '{k}' (and 'high' > 'low'); or give a list of values")
        if not _number(v[k]):
            c.fail(path + (k,), f"expected a finite number, got {v[k]!r}")
    low, high = float(v["low"]), float(v["high"])
    if not high > low:
        c.fail(path + ("high",), f"must be greater than low ({v['low']}), got {v['high']}")
    log, integer = v.get("log", False), v.get("integer", False)
    for k, x in (("log", log), ("integer", integer)):
        if not isinstance(x, bool):
            c.fail(path + (k,), f"expected true or false, got {x!r}")
    if log and low <= 0:
        c.fail(path + ("low",), f"a log range needs low > 0, got {v['low']}")
    n = v.get("n", 0)
    if not (isinstance(n, int) and not isinstance(n, bool) and (n == 0 or n >= 2)):
        c.fail(path + ("n",), f"the number of grid points must be an integer >= 2, got {n!r}")
    return Dim(key, low=low, high=high, log=log, n=n, integer=integer)


def check_section(c, path: tuple, value) -> Plan:
    """Check a ``study:`` section with the case checker ``c`` (one-line errors naming file, line
    and key); return its :class:`Plan`. Episode cases are checked by :func:`check_episodes`."""
    if not isinstance(value, dict):
        c.fail(path, f"expected a mapping with keys {', '.join(SECTION_KEYS)}, got {type(value).__name__}")
    for k in value:
        if k not in SECTION_KEYS:
            c.fail(path + (k,), f"unknown key; valid keys: {', '.join(SECTION_KEYS)}")
    contexts = _space(c, path + ("contexts",), value.get("contexts"))
    arms = _space(c, path + ("arms",), value.get("arms"))
    if not contexts.keys and not arms.keys:
        c.fail(path, "give arms (choices of case values) and/or contexts, e.g. arms: {train.stages.0.lr: [1e-3, 1e-2]}")
    both = set(contexts.keys) & set(arms.keys)
    if both:
        c.fail(path + ("arms", sorted(both)[0]), "is a context too; a key is either a context or an arm")
    # policy
    pol = value.get("policy", "grid")
    ppath = path + ("policy",)
    if isinstance(pol, str):
        pol = {"type": pol}
    if not isinstance(pol, dict) or not isinstance(pol.get("type"), str):
        c.fail(ppath, f"expected a policy name or a mapping with 'type'; choose one of: {', '.join(POLICIES.names())}")
    name = pol["type"]
    if name not in POLICIES:
        c.fail(ppath + ("type",) if isinstance(value.get("policy"), dict) else ppath, _unknown_policy(name))
    opts = {k: v for k, v in pol.items() if k != "type"}
    valid = [k for k in POLICIES.options(name) if k not in POLICY_ARGS]
    for k in opts:
        if k not in valid:
            c.fail(ppath + (k,), f"unknown option for policy {name!r}; valid options: {', '.join(valid) or '(none)'}")
    try:
        policy = POLICIES.build(name, opts, contexts=contexts, arms=arms)
    except (ValueError, TypeError) as exc:
        c.fail(ppath, f"policy {name!r}: {exc}")
    # objective
    obj = value.get("objective", DEFAULT_METRIC)
    opath = path + ("objective",)
    if isinstance(obj, str):
        obj = {"metric": obj}
    if not isinstance(obj, dict):
        c.fail(opath, f"expected a metric name (e.g. {DEFAULT_METRIC}) or {{metric: .., direction: minimize}}")
    for k in obj:
        if k not in ("metric", "direction"):
            c.fail(opath + (k,), "unknown key; valid keys: metric, direction")
    metric, direction = obj.get("metric", DEFAULT_METRIC), obj.get("direction", "minimize")
    if not isinstance(metric, str) or not metric:
        c.fail(opath + ("metric",), f"expected a metric name such as {DEFAULT_METRIC}, got {metric!r}")
    if direction not in DIRECTIONS:
        c.fail(opath + ("direction",), f"unknown direction {direction!r}; choose one of: {', '.join(DIRECTIONS)}")
    # trials
    trials = value.get("trials", policy.size)
    if trials is None:
        c.fail(path, f"policy {name!r} offers any number of episodes; give trials: N")
    if not (isinstance(trials, int) and not isinstance(trials, bool) and trials >= 1):
        c.fail(path + ("trials",), f"must be a positive integer, got {trials!r}")
    if policy.size is not None and trials > policy.size:
        c.fail(path + ("trials",), f"policy {name!r} offers {policy.size} episodes, fewer than trials: {trials}")
    storage = value.get("storage", "")
    if not isinstance(storage, str):
        c.fail(path + ("storage",), f"expected a database URL such as sqlite:///study.db, got {storage!r}")
    return Plan(contexts, arms, policy, name, metric, direction, trials, storage)


def _unknown_policy(name) -> str:
    return f"unknown policy {name!r}; choose one of: {', '.join(POLICIES.names())}"
