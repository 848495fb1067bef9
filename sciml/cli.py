"""Command line: ``sciml run | data | list | eval | export | compare | study``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _load_run(run_path: str):
    """A finished run's directory, case and built parts with the last checkpoint's weights
    (:func:`sciml.run.load_run`; its errors are one line naming the file)."""
    from .run import load_run

    return load_run(run_path)


def _resume_overrides(raw: dict, overrides: list[str]) -> None:
    """Apply ``--set`` overrides to a resumed run's case; ``train.stages.N`` one past the last
    appends a new stage. What may change is checked against the checkpoint by
    :func:`sciml.run.check_resume_changes` when the run starts."""
    from .config import apply_override

    for o in overrides:
        parts = o.split("=", 1)[0].strip().split(".")
        stages = raw.get("train", {}).get("stages") if isinstance(raw.get("train"), dict) else None
        if (
            parts[:2] == ["train", "stages"]
            and len(parts) >= 3
            and parts[2].isdigit()
            and isinstance(stages, list)
            and int(parts[2]) == len(stages)
        ):
            stages.append({})  # a new stage after the last one
        apply_override(raw, o)


def cmd_run(args) -> int:
    from .config import CaseError, load_case, validate
    from .output import RunDir
    from .run import run
    from .train import Interrupted

    if args.resume:
        if args.case:
            raise CaseError(
                f"give a case file or --resume RUN_DIR, not both (a resumed run "
                f"continues with its own {Path(args.resume) / 'case.yaml'}; change it with --set)"
            )
        if args.output:
            raise CaseError("--output does not apply to --resume (the run continues in its own directory)")
        resumed = RunDir.open(args.resume)
        raw = resumed.load_case_dict()
        _resume_overrides(raw, args.set or [])
        case = validate(raw, str(resumed.path / "case.yaml"))
    else:
        if not args.case:
            raise CaseError("give a case file (or --resume RUN_DIR)")
        case = load_case(args.case, args.set or [])
        if args.output:
            case.output.dir = args.output
    try:
        run_dir, metrics = run(case, resume=args.resume, progress=False if args.quiet else None)
    except Interrupted as exc:
        hint = f"\nresume with: sciml run --resume {exc.checkpoint.parent.parent}" if exc.checkpoint else ""
        print(f"interrupted: {exc}{hint}", file=sys.stderr)
        return 130
    if run_dir is not None:  # rank 0
        print(f"run directory: {run_dir.path}")
        for k, v in metrics.items():
            print(f"  {k:24s} {v:.6g}")
    return 0


def cmd_study(args) -> int:
    """The outer loop over runs (:mod:`sciml.study`): play a case's study, or resume/join one."""
    from .config import CaseError, load_case
    from .study import StudyInterrupted, best, run_study

    if args.resume and (args.case or args.set):
        raise CaseError(
            f"give a case file or --resume STUDY_DIR, not both (a resumed study continues with its own "
            f"{Path(args.resume) / 'case.yaml'}; only --trials may change it)"
        )
    if not args.resume and not args.case:
        raise CaseError("give a case file with a study: section (or --resume STUDY_DIR)")
    case = None
    if args.case:
        case = load_case(args.case, args.set or [])
        if args.output:
            case.output.dir = args.output
    elif args.output:
        raise CaseError("--output does not apply to --resume (the study continues in its own directory)")
    try:
        study = run_study(
            case,
            resume=args.resume,
            trials=args.trials,
            workers=args.workers,
            storage=args.storage,
            on_episode=None if args.quiet else _print_episode,
        )
    except StudyInterrupted as exc:
        print(f"interrupted: {exc}\nresume with: sciml study --resume {exc.path}", file=sys.stderr)
        return 130
    episodes = study.episodes()
    b = best(episodes, study.plan)
    print(f"study directory: {study.path}")
    print(f"  {len([e for e in episodes if e.status == 'done'])} of {study.plan.trials} episodes done")
    if b is not None:
        print(f"  best: episode {b.k}, {study.plan.metric} = {b.objective:.6g}, {b.run_dir}")
    return 0


def _print_episode(ep) -> None:
    from .study import _label

    value = f"{ep.objective:.6g}" if ep.objective is not None else ep.status
    print(f"episode {ep.k}: {_label({**ep.context, **ep.arm})}: {value} ({ep.seconds:.1f} s)", flush=True)


