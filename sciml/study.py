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

import contextlib
import copy
import csv
import datetime
import io
import itertools
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .config import Case, CaseError, dump_case
from .output import RunDir, atomic_write_text, strict_json, to_plain
from .registry import Registry

POLICIES = Registry("policy")
SECTION_KEYS = ("contexts", "arms", "policy", "objective", "trials", "storage")
RANGE_KEYS = ("low", "high", "log", "n", "integer")
DIRECTIONS = ("minimize", "maximize")
DEFAULT_METRIC = "eval/rel_l2"
# supplied by the study (direction and objective: if the policy's builder takes them)
POLICY_ARGS = {"contexts", "arms", "direction", "objective"}


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

    Optional: a builder that takes ``direction`` is given the objective's (``minimize`` or
    ``maximize``), one that takes ``objective`` the objective's metric name; a policy with a method ``after_episode(study_path, history)`` has it called after
    each played episode with the study directory and the finished episodes (a bandit writes its
    fitted model there). A **staged** policy has ``stages`` (phase names of the case's training
    stages, in order) and ``choose_stage(k, phase, context, arm, value, history)``: before each
    stage of a later phase starts, the study measures the objective (``value``, None if not finite)
    and replaces the episode's arm with the one returned (values per phase of interface terms,
    the only values a built method takes again: :func:`apply_stage_arm`; checked before any work by
    :func:`check_staged`); the objective after
    each stage is recorded as the metric ``<objective>@<phase>``.
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


def check_section(c, path: tuple, value, phases: list[str] | None = None) -> Plan:
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
    given = {"direction": direction} if "direction" in POLICIES.options(name) else {}  # a bandit's reward
    if "objective" in POLICIES.options(name):
        given["objective"] = metric
    try:
        policy = POLICIES.build(name, opts, contexts=contexts, arms=arms, **given)
    except (ValueError, TypeError) as exc:
        c.fail(ppath, f"policy {name!r}: {exc}")
    if getattr(policy, "stages", None):
        check_staged(c, ppath, policy.stages, phases, arms, metric)
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


def check_staged(c, ppath: tuple, stages: list[str], phases: list[str] | None, arms: Space, metric: str) -> None:
    """A staged policy's study, before any work: its phases are the phases of the case's training
    stages, in that order; its arms are interface terms (the values a built method takes again
    between stages); the objective is an evaluation metric (measured between the stages too)."""
    from .problems.interfaces import TERM_KEY

    if phases is not None:
        at = [next((i for i, p in enumerate(phases) if p == ph), None) for ph in stages]
        missing = [ph for ph, i in zip(stages, at) if i is None]
        if missing:
            named = ", ".join(repr(p) for p in dict.fromkeys(phases) if p) or "none"
            c.fail(
                ppath + ("stages",),
                f"no training stage has phase {missing[0]!r} (the stages' phases: {named}); name them in "
                f"train.stages.N.phase",
            )
        if any(a is not None and b is not None and a >= b for a, b in zip(at, at[1:])):
            c.fail(ppath + ("stages",), f"the phases {stages} must come in the order of the training stages")
    other = [k for k in arms.keys if not k.startswith(TERM_KEY)]
    if other:
        c.fail(ppath + ("stages",), f"a staged policy's arms are interface terms ({TERM_KEY}<term>), not {other[0]!r}")
    if not metric.startswith("eval/"):
        c.fail(
            ppath + ("stages",),
            f"a staged policy measures the objective between the stages: it must be an evaluation metric "
            f"(eval/...), got {metric!r}",
        )


def _unknown_policy(name) -> str:
    return f"unknown policy {name!r}; choose one of: {', '.join(POLICIES.names())}"


# ---------------------------------------------------------------- episode cases
def _set(raw: dict, key: str, value) -> None:
    """Set the dotted ``key`` of ``raw`` to ``value`` (the path exists: :func:`apply_override` made it)."""
    parts = key.split(".")
    node = raw
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = copy.deepcopy(value)


