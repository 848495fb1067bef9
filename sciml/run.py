"""The pipeline of DESIGN.md §1, as plain functions: Case → Problem → Data → Model → Method → Trainer → RunDir."""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from torch import nn

from .config import Case, dump_case
from .method import AbstractMethod
from .output import RunDir, check_output_root, remove_stale_temps_under
from .problems.interfaces import interface_summary
from .registry import DATA, METHODS, MODELS, PROBLEMS
from .train import Trainer, init_distributed, resolve_device, seed_everything

if TYPE_CHECKING:
    from .data.base import Data
    from .problems.base import IOSpec, Problem


def _opts(section: dict) -> dict:
    return {k: v for k, v in section.items() if k != "type"}


@dataclass
class Built:
    """The parts :func:`build` makes from a case. ``model`` is the method's network (``method.model``),
    or the networks the method asked for (one, or an ``nn.ModuleDict`` of several by name)."""

    problem: Problem
    data: Data
    model: nn.Module
    method: AbstractMethod


class Models:
    """The case's networks, built when a method asks for them (a model factory).

    ``model:`` is one section (``{type: mlp, ...}``) or named sections (``{position: {type: mlp},
    state: {type: mlp}}``). ``models(name, io)`` builds the section called ``name`` (with one
    section, that section, whatever the name) for input/output sizes ``io`` (default: the data's
    or the problem's :class:`~sciml.problems.base.IOSpec`). Each call builds a new network, from
    the seeded RNG in call order. A method with several networks asks for each by name, so it
    never re-derives one network's settings from another's.
    """

    def __init__(self, section: dict[str, Any], problem: Problem, data: Data | None = None):
        self.named = "type" not in section
        self.sections = dict(section) if self.named else {"": section}
        self.problem, self.data = problem, data
        self.built: dict[str, nn.Module] = {}

    def default_io(self) -> IOSpec:
        """What the network maps by default: the data's windows (trajectories) or the problem's fields."""
        io_spec = getattr(self.data, "io_spec", None)  # data that say what a network maps (trajectory windows)
        return io_spec(self.problem) if io_spec is not None else self.problem.io_spec()

    def _section(self, name: str | None) -> tuple[str, dict[str, Any]]:
        """(key in ``built``, section) of the network asked for as ``name``."""
        if not self.named:
            return name or "net", self.sections[""]
        if name is None:
            if len(self.sections) != 1:
                raise ValueError(
                    f"model: the method takes one network, the case names {len(self.sections)} "
                    f"({', '.join(self.sections)}); give one model section"
                )
            name = next(iter(self.sections))
        if name not in self.sections:
            raise ValueError(
                f"model: the method needs a network named {name!r}; the case's model section names: "
                f"{', '.join(self.sections)}"
            )
        return name, self.sections[name]

    def _make(self, section: dict[str, Any], io: IOSpec | None) -> nn.Module:
        return MODELS.build(section["type"], _opts(section), io=io or self.default_io())

    def __call__(self, name: str | None = None, io: IOSpec | None = None) -> nn.Module:
        key, section = self._section(name)
        net = self._make(section, io)
        self.built[key if key not in self.built else f"{key}{len(self.built)}"] = net
        return net

    def skip_default(self) -> None:
        """Build the case's default network and drop it, consuming the seeded RNG as the pipeline did
        when it always built one before the method: a method that builds its own networks from one
        section calls this first, so that cases written before named networks keep their weights."""
        if not self.named:
            self._make(self.sections[""], None)

    def check_used(self) -> None:
        """Named networks the method never asked for are a mistake in the case: one line."""
        unused = [n for n in self.sections if self.named and n not in self.built]
        if unused:
            raise ValueError(f"model: network {unused[0]!r} is not used by the method")


def build_model(section: dict[str, Any], problem: Problem, data: Data | None = None) -> nn.Module:
    """The one network of ``section`` for ``problem`` (kept for callers of the one-network API)."""
    return Models(section, problem, data)()


