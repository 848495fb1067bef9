"""Case files: load YAML, apply ``--set`` overrides, validate against the schema, dump.

Every error names the file, the line, the dotted key and, where there is a choice, the
valid choices — before any work starts. Component sections (``problem``, ``data``,
``model``, ``method``) are checked against the signature of the registered builder.
"""
from __future__ import annotations

import copy
import inspect
import math
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .registry import DATA, METHODS, MODELS, PROBLEMS, Registry

CONTEXT_ARGS = {"io", "problem", "model", "data", "dtype", "device", "seed"}  # supplied by the framework


class CaseError(ValueError):
    """A case file is malformed; the message names file, line and key."""


# ---------------------------------------------------------------- YAML with line numbers
class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise CaseError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_map(node, path=(), out=None) -> dict[tuple, int]:
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _line_map(v, path + (k.value,), out)
            out[path + (k.value,)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, path + (i,), out)
    return out


def _fix_float_resolver():
    # YAML 1.1 reads "1e-3" as a string; accept it as a float like every user expects
    import re

    _LineLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    _LineLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
        list("-+0123456789."),
    )


_fix_float_resolver()


def parse_yaml(text: str, source: str = "<string>") -> tuple[Any, dict[tuple, int]]:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except CaseError as exc:
        raise CaseError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise CaseError(f"{source}: not valid YAML: {exc}") from None
    return data, (_line_map(node) if node is not None else {})


# ---------------------------------------------------------------- schema
@dataclass
class Stage:
    optimizer: str = "adam"
    lr: float = 1e-3
    steps: int = 0
    epochs: int = 0
    weight_decay: float = 0.0
    scheduler: dict = field(default_factory=dict)
    clip_grad: float = 0.0
    history_size: int = 50
    line_search: str = "strong_wolfe"
    batch_size: int = 0


OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")
SCHEDULERS = {"none": (), "step": ("step_size", "gamma"), "cosine": ("t_max", "eta_min", "horizon"),
              "onecycle": ("pct_start", "div_factor", "final_div_factor", "horizon"),
              "exponential": ("gamma",), "plateau": ("factor", "patience")}
HORIZONS = ("steps", "time")  # what a cosine/one-cycle schedule anneals over


def _number(v) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass
class Train:
    stages: list = field(default_factory=list)
    eval_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 100
    progress: bool = True
    divergence_factor: float = 1e6
    amp: bool = False
    compile: bool = False
    time_limit_s: float = 0.0  # stop training (then evaluate and write) after this many seconds; 0 = no limit


@dataclass
class Output:
    dir: str = "runs"
    fields: list = field(default_factory=list)
    formats: list = field(default_factory=lambda: ["vtu", "png"])
    n_samples: int = 4


FORMATS = ("vtu", "pvd", "xdmf", "png")
TOP = {"name": str, "description": str, "seed": int, "dtype": str, "device": str,
       "problem": dict, "data": dict, "model": dict, "method": dict, "train": dict, "output": dict}
REQUIRED = ("name", "problem", "data", "model", "method", "train")


@dataclass
class Case:
    """A validated case: plain dicts for components, typed sections for training and output."""

    name: str
    problem: dict
    data: dict
    model: dict
    method: dict
    train: Train
    output: Output
    seed: int = 0
    dtype: str = "float32"
    device: str = "auto"
    description: str = ""
    source: str = "<string>"
    raw: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return copy.deepcopy(self.raw)