def episode_raw(raw: dict, context: dict, arm: dict) -> dict:
    """The case dict of one episode: ``raw`` without its ``study`` section, with the context's and
    the arm's values set as ``--set KEY=VALUE`` sets them (a missing key of a section is added,
    a list index must exist). ``SCIML_MAX_STEPS`` caps the episode's stages as :func:`load_case` does."""
    from .config import apply_override, cap_steps

    out = copy.deepcopy(raw)
    out.pop("study", None)
    for key, value in {**context, **arm}.items():
        apply_override(out, f"{key}=null", source="study key")  # the path: index checks, missing sections
        _set(out, key, value)
    cap_steps(out)
    return out


def _lines_of(case: Case) -> dict:
    """The line numbers of the case file's keys (for error messages), if the file is there."""
    from .config import parse_yaml, read_case_text

    try:
        return parse_yaml(read_case_text(case.source), case.source)[1]
    except (CaseError, OSError):
        return {}


def _culprit(message: str, context: dict, arm: dict) -> tuple[str, str] | None:
    """The study key (section, key) a validation message of an episode's case is about."""
    for section, values in (("contexts", context), ("arms", arm)):
        for key in values:
            if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", message) or any(
                message.startswith(f"{key.rsplit('.', n)[0]}:") for n in range(1, key.count(".") + 1)
            ):
                return section, key
    return None


def episode_case(case: Case, k: int, context: dict, arm: dict, checker=None) -> Case:
    """The validated case of episode ``k``; a refused value is one CaseError line naming the
    study key, the episode and its value."""
    from .config import _Checker, validate

    try:
        return validate(episode_raw(case.raw, context, arm), "episode")
    except CaseError as exc:
        inner = str(exc).removeprefix("episode: ").removeprefix("study key ")
        c = checker or _Checker(case.source, _lines_of(case))
        found = _culprit(inner, context, arm)
        if found:
            section, key = found
            value = (context if section == "contexts" else arm)[key]
            c.fail(("study", section, key), f"episode {k} value {value!r} is refused: {inner}")
        c.fail(("study",), f"episode {k} ({_label({**context, **arm})}) is refused: {inner}")
        raise  # not reached


def check_episodes(case: Case, plan: Plan) -> None:
    """Check every episode's case before any work (one CaseError line on the first refused one).

    A policy that does not adapt is asked for all its proposals; an adaptive one's episodes are
    checked when proposed, and here each key's candidate values are checked one at a time."""
    from .config import _Checker

    c = _Checker(case.source, _lines_of(case))
    seen = set()
    if not plan.policy.adaptive:
        proposals = [plan.policy.propose(k, []) for k in range(plan.trials)]
    else:
        first: dict = plan.contexts.grid()[0] if plan.contexts.finite else {}
        proposals = [
            (({key: v}, {}) if key in plan.contexts.keys else (first, {key: v}))
            for key, v in (*plan.contexts.candidates(), *plan.arms.candidates())
        ]
    for k, prop in enumerate(proposals):
        if prop is None:
            break
        tag = json.dumps(to_plain(prop), sort_keys=True)
        if tag not in seen:
            seen.add(tag)
            episode_case(case, k, prop[0], prop[1], c)


def _label(values: dict) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in values.items()) or "-"


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict) and isinstance(v.get("type"), str):  # a component: its type names it
        return v["type"] + "{...}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def apply_stage_arm(method, arm: dict) -> None:
    """Set a staged policy's arm in a built method between stages. The values a built method
    takes again are the interface terms' weights per phase (``problem.interface.<term>``, the
    method's ``set_phase_weights``, e.g. the PINN's); any other key is one line."""
    from .problems.interfaces import TERM_KEY

    other = [key for key in arm if not key.startswith(TERM_KEY)]
    if other:
        raise StudyError(
            f"a staged policy may change only interface weights ({TERM_KEY}<term>) between stages, not {other[0]!r}"
        )
    setter = getattr(method, "set_phase_weights", None)
    if setter is None:
        raise StudyError(f"a staged policy sets interface weights per phase; method {type(method).__name__} takes none")
    setter({key[len(TERM_KEY) :]: v for key, v in arm.items()})