def build(case: Case) -> Built:
    """Build the problem, data, model(s) and method of a validated case (seeded, so weights are
    reproducible). A method builder that takes ``models`` gets the factory and builds its own
    networks (several, or one per subdomain); one that takes ``model`` gets the case's network."""
    seed_everything(case.seed)
    problem = PROBLEMS.build(case.problem["type"], _opts(case.problem))
    data = DATA.build(case.data["type"], _opts(case.data), problem=problem, seed=case.seed)
    models = Models(case.model, problem, data)
    opts = _opts(case.method)
    if "models" in inspect.signature(METHODS.get(case.method["type"])).parameters:
        method = METHODS.build(case.method["type"], opts, problem=problem, models=models, data=data)
    else:
        if getattr(problem, "subdomains", None):  # one network per subdomain is built by methods that take models
            raise ValueError(
                f"method {case.method['type']!r} takes one network, but problem {problem.name!r} has subdomains "
                f"({', '.join(problem.subdomains)}); a multi-domain method builds one per subdomain"
            )
        method = METHODS.build(case.method["type"], opts, problem=problem, model=models(), data=data)
    models.check_used()
    model = getattr(method, "model", None)
    if not isinstance(model, nn.Module):
        model = next(iter(models.built.values())) if len(models.built) == 1 else nn.ModuleDict(models.built)
    return Built(problem, data, model, method)


def write_outputs(case: Case, built: Built, run_dir: RunDir, metrics: dict[str, float]) -> None:
    """Fields (VTU/PVD/XDMF/PNG), loss and comparison plots, summary.json and report.md."""
    from .plots import plot_comparison, plot_losses

    written = []
    for stem, field in built.method.predict(built.data, n_samples=case.output.n_samples):
        formats = list(case.output.formats)
        if field.times is not None and "vtu" in formats:  # a time series goes to PVD instead of one VTU
            formats = [f for f in formats if f != "vtu"] + (["pvd"] if "pvd" not in formats else [])
        written += run_dir.write_fields(field, stem, [f for f in formats if f != "png"])
        if "png" in formats:
            outs = [n for n in field.names if n + "_ref" in field.names]
            if case.output.fields:  # plot only the requested channels (VTU/XDMF keep them all)
                outs = [n for n in outs if n in case.output.fields]
            for name in outs:
                pred = field.with_values(field.values[..., [field.names.index(name)]], (name,))
                ref = field.with_values(field.values[..., [field.names.index(name + "_ref")]], (name,))
                written.append(
                    plot_comparison(
                        pred,
                        ref,
                        run_dir.plots / f"{stem}_{name}.png",
                        title=getattr(built.method, "sample_labels", {}).get(stem),
                    )
                )
    records = run_dir.read_metrics()
    if records:
        written.append(plot_losses(records, run_dir.plots / "losses.png"))
    rel = [Path(p).relative_to(run_dir.path) for p in written]
    # per-step files of a series (fields/<stem>/<stem>_NNNN.vtu) are reached through their .pvd
    summary = {"case": case.name, "metrics": metrics, "files": [str(r) for r in rel if len(r.parts) <= 2]}
    terms = interface_summary(built.problem, getattr(built.method, "phase_weights", None))
    if terms:  # the interface terms of a multi-domain problem (chosen by a policy, or given)
        summary["interface"] = terms
    run_dir.save_summary(summary)
    lines = [f"# {case.name}", "", case.description or "", "", "| metric | value |", "|---|---|"]
    lines += [
        f"| {k} | {'not finite' if v is None or not math.isfinite(v) else f'{v:.4g}'} |" for k, v in metrics.items()
    ]
    if terms:
        lines += ["", "Interface terms (weights): " + ", ".join(f"{t} {_short(w)}" for t, w in terms.items())]
    lines += [
        "",
        "Files:",
        *[f"- `{f}`" for f in summary["files"]],
        "",
        "Resolved case:",
        "",
        "```yaml",
        dump_case(case).rstrip(),
        "```",
        "",
    ]
    run_dir.write_report("\n".join(lines))


PATH_OPTIONS = ("path", "mesh")  # problem/data options that name a file (also *_path, *_file)


def _short(w) -> str:
    return f"{w:g}" if isinstance(w, float) else ", ".join(f"{k}: {v:g}" for k, v in w.items()).join("{}")


