"""Kill-and-resume soak: SIGKILL real ``sciml run`` processes at random moments, resume them, and
check that every resumed run ends bit for bit where an uninterrupted one does, in an intact run dir.

Protocol (every run is ``python -m sciml.cli run`` in its own subprocess, ``--threads`` torch threads):

1. the reference: ``sciml run CASE --set ... --output WORK/reference``, run to the end; its wall
   time T (process start to exit) is the horizon of the kills;
2. each of ``--trials`` trials starts ``sciml run CASE --set ... --output WORK/trial_NN`` and
   SIGKILLs it at a moment drawn uniformly from [0, T] (from the seeded generator of ``--seed``) —
   during start-up, before the first checkpoint, between checkpoints, in L-BFGS, while outputs are
   written. A first launch that ends before its kill was due (the machine got faster than during
   the reference) is compared with the reference too, then the trial starts again with T set to that
   launch's wall time (``--max-missed`` times at most). With ``--kills-per-trial K`` the first K
   launches of a trial are each killed that way (a later one that ends first is simply not
   killed). A killed launch is followed by
   ``sciml run --resume RUN_DIR`` (a fresh ``sciml run`` when the kill came before the run dir
   existed: nothing to resume), and the last launch runs to its end;
3. after each kill: ``case.yaml`` (if written) parses and ``checkpoints/last.pt`` (if written) loads;
4. at the end of a trial: the exit status is 0; the method state of the final
   ``checkpoints/last.pt`` (parameters, buffers, extra state; wall-clock timings excepted) equals the
   reference's with ``torch.equal``, at the same step; the run dir is intact: ``case.yaml`` parses
   and validates, ``summary.json`` is strict JSON (no NaN/Infinity) whose ``metrics`` hold ``loss``
   and equal the reference's (but wall-clock seconds: names ending in ``_s``), every ``metrics.jsonl`` line is a JSON object,
   the loss records are the reference's steps (none lost or doubled), every file of the reference
   run dir exists, and no temporary file (``.NAME.tmp*``) is left.

Outcomes: ``ok``; ``mismatch`` (ended elsewhere); ``corrupt`` (an integrity check failed);
``failed`` (a launch exited non-zero, e.g. a resume refused for want of a checkpoint, or timed
out). The trial dirs of good trials are deleted unless ``--keep``; the others are kept for
inspection. Results: a table, and JSON (``--out``, default ``benchmarks/out/soak_resume.json``).

Run from the repository root::

    python benchmarks/soak_resume.py                                  # burgers_pinn, 1000 Adam + 200 L-BFGS, 20 trials
    python benchmarks/soak_resume.py --snapshot                       # the committed code, safe from edits meanwhile
    python benchmarks/soak_resume.py --trials 5 --kills-per-trial 3 --seed 1
    python benchmarks/soak_resume.py --case cases/poisson_energy.yaml --set train.stages.0.steps=500 \\
        --set train.stages.1.steps=100 --set train.checkpoint_every=40
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
DEFAULT_CASE = "cases/burgers_pinn.yaml"
# used when no --set is given: a shortened Burgers PINN, checkpoints every 50 steps (~1 s apart),
# so most kills land between two checkpoints
DEFAULT_SET = [
    "train.stages=[{optimizer: adam, lr: 1.0e-3, steps: 1000}, {optimizer: lbfgs, lr: 1.0, steps: 200}]",
    "train.checkpoint_every=50",
    "train.log_every=10",
    "train.eval_every=250",
]
TIMINGS = {"overhead_s"}  # extra state that measures wall-clock time: never reproducible
TEMP = re.compile(r"^\..+\.tmp")  # sciml.output.atomic_path's temporary names: .NAME.tmpXXXX[.suffix]


# ---------------------------------------------------------------- subprocesses
def _env(threads: int) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return env


def _launch(args: list[str], env: dict, log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    fh = open(log, "ab")
    fh.write(f"\n$ sciml run {' '.join(args)}\n".encode())
    fh.flush()
    # `python -m` puts cwd first on sys.path: the sciml, pinns and operators of `cwd` are the ones run
    proc = subprocess.Popen(
        [sys.executable, "-m", "sciml.cli", "run", *args, "--quiet"],
        cwd=cwd,
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc._soak_log = fh  # closed in _wait
    return proc


def _wait(proc: subprocess.Popen, kill_at: float | None, timeout: float) -> tuple[int, bool, float]:
    """Wait for ``proc``; SIGKILL it ``kill_at`` seconds after its start if it still runs then.
    Returns (exit status, killed by us, seconds it ran)."""
    t0, killed = time.monotonic(), False
    try:
        proc.wait(timeout=kill_at if kill_at is not None else timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)  # this process only (we started it)
        proc.wait()
        killed = kill_at is not None
    except BaseException:  # the soak itself interrupted: leave no run behind
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        raise
    proc._soak_log.close()
    return proc.returncode, killed, time.monotonic() - t0


def _run_dir(output_root: Path) -> Path | None:
    """The run dir under ``output_root/<case name>/`` (a run makes exactly one), or None."""
    found = [p for p in output_root.glob("*/*") if p.is_dir()]
    if len(found) > 1:
        raise RuntimeError(f"several run dirs under {output_root}: {found}")
    return found[0] if found else None


# ---------------------------------------------------------------- checks
def _strict_json(text: str):
    def bad(const):
        raise ValueError(f"non-strict JSON constant {const}")

    return json.loads(text, parse_constant=bad)


def differences(a, b, where: str = "") -> list[str]:
    """Where two nested states differ (tensors and arrays bitwise, dtype and shape included; other
    values by ``==``, shown); keys in ``TIMINGS`` are skipped. Also used by tests/core/test_exact_resume.py."""
    import numpy as np
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        ok = (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a.cpu(), b.cpu())
        )
        return [] if ok else [where]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return [] if a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b) else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where} keys {sorted(map(str, set(a) ^ set(b)))}"]
        return [d for k in a if k not in TIMINGS for d in differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where} length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if type(a) is type(b) and a == b else [f"{where} {a!r} != {b!r}"]


def _load_ckpt(path: Path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def check_after_kill(run_dir: Path | None) -> list[str]:
    """What a kill left must be readable: case.yaml (if any) parses, last.pt (if any) loads."""
    import yaml

    if run_dir is None:
        return []
    issues = []
    if (run_dir / "case.yaml").exists():
        try:
            if not isinstance(yaml.safe_load((run_dir / "case.yaml").read_text()), dict):
                issues.append("case.yaml is not a mapping")
        except Exception as exc:
            issues.append(f"case.yaml unreadable: {exc}")
    ckpt = run_dir / "checkpoints" / "last.pt"
    if ckpt.exists():
        try:
            _load_ckpt(ckpt)
        except Exception as exc:
            issues.append(f"last.pt unreadable after the kill: {type(exc).__name__}: {exc}")
    return issues


def inspect_run_dir(run_dir: Path) -> dict:
    """Integrity of a finished run dir: a list of issues, and what is compared with the reference."""
    import yaml

    from sciml.config import validate

    issues, out = [], {"files": sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())}
    try:
        validate(yaml.safe_load((run_dir / "case.yaml").read_text()), str(run_dir / "case.yaml"))
    except Exception as exc:
        issues.append(f"case.yaml: {type(exc).__name__}: {exc}")
    try:
        summary = _strict_json((run_dir / "summary.json").read_text())
        out["metrics"] = summary["metrics"]
        if "loss" not in summary["metrics"]:
            issues.append(f"summary.json: no 'loss' in metrics (keys: {sorted(summary['metrics'])})")
        missing = [f for f in summary.get("files", []) if not (run_dir / f).exists()]
        if missing:
            issues.append(f"summary.json lists missing files {missing}")
    except Exception as exc:
        issues.append(f"summary.json: {type(exc).__name__}: {exc}")
    steps = []
    try:
        for i, line in enumerate((run_dir / "metrics.jsonl").read_text().splitlines()):
            if not line.strip():
                issues.append(f"metrics.jsonl line {i + 1} is empty")
                continue
            try:
                rec = _strict_json(line)
            except ValueError as exc:
                issues.append(f"metrics.jsonl line {i + 1}: {exc}")
                continue
            if not isinstance(rec, dict):
                issues.append(f"metrics.jsonl line {i + 1} is not an object")
            elif "loss" in rec:
                steps.append(rec["step"])
    except OSError as exc:
        issues.append(f"metrics.jsonl: {exc}")
    out["loss_steps"] = steps
    temps = [f for f in out["files"] if TEMP.match(Path(f).name)]
    if temps:
        issues.append(f"temporary files left: {temps}")
    try:
        blob = _load_ckpt(run_dir / "checkpoints" / "last.pt")
        out["method"], out["step"] = blob["method"], blob["state"]["step"]
    except Exception as exc:
        issues.append(f"checkpoints/last.pt: {type(exc).__name__}: {exc}")
    out["issues"] = issues
    return out


def compare(trial: dict, ref: dict) -> tuple[list[str], list[str]]:
    """(mismatches of the result, integrity issues) of a finished trial's run dir against the reference's."""
    mism, issues = [], list(trial["issues"])
    if "method" in trial:
        if trial["step"] != ref["step"]:
            mism.append(f"final step {trial['step']} != {ref['step']}")
        diff = differences(trial["method"], ref["method"], "method")
        if diff:
            mism.append(f"method state differs at {diff[:6]}{' ...' if len(diff) > 6 else ''}")
    if "metrics" in trial:
        keys = {k for k in set(trial["metrics"]) | set(ref["metrics"]) if not k.endswith("_s")}  # not timings
        off = sorted(k for k in keys if trial["metrics"].get(k) != ref["metrics"].get(k))
        if off:
            mism.append(f"summary metrics differ: {off}")
    if trial["loss_steps"] != ref["loss_steps"]:
        issues.append(f"loss records at steps {_span(trial['loss_steps'])}, the reference's {_span(ref['loss_steps'])}")
    missing = sorted(set(ref["files"]) - set(trial["files"]))
    if missing:
        issues.append(f"files of the reference missing: {missing}")
    return mism, issues


def _span(steps: list) -> str:
    return f"{len(steps)} records {steps[:3]}...{steps[-2:]}" if len(steps) > 6 else str(steps)


# ---------------------------------------------------------------- the soak
def run_trial(i: int, args, env: dict, work: Path, clock: dict, rng: random.Random, ref: dict) -> dict:
    """One trial; ``clock["horizon"]`` is the latest full run's wall time (kills are drawn below it)."""
    root = work / f"trial_{i:02d}"
    fresh = [args.case, *[a for s in args.set for a in ("--set", s)], "--output", str(root)]
    row = {
        "trial": i,
        "kills": 0,
        "kill_at_s": [],
        "ckpt_step_at_kill": [],
        "launches": 0,
        "resumes": 0,
        "restarts": 0,
        "missed": 0,
        "outcome": "ok",
        "issues": [],
        "mismatch": [],
    }
    for attempt in range(args.max_missed + 1):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        log = root / "log.txt"
        rc, missed = None, False
        for launch in range(args.kills_per_trial + 1):
            kill_at = rng.uniform(0.0, clock["horizon"]) if launch < args.kills_per_trial else None
            run_dir = _run_dir(root)
            if run_dir is None:
                argv = fresh
                row["restarts"] += launch > 0  # the previous launch was killed before it made its run dir
            else:
                argv = ["--resume", str(run_dir)]
                row["resumes"] += 1
            row["launches"] += 1
            row["last_launch"] = "resume" if run_dir is not None else "fresh"
            rc, killed, took = _wait(
                _launch(argv, env, log, args.src), kill_at, args.timeout_factor * clock["horizon"] + 60
            )
            if killed:
                row["kills"] += 1
                row["kill_at_s"].append(round(kill_at, 3))
                run_dir = _run_dir(root)
                found = check_after_kill(run_dir)
                row["issues"] += [f"after kill {row['kills']}: {s}" for s in found]
                ckpt = None if run_dir is None else run_dir / "checkpoints" / "last.pt"
                row["ckpt_step_at_kill"].append(
                    "no run dir"
                    if run_dir is None
                    else "no checkpoint"
                    if not ckpt.exists()
                    else "unreadable"
                    if found
                    else _load_ckpt(ckpt)["state"]["step"]
                )
                continue
            if kill_at is not None and rc == 0:  # ended before its kill was due
                if launch == 0:  # a whole run took `took` s: draw again below that
                    clock["horizon"], missed = took, True
                    row["missed"] += 1
                    mism, _ = compare(inspect_run_dir(_run_dir(root)), ref)  # still: same result as the reference?
                    row["mismatch"] += [f"uninterrupted run {attempt}: {m}" for m in mism]
                else:
                    row["kill_at_s"].append(f"{kill_at:.3f} (ended first)")
            break
        if not missed or attempt == args.max_missed:
            break
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        row["outcome"], row["error"] = "failed", f"exit status {rc}: " + " | ".join(tail)
        return row
    run_dir = _run_dir(root)
    mism, issues = compare(inspect_run_dir(run_dir), ref)
    row["mismatch"], row["issues"] = mism, row["issues"] + issues
    row["outcome"] = "mismatch" if mism else "corrupt" if row["issues"] else "ok"
    row["run_dir"] = str(run_dir)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| trial | kills (s after start) | ckpt step at kill | launches | ended before kill | outcome | details |",
        "|---:|---|---|---:|---:|---|---|",
    ]
    for r in rows:
        detail = r.get("error") or "; ".join(r["mismatch"] + r["issues"]) or ""
        lines.append(
            f"| {r['trial']} | {', '.join(map(str, r['kill_at_s'])) or '-'} | "
            f"{', '.join(map(str, r['ckpt_step_at_kill'])) or '-'} | {r['launches']} | {r['missed']} | {r['outcome']} | "
            f"{detail[:300]} |"
        )
    return "\n".join(lines)