# ---------------------------------------------------------------- episodes
@dataclass
class Episode:
    """One row of the study's table.

    ``status`` is ``done`` (finished, finite objective), ``failed`` (diverged, non-finite metrics,
    an error: see ``error``), ``running`` (in a live process) or ``interrupted`` (to be resumed).
    ``run_dir`` is relative to the study directory; ``seconds`` is the episode's wall-clock time.
    """

    k: int
    status: str
    context: dict
    arm: dict
    objective: float | None = None
    metrics: dict = field(default_factory=dict)
    run_dir: str = ""
    seconds: float = 0.0
    error: str = ""

    def record(self) -> dict:
        """The episode as a JSON line of ``episodes.jsonl`` (``k`` as ``episode``; non-finite numbers null)."""
        out = to_plain(asdict(self))
        out = {"episode": out.pop("k"), **out}
        return strict_json(out)


class StudyError(ValueError):
    """A study cannot start or go on (one line: a bad study directory, a missing objective metric)."""


class StudyInterrupted(KeyboardInterrupt):
    """The study was stopped (SIGINT/SIGTERM); resume it with ``sciml study --resume DIR``."""

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


def _default_storage(path: Path) -> str:
    return f"sqlite:///{path / 'study.db'}"


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _host() -> str:
    return socket.gethostname()


def _alive(attrs: dict) -> bool:
    """Whether the process that holds an episode may still be at work: it is not released, and it
    runs on another host (unknowable) or is a live process of this one."""
    from .output import _pid_alive

    if attrs.get("released"):
        return False
    if attrs.get("host") != _host():
        return True
    pid = attrs.get("pid")
    return isinstance(pid, int) and pid > 0 and _pid_alive(pid)


@contextlib.contextmanager
def _sigterm_interrupts():
    """Between episodes SIGTERM stops the study like Ctrl-C (inside an episode the Trainer's own
    handler checkpoints first)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT/SIGTERM wait until the block is over (then stop the study): an episode is claimed
    and labelled in one piece."""
    got = []
    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            old[s] = signal.signal(s, lambda signum, frame: got.append(signum))
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if got:
        raise KeyboardInterrupt


ORPHAN_S = 60.0  # a trial claimed this long ago without its episode's labels was left by a killed process