def resolve_paths(case: Case) -> None:
    """Make the case's relative file paths (datasets, meshes) absolute, as the run resolved them
    from the working directory, so that ``sciml eval/export/--resume`` of the saved case read the
    same files from anywhere (instead of, say, regenerating a dataset under another directory)."""
    for section in ("problem", "data"):
        opts = case.raw.get(section)
        if not isinstance(opts, dict):
            continue
        for key, value in opts.items():
            if not (key in PATH_OPTIONS or key.endswith(("_path", "_file"))) or not isinstance(value, str) or not value:
                continue
            p = Path(value).expanduser()
            if p.is_absolute():
                continue
            if key == "path" and section == "data" or p.exists():  # a dataset is made here if missing
                resolved = str(p.resolve())
                opts[key] = resolved
                getattr(case, section)[key] = resolved
    problem = case.raw.get("problem")
    iface = problem.get("interface") if isinstance(problem, dict) else None
    policy = iface.get("policy") if isinstance(iface, dict) else None
    if isinstance(iface, dict) and isinstance(policy, str) and policy:  # a METALIC policy file
        p = Path(policy).expanduser()
        if not p.is_absolute() and p.exists():
            iface["policy"] = str(p.resolve())
            built_iface = case.problem.get("interface")
            if isinstance(built_iface, dict):
                built_iface["policy"] = iface["policy"]


# what a resumed run may change: nothing its checkpoint holds (problem, data, model, method, seed,
# dtype, the arithmetic of the steps), only how long it goes on, what it checks and what it writes
RESUME_SAFE = (
    "name",
    "description",
    "imports",
    "output",
    "device",
    "train.eval_every",
    "train.checkpoint_every",
    "train.progress",
    "train.time_limit_s",
    "train.divergence_factor",
)
_MISSING = object()