def totals(rows: list[dict]) -> dict:
    return {
        "trials": len(rows),
        "kills": sum(r["kills"] for r in rows),
        "killed_before_run_dir": sum(r["restarts"] for r in rows),
        "ended_before_kill": sum(r["missed"] for r in rows),
        "resumes": sum(r["resumes"] for r in rows),
        # trials killed at least once and brought to their end by a `sciml run --resume` (exit 0)
        "successful_resumes": sum(
            r["kills"] > 0 and r["last_launch"] == "resume" and r["outcome"] != "failed" for r in rows
        ),
        "ok": sum(r["outcome"] == "ok" for r in rows),
        "mismatches": sum(r["outcome"] == "mismatch" for r in rows),
        "corrupted_run_dirs": sum(bool(r["issues"]) for r in rows),
        "failed": sum(r["outcome"] == "failed" for r in rows),
    }


def soak(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    p.add_argument("--case", default=DEFAULT_CASE, help=f"case file (default {DEFAULT_CASE})")
    p.add_argument(
        "--set",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="override (repeatable); replaces the default shortening: " + "; ".join(DEFAULT_SET),
    )
    p.add_argument("--trials", type=int, default=20, help="kill-and-resume trials (default 20)")
    p.add_argument("--kills-per-trial", type=int, default=1, help="launches killed per trial (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (OMP_NUM_THREADS)")
    p.add_argument(
        "--max-missed",
        type=int,
        default=3,
        help="a trial whose first launch ends before its kill starts again, with kills drawn below "
        "that launch's wall time, up to this many times (default 3)",
    )
    p.add_argument("--timeout-factor", type=float, default=10.0, help="a launch times out after this × T (+60 s)")
    p.add_argument("--workdir", default=None, help="where the runs go (default: a new temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the run dirs of good trials too")
    p.add_argument(
        "--snapshot",
        action="store_true",
        help="run the committed code (git archive HEAD into the work dir), not the work tree: "
        "edits made meanwhile in a shared checkout do not reach the runs",
    )
    p.add_argument("--out", default=str(OUT / "soak_resume.json"), help="results JSON")
    args = p.parse_args(argv)
    args.set = DEFAULT_SET if args.set is None else args.set
    if args.trials < 1 or args.kills_per_trial < 1:
        p.error("--trials and --kills-per-trial must be >= 1")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _provenance import provenance

    started = provenance()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="soak_resume_"))
    work.mkdir(parents=True, exist_ok=True)
    args.src = ROOT
    if args.snapshot:
        args.src = work / "src"
        args.src.mkdir()
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(args.src)], input=archive, check=True)
        started = {"commit": started["commit"], "snapshot": str(args.src)}  # the work tree's edits are not run
    case = Path(args.case)
    case = (case if case.is_absolute() or case.exists() else ROOT / case).resolve()  # relative: to here, else the repo
    if args.snapshot and case.is_relative_to(ROOT):  # the snapshot's own copy of a case in the repository
        case = args.src / case.relative_to(ROOT)
    args.case = str(case)
    env, rng = _env(args.threads), random.Random(args.seed)

    (work / "reference").mkdir(exist_ok=False)
    ref_args = [args.case, *[a for s in args.set for a in ("--set", s)], "--output", str(work / "reference")]
    rc, _, horizon = _wait(_launch(ref_args, env, work / "reference" / "log.txt", args.src), None, 24 * 3600)
    if rc != 0:
        raise SystemExit(f"the reference run failed (exit status {rc}); see {work / 'reference' / 'log.txt'}")
    ref_dir = _run_dir(work / "reference")
    ref = inspect_run_dir(ref_dir)
    if ref["issues"]:
        raise SystemExit(f"the reference run dir {ref_dir} fails the checks itself: {ref['issues']}")
    print(
        f"reference: {ref_dir} in {horizon:.1f} s, {ref['step']} steps; kills uniform over [0, {horizon:.1f}] s",
        flush=True,
    )

    rows, clock = [], {"horizon": horizon}
    for i in range(args.trials):
        row = run_trial(i, args, env, work, clock, rng, ref)
        rows.append(row)
        print(
            f"trial {i:2d}: kills at {row['kill_at_s']} (checkpoint step {row['ckpt_step_at_kill']}), "
            f"{row['launches']} launches -> {row['outcome']} {row.get('error', '')}"
            f"{'; '.join(row['mismatch'] + row['issues'])}",
            flush=True,
        )
        if row["outcome"] == "ok" and not args.keep:
            shutil.rmtree(work / f"trial_{i:02d}")
    tot = totals(rows)
    md = (
        table(rows)
        + "\n\n| "
        + " | ".join(tot)
        + " |\n|"
        + "---:|" * len(tot)
        + "\n| "
        + " | ".join(str(v) for v in tot.values())
        + " |"
    )
    print("\n" + md)
    result = {
        "settings": {
            **vars(args),
            "reference_s": horizon,
            "last_horizon_s": clock["horizon"],
            "reference_step": ref["step"],
            "reference_run_dir": str(ref_dir),
            "workdir": str(work),
        },
        "provenance": started,
        "totals": tot,
        "trials": rows,
        "table_markdown": md,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    if not args.keep and tot["ok"] == tot["trials"] and not args.workdir:
        shutil.rmtree(work)
        print(f"\nwrote {out}")
    else:
        print(f"\nwrote {out}; run dirs under {work}")
    return result


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the run in flight is killed too (see _wait)
    res = soak()
    sys.exit(0 if res["totals"]["ok"] == res["totals"]["trials"] else 1)