class _Checker:
    def __init__(self, source: str, lines: dict[tuple, int]):
        self.source, self.lines = source, lines

    def fail(self, path: tuple, msg: str):
        line = None
        for k in range(len(path), -1, -1):
            if path[:k] in self.lines:
                line = self.lines[path[:k]]
                break
        where = f"{self.source}:{line}" if line else self.source
        key = ".".join(str(p) for p in path) or "<top>"
        raise CaseError(f"{where}: {key}: {msg}")

    def typed(self, path, value, want):
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if want is int and isinstance(value, float) and value.is_integer():
            return int(value)
        ok = isinstance(value, want) and not (want in (int, float) and isinstance(value, bool))
        if not ok:
            self.fail(path, f"expected {want.__name__}, got {type(value).__name__} {value!r}")
        return value

    def dataclass_section(self, path, value, cls):
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {type(value).__name__}")
        names = {f.name: f for f in fields(cls)}
        out = {}
        for k, v in value.items():
            if k not in names:
                self.fail(path + (k,), f"unknown key; valid keys: {', '.join(names)}")
            f = names[k]
            want = type(f.default_factory()) if f.default is MISSING else type(f.default)
            out[k] = self.typed(path + (k,), v, want)
        return cls(**out)

    def component(self, path, value, registry: Registry, extra_keys=()):
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping with a 'type' key, got {type(value).__name__}")
        if "type" not in value:
            self.fail(path, f"missing 'type'; choose one of: {', '.join(registry.names())}")
        name = value["type"]
        if not isinstance(name, str) or name not in registry:
            self.fail(path + ("type",), f"unknown {registry.kind} {name!r}; choose one of: {', '.join(registry.names())}")
        opts = {k: v for k, v in registry.options(name).items() if k not in CONTEXT_ARGS}
        for k, v in value.items():
            if k == "type" or k in extra_keys:
                continue
            if k not in opts:
                self.fail(path + (k,), f"unknown option for {registry.kind} {name!r}; valid options: {', '.join(opts) or '(none)'}")
            default = opts[k]
            if default is not inspect.Parameter.empty and default is not None and not isinstance(default, (tuple,)):
                value[k] = self.typed(path + (k,), v, type(default))
        missing = [k for k, d in opts.items() if d is inspect.Parameter.empty and k not in value]
        if missing:
            self.fail(path, f"{registry.kind} {name!r} needs option {missing[0]!r}")
        return value


