"""Malformed inputs through the real ``sciml`` command line: how many get one clear line (issue
"Reliability", section 3: every bad input gets one line, before any work, and leaves nothing behind).

Every item writes a tiny case, or damages a copy of a tiny dataset or of a finished run, in its own
scratch folder, runs ``sciml ...`` there in a subprocess and classifies what happened:

- ``clear``: a non-zero exit, exactly one line on stderr that names the key or file at fault
  (the item lists the words it must contain), no traceback, and the scratch folder exactly as it
  was (no run directory, no temp file, no rewritten file);
- ``traceback``: a Python traceback on stderr, or the CLI's one-line wrapper around one (an
  exception it does not know as a user error: "... (unexpected; SCIML_DEBUG=1 shows the traceback)");
- ``silently accepted``: exit code 0 for an input that must be refused;
- ``left behind``: refused, but a run directory, temp file or changed file remains;
- ``cryptic``: refused without a traceback, but on several lines or without naming the problem.

An item whose input the case-file docs define as valid (an interval longer than the run) is run
too and counts as ``accepted (documented)`` when it exits 0.

Run from the repository root (about 4 minutes on 2 cores; one subprocess per item)::

    python benchmarks/bad_inputs.py --out benchmarks/out/bad_inputs.json
    python benchmarks/bad_inputs.py --only checkpoint --keep   # items whose name contains 'checkpoint'
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

PINN = {
    "name": "tiny",
    "seed": 0,
    "problem": {"type": "burgers1d", "params": {"nu": 0.05}, "n_x": 16, "n_t": 4},
    "data": {"type": "collocation", "n_interior": 32, "n_boundary": 8, "n_initial": 8, "sampler": "pseudo"},
    "model": {"type": "mlp", "width": 4, "depth": 1},
    "method": {"type": "pinn"},
    "train": {
        "stages": [{"optimizer": "adam", "lr": 1e-3, "steps": 2}, {"optimizer": "lbfgs", "lr": 1.0, "steps": 2}],
        "eval_every": 10,
        "checkpoint_every": 10,
        "log_every": 1,
        "progress": False,
    },
    "output": {"dir": "runs", "formats": ["vtu"], "n_samples": 1},
}
OPERATOR = {
    "name": "tinyop",
    "seed": 0,
    "problem": {"type": "darcy2d", "resolution": 9},
    "data": {"type": "hdf5", "path": "data/d.h5", "n_train": 4, "n_test": 2, "batch_size": 2},
    "model": {"type": "fno", "n_modes": [2, 2], "hidden_channels": 4, "n_layers": 1, "projection_channels": 4},
    "method": {"type": "supervised"},
    "train": {
        "stages": [{"optimizer": "adam", "lr": 1e-3, "epochs": 1}],
        "eval_every": 10,
        "checkpoint_every": 10,
        "log_every": 1,
        "progress": False,
    },
    "output": {"dir": "runs", "formats": ["vtu"], "n_samples": 1},
}
MESH = {
    **PINN,
    "name": "tinymesh",
    "problem": {"type": "plate_hole", "mesh": "bad.msh"},
    "data": {"type": "collocation", "n_interior": 32, "n_boundary": 8, "sampler": "pseudo"},
}


def variant(base: dict, **changes) -> dict:
    """A deep copy of ``base`` with dotted keys (``train__stages__0__lr``) set."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        parts = key.split("__")
        node = out
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return out


def write_case(folder: Path, case: dict, name: str = "case.yaml") -> str:
    (folder / name).write_text(yaml.safe_dump(case, sort_keys=False))
    return name


def sciml_command() -> list[str]:
    exe = Path(sys.executable).with_name("sciml")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sciml.cli"]


def run_cli(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*sciml_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- fixtures made once
@dataclass
class Fixtures:
    dataset: Path  # a darcy2d dataset at resolution 9, 6 samples (OPERATOR's data)
    run: Path  # a finished run of PINN


def make_fixtures(base: Path) -> Fixtures:
    base.mkdir(parents=True, exist_ok=True)
    write_case(base, OPERATOR, "op.yaml")
    res = run_cli(["data", "generate", "op.yaml"], base)
    if res.returncode != 0:
        raise SystemExit(f"could not generate the fixture dataset:\n{res.stderr}")
    write_case(base, PINN, "pinn.yaml")
    res = run_cli(["run", "pinn.yaml", "--quiet"], base)
    if res.returncode != 0:
        raise SystemExit(f"could not make the fixture run:\n{res.stderr}")
    run = next((base / "runs" / "tiny").iterdir())
    return Fixtures(base / "data" / "d.h5", run)


def copy_dataset(fx: Fixtures, folder: Path, edit: Callable | None = None) -> Path:
    dst = folder / "data" / "d.h5"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fx.dataset, dst)
    if edit is not None:
        import h5py

        with h5py.File(dst, "r+") as f:
            edit(f)
    return dst


