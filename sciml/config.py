"""Case files: load YAML, apply ``--set`` overrides, validate against the schema, dump.

Every error names the file, the line, the dotted key and, where there is a choice, the
valid choices — before any work starts. Component sections (``problem``, ``data``,
``model``, ``method``) are checked against the signature of the registered builder.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .registry import DATA, METHODS, MODELS, PROBLEMS, Registry

CONTEXT_ARGS = {"io", "problem", "model", "models", "data", "dtype", "device", "seed"}  # supplied by the framework


class CaseError(ValueError):
    """A case file is malformed; the message (one line) names file, line and key."""


class OptionError(ValueError):
    """A component's option is invalid. ``option`` is the builder's keyword (e.g. ``"n_test"``), so
    validation can name the case key and its line; builders raise it where a plain ValueError
    would not say which option is at fault."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


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
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789.")
    )


_fix_float_resolver()


def parse_yaml(text: str, source: str = "<string>") -> tuple[Any, dict[tuple, int]]:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except CaseError as exc:
        raise CaseError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise CaseError(_yaml_error(exc, source)) from None
    return data, (_line_map(node) if node is not None else {})


def _yaml_error(exc: yaml.YAMLError, source: str) -> str:
    """A YAML error as one line: ``source:line: not valid YAML: <problem> (<context>)``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        text = problem + (f" ({context})" if context else "")
    else:
        text = str(exc)
    return f"{where}: not valid YAML: {' '.join(text.split())}"


# ---------------------------------------------------------------- schema
# Every field of the train/stage/output schema declares its admissible values in its metadata;
# the checker applies them generically: floats must be finite, ``ge``/``gt`` bound numbers,
# ``choices`` lists the valid strings.
def _opt(default, **rules):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=rules)
    return field(default=default, metadata=rules)


OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")
LINE_SEARCHES = ("strong_wolfe", "none")


@dataclass
class Stage:
    optimizer: str = _opt("adam", choices=OPTIMIZERS)
    lr: float = _opt(1e-3, gt=0)
    steps: int = _opt(0, ge=0)
    epochs: int = _opt(0, ge=0)
    weight_decay: float = _opt(0.0, ge=0)
    scheduler: dict = _opt({})
    clip_grad: float = _opt(0.0, ge=0)  # max gradient norm; 0 = off
    history_size: int = _opt(50, ge=1)  # L-BFGS
    line_search: str = _opt("strong_wolfe", choices=LINE_SEARCHES)  # L-BFGS
    batch_size: int = _opt(0, ge=0)  # 0 = the data's default
    phase: str = _opt("")  # what the stage trains (the method's parameter groups); "" = the default phase


SCHEDULERS = {
    "none": (),
    "step": ("step_size", "gamma"),
    "cosine": ("t_max", "eta_min", "horizon"),
    "onecycle": ("pct_start", "div_factor", "final_div_factor", "horizon"),
    "exponential": ("gamma",),
    "plateau": ("factor", "patience"),
}
HORIZONS = ("steps", "time")  # what a cosine/one-cycle schedule anneals over
# scheduler option -> (integer?, lower bound, strict?, upper bound or None, upper strict?)
SCHEDULER_RANGES = {
    "step_size": (True, 1, False, None, False),
    "gamma": (False, 0, True, None, False),
    "t_max": (True, 1, False, None, False),
    "eta_min": (False, 0, False, None, False),
    "pct_start": (False, 0, False, 1, True),
    "div_factor": (False, 1, False, None, False),
    "final_div_factor": (False, 1, False, None, False),
    "factor": (False, 0, True, 1, True),
    "patience": (True, 0, False, None, False),
}
SEED_RANGE = 2**32  # seeds are in [0, 2^32): what numpy's legacy seeding accepts


def _number(v) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass
class Train:
    stages: list = _opt([])
    # intervals in steps; one longer than the run means "only at the end of each stage" (log,
    # checkpoint) or "only at the end of training" (evaluation)
    eval_every: int = _opt(500, ge=1)
    checkpoint_every: int = _opt(500, ge=1)
    log_every: int = _opt(100, ge=1)
    progress: bool = True
    divergence_factor: float = _opt(1e6, gt=0)
    amp: bool = False
    compile: bool = False
    time_limit_s: float = _opt(
        0.0, ge=0
    )  # stop training (then evaluate and write) after this many seconds; 0 = no limit


@dataclass
class Output:
    dir: str = "runs"
    fields: list = _opt([])
    formats: list = _opt(["vtu", "png"])
    n_samples: int = _opt(4, ge=1)


FORMATS = ("vtu", "pvd", "xdmf", "png")
TOP = {
    "name": str,
    "description": str,
    "seed": int,
    "dtype": str,
    "device": str,
    "imports": list,
    "problem": dict,
    "data": dict,
    "model": dict,
    "method": dict,
    "train": dict,
    "output": dict,
    "study": dict,
}
REQUIRED = ("name", "problem", "data", "model", "method", "train")
_ANNOTATED = {"dict": dict, "list": list, "int": int, "float": float, "str": str, "bool": bool}
_WORDS = {
    dict: "a mapping",
    list: "a list",
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
}


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
    study: dict = field(default_factory=dict)  # the outer loop's section (sciml.study); `sciml run` ignores it
    source: str = "<string>"
    raw: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return copy.deepcopy(self.raw)


def _annotated_types(annotation) -> tuple[type, ...] | None:
    """The types an option annotated ``dict | None``, ``int | float``... accepts (None: unknown)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    out = []
    for part in (p.strip() for p in str(text).split("|")):
        if part == "None":
            continue
        if part not in _ANNOTATED:
            return None
        out.append(_ANNOTATED[part])
    return tuple(out) or None


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
        raise CaseError(f"{where}: {key}: {' '.join(str(msg).split())}")

    def typed(self, path, value, want):
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if want is int and isinstance(value, float) and value.is_integer():
            return int(value)
        ok = isinstance(value, want) and not (want in (int, float) and isinstance(value, bool))
        if not ok:
            self.fail(path, f"expected {want.__name__}, got {type(value).__name__} {value!r}")
        return value

    def ranged(self, path, value, rules: dict):
        """Apply a schema field's rules: finite floats, ``ge``/``gt`` bounds, ``choices``."""
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(path, f"must be a finite number, got {value}")
        if "choices" in rules and value not in rules["choices"]:
            self.fail(path, f"unknown value {value!r}; choose one of: {', '.join(rules['choices'])}")
        if "ge" in rules and value < rules["ge"]:
            what = "a positive integer" if rules["ge"] == 1 and isinstance(value, int) else f">= {rules['ge']}"
            self.fail(path, f"must be {what}, got {value}")
        if "gt" in rules and value <= rules["gt"]:
            gt = rules["gt"]
            self.fail(path, f"must be {'positive' if gt == 0 else f'> {gt}'}, got {value}")
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
            out[k] = self.ranged(path + (k,), self.typed(path + (k,), v, want), f.metadata)
        return cls(**out)

    def component(self, path, value, registry: Registry, extra_keys=()):
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping with a 'type' key, got {type(value).__name__}")
        if "type" not in value:
            self.fail(path, f"missing 'type'; choose one of: {', '.join(registry.names())}")
        name = value["type"]
        if not isinstance(name, str) or name not in registry:
            self.fail(
                path + ("type",), f"unknown {registry.kind} {name!r}; choose one of: {', '.join(registry.names())}"
            )
        opts = {k: v for k, v in registry.options(name).items() if k not in CONTEXT_ARGS}
        annotations = {k: p.annotation for k, p in inspect.signature(registry.get(name)).parameters.items()}
        for k, v in value.items():
            if k == "type" or k in extra_keys:
                continue
            if k not in opts:
                self.fail(
                    path + (k,),
                    f"unknown option for {registry.kind} {name!r}; valid options: {', '.join(opts) or '(none)'}",
                )
            default = opts[k]
            if default is not inspect.Parameter.empty and default is not None and not isinstance(default, (tuple,)):
                value[k] = self.typed(path + (k,), v, type(default))
            elif v is not None:  # no usable default: the annotation says what it takes (``params: dict | None``)
                want = _annotated_types(annotations.get(k))
                if want and not any(
                    isinstance(v, t)
                    and not (t in (int, float) and isinstance(v, bool))
                    or (t is float and isinstance(v, int) and not isinstance(v, bool))
                    for t in want
                ):
                    self.fail(
                        path + (k,), f"expected {' or '.join(_WORDS[t] for t in want)}, got {type(v).__name__} {v!r}"
                    )
            if isinstance(value[k], float) and not math.isfinite(value[k]):
                self.fail(path + (k,), f"must be a finite number, got {value[k]}")
        missing = [k for k, d in opts.items() if d is inspect.Parameter.empty and k not in value]
        if missing:
            self.fail(path, f"{registry.kind} {name!r} needs option {missing[0]!r}")
        return value

    def option_path(self, path: tuple, registry: Registry, section: dict, exc: Exception) -> tuple:
        """The key an option error is about: the builder's :class:`OptionError`, else the option
        a ValueError names (``"burgers1d: n_t must be ..."``), else the section."""
        opts = [k for k in registry.options(section["type"]) if k not in CONTEXT_ARGS]
        option = getattr(exc, "option", None)
        if option is None:
            text = str(exc)
            found = []
            for k in opts:  # the option as a word of its own (not inside a path or a longer name)
                m = re.search(rf"(?<![\w./-]){re.escape(k)}(?![\w/-])", text)
                if m:
                    found.append((m.start(), k))
            option = min(found)[1] if found else None
        return path + (option,) if option else path

    def built(self, where: tuple, registry: Registry, section: dict, fn, /, *args, **kw):
        """Call ``fn`` (a builder or a builder's checks); its ValueErrors become CaseErrors naming the key."""
        try:
            return fn(*args, **kw)
        except (ValueError, TypeError, OSError) as exc:
            self.fail(self.option_path(where, registry, section, exc), str(exc))

    def checks(self, path: tuple, registry: Registry, section: dict, **context):
        """Run the option checks a builder carries (``builder.check``: the same function the builder calls
        first) with the section's options over the builder's defaults, plus the ``context`` it takes."""
        self.built(path, registry, section, registry.check, section["type"], section, CONTEXT_ARGS, **context)

    def weights(self, path: tuple, value):
        """Loss weights: a mapping of term names to finite numbers >= 0."""
        if value is None:
            return
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of loss-term names to weights, got {type(value).__name__} {value!r}")
        for k, w in value.items():
            if not _number(w) or w < 0:
                self.fail(path + (k,), f"a loss weight must be a finite number >= 0, got {w!r}")