class Study:
    """A study directory ``runs/<case>/study-<time>/`` and its engine state.

    Make one with :meth:`create` (checks every episode's case first) or :meth:`open` (a
    study to resume, or to join from another process); :meth:`run` plays episodes until the
    plan is done. The bookkeeping is an Optuna study (ask-and-tell; by default in the SQLite file
    ``study.db`` of the directory, or in the database ``storage`` names): each episode is one
    trial, its number the episode's index, its user attributes the context, arm, final metrics
    and run directory. Any number of processes may play the same study: each asks for the next
    trial, which no other process gets.

    Files: ``case.yaml`` (the study's case), ``study.json`` (storage, name), ``episodes/<k>/``
    (the episodes' run directories), ``episodes.jsonl``, ``results.csv``, ``objective.png``
    and ``report.md`` (written after every episode, atomically).
    """

    CASE, STATE, LOG, RESULTS, PLOT, REPORT = (
        "case.yaml",
        "study.json",
        "episodes.jsonl",
        "results.csv",
        "objective.png",
        "report.md",
    )

    def __init__(self, path: Path, case: Case, plan: Plan, storage: str, name: str, engine=None):
        self.path, self.case, self.plan, self.storage, self.name = Path(path), case, plan, storage, name
        self.engine = engine if engine is not None else _optuna().load_study(study_name=name, storage=storage)
        self.progress = False

    # ---- making and opening
    @classmethod
    def create(cls, case: Case, root: str | Path | None = None, storage: str | None = None) -> Study:
        """Check the case's study and every episode's case, then make the study directory under
        ``root`` (default ``case.output.dir``) and its engine state."""
        from .output import check_output_root
        from .run import resolve_paths

        plan = plan_of(case)
        check_episodes(case, plan)
        resolve_paths(case)  # datasets and meshes as this directory finds them: --resume works from anywhere
        root = Path(root if root is not None else case.output.dir)
        check_output_root(root)
        parent = root / case.name
        parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(10_000):
            path = parent / (f"study-{stamp}" if n == 0 else f"study-{stamp}-{n}")
            try:
                path.mkdir()  # an atomic claim, as RunDir.create
                break
            except FileExistsError:
                continue
        path = path.resolve()
        given = storage or plan.storage or None  # None: the SQLite file in the directory (which may move)
        name = f"{case.name}/{path.name}"
        url = given or _default_storage(path)
        engine = _optuna().create_study(
            study_name=name, storage=url, direction=plan.direction, load_if_exists=bool(given)
        )
        atomic_write_text(path / cls.CASE, dump_case(case))
        atomic_write_text(path / cls.STATE, json.dumps({"storage": given, "name": name}, indent=2) + "\n")
        return cls(path, case, plan, url, name, engine)

    @classmethod
    def open(cls, path: str | Path, trials: int | None = None) -> Study:
        """Open a study directory (to resume it, join it or rewrite its results); ``trials``
        changes how many episodes it plays."""
        from .config import load_case

        path = Path(path)
        if not (path / cls.STATE).is_file() or not (path / cls.CASE).is_file():
            raise StudyError(
                f"{path}: not a study directory (no {cls.STATE} and {cls.CASE}); give the folder "
                f"that `sciml study` printed, runs/<case>/study-<time>"
            )
        try:
            state = json.loads((path / cls.STATE).read_text(encoding="utf-8"))
            url, name = state["storage"] or _default_storage(path.resolve()), state["name"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StudyError(f"{path / cls.STATE}: damaged ({exc}); it names the study's storage") from None
        overrides = [f"study.trials={trials}"] if trials is not None else []
        case = load_case(path / cls.CASE, overrides)
        if trials is not None:
            atomic_write_text(path / cls.CASE, dump_case(case))
        return cls(path.resolve(), case, plan_of(case), url, name)

    # ---- the table
    def episodes(self) -> list[Episode]:
        """The study's episodes (one per trial, by index), finished or not."""
        out = []
        for t in self.engine.get_trials(deepcopy=False):
            a = t.user_attrs
            if "context" not in a or a.get("surplus") or t.number >= self.plan.trials:
                continue
            status = a.get("status") or ("running" if _alive(a) else "interrupted")
            if not a.get("status") and t.state.is_finished():  # told by hand (e.g. optuna's tools)
                status = "failed"
            metrics = {k: (float("nan") if v is None else v) for k, v in a.get("metrics", {}).items()}
            obj = metrics.get(self.plan.metric)
            out.append(
                Episode(
                    t.number,
                    status,
                    a["context"],
                    a["arm"],
                    obj if obj is not None and math.isfinite(obj) else None,
                    metrics,
                    a.get("run_dir", ""),
                    float(a.get("seconds", 0.0)),
                    a.get("error", ""),
                )
            )
        return sorted(out, key=lambda e: e.k)

    # ---- playing
    def run(self, on_episode=None, progress: bool = False) -> list[Episode]:
        """Play episodes until the plan is done: first the interrupted ones this process may take
        over (released, or held by a dead process on this host), then new ones. ``on_episode(ep)``
        is called after each finished episode. Returns the table. SIGINT/SIGTERM stop the study
        (:class:`StudyInterrupted`) with the episode at hand checkpointed and released."""
        self.progress = progress
        with _sigterm_interrupts():
            try:
                while True:
                    with _signals_deferred():
                        claim = self._claim()
                    if claim is None:
                        break
                    ep = self._play(*claim)
                    if on_episode is not None:
                        on_episode(ep)
            except StudyInterrupted:
                raise
            except KeyboardInterrupt as exc:  # between episodes: nothing to release
                self.write_results(plot=True)
                raise StudyInterrupted("stopped between episodes", self.path) from exc
        return self.write_results(plot=True)

    def _claim(self):
        """The next episode to play, as ``(trial, k, context, arm)``, or None when the plan is done."""
        optuna = _optuna()
        running = optuna.trial.TrialState.RUNNING
        trials = self.engine.get_trials(deepcopy=False)
        for t in trials:
            if t.state != running or t.number >= self.plan.trials:
                continue
            if "context" in t.user_attrs and not _alive(t.user_attrs):
                trial = optuna.trial.Trial(self.engine, t._trial_id)  # take over (Optuna has no public handle)
                self._own(trial)
                return trial, t.number, t.user_attrs["context"], t.user_attrs["arm"]
            if "context" not in t.user_attrs and t.datetime_start is not None:
                age = (datetime.datetime.now() - t.datetime_start).total_seconds()
                if age > ORPHAN_S:  # claimed by a process killed (SIGKILL) before it labelled the episode
                    trial = optuna.trial.Trial(self.engine, t._trial_id)
                    return self._label_claim(trial, t.number)
        if len([t for t in trials if not t.user_attrs.get("surplus")]) >= self.plan.trials:
            return None
        trial = self.engine.ask()
        k = trial.number
        if k >= self.plan.trials:  # another process took the last one meanwhile
            trial.set_user_attr("surplus", True)
            self.engine.tell(trial, state=optuna.trial.TrialState.FAIL)
            return None
        return self._label_claim(trial, k)

    def _label_claim(self, trial, k: int):
        optuna = _optuna()
        history = [e for e in self.episodes() if e.k < k and e.status in ("done", "failed")]
        proposal = self.plan.policy.propose(k, history)
        if proposal is None:
            trial.set_user_attr("surplus", True)
            self.engine.tell(trial, state=optuna.trial.TrialState.FAIL)
            return None
        context, arm = (to_plain(p) for p in proposal)
        trial.set_user_attr("context", context)
        trial.set_user_attr("arm", arm)
        self._own(trial)
        return trial, k, context, arm

    def _own(self, trial) -> None:
        trial.set_user_attr("host", _host())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("released", False)

    def _run_dir_of(self, k: int, name: str) -> Path | None:
        """The run directory an earlier attempt at episode ``k`` left (with its case saved), if any."""
        found = sorted(p.parent for p in (self.path / "episodes" / f"{k:03d}" / name).glob(f"*/{RunDir.CASE}"))
        return found[-1] if found else None

    def _play(self, trial, k: int, context: dict, arm: dict) -> Episode:
        from .run import NonFiniteMetrics, run_case
        from .train import Interrupted

        optuna = _optuna()
        try:
            case = episode_case(self.case, k, context, arm)
        except CaseError as exc:  # an adaptive policy's proposal the case refuses: recorded, then stop
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("error", str(exc))
            self.engine.tell(trial, state=optuna.trial.TrialState.FAIL)
            self.write_results(plot=True)
            raise
        case.output.dir = str(self.path / "episodes" / f"{k:03d}")
        earlier = self._run_dir_of(k, case.name)
        before = float(trial.user_attrs.get("seconds", 0.0)) if hasattr(trial, "user_attrs") else 0.0
        t0 = time.perf_counter()
        status, error, metrics = "done", "", dict[str, float]()
        staged = getattr(self.plan.policy, "stages", None)
        on_stage = self._stage_hook(trial, k, context, case) if staged else None
        try:
            run_dir, metrics = run_case(case, resume=earlier, progress=self.progress, on_stage=on_stage)
        except (Interrupted, KeyboardInterrupt) as exc:
            trial.set_user_attr("seconds", before + time.perf_counter() - t0)
            trial.set_user_attr("released", True)  # the next `--resume` takes it over
            self.write_results(plot=True)
            raise StudyInterrupted(f"episode {k} stopped ({exc or 'interrupted'})", self.path) from exc
        except NonFiniteMetrics as exc:
            status, error = "failed", " ".join(str(exc).split())
        except Exception as exc:  # a diverged or refused episode: recorded, and the study goes on
            status, error = "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        seconds = before + time.perf_counter() - t0
        found = self._run_dir_of(k, case.name)
        if found is not None and not metrics:
            metrics = RunDir(found).load_summary().get("metrics", {}) if (found / RunDir.SUMMARY).exists() else {}
        metrics = {k_: (float("nan") if v is None else float(v)) for k_, v in metrics.items()}
        final = dict(metrics)
        if staged:  # the objective after each earlier stage (what the policy saw), even if a later one failed
            for phase, v in trial.user_attrs.get("stage_metrics", {}).items():
                metrics[f"{self.plan.metric}@{phase}"] = float("nan") if v is None else float(v)
        if status == "done" and self.plan.metric not in metrics:
            status, error = "failed", f"no final metric {self.plan.metric!r}"
        objective = metrics.get(self.plan.metric)
        if objective is not None and not math.isfinite(objective):
            status, error = "failed", error or f"{self.plan.metric} is not finite"
        trial.set_user_attr("metrics", strict_json(metrics))
        trial.set_user_attr("run_dir", str(found.relative_to(self.path)) if found else "")
        trial.set_user_attr("seconds", seconds)
        trial.set_user_attr("error", error)
        trial.set_user_attr("status", status)
        if status == "done":
            self.engine.tell(trial, objective)
        else:
            self.engine.tell(trial, state=optuna.trial.TrialState.FAIL)
        table = self.write_results(plot=False)  # the plot once at the end (or on an interruption)
        after = getattr(self.plan.policy, "after_episode", None)
        if after is not None:  # e.g. a bandit writes its fitted model into the study directory
            after(self.path, [e for e in table if e.status in ("done", "failed")])
        if status == "failed" and self.plan.metric not in final and final:
            raise StudyError(
                f"objective {self.plan.metric!r} is not a final metric of episode {k}; its metrics: "
                f"{', '.join(metrics)} (set study.objective to one of them)"
            )
        return next(e for e in table if e.k == k)

    def _stage_hook(self, trial, k: int, context: dict, case: Case):
        """The ``on_stage`` hook of a staged policy's episode (policy ``stages``: its phases, in
        order): before each later stage of those phases, the objective now (the error after the
        stages so far) and the history go to ``policy.choose_stage``, which returns the episode's arm
        with that phase's values set; they are recorded with the trial (``arm``, ``stage_metrics``)
        before the stage starts, set in the episode's case and in the built method. An episode
        resumed at or after that point replays the recorded choice."""
        from .train import evaluation

        policy = self.plan.policy
        phases = list(policy.stages)

        def hook(si: int, phase: str, method, data) -> bool:
            if phase not in phases[1:]:
                return False
            done = dict(trial.user_attrs.get("stage_metrics", {}))
            prev = phases[phases.index(phase) - 1]
            if prev in done:  # chosen before this process took the episode over
                arm = trial.user_attrs["arm"]
            else:
                value = evaluation(method, data).get(self.plan.metric)
                value = None if value is None or not math.isfinite(value) else float(value)
                history = [e for e in self.episodes() if e.k < k and e.status in ("done", "failed")]
                arm = to_plain(policy.choose_stage(k, phase, context, trial.user_attrs["arm"], value, history))
                trial.set_user_attr("arm", arm)
                trial.set_user_attr("stage_metrics", {**done, prev: value})
            apply_stage_arm(method, arm)
            for key, value in arm.items():
                _set(case.raw, key, value)
            return True

        return hook

    # ---- results
    def write_results(self, plot: bool = True) -> list[Episode]:
        """Write ``episodes.jsonl``, ``results.csv``, ``report.md`` and (if ``plot``) ``objective.png``,
        atomically, from the engine's state; return the table."""
        eps = self.episodes()
        atomic_write_text(self.path / self.LOG, "".join(json.dumps(e.record(), allow_nan=False) + "\n" for e in eps))
        atomic_write_text(self.path / self.RESULTS, results_csv(eps, self.plan))
        if plot:
            plot_objective(eps, self.plan, self.path / self.PLOT)
        atomic_write_text(self.path / self.REPORT, report(eps, self))
        return eps


def plan_of(case: Case) -> Plan:
    """The checked :class:`Plan` of a case's ``study:`` section (a CaseError line if it has none)."""
    from .config import _Checker

    c = _Checker(case.source, _lines_of(case))
    if not case.study:
        c.fail(("study",), "the case has no study section; add one (docs/study.md), e.g. study: {arms: {KEY: [..]}}")
    return check_section(c, ("study",), case.study, [st.phase or "" for st in case.train.stages])


# ---------------------------------------------------------------- results
FIXED_COLUMNS = ("episode", "status")


def table_columns(episodes: Sequence[Episode], plan: Plan) -> list[str]:
    metrics = sorted({k for e in episodes for k in e.metrics})
    return [*FIXED_COLUMNS, *plan.contexts.keys, *plan.arms.keys, "objective", *metrics, "seconds", "run_dir", "error"]


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, (dict, list, bool)):
        return json.dumps(v, separators=(",", ":"))
    return repr(v) if isinstance(v, float) else str(v)


