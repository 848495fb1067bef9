"""Fingerprints of the shipped cases: every case in cases/ run briefly, with its final metrics saved.

A change to the core must not move any shipped case. This script runs each case briefly and saves
its final metrics as JSON: the first `--steps` steps of every stage, small generated datasets,
VTU output only, schedules over steps (a schedule over wall time, `horizon: time`, would move with
the machine's load). Comparing the files written at two commits shows whether anything moved. Wall
times (`train_time_s`, `eval/rollout_s`) are left out of the comparison, and so are cases that
exist at only one of the commits.

Run from the repository root of each commit (a `git worktree` of the older one)::

    python benchmarks/case_fingerprints.py run /tmp/before.json          # at the old commit
    python benchmarks/case_fingerprints.py run /tmp/after.json           # at the new commit
    python benchmarks/case_fingerprints.py compare /tmp/before.json /tmp/after.json

On one machine, a change that leaves the numerics alone gives equal metrics, bit for bit. About
8 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile

WALL = ("train_time_s", "eval/rollout_s")


def overrides(case, d: str, steps: int) -> list[str]:
    stages = []
    for s in case.raw["train"]["stages"]:
        s = {k: v for k, v in s.items() if k not in ("epochs", "steps")}
        if isinstance(s.get("scheduler"), dict) and s["scheduler"].get("horizon") == "time":
            s["scheduler"] = {**s["scheduler"], "horizon": "steps"}  # a wall-clock schedule never repeats
        stages.append({**s, "steps": steps})
    over = [
        f"train.stages={json.dumps(stages)}",
        "train.progress=false",
        f"output.dir={d}/runs",
        "output.formats=[vtu]",
        f"train.eval_every={max(steps // 2, 1)}",
        f"train.checkpoint_every={max(steps // 2, 1)}",
        f"train.log_every={max(steps // 4, 1)}",
    ]
    if case.data["type"] in ("hdf5", "trajectories"):
        over += [f"data.path={d}/data.h5", "data.n_train=6", "data.n_test=3", "data.batch_size=2"]
        if "resolution" in case.problem:  # MgNO needs sizes divisible by 2^(levels - 1)
            over.append("problem.resolution=32" if case.model.get("type") == "mgno" else "problem.resolution=17")
    if case.problem["type"] == "burgers1d":
        over += ["problem.n_x=32", "problem.n_t=8"]
    return over


def run(out: str, steps: int) -> None:
    sys.path.insert(0, os.getcwd())  # this checkout's packages, not an installed copy
    from sciml.config import load_case
    from sciml.run import run_case

    result = {}
    for path in sorted(glob.glob("cases/*.yaml")):
        name = os.path.basename(path)[:-5]
        with tempfile.TemporaryDirectory() as d:
            try:
                case = load_case(path)
                _, metrics = run_case(load_case(path, overrides(case, d, steps)), progress=False)
                result[name] = metrics
            except Exception as exc:  # a case that fails is part of the fingerprint
                result[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print(name, result[name].get("eval/rel_l2", result[name].get("error")), flush=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)


def compare(a_path: str, b_path: str) -> int:
    a, b = json.load(open(a_path)), json.load(open(b_path))
    moved = 0
    print("| case | eval/rel_l2 before | after | same |\n|---|---|---|---|")
    for name in sorted(set(a) & set(b)):
        x = {k: v for k, v in a[name].items() if k not in WALL}
        y = {k: v for k, v in b[name].items() if k not in WALL}
        same = x == y
        moved += not same
        print(
            f"| {name} | {x.get('eval/rel_l2', x.get('error'))} | {y.get('eval/rel_l2', y.get('error'))} | "
            f"{'yes' if same else 'NO: ' + ', '.join(sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k)))} |"
        )
    for name in sorted(set(a) ^ set(b)):
        print(f"| {name} | only in {'before' if name in a else 'after'} | | |")
    return 1 if moved else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out")
    r.add_argument("--steps", type=int, default=12, help="steps of every stage")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.out, args.steps)
    else:
        sys.exit(compare(args.before, args.after))