def validate(raw: Any, source: str = "<string>", lines: dict | None = None) -> Case:
    """Check a parsed case against the schema; return a :class:`Case` or raise :class:`CaseError`."""
    import sciml.components  # noqa: F401  (fills the registries)

    c = _Checker(source, lines or {})
    if not isinstance(raw, dict):
        c.fail((), "a case file must be a mapping of sections")
    raw = copy.deepcopy(raw)
    for k, v in raw.items():
        if k not in TOP:
            c.fail((k,), f"unknown section; valid sections: {', '.join(TOP)}")
        raw[k] = c.typed((k,), v, TOP[k])
    for k in REQUIRED:
        if k not in raw:
            c.fail((), f"missing required section {k!r}")
    if raw.get("dtype", "float32") not in ("float32", "float64"):
        c.fail(("dtype",), f"must be float32 or float64, got {raw['dtype']!r}")
    dev = raw.get("device", "auto")
    if not (dev in ("auto", "cpu", "cuda") or dev.startswith("cuda:")):
        c.fail(("device",), f"must be auto, cpu, cuda or cuda:N, got {dev!r}")
    c.component(("problem",), raw["problem"], PROBLEMS)
    problem = None
    try:  # problems are cheap to build: parameter names and ranges are checked here, before any work
        problem = PROBLEMS.build(raw["problem"]["type"], {k: v for k, v in raw["problem"].items() if k != "type"})
    except (ValueError, TypeError, FileNotFoundError) as exc:
        c.fail(("problem", "params") if "parameter" in str(exc) else ("problem",), str(exc))
    c.component(("data",), raw["data"], DATA)
    c.component(("model",), raw["model"], MODELS)
    c.component(("method",), raw["method"], METHODS)
    train = c.dataclass_section(("train",), raw["train"], Train)
    if not train.stages:
        c.fail(("train", "stages"), "needs at least one stage, e.g. [{optimizer: adam, lr: 1.0e-3, steps: 1000}]")
    stages = []
    for i, st in enumerate(train.stages):
        s = c.dataclass_section(("train", "stages", i), st, Stage)
        if s.optimizer not in OPTIMIZERS:
            c.fail(("train", "stages", i, "optimizer"), f"unknown optimizer {s.optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
        if (s.steps > 0) == (s.epochs > 0):
            c.fail(("train", "stages", i), "give exactly one of 'steps' or 'epochs' (a positive integer)")
        if s.lr <= 0:
            c.fail(("train", "stages", i, "lr"), f"learning rate must be positive, got {s.lr}")
        sched = dict(s.scheduler)
        stype = sched.pop("type", "none")
        if stype not in SCHEDULERS:
            c.fail(("train", "stages", i, "scheduler", "type"), f"unknown scheduler {stype!r}; choose one of: {', '.join(SCHEDULERS)}")
        for k in sched:
            if k not in SCHEDULERS[stype]:
                c.fail(("train", "stages", i, "scheduler", k), f"unknown option for scheduler {stype!r}; valid: {', '.join(SCHEDULERS[stype]) or '(none)'}")
        horizon = sched.get("horizon", "steps")
        if horizon not in HORIZONS:
            c.fail(("train", "stages", i, "scheduler", "horizon"), f"must be one of: {', '.join(HORIZONS)}; got {horizon!r}")
        elif horizon == "time" and not (isinstance(train.time_limit_s, (int, float)) and train.time_limit_s > 0):
            c.fail(("train", "stages", i, "scheduler", "horizon"),
                   "'time' anneals over train.time_limit_s, which is not set (give time_limit_s: seconds > 0)")
        if stype == "cosine" and horizon == "time" and "t_max" in sched:
            c.fail(("train", "stages", i, "scheduler", "t_max"), "t_max (steps) contradicts horizon: time; give one of them")
        if stype == "onecycle":
            pct = sched.get("pct_start", 0.3)
            if not _number(pct) or not 0.0 <= pct < 1.0:
                c.fail(("train", "stages", i, "scheduler", "pct_start"), f"must be a number in [0, 1), got {pct!r}")
            for k in ("div_factor", "final_div_factor"):
                v = sched.get(k, 1.0)
                if not _number(v) or v < 1.0:
                    c.fail(("train", "stages", i, "scheduler", k), f"must be a number >= 1, got {v!r}")
        if stype == "cosine" and not (_number(sched.get("eta_min", 0.0)) and sched.get("eta_min", 0.0) >= 0):
            c.fail(("train", "stages", i, "scheduler", "eta_min"), f"must be a number >= 0, got {sched['eta_min']!r}")
        stages.append(s)
    train.stages = stages
    if train.time_limit_s < 0:
        c.fail(("train", "time_limit_s"), f"must be >= 0 (0 = no limit), got {train.time_limit_s}")
    for k in ("eval_every", "checkpoint_every", "log_every"):
        if getattr(train, k) < 1:
            c.fail(("train", k), f"must be a positive integer, got {getattr(train, k)}")
    out = c.dataclass_section(("output",), raw.get("output", {}), Output)
    for i, f in enumerate(out.formats):
        if f not in FORMATS:
            c.fail(("output", "formats", i), f"unknown format {f!r}; choose from: {', '.join(FORMATS)}")
    if problem is not None and out.fields:
        io = problem.io_spec()
        known = (*io.inputs, *io.outputs, *problem.derived_names)
        for i, f in enumerate(out.fields):
            if f not in known:
                c.fail(("output", "fields", i), f"unknown field {f!r}; {problem.name!r} has: {', '.join(known)}")
    return Case(name=raw["name"], problem=raw["problem"], data=raw["data"], model=raw["model"],
                method=raw["method"], train=train, output=out, seed=raw.get("seed", 0),
                dtype=raw.get("dtype", "float32"), device=raw.get("device", "auto"),
                description=raw.get("description", ""), source=source, raw=raw)


# ---------------------------------------------------------------- overrides and loading
def apply_override(raw: dict, assignment: str, source: str = "--set") -> None:
    """Apply ``a.b.0.c=value`` (value parsed as YAML) to the nested dict ``raw`` in place."""
    if "=" not in assignment:
        raise CaseError(f"{source} {assignment!r}: expected KEY=VALUE, e.g. train.stages.0.steps=100")
    key, text = assignment.split("=", 1)
    value, _ = parse_yaml(text, f"{source} {key}")
    parts = key.strip().split(".")
    node = raw
    for i, p in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                raise CaseError(f"{source} {key}: {'.'.join(parts[:i + 1])} is not an index of a {len(node)}-element list")
            node = node[int(p)]
        else:
            if not isinstance(node, dict):
                raise CaseError(f"{source} {key}: {'.'.join(parts[:i])} is not a section")
            node = node.setdefault(p, {})
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise CaseError(f"{source} {key}: {last} is not an index of a {len(node)}-element list")
        node[int(last)] = value
    else:
        node[last] = value


def load_case(path: str | Path, overrides: list[str] | tuple = ()) -> Case:
    """Read, override and validate a case file."""
    path = Path(path)
    if not path.exists():
        raise CaseError(f"case file not found: {path}")
    raw, lines = parse_yaml(path.read_text(), str(path))
    if not isinstance(raw, dict):
        raise CaseError(f"{path}: a case file must be a mapping of sections")
    for o in overrides:
        apply_override(raw, o)
    return validate(raw, str(path), lines)


def dump_case(case: Case) -> str:
    return yaml.safe_dump(case.to_dict(), sort_keys=False)