def copy_run(fx: Fixtures, folder: Path) -> Path:
    dst = folder / "run"
    shutil.copytree(fx.run, dst)
    return dst


# ---------------------------------------------------------------- the items
@dataclass
class Item:
    name: str
    group: str  # what the tester saw: traceback, silent, half-written, cryptic, run dir
    prepare: Callable[[Path, Fixtures], list[str]]  # writes files in the scratch folder, returns the CLI args
    names: tuple[str, ...]  # words the one error line must contain (the key or file at fault)
    accepted: bool = False  # a valid input by the docs (must exit 0)


def case_item(name, group, base, names, accepted=False, dataset=None, **changes) -> Item:
    def prepare(folder: Path, fx: Fixtures) -> list[str]:
        if dataset is not None or base is OPERATOR:
            copy_dataset(fx, folder, dataset)
        return ["run", write_case(folder, variant(base, **changes)), "--quiet"]

    return Item(name, group, prepare, names, accepted)


def _cuda_device() -> str:
    try:
        import torch

        return f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    except ImportError:
        return "cuda"


def _binary_case(folder: Path, fx) -> list[str]:
    (folder / "case.yaml").write_bytes(bytes(range(256)) * 8)
    return ["run", "case.yaml"]


def _directory_case(folder: Path, fx) -> list[str]:
    (folder / "cases_dir").mkdir()
    return ["run", "cases_dir"]


def _set_into_scalar(folder: Path, fx) -> list[str]:
    return ["run", write_case(folder, PINN), "--set", "seed.x=1"]


def _swap_roles(f) -> None:
    f["fields/a"].attrs["role"], f["fields/u"].attrs["role"] = "output", "input"


def _nan_in_dataset(f) -> None:
    ds = f["fields/a"]
    block = ds[0]
    block[3, 4, 0] = float("nan")
    ds[0] = block


def _no_output_field(f) -> None:
    del f["fields/u"]


def _garbage_dataset(folder: Path, fx) -> list[str]:
    (folder / "data").mkdir()
    (folder / "data" / "d.h5").write_bytes(b"not an HDF5 file\n" * 20)
    return ["run", write_case(folder, OPERATOR), "--quiet"]