def _check_device(c: _Checker, dev) -> None:
    if not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        c.fail(("device",), f"must be auto, cpu, cuda or cuda:N, got {dev!r}")


def validate(raw: Any, source: str = "<string>", lines: dict[tuple, int] | None = None) -> Case:
    """Check a parsed case against the schema; return a :class:`Case` or raise :class:`CaseError`.

    Beyond types and names: every float of the train/stage/output schema must be finite and within
    its range (learning rates > 0, counts >= 1...), loss weights finite and >= 0, the seed in
    [0, 2^32); the problem is built (cheap: parameters, meshes); a data section's checks run
    (option ranges and, when the file exists, the dataset against the case) without generating data.
    """
    from .plugins import PluginError, import_user, load_plugins, resolve_import

    c = _Checker(source, lines or {})
    try:
        load_plugins()  # sciml's own components and the installed plugins
    except PluginError as exc:
        c.fail((), str(exc))
    if not isinstance(raw, dict):
        c.fail((), "a case file must be a mapping of sections")
    raw = copy.deepcopy(raw)
    for k, v in raw.items():
        if k not in TOP:
            c.fail((k,), f"unknown section; valid sections: {', '.join(TOP)}")
        raw[k] = c.typed((k,), v, TOP[k])
    # the case's own modules (user problems, models, methods...), before its components are checked;
    # files are kept as absolute paths (relative ones are relative to the case file)
    base = Path(source).parent if source and Path(source).is_file() else None
    for i, item in enumerate(raw.get("imports", [])):
        if not isinstance(item, str) or not item.strip():
            c.fail(("imports", i), f"expected a module name or a .py file, got {item!r}")
        raw["imports"][i] = resolve_import(item.strip(), base)
        try:
            import_user(raw["imports"][i])
        except PluginError as exc:
            c.fail(("imports", i), str(exc))
    for k in REQUIRED:
        if k not in raw:
            c.fail((), f"missing required section {k!r}")
    name = raw["name"]
    if not name.strip() or "/" in name or "\\" in name or name in (".", ".."):
        c.fail(("name",), f"must be a non-empty name without '/' (it names the run folder), got {name!r}")
    seed = raw.get("seed", 0)
    if not 0 <= seed < SEED_RANGE:
        c.fail(("seed",), f"must be in [0, 2^32), got {seed}")
    if raw.get("dtype", "float32") not in ("float32", "float64"):
        c.fail(("dtype",), f"must be float32 or float64, got {raw['dtype']!r}")
    _check_device(c, raw.get("device", "auto"))
    c.component(("problem",), raw["problem"], PROBLEMS)
    # problems are cheap to build: parameters, sizes and meshes are checked here, before any work
    problem = c.built(
        ("problem",),
        PROBLEMS,
        raw["problem"],
        PROBLEMS.build,
        raw["problem"]["type"],
        {k: v for k, v in raw["problem"].items() if k != "type"},
    )
    c.component(("data",), raw["data"], DATA)
    c.checks(("data",), DATA, raw["data"], problem=problem, seed=seed)  # no data are generated or loaded
    named = isinstance(raw["model"], dict) and raw["model"] and "type" not in raw["model"]
    if named and all(isinstance(v, dict) for v in raw["model"].values()):
        # named networks, {position: {type: mlp, ...}, state: {type: mlp, ...}}: the method asks for them by name
        for name, section in raw["model"].items():
            if not isinstance(name, str) or not name.isidentifier():
                c.fail(("model", name), "a network name must be an identifier (letters, digits, _)")
            c.component(("model", name), section, MODELS)
    else:
        c.component(("model",), raw["model"], MODELS)
    c.component(("method",), raw["method"], METHODS)
    c.checks(("method",), METHODS, raw["method"], problem=problem)  # options a method checks without a model
    if "weights" in raw["method"]:
        c.weights(("method", "weights"), raw["method"]["weights"])
    train = c.dataclass_section(("train",), raw["train"], Train)
    if not train.stages:
        c.fail(("train", "stages"), "needs at least one stage, e.g. [{optimizer: adam, lr: 1.0e-3, steps: 1000}]")
    stages = []
    for i, st in enumerate(train.stages):
        s = c.dataclass_section(("train", "stages", i), st, Stage)
        if (s.steps > 0) == (s.epochs > 0):
            c.fail(("train", "stages", i), "give exactly one of 'steps' or 'epochs' (a positive integer)")
        if s.phase and not s.phase.replace("-", "_").isidentifier():
            c.fail(("train", "stages", i, "phase"), f"a phase is a name (letters, digits, _ and -), got {s.phase!r}")
        sched = dict(s.scheduler)
        stype = sched.pop("type", "none")
        if not isinstance(stype, str) or stype not in SCHEDULERS:
            c.fail(
                ("train", "stages", i, "scheduler", "type"),
                f"unknown scheduler {stype!r}; choose one of: {', '.join(SCHEDULERS)}",
            )
        for k in sched:
            if k not in SCHEDULERS[stype]:
                c.fail(
                    ("train", "stages", i, "scheduler", k),
                    f"unknown option for scheduler {stype!r}; valid: {', '.join(SCHEDULERS[stype]) or '(none)'}",
                )
        for k, v in sched.items():
            if k in SCHEDULER_RANGES:
                integer, lo, strict, hi, hi_strict = SCHEDULER_RANGES[k]
                ok = (
                    _number(v)
                    and (not integer or float(v).is_integer())
                    and (v > lo if strict else v >= lo)
                    and (hi is None or (v < hi if hi_strict else v <= hi))
                )
                if not ok:
                    kind = "an integer" if integer else "a finite number"
                    rng = f"{'>' if strict else '>='} {lo}" + (
                        f" and {'<' if hi_strict else '<='} {hi}" if hi is not None else ""
                    )
                    c.fail(("train", "stages", i, "scheduler", k), f"must be {kind} {rng}, got {v!r}")
        horizon = sched.get("horizon", "steps")
        if horizon not in HORIZONS:
            c.fail(
                ("train", "stages", i, "scheduler", "horizon"),
                f"must be one of: {', '.join(HORIZONS)}; got {horizon!r}",
            )
        elif horizon == "time" and not train.time_limit_s > 0:
            c.fail(
                ("train", "stages", i, "scheduler", "horizon"),
                "'time' anneals over train.time_limit_s, which is not set (give time_limit_s: seconds > 0)",
            )
        if stype == "cosine" and horizon == "time" and "t_max" in sched:
            c.fail(
                ("train", "stages", i, "scheduler", "t_max"),
                "t_max (steps) contradicts horizon: time; give one of them",
            )
        stages.append(s)
    train.stages = stages
    out = c.dataclass_section(("output",), raw.get("output", {}), Output)
    for i, f in enumerate(out.formats):
        if f not in FORMATS:
            c.fail(("output", "formats", i), f"unknown format {f!r}; choose from: {', '.join(FORMATS)}")
    if out.fields:
        io = problem.io_spec()
        known = (*io.inputs, *io.outputs, *problem.derived_names)
        for i, f in enumerate(out.fields):
            if f not in known:
                c.fail(("output", "fields", i), f"unknown field {f!r}; {problem.name!r} has: {', '.join(known)}")
    if "study" in raw:
        from .study import check_section

        check_section(c, ("study",), raw["study"], [st.phase or "" for st in train.stages])
    return Case(
        name=raw["name"],
        problem=raw["problem"],
        data=raw["data"],
        model=raw["model"],
        method=raw["method"],
        train=train,
        output=out,
        seed=seed,
        dtype=raw.get("dtype", "float32"),
        device=raw.get("device", "auto"),
        description=raw.get("description", ""),
        study=raw.get("study", {}),
        source=source,
        raw=raw,
    )