def results_csv(episodes: Sequence[Episode], plan: Plan) -> str:
    """The table as CSV: one row per episode; context and arm keys, the objective and every final
    metric as columns (an empty cell: not finite or missing; lists and mappings as JSON)."""
    cols = table_columns(episodes, plan)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for e in episodes:
        row = {"episode": e.k, "status": e.status, **e.context, **e.arm, "objective": e.objective}
        row.update({**e.metrics, "seconds": round(e.seconds, 3), "run_dir": e.run_dir, "error": e.error})
        w.writerow([_cell(row.get(c)) for c in cols])
    return buf.getvalue()


def read_results(path: str | Path) -> list[dict]:
    """The rows of a study's ``results.csv`` (the file, or its study directory) as dicts: numbers
    as numbers, JSON cells as lists/mappings, empty cells as None."""
    path = Path(path)
    if path.is_dir():
        path = path / Study.RESULTS
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.append({k: _parse_cell(v) for k, v in row.items()})
    return rows


def _parse_cell(text: str):
    if text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def plot_objective(episodes: Sequence[Episode], plan: Plan, path: str | Path) -> Path:
    """The objective of each finished episode against its arm, one series per context (PNG)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    from .plots import _save  # first: the Agg backend, atomic saving

    done = [e for e in episodes if e.objective is not None]
    arms = plan.arms.keys
    numeric = len(arms) == 1 and all(_number(e.arm.get(arms[0])) for e in done)
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    labels = list(dict.fromkeys(_label(e.arm) for e in episodes))
    series: dict[str, list] = {}
    for e in done:
        series.setdefault(_label(e.context), []).append(e)
    many = len(series) > 8
    for ctx, eps in series.items():
        eps = sorted(eps, key=lambda e: e.arm.get(arms[0]) if numeric else labels.index(_label(e.arm)))
        x = [e.arm[arms[0]] if numeric else labels.index(_label(e.arm)) for e in eps]
        y = [e.objective for e in eps]
        ax.plot(x, y, "o" if many else "o-", ms=4, color="C0" if many else None, label=None if many else ctx)
    if numeric:
        xs = [e.arm[arms[0]] for e in done]
        if xs and min(xs) > 0 and max(xs) >= 10 * min(xs):
            ax.set_xscale("log")
        ax.set_xlabel(arms[0])
    else:
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("arm")
    ys = [float(e.objective or 0.0) for e in done]
    if ys and min(ys) > 0 and max(ys) >= 10 * min(ys):
        ax.set_yscale("log")
    ax.set_ylabel(f"{plan.metric} ({'lower' if plan.direction == 'minimize' else 'higher'} is better)")
    if not done:
        ax.text(0.5, 0.5, "no finished episode yet", ha="center", va="center", transform=ax.transAxes)
    elif not many and plan.contexts.keys:
        ax.legend(fontsize=8, title="context", title_fontsize=8)
    failed = len([e for e in episodes if e.status == "failed"])
    ax.set_title(f"{len(done)} of {plan.trials} episodes" + (f", {failed} failed" if failed else ""), fontsize=9)
    return _save(fig, path)


def best(episodes: Sequence[Episode], plan: Plan) -> Episode | None:
    """The finished episode with the best objective (the first one on a tie)."""
    done = [e for e in episodes if e.objective is not None]
    if not done:
        return None
    sign = 1.0 if plan.direction == "minimize" else -1.0
    return min(done, key=lambda e: (sign * float(e.objective or 0.0), e.k))


def report(episodes: Sequence[Episode], study: Study) -> str:
    """``report.md``: the plan, the best episode and the table."""
    plan = study.plan
    b = best(episodes, plan)
    n = {s: len([e for e in episodes if e.status == s]) for s in ("done", "failed", "running", "interrupted")}
    lines = [f"# Study {study.case.name}", ""]
    if study.case.description.strip():
        lines += [" ".join(study.case.description.split()), ""]
    lines += [
        f"- policy: {plan.policy_name}; {plan.trials} episodes: {n['done']} done, {n['failed']} failed, "
        f"{n['running']} running, {n['interrupted']} interrupted",
        f"- objective: {plan.metric}, {plan.direction}d",
        f"- contexts: {', '.join(plan.contexts.keys) or '(none)'}; arms: {', '.join(plan.arms.keys) or '(none)'}",
        f"- best: episode {b.k}, {plan.metric} = {b.objective:.4g} ({_label({**b.context, **b.arm})}), `{b.run_dir}`"
        if b
        else "- best: no finished episode yet",
        f"- storage: `{study.storage}` (Optuna study `{study.name}`)",
        "",
        f"![objective]({Study.PLOT})",
        "",
    ]
    keys = [*plan.contexts.keys, *plan.arms.keys]
    lines += ["| episode | status | " + " | ".join(keys) + f" | {plan.metric} | seconds |"]
    lines += ["|---" * (len(keys) + 4) + "|"]
    for e in episodes:
        vals = [_short({**e.context, **e.arm}.get(k, "")) for k in keys]
        obj = f"{e.objective:.4g}" if e.objective is not None else "-"
        lines.append(
            f"| {e.k} | {e.status} | " + " | ".join(v.replace("|", "/") for v in vals) + f" | {obj} | {e.seconds:.1f} |"
        )
    extra = getattr(plan.policy, "report_lines", None)  # what an adaptive policy learned (METALIC: term effects)
    if extra is not None:
        lines += ["", *extra(episodes)]
    errors = [e for e in episodes if e.error]
    if errors:
        lines += ["", "Failed episodes:", ""] + [f"- episode {e.k}: {e.error}" for e in errors]
    lines += ["", f"Resume or join: `sciml study --resume {study.path}`", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- the whole loop
def run_study(
    case: Case | None = None,
    resume: str | Path | None = None,
    trials: int | None = None,
    workers: int = 1,
    storage: str | None = None,
    on_episode=None,
    progress: bool = False,
) -> Study:
    """``sciml study``: make the study of ``case`` (or open the one in ``resume``) and play it to
    the end; return the :class:`Study` (its table: ``study.episodes()``, its files in ``study.path``).

    ``workers > 1`` starts ``workers - 1`` more processes (``sciml study --resume DIR``, their
    output in ``worker-<i>.log``) that play episodes of the same study alongside this one.
    """
    if (case is None) == (resume is None):
        raise StudyError("give a case or a study directory to resume, not both")
    if not (isinstance(workers, int) and workers >= 1):
        raise StudyError(f"workers must be a positive integer, got {workers!r}")
    if case is not None:
        if trials is not None:
            case.raw.setdefault("study", {})["trials"] = trials
            case.study = case.raw["study"]
            from .config import validate

            out_dir = case.output.dir  # set on the Case (sciml study --output), not in its raw dict
            case = validate(case.raw, case.source, _lines_of(case))
            case.output.dir = out_dir
        study = Study.create(case, storage=storage)
    else:
        if storage:
            raise StudyError("--storage does not apply to --resume (the study keeps its own storage, study.json)")
        study = Study.open(resume or "", trials)
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "sciml.cli", "study", "--resume", str(study.path), "--quiet"],
            stdout=open(study.path / f"worker-{i}.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(1, workers)
    ]
    try:
        study.run(on_episode=on_episode, progress=progress)
    except BaseException:
        for p in children:
            p.terminate()  # they checkpoint and release their episodes
        for p in children:
            p.wait()
        raise
    for p in children:
        p.wait()
    if children:
        study.write_results()  # the others' last episodes too
    return study