def _garbage_mesh(folder: Path, fx) -> list[str]:
    text = (ROOT / "meshes" / "plate_hole.msh").read_bytes()
    start = text.index(b"$Nodes")
    (folder / "bad.msh").write_bytes(text[: start + (len(text) - start) // 3])  # cut inside the node block
    return ["run", write_case(folder, MESH), "--quiet"]


def _output_is_file(folder: Path, fx) -> list[str]:
    (folder / "afile").write_text("not a directory\n")
    return ["run", write_case(folder, PINN), "--output", "afile", "--quiet"]


def _damage_checkpoint(kind: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        p = run / "checkpoints" / "last.pt"
        if kind == "truncated":
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        elif kind == "empty":
            p.write_bytes(b"")
        elif kind == "garbage":
            p.write_bytes(b"this is not a checkpoint\n" * 40)
        elif kind == "foreign":
            import torch

            torch.save({"weights": [1.0, 2.0], "note": "a plain dict"}, p)

    return damage


COMMANDS = {
    "--resume": lambda run: ["run", "--resume", run, "--quiet"],
    "eval": lambda run: ["eval", run],
    "export": lambda run: ["export", run, "--formats", "vtu"],
}


def run_item(name, damage: Callable[[Path], None], command: str, names: tuple[str, ...]) -> Item:
    def prepare(folder: Path, fx: Fixtures) -> list[str]:
        run = copy_run(fx, folder)
        damage(run)
        return COMMANDS[command]("run")

    return Item(name, "run dir", prepare, names)


def _broken_case_yaml(run: Path) -> None:
    (run / "case.yaml").write_text("name: tiny\nproblem: [unclosed\n")


def _corrupt_summary(run: Path) -> None:
    (run / "summary.json").write_text('{"case": "tiny", "metrics": {')


def _resume_with_set(folder: Path, fx) -> list[str]:
    copy_run(fx, folder)
    return ["run", "--resume", "run", "--set", "model.width=40", "--quiet"]


def _case_and_resume(folder: Path, fx) -> list[str]:
    copy_run(fx, folder)
    return ["run", write_case(folder, PINN), "--resume", "run", "--quiet"]


def items() -> list[Item]:
    stage1 = "train__stages__1__"
    out = [
        # a traceback before
        Item("case path is a directory", "traceback", _directory_case, ("cases_dir",)),
        Item("--set seed.x=1 (a key below a scalar)", "traceback", _set_into_scalar, ("seed",)),
        case_item("device: cuda without CUDA", "traceback", PINN, ("device",), device=_cuda_device()),
        case_item(
            "L-BFGS history_size: 0",
            "traceback",
            PINN,
            ("train.stages.1.history_size",),
            **{stage1 + "history_size": 0},
        ),
        case_item(
            "line_search: wolfe",
            "traceback",
            PINN,
            ("train.stages.1.line_search",),
            **{stage1 + "line_search": "wolfe"},
        ),
        case_item("data.batch_size: 0", "traceback", OPERATOR, ("data.batch_size",), data__batch_size=0),
        case_item(
            "stage batch_size: -1",
            "traceback",
            OPERATOR,
            ("train.stages.0.batch_size",),
            train__stages__0__batch_size=-1,
        ),
        case_item("data.n_test: 0", "traceback", OPERATOR, ("data.n_test",), data__n_test=0),
        case_item("output.n_samples: 0", "traceback", PINN, ("output.n_samples",), output__n_samples=0),
        Item("binary case file", "traceback", _binary_case, ("case.yaml",)),
        # silently accepted before
        case_item("clip_grad: -1", "silent", PINN, ("train.stages.0.clip_grad",), train__stages__0__clip_grad=-1.0),
        case_item("method.weights: {pde: -1}", "silent", PINN, ("method.weights.pde",), method__weights={"pde": -1.0}),
        case_item("output.n_samples: -1", "silent", PINN, ("output.n_samples",), output__n_samples=-1),
        case_item(
            "train.log_every: 1e9 (longer than the run)", "silent", PINN, (), accepted=True, train__log_every=10**9
        ),
        case_item("data.n_train: 0", "silent", OPERATOR, ("data.n_train",), data__n_train=0),
        case_item(
            "9x9 dataset in a 12x12 case (generate: true)", "silent", OPERATOR, ("d.h5",), problem__resolution=12
        ),
        case_item(
            "9x9 dataset in a 12x12 case (generate: false)",
            "silent",
            OPERATOR,
            ("d.h5", "12"),
            problem__resolution=12,
            data__generate=False,
        ),
        case_item("dataset with swapped input/output roles", "silent", OPERATOR, ("d.h5", "role"), dataset=_swap_roles),
        # a half-written run directory before
        case_item("lr: .nan", "half-written", PINN, ("train.stages.0.lr",), train__stages__0__lr=float("nan")),
        case_item("lr: .inf", "half-written", PINN, ("train.stages.0.lr",), train__stages__0__lr=float("inf")),
        case_item(
            "weight_decay: -1",
            "half-written",
            PINN,
            ("train.stages.0.weight_decay",),
            train__stages__0__weight_decay=-1.0,
        ),
        case_item(
            "divergence_factor: -1", "half-written", PINN, ("train.divergence_factor",), train__divergence_factor=-1.0
        ),
        case_item("problem.n_t: 0", "half-written", PINN, ("problem.n_t",), problem__n_t=0),
        case_item("NaN inside a dataset", "half-written", OPERATOR, ("d.h5", "NaN"), dataset=_nan_in_dataset),
        # a cryptic message before
        case_item("problem.params given as a list", "cryptic", PINN, ("problem.params",), problem__params=[0.05]),
        case_item("seed: -1", "cryptic", PINN, ("seed",), seed=-1),
        case_item("seed: 2^70", "cryptic", PINN, ("seed",), seed=2**70),
        case_item("dataset with no output field", "cryptic", OPERATOR, ("d.h5", "output"), dataset=_no_output_field),
        Item("garbage bytes at data.path", "cryptic", _garbage_dataset, ("data.path", "d.h5")),
        case_item(
            "n_train + n_test beyond the file's samples (generate: false)",
            "cryptic",
            OPERATOR,
            ("data.n_train", "d.h5"),
            data__n_train=10,
            data__generate=False,
        ),
        Item("garbage mesh file", "cryptic", _garbage_mesh, ("bad.msh",)),
        # run directories and checkpoints
        Item("--output pointing at a file", "run dir", _output_is_file, ("afile",)),
    ]
    for kind in ("truncated", "empty", "garbage", "foreign"):
        for command in COMMANDS:
            out.append(
                run_item(f"{kind} checkpoints/last.pt on {command}", _damage_checkpoint(kind), command, ("last.pt",))
            )
    for command in COMMANDS:
        out.append(
            run_item(f"broken case.yaml in the run dir on {command}", _broken_case_yaml, command, ("case.yaml",))
        )
    out += [
        run_item("corrupt summary.json on eval", _corrupt_summary, "eval", ("summary.json",)),
        Item("run --resume RUN --set model.width=40", "run dir", _resume_with_set, ("model.width",)),
        Item("run CASE --resume RUN", "run dir", _case_and_resume, ("--resume",)),
    ]
    return out


# ---------------------------------------------------------------- classification
def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``: relative path -> content hash (or 'dir')."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if "__pycache__" in p.parts:
            continue
        rel = str(p.relative_to(folder))
        out[rel] = "dir" if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def changes(before: dict, after: dict) -> list[str]:
    new = [f"+{k}" for k in after if k not in before]
    changed = [f"~{k}" for k in after if k in before and before[k] != after[k]]
    gone = [f"-{k}" for k in before if k not in after]
    return new + changed + gone


def classify(item: Item, rc: int, stderr: str, diff: list[str]) -> tuple[str, str]:
    """(outcome, the stderr line shown)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if rc == 0:
        return ("accepted (documented)" if item.accepted else "silently accepted"), (lines[-1] if lines else "")
    if "Traceback" in stderr:
        return "traceback", lines[-1] if lines else ""
    if "(unexpected; SCIML_DEBUG=1" in stderr:  # the CLI's one-line wrapper around an internal error
        return "traceback", lines[-1]
    shown = lines[0] if len(lines) == 1 else " / ".join(lines)[:300]
    if diff:
        return "left behind", f"{shown} [left: {', '.join(diff[:4])}{' ...' if len(diff) > 4 else ''}]"
    if item.accepted:
        return "refused (documented as valid)", shown
    if len(lines) == 1 and all(n in lines[0] for n in item.names):
        return "clear", shown
    return "cryptic", shown


def run_one(item: Item, scratch: Path, fx: Fixtures) -> dict:
    folder = scratch / "".join(c if c.isalnum() else "_" for c in item.name)[:60]
    folder.mkdir(parents=True)
    args = item.prepare(folder, fx)
    before = snapshot(folder)
    t0 = time.perf_counter()
    try:
        res = run_cli(args, folder)
        rc, stderr = res.returncode, res.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stderr = -1, f"timed out after {exc.timeout} s"
    wall = time.perf_counter() - t0
    diff = changes(before, snapshot(folder)) if rc != 0 else []
    outcome, line = classify(item, rc, stderr, diff)
    if rc == -1:
        outcome = "timed out"
    return {
        "input": item.name,
        "group": item.group,
        "args": args,
        "rc": rc,
        "outcome": outcome,
        "line": line,
        "left": diff,
        "stderr": stderr[-4000:],
        "wall_s": round(wall, 2),
    }


OUTCOMES = ("clear", "traceback", "silently accepted", "left behind", "cryptic")


def table(rows: list[dict]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| # | input | outcome | stderr line |", "|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        lines.append(f"| {i} | {cell(r['input'])} | {r['outcome']} | {cell(r['line'])} |")
    counts = {k: sum(r["outcome"] == k for r in rows) for k in OUTCOMES}
    other = len(rows) - sum(counts.values())
    lines += [
        "",
        "| tried | clear | traceback | silently accepted | left behind | cryptic | other |",
        "|---|---|---|---|---|---|---|",
        f"| {len(rows)} | " + " | ".join(str(counts[k]) for k in OUTCOMES) + f" | {other} |",
    ]
    if other:
        lines.append("")
        lines.append(
            "other: " + ", ".join(f"{r['input']} ({r['outcome']})" for r in rows if r["outcome"] not in OUTCOMES)
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    # benchmarks/ is on sys.path when run as a script; imported here, not at the top, so that the tests can
    # import this module (as benchmarks.bad_inputs) for its cases
    from _provenance import provenance, write_results

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "bad_inputs.json"), help="JSON results")
    ap.add_argument("--only", nargs="*", default=[], help="run only items whose name contains one of these")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folders (printed)")
    args = ap.parse_args(argv)
    started = provenance(("sciml/config.py", "sciml/cli.py", "sciml/run.py"))
    chosen = [it for it in items() if not args.only or any(s in it.name for s in args.only)]
    scratch = Path(tempfile.mkdtemp(prefix="sciml-bad-inputs-"))
    try:
        fx = make_fixtures(scratch / "_fixtures")
        rows = []
        for it in chosen:
            row = run_one(it, scratch, fx)
            rows.append(row)
            print(f"{row['outcome']:22s} {it.name}: {row['line'][:160]}", file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"scratch folders kept in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    md = table(rows)
    print(md)
    write_results(
        args.out,
        {"only": args.only, "command": "python benchmarks/bad_inputs.py " + " ".join(argv or sys.argv[1:])},
        rows,
        md,
        started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