def cmd_list(args) -> int:
    import shutil
    import textwrap

    from .registry import ALL  # the registries load every component on their first lookup

    if args.name:
        if not args.kind:
            raise ValueError("sciml list: give the kind before the name, e.g. sciml list models mlp")
        print(_component_help(ALL[args.kind], args.name))
        return 0
    kinds = [args.kind] if args.kind else list(ALL)
    columns = max(shutil.get_terminal_size().columns, 60)  # $COLUMNS, the terminal, or 80
    for kind in kinds:
        reg = ALL[kind]
        print(f"{kind}:")
        pad = max(map(len, reg.names()), default=0) + 3
        for name in reg.names():  # the description's first sentence, wrapped under itself
            print(
                textwrap.fill(
                    reg.describe(name),
                    width=columns,
                    initial_indent=f"  {name:{pad - 3}s} ",
                    subsequent_indent=" " * pad,
                    break_on_hyphens=False,
                )
                or f"  {name}"
            )
    return 0


def _option_docs(*objs) -> dict[str, str]:
    """``name -> text`` from the numpy-style ``Parameters`` entries (``name : text``, or
    ``a, b : text``) of the docstrings of ``objs``."""
    import inspect
    import re

    out: dict[str, str] = {}
    for obj in objs:
        lines = (inspect.getdoc(obj) or "").splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^([A-Za-z_][\w, ]*?)\s+:\s*(.*)$", line)
            if not m:
                continue
            text = [m.group(2).strip()]
            for nxt in lines[i + 1 :]:  # the indented continuation lines
                if not nxt.startswith("    "):
                    break
                text.append(nxt.strip())
            for name in (n.strip() for n in m.group(1).split(",")):
                out.setdefault(name, " ".join(t for t in text if t))
    return out


def _component_help(registry, name: str) -> str:
    """One component's documentation and options with their defaults, from the same builder
    signature the case validator uses (``sciml list KIND NAME``)."""
    import inspect

    from .config import CONTEXT_ARGS

    builder = registry.get(name)
    made = inspect.signature(builder).return_annotation
    if isinstance(made, str):  # postponed annotations: look the class up where the builder lives
        made = getattr(builder, "__globals__", {}).get(made.split("[")[0].split(".")[-1])
    docs = _option_docs(builder, *([made] if inspect.isclass(made) else []))
    lines = [f"{registry.kind} {name!r}", "", inspect.getdoc(builder) or "(no documentation)", "", "options:"]
    opts = {k: v for k, v in registry.options(name).items() if k not in CONTEXT_ARGS}
    for key, default in opts.items():
        value = "(required)" if default is inspect.Parameter.empty else f"= {default!r}"
        lines.append(f"  {key} {value}" + (f"\n      {docs[key]}" if key in docs else ""))
    if not opts:
        lines.append("  (none)")
    return "\n".join(lines)


def cmd_data(args) -> int:
    from .config import load_case
    from .registry import DATA, PROBLEMS

    if args.action == "generate":
        case = load_case(args.case, args.set or [])
        problem = PROBLEMS.build(case.problem["type"], {k: v for k, v in case.problem.items() if k != "type"})
        opts = {k: v for k, v in case.data.items() if k != "type"}
        data = DATA.build(case.data["type"], opts, problem=problem, seed=case.seed)
        path = getattr(getattr(data, "dataset", None), "path", None)
        print(f"dataset ready: {path}" if path else "this case uses collocation points; nothing to generate")
    elif args.action == "convert-pdebench":
        from .data.pdebench import convert_pdebench

        out = convert_pdebench(
            args.src,
            args.dst,
            layout=args.layout,
            target=args.target,
            max_samples=args.max_samples,
            t_stride=args.t_stride,
        )
        print(f"wrote {out}")
    return 0


def cmd_eval(args) -> int:
    from .output import RunDir

    summary = RunDir.open(args.run_dir).load_summary()  # a corrupt summary.json is reported before any work
    mesh = None
    if args.mesh:
        from .mesh import Mesh

        mesh = Mesh.read(args.mesh)  # a missing or unreadable mesh is one line, before the run is loaded
    run_dir, case, built = _load_run(args.run_dir)
    if mesh is not None:
        import numpy as np

        decode = getattr(built.method, "decode_on", None)
        if decode is None:
            raise ValueError(
                f"--mesh: method {case.method['type']!r} predicts on its data's support only; "
                "methods that decode anywhere (coral) take --mesh"
            )
        stem = Path(args.mesh).stem
        for name, field in decode(built.data, mesh, args.sample, stem=stem):  # [prediction, reference, error]
            files = run_dir.write_fields(field, name, ["vtu" if field.times is None else "pvd"])
            c = len(field.names) // 3
            ref, err = field.values[..., c : 2 * c], field.values[..., 2 * c :]
            ok = np.isfinite(ref).all(axis=-1)
            rel = np.linalg.norm(err[ok]) / max(np.linalg.norm(ref[ok]), 1e-300) if ok.any() else float("nan")
            print(f"{files[0]}: {len(mesh.points)} points, rel L2 against the reference interpolated {rel:.4g}")
        return 0
    metrics = {f"eval/{k}": v for k, v in built.method.evaluate(built.data).items()}
    for k, v in metrics.items():
        print(f"{k:24s} {v:.6g}")
    summary["reevaluated"] = metrics
    run_dir.save_summary(summary)
    return 0