def _differences(a, b, path=()) -> list[tuple]:
    """Key paths where the case dicts ``a`` and ``b`` differ (stages compared one by one)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(a) + [k for k in b if k not in a]
        return [d for k in keys for d in _differences(a.get(k, _MISSING), b.get(k, _MISSING), path + (k,))]
    if isinstance(a, list) and isinstance(b, list) and path == ("train", "stages"):
        return [
            d
            for i in range(max(len(a), len(b)))
            for d in _differences(a[i] if i < len(a) else _MISSING, b[i] if i < len(b) else _MISSING, path + (i,))
        ]
    return [] if a == b else [path]


def _laid_over_its_steps(stage) -> bool:
    """Whether a stage's schedule is laid out over its length (then more steps would not stretch it:
    the restored scheduler keeps the old length)."""
    sched = stage.get("scheduler") or {} if isinstance(stage, dict) else {}
    kind = sched.get("type", "none")
    if sched.get("horizon") == "time":
        return False
    return (
        kind == "onecycle"
        or (kind == "cosine" and "t_max" not in sched)
        or (kind == "step" and "step_size" not in sched)
    )


def check_resume_changes(saved: dict, new: dict, stage: int, where, step_in_stage: int = 0) -> None:
    """Refuse (one line naming the key) a resumed case that differs from the run's saved case in
    anything its checkpoint holds; ``stage`` is the checkpoint's stage (``step_in_stage`` steps
    into it). Allowed: RESUME_SAFE, any option of a stage that has not started, a new stage after
    the last, ``steps``/``epochs`` of the current stage unless its schedule is laid over its length,
    and an interface term's weight for a phase none of whose stages has started (the data do not
    depend on it: :func:`sciml.problems.interfaces.attach_interfaces`)."""
    from .config import CaseError

    stages = new.get("train", {}).get("stages", []) if isinstance(new.get("train"), dict) else []
    n_saved = len(saved.get("train", {}).get("stages", []) or [])
    started = stage + (1 if step_in_stage > 0 else 0)  # stages 0 .. started-1 have taken steps

    def phase_not_started(phase) -> bool:
        at = [i for i, st in enumerate(stages) if isinstance(st, dict) and st.get("phase") == phase]
        return bool(at) and min(at) >= started

    for path in _differences(saved, new):
        key = ".".join(map(str, path))
        if any(key == s or key.startswith(s + ".") for s in RESUME_SAFE):
            continue
        if len(path) == 4 and path[:2] == ("problem", "interface") and phase_not_started(path[3]):
            continue
        if path[:2] == ("train", "stages") and len(path) >= 3:
            k = path[2]
            if k > stage or k >= n_saved:
                continue  # not started yet, or a new stage
            if (
                k == stage
                and len(path) == 4
                and path[3] in ("steps", "epochs")
                and k < len(stages)
                and not _laid_over_its_steps(stages[k])
            ):
                continue
        where_now = (
            f"the run has finished all its stages ({n_saved})" if stage >= n_saved else f"it is in stage {stage}"
        )
        raise CaseError(
            f"{key}: cannot change on --resume: the checkpoint in {where} was made with the saved value "
            f"({where_now}); start a new run for that. A resumed run may change: "
            f"{', '.join(RESUME_SAFE)}, options of stages not yet started or a new stage, and the "
            f"steps/epochs of the current stage when its schedule is not laid over them"
        )


def record_imports(case: Case) -> None:
    """Add to ``case.imports`` the modules that define the case's components when they are neither
    sciml's own nor an installed plugin's (a problem registered from the user's module in a Python
    session), so that ``sciml eval/export/--resume`` of the saved case find them again."""
    from .plugins import module_import

    imports = list(case.raw.get("imports", []))
    for section, registry in (("problem", PROBLEMS), ("data", DATA), ("model", MODELS), ("method", METHODS)):
        kind = getattr(case, section).get("type")
        if kind in registry:
            m = module_import(registry.get(kind))
            if m and m not in imports:
                imports.append(m)
    if imports:
        case.raw["imports"] = imports


def _remove_unstarted(run_dir: RunDir) -> None:
    """Remove the directory of a run that failed before its first step: it holds nothing but the
    case, and a half-written run dir would only mislead."""
    import shutil

    shutil.rmtree(run_dir.path, ignore_errors=True)
    with contextlib.suppress(OSError):  # runs/<case>/ too, if this was its only run
        run_dir.path.parent.rmdir()


def run_case(
    case: Case,
    resume: str | Path | None = None,
    progress: bool | None = None,
    on_stage: Callable[[int, str, Any, Any], bool] | None = None,
) -> tuple[RunDir | None, dict[str, float]]:
    """Run a case end to end (or resume the run in ``resume``); return its RunDir and final metrics.

    This is ``sciml run``: the run directory (``runs/<case>/<time>/`` under ``case.output.dir``) gets
    the same files, ``case.yaml``, ``metrics.jsonl``, ``checkpoints/``, ``fields/``, ``plots/``,
    ``summary.json`` and ``report.md``. ``progress`` overrides ``train.progress`` (the progress bar).

    Resuming a run that was stopped before its first checkpoint starts it over in place (a fresh
    start is exactly what the uninterrupted run did). The case is saved into the run directory
    only once training is under way (after its checkpoint loaded), so a failed resume leaves the run
    as it was, and a case that differs from the saved one in what the checkpoint holds is refused
    (:func:`check_resume_changes`). A fresh run that fails before its first step leaves no run
    directory behind.
    Under ``torchrun`` every rank trains on its shard; only rank 0 creates the run directory and
    writes (other ranks get ``None``).

    ``on_stage(index, phase, method, data)`` runs before each stage starts (:meth:`Trainer.fit`);
    when it returns True it has changed ``case.raw`` to say what it changed in the method, and the
    run directory's case is saved again (so that a resumed run rebuilds what this one trains).
    """
    from .train import read_checkpoint

    device = resolve_device(case.device)  # an unavailable device is refused before any work
    if resume is None and case.output.dir:
        check_output_root(case.output.dir)
    resolve_paths(case)
    record_imports(case)
    ckpt: Path | None = None
    resumed: RunDir | None = None  # the run dir of ``resume``
    if resume is not None:
        resumed = RunDir.open(resume)
        ckpt = resumed.checkpoints / "last.pt"
        if ckpt.exists():  # a damaged checkpoint, or a case it does not fit, is refused before any work
            state = read_checkpoint(ckpt)["state"]
            check_resume_changes(
                resumed.load_case_dict(),
                case.to_dict(),
                state.get("stage", 0),
                resumed.path,
                state.get("step_in_stage", 0),
            )
        else:
            ckpt = None  # killed before its first checkpoint: start over in place
    built = build(case)
    rank, _ = init_distributed(device)  # under torchrun only rank 0 writes
    run_dir: RunDir | None = None
    if rank != 0:
        pass
    elif resumed is None:
        run_dir = RunDir.create(case.output.dir, case.name)
        run_dir.save_case(case.to_dict())  # first, so that a run killed from here on can be resumed
    else:
        run_dir = resumed
        remove_stale_temps_under(run_dir.path)  # what a run killed while writing left behind
        if ckpt is None:
            run_dir.truncate_metrics(0)  # started over: nothing logged before counts
    if progress is not None:
        case.train.progress = progress
    save_case = (lambda: run_dir.save_case(case.to_dict())) if run_dir is not None else None
    trainer: Trainer | None = None
    try:
        trainer = Trainer(case.train, run_dir, case.seed, case.dtype, case.device)
        staged = None
        if on_stage is not None:

            def staged(si, phase, method, data):
                if on_stage(si, phase, method, data) and save_case is not None:
                    save_case()

        metrics = trainer.fit(built.method, built.data, resume=ckpt, on_start=save_case, on_stage=staged)
    except Exception:
        if resume is None and run_dir is not None and (trainer is None or trainer.state.step == 0):
            _remove_unstarted(run_dir)
        raise
    if run_dir is not None:  # rank 0, the only rank with a run directory
        write_outputs(case, built, run_dir, metrics)
        bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
        if bad:
            raise NonFiniteMetrics(
                f"final metrics are not finite ({', '.join(f'{k}={metrics[k]}' for k in bad[:4])}); "
                f"outputs were written to {run_dir.path} with null in summary.json. Check the data "
                f"(e.g. n_train, NaN in the dataset) and the training settings"
            )
    return run_dir, metrics


class NonFiniteMetrics(ValueError):
    """The run finished but its final metrics are NaN or infinite."""


run = run_case  # the name sciml.cli and older code use (``sciml.run`` is also this module: prefer run_case)


class LoadedRun(NamedTuple):
    """A finished run rebuilt by :func:`load_run`; unpacks as ``run_dir, case, parts``."""

    run_dir: RunDir
    case: Case
    parts: Built


def load_run(run_dir: str | Path) -> LoadedRun:
    """Rebuild a finished (or interrupted) run from its directory, with its trained weights.

    The run's saved ``case.yaml`` (paths already resolved) is validated and built as :func:`build`
    does; the method's state (model weights, trainable parameters) is loaded from
    ``checkpoints/last.pt`` in the case's dtype, on the CPU, and the method is put in evaluation
    mode. ``parts.method.evaluate(parts.data)`` then gives the metrics of ``summary.json``, and
    :func:`write_outputs` writes the fields again (``sciml eval`` and ``sciml export`` are these).

    Raises ``FileNotFoundError`` (no such directory, or no checkpoint yet: resume the run first),
    ``ValueError`` (not a run directory), :class:`~sciml.config.CaseError` (a damaged or invalid
    ``case.yaml``) and :class:`~sciml.train.CheckpointError` (a damaged checkpoint, or one made by
    another case), each with a one-line message that names the file; the damaged checkpoint before
    anything is built.
    """
    import torch

    from .config import validate
    from .train import load_method_state, read_checkpoint

    rd = RunDir.open(run_dir)
    case = validate(rd.load_case_dict(), str(rd.path / "case.yaml"))
    ckpt = rd.checkpoints / "last.pt"
    if not ckpt.exists():
        raise FileNotFoundError(
            f"{rd.path}: no checkpoint (checkpoints/last.pt) to evaluate; "
            f"finish the run first: sciml run --resume {rd.path}"
        )
    blob = read_checkpoint(ckpt, keys=("method",))  # a damaged file is refused before anything is built
    parts = build(case)
    dtype = {"float32": torch.float32, "float64": torch.float64}[case.dtype]
    parts.method.to(dtype=dtype)
    parts.data.to(dtype=dtype)
    load_method_state(parts.method, blob["method"], ckpt)
    parts.method.eval()
    return LoadedRun(rd, case, parts)