# ---------------------------------------------------------------- overrides and loading
def apply_override(raw: dict, assignment: str, source: str = "--set") -> None:
    """Apply ``a.b.0.c=value`` (value parsed as YAML) to the nested dict ``raw`` in place."""
    if "=" not in assignment:
        raise CaseError(f"{source} {assignment!r}: expected KEY=VALUE, e.g. train.stages.0.steps=100")
    key, text = assignment.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not all(parts):
        raise CaseError(f"{source} {key!r}: not a dotted key (e.g. train.stages.0.steps=100)")
    value, _ = parse_yaml(text, f"{source} {key}")
    node = raw
    for i, p in enumerate(parts):
        here = ".".join(parts[:i]) or "the case"
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                raise CaseError(
                    f"{source} {key}: {'.'.join(parts[: i + 1])} is not an index of the {len(node)}-element list {here}"
                )
        elif not isinstance(node, dict):
            raise CaseError(
                f"{source} {key}: {here} is {type(node).__name__} {node!r}, not a section with "
                f"keys; set {here}=VALUE instead"
            )
        if i == len(parts) - 1:
            node[int(p) if isinstance(node, list) else p] = value
        else:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})


def read_case_text(path: str | Path) -> str:
    """The text of a case file; a missing file, a folder, an unreadable or binary file is a one-line CaseError."""
    path = Path(path)
    if not path.exists():
        raise CaseError(f"case file not found: {path}")
    if path.is_dir():
        raise CaseError(f"{path}: is a directory, not a case file (give a .yaml file, e.g. {path}/<name>.yaml)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaseError(f"{path}: cannot read the case file ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseError(
            f"{path}: not a text file (byte {data[exc.start]:#04x} at offset {exc.start} is not "
            f"UTF-8); a case file is YAML text"
        ) from None


def load_case(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Case:
    """Read, override and validate a case file.

    ``SCIML_MAX_STEPS=N`` in the environment then caps every stage at ``N`` steps (or ``N`` epochs):
    a quick check of a case or of a documented example (the docs' tests run them so)."""
    path = Path(path)
    raw, lines = parse_yaml(read_case_text(path), str(path))
    if not isinstance(raw, dict):
        raise CaseError(f"{path}: a case file must be a mapping of sections")
    for o in overrides:
        apply_override(raw, o)
    cap_steps(raw)
    return validate(raw, str(path), lines)


def cap_steps(raw: dict) -> None:
    """``SCIML_MAX_STEPS=N`` in the environment: cap every stage of the case dict ``raw`` at ``N``
    steps (or ``N`` epochs), in place; nothing without it. A value that is not a positive integer is
    one line."""
    import os

    cap = os.environ.get("SCIML_MAX_STEPS", "").strip()
    if not cap:
        return
    if not cap.isdigit() or int(cap) < 1:
        raise CaseError(f"SCIML_MAX_STEPS must be a positive integer, got {cap!r}")
    stages = raw["train"].get("stages") if isinstance(raw.get("train"), dict) else None
    for stage in stages if isinstance(stages, list) else ():
        for k in ("steps", "epochs"):
            if isinstance(stage, dict) and type(stage.get(k)) is int and stage[k] > int(cap):
                stage[k] = int(cap)


def dump_case(case: Case) -> str:
    return yaml.safe_dump(case.to_dict(), sort_keys=False)