def cmd_export(args) -> int:
    from .output import remove_stale_temps_under
    from .run import write_outputs

    run_dir, case, built = _load_run(args.run_dir)
    case.output.formats = args.formats
    remove_stale_temps_under(run_dir.path)  # what an export or run killed while writing left behind

    summary = run_dir.load_summary()
    write_outputs(case, built, run_dir, summary.get("metrics", {}))
    print(f"exported {', '.join(args.formats)} to {run_dir.fields}")
    return 0


def cmd_compare(args) -> int:
    """Runs side by side: what each run is (problem, model and its sizes, method, stages, from its
    saved case.yaml), then its final metrics."""
    rows = []
    from .output import RunDir

    for d in args.run_dirs:
        run_dir = RunDir.open(d)
        if not (run_dir.path / RunDir.SUMMARY).exists():
            raise FileNotFoundError(
                f"{d}: no summary.json (the run has not finished; resume it with sciml run --resume {d})"
            )
        rows.append((d, _run_settings(run_dir.load_case_dict()), run_dir.load_summary().get("metrics", {})))
    setting_keys = ["problem", "model", "method", "stages"]
    keys = sorted({k for _, _, m in rows for k in m})
    print("| run | " + " | ".join(setting_keys + keys) + " |")
    print("|---|" + "---|" * (len(setting_keys) + len(keys)))
    for d, s, m in rows:
        cells = [s[k] for k in setting_keys] + [_cell(m.get(k)) for k in keys]
        print(f"| {d} | " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return 0


# the options of a model that say how big it is (shown by ``sciml compare``), in this order
MODEL_SIZE_KEYS = (
    "width",
    "depth",
    "widths",
    "grid_size",
    "spline_order",
    "hidden_channels",
    "n_layers",
    "n_modes",
    "hidden",
    "layers",
    "neighbors",
    "k",
)
METHOD_KEY_OPTIONS = ("loss",)  # the method options ``sciml compare`` shows with its type


def _run_settings(raw: dict) -> dict[str, str]:
    """What a run is, from its saved case dict: problem type, model type with its sizes, method type
    (with its loss), and the stages ("adam 5000 + lbfgs 1500", "adam 30 epochs")."""

    def section(name):
        v = raw.get(name)
        return v if isinstance(v, dict) else {}

    def short(v):
        return "x".join(map(str, v)) if isinstance(v, list) and all(isinstance(i, int) for i in v) else str(v)

    model, method = section("model"), section("method")

    def one_model(m: dict) -> str:
        return " ".join(
            [str(m.get("type", ""))] + [f"{k}={short(m[k])}" for k in MODEL_SIZE_KEYS if k in m and m[k] is not None]
        )

    if "type" in model or not model:
        model_s = one_model(model)
    else:  # named networks: name: type sizes, each
        model_s = "; ".join(f"{name}: {one_model(m if isinstance(m, dict) else {})}" for name, m in model.items())
    method_s = " ".join([str(method.get("type", ""))] + [f"{k}={method[k]}" for k in METHOD_KEY_OPTIONS if k in method])
    stages = section("train").get("stages") or []
    parts = []
    for st in stages if isinstance(stages, list) else []:
        if not isinstance(st, dict):
            continue
        opt = st.get("optimizer", "adam")
        parts.append(f"{opt} {st['epochs']} epochs" if st.get("epochs") else f"{opt} {st.get('steps', 0)}")
    return {
        "problem": str(section("problem").get("type", "")),
        "model": model_s.strip(),
        "method": method_s.strip(),
        "stages": " + ".join(parts),
    }


def _cell(v) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sciml", description="Solve PDE benchmarks described in YAML case files.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="train a case and write its outputs to runs/<case>/<time>/")
    r.add_argument("case", nargs="?", help="case file (cases/*.yaml)")
    r.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a case value, e.g. train.stages.0.steps=100"
    )
    r.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    r.add_argument("--output", metavar="DIR", help="root directory for run folders (default: output.dir, 'runs')")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    ls = sub.add_parser("list", help="show registered problems, data, models, methods, samplers, writers")
    ls.add_argument("kind", nargs="?", choices=["problems", "models", "methods", "data", "samplers", "writers"])
    ls.add_argument("name", nargs="?", help="one component: its documentation and options with defaults")
    ls.set_defaults(func=cmd_list)

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="action", required=True)
    g = dsub.add_parser("generate", help="build (or reuse) a case's dataset without training")
    g.add_argument("case")
    g.add_argument("--set", action="append", metavar="KEY=VALUE")
    c = dsub.add_parser(
        "convert-pdebench",
        help="convert a PDEBench HDF5 file (2D Darcy, 1D advection/Burgers, 2D diffusion-reaction) to the sciml format",
    )
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument(
        "--layout",
        choices=["darcy", "1d", "diff-react"],
        default="darcy",
        help="the PDEBench file's layout (default darcy)",
    )
    c.add_argument(
        "--target",
        choices=["operator", "trajectories"],
        help="time-dependent layouts: u(t0) -> u(t_last) pairs, or whole trajectories for "
        "data: {type: trajectories} (default: operator for 1d, trajectories for diff-react)",
    )
    c.add_argument("--max-samples", type=int, metavar="N", help="convert only the first N samples")
    c.add_argument("--t-stride", type=int, default=1, metavar="K", help="keep every K-th time step (default 1)")
    d.set_defaults(func=cmd_data)

    e = sub.add_parser("eval", help="re-evaluate a finished run from its checkpoint")
    e.add_argument("run_dir")
    e.add_argument(
        "--mesh",
        metavar="FILE",
        help="decode test predictions on this mesh (any meshio format) into fields/<mesh>_sample<i>.vtu (coral)",
    )
    e.add_argument(
        "--sample", type=int, action="append", metavar="I", help="the test sample to decode (file index; repeatable)"
    )
    e.set_defaults(func=cmd_eval)

    x = sub.add_parser("export", help="write a run's fields again in other formats")
    x.add_argument("run_dir")
    x.add_argument("--formats", nargs="+", default=["vtu", "pvd", "xdmf", "png"])
    x.set_defaults(func=cmd_export)

    cp = sub.add_parser("compare", help="metrics of several runs side by side (markdown table)")
    cp.add_argument("run_dirs", nargs="+")
    cp.set_defaults(func=cmd_compare)

    st = sub.add_parser(
        "study", help="play a case's study: episodes (runs) over contexts x arms chosen by a policy (docs/study.md)"
    )
    st.add_argument("case", nargs="?", help="case file with a study: section")
    st.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a case value (study.* too)")
    st.add_argument("--resume", metavar="STUDY_DIR", help="continue an interrupted study, or join a running one")
    st.add_argument("--trials", type=int, metavar="N", help="how many episodes (default: study.trials)")
    st.add_argument("--workers", type=int, default=1, metavar="N", help="play episodes in N processes (default 1)")
    st.add_argument(
        "--storage",
        metavar="URL",
        help="the Optuna database (default: sqlite in the study directory), e.g. "
        "postgresql://host/db for processes on several machines",
    )
    st.add_argument("--output", metavar="DIR", help="root directory for study folders (default: output.dir, 'runs')")
    st.add_argument("--quiet", action="store_true", help="no line per episode")
    st.set_defaults(func=cmd_study)
    return p


def main(argv: list[str] | None = None) -> int:
    """The ``sciml`` command. A user error (bad case, file, checkpoint, option) ends in one line on
    stderr and exit code 2, never a traceback; ``SCIML_DEBUG=1`` shows the traceback of anything
    unexpected."""
    import os

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"sciml {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("SCIML_DEBUG"):
            raise
        print(f"sciml {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    """An exception as one line: user errors (CaseError, ValueError, missing files, checkpoints,
    divergence) by their message; anything else with its type and the hint to debug it."""
    from .config import CaseError
    from .train import TrainingDiverged

    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    text = " ".join(str(msg).split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    user = (CaseError, ValueError, KeyError, OSError, TrainingDiverged)
    if not isinstance(exc, user):
        text = f"{type(exc).__name__}: {text} (unexpected; SCIML_DEBUG=1 shows the traceback)"
    return text


if __name__ == "__main__":
    sys.exit(main())
