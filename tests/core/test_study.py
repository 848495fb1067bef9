"""`sciml study`: contexts × arms × a policy, each episode an ordinary run; the table matches the runs,
bad sections are one line, a killed study resumes to the same table, a custom policy plugs in."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from sciml.config import CaseError, load_case
from sciml.output import RunDir
from sciml.study import (
    POLICIES,
    Dim,
    Episode,
    Space,
    Study,
    StudyInterrupted,
    best,
    episode_raw,
    plan_of,
    read_results,
    run_study,
)

ROOT = Path(__file__).resolve().parents[2]

# a 1D Poisson problem by the energy method: the smallest real case (a few steps take milliseconds)
CASE = """\
name: tiny
seed: 0
problem: {type: poisson1d_multiscale, params: {freq: 2.0}}
data: {type: quadrature, n_cells: 8, order: 2}
model: {type: mlp, width: 6, depth: 2}
method: {type: energy}
train:
  stages: [{optimizer: adam, lr: 1.0e-3, steps: 6}]
  log_every: 1
  checkpoint_every: 2
  eval_every: 1000
  progress: false
output: {formats: []}
study:
  contexts: {problem.params.freq: [2.0, 3.0]}
  arms: {train.stages.0.lr: [1.0e-3, 1.0e-2]}
"""
# what differs between two studies of the same episodes: wall-clock times and where the files are
WALL_CLOCK = {"seconds", "run_dir", "train_time_s"}


@pytest.fixture(autouse=True)
def _no_loss_plots(monkeypatch):
    # every run draws its loss curves (matplotlib, ~1 s each on a busy machine), which no test here
    # looks at; the study's own plot (objective.png) is drawn for real
    import sciml.plots

    monkeypatch.setattr(sciml.plots, "plot_losses", lambda records, path: Path(path))


def write_case(tmp_path, text=CASE, name="case.yaml", **study):
    raw = yaml.safe_load(text)
    raw["study"].update(study)
    raw["study"] = {k: v for k, v in raw["study"].items() if v is not None}
    path = tmp_path / name
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def case_at(tmp_path, sets=(), **study):
    return load_case(write_case(tmp_path, **study), [f"output.dir={tmp_path / 'runs'}", *sets])


def comparable(rows):
    """The table without wall-clock columns (times, paths)."""
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK} for r in rows]


def assert_same_table(a, b):
    a, b = comparable(a), comparable(b)
    assert [r.keys() for r in a] == [r.keys() for r in b]
    for ra, rb in zip(a, b):
        for k in ra:
            if isinstance(ra[k], float) and isinstance(rb[k], float):
                # a resumed run replays the same steps from its checkpoint (exact resume); the
                # tolerance only leaves room for float32 arithmetic in another process
                assert math.isclose(ra[k], rb[k], rel_tol=1e-6, abs_tol=1e-9), (k, ra, rb)
            else:
                assert ra[k] == rb[k], (k, ra, rb)


# ---------------------------------------------------------------- spaces and policies
def test_grid_enumerates_every_combination_in_order():
    contexts = Space((Dim("a", values=(1, 2)),))
    arms = Space((Dim("b", values=("x", "y", "z")), Dim("c", low=1.0, high=100.0, log=True, n=3)))
    grid = POLICIES.build("grid", {}, contexts=contexts, arms=arms)
    got = [grid.propose(k, []) for k in range(grid.size)]
    assert grid.size == 2 * 3 * 3 and grid.propose(grid.size, []) is None
    assert len({json.dumps(p, sort_keys=True) for p in got}) == 18  # every combination once
    assert got[0] == ({"a": 1}, {"b": "x", "c": 1.0}) and got[-1] == ({"a": 2}, {"b": "z", "c": 100.0})
    assert [p[1]["c"] for p in got[:3]] == pytest.approx([1.0, 10.0, 100.0])  # geometric points
    assert [p[0]["a"] for p in got] == [1] * 9 + [2] * 9  # contexts vary slowest


def test_random_is_reproducible_by_seed_and_stays_in_range():
    contexts = Space((Dim("nu", low=1e-3, high=1e-1, log=True),))
    arms = Space((Dim("lr", values=(1e-3, 3e-3, 1e-2)), Dim("width", low=8, high=64, integer=True)))

    def draws(seed):
        pol = POLICIES.build("random", {"seed": seed}, contexts=contexts, arms=arms)
        return [pol.propose(k, []) for k in range(200)]

    a, b, c = draws(0), draws(0), draws(1)
    assert a == b and a != c
    nu = np.array([p[0]["nu"] for p in a])
    assert nu.min() >= 1e-3 and nu.max() <= 1e-1
    # log-uniform: about half the draws below the geometric midpoint 1e-2 (200 draws: 0.5 ± 0.035)
    assert 0.38 < np.mean(nu < 1e-2) < 0.62
    assert {p[1]["lr"] for p in a} == {1e-3, 3e-3, 1e-2}
    widths = [p[1]["width"] for p in a]
    assert all(isinstance(w, int) and 8 <= w <= 64 for w in widths)


def test_episode_case_values_and_step_cap(tmp_path, monkeypatch):
    case = case_at(tmp_path)
    raw = episode_raw(case.raw, {"problem.params.freq": 3.0}, {"train.stages.0.lr": 0.5, "model.init": "glorot_normal"})
    assert "study" not in raw and raw["problem"]["params"]["freq"] == 3.0
    assert raw["train"]["stages"][0]["lr"] == 0.5 and raw["model"]["init"] == "glorot_normal"
    assert case.raw["train"]["stages"][0]["lr"] == 1e-3  # the study's case is untouched
    monkeypatch.setenv("SCIML_MAX_STEPS", "2")  # caps an arm's steps too, as load_case caps the case's
    assert episode_raw(case.raw, {}, {"train.stages.0.steps": 50})["train"]["stages"][0]["steps"] == 2


def test_best_follows_the_direction(tmp_path):
    eps = [Episode(0, "done", {}, {"a": 1}, 0.5), Episode(1, "done", {}, {"a": 2}, 0.2), Episode(2, "failed", {}, {})]
    plan = plan_of(case_at(tmp_path))
    assert best(eps, plan).k == 1
    plan.direction = "maximize"
    assert best(eps, plan).k == 0


# ---------------------------------------------------------------- a whole study
@pytest.fixture(scope="module")
def grid_study(tmp_path_factory):
    """A 2 contexts × 2 arms grid study, played once for the tests that read it."""
    import sciml.plots

    tmp = tmp_path_factory.mktemp("grid")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sciml.plots, "plot_losses", lambda records, path: Path(path))
        seen = []
        study = run_study(case_at(tmp), on_episode=seen.append)
    return study, seen


def test_grid_study_plays_every_episode_as_an_ordinary_run(grid_study):
    study, seen = grid_study
    eps = study.episodes()
    assert [e.k for e in seen] == [0, 1, 2, 3] and [e.status for e in eps] == ["done"] * 4
    assert [(e.context["problem.params.freq"], e.arm["train.stages.0.lr"]) for e in eps] == [
        (2.0, 1e-3),
        (2.0, 1e-2),
        (3.0, 1e-3),
        (3.0, 1e-2),
    ]
    for e in eps:
        run = RunDir.open(study.path / e.run_dir)
        assert run.path.parent.parent == study.path / "episodes" / f"{e.k:03d}"
        saved = run.load_case_dict()  # the resolved case of the run carries the episode's values
        assert saved["problem"]["params"]["freq"] == e.context["problem.params.freq"]
        assert saved["train"]["stages"][0]["lr"] == e.arm["train.stages.0.lr"]
        assert "study" not in saved
        summary = run.load_summary()["metrics"]
        assert e.metrics == summary and e.objective == summary["eval/rel_l2"]  # the table is the runs' summaries
    # the two learning rates train differently (so the table is not one run copied four times)
    assert eps[0].objective != eps[1].objective


def test_results_files_round_trip(grid_study):
    study, _ = grid_study
    eps = study.episodes()
    rows = read_results(study.path)
    assert [r["episode"] for r in rows] == [0, 1, 2, 3]
    for r, e in zip(rows, eps):
        assert r["problem.params.freq"] == e.context["problem.params.freq"]
        assert r["train.stages.0.lr"] == e.arm["train.stages.0.lr"]
        assert r["objective"] == e.objective and r["run_dir"] == e.run_dir
        assert all(r[k] == v for k, v in e.metrics.items())  # floats as repr: exact round trip
    log = [json.loads(line) for line in (study.path / "episodes.jsonl").read_text().splitlines()]
    assert [rec["episode"] for rec in log] == [0, 1, 2, 3] and log[2]["metrics"] == eps[2].metrics
    assert (study.path / "objective.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (study.path / "report.md").read_text()
    b = best(eps, study.plan)
    assert f"best: episode {b.k}" in report and "| 3 | done |" in report
    # the study's own case and storage: opening it again gives the same table
    again = Study.open(study.path)
    assert again.episodes() == eps and again.plan.trials == 4
    assert not list(study.path.rglob(".*.tmp.*"))  # every write was atomic and finished


# ---------------------------------------------------------------- bad sections: one line each
BAD = [
    ({"policy": "grd"}, "study.policy: unknown policy 'grd'; choose one of: "),  # every registered one, sorted
    ({"policy": {"type": "random", "sead": 1}}, "study.policy.sead: unknown option for policy 'random'"),
    ({"trials": 0}, "study.trials: must be a positive integer, got 0"),
    ({"trials": 9}, "study.trials: policy 'grid' offers 4 episodes, fewer than trials: 9"),
    ({"arms": {"train.stages.0.lr": []}}, "study.arms.train.stages.0.lr: an empty list of values"),
    ({"arms": {"x": {"low": 1, "high": 0}}}, "study.arms.x.high: must be greater than low (1), got 0"),
    ({"arms": {"x": {"low": 0, "high": 1, "log": True}}}, "study.arms.x.low: a log range needs low > 0"),
    ({"arms": {"x": {"low": 1, "high": 2}}}, "a range without n (give n: POINTS, or use policy random)"),
    ({"arms": {"problem.params.freq": [1.0]}}, "study.arms.problem.params.freq: is a context too"),
    ({"arms": {"study.trials": [1]}}, "a study cannot vary its own section"),
    ({"objective": {"metric": "eval/rel_l2", "direction": "down"}}, "study.objective.direction: unknown direction"),
    ({"policy": {"type": "random"}, "trials": None}, "policy 'random' offers any number of episodes; give trials"),
]


@pytest.mark.parametrize("study,message", BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_section_is_one_line(tmp_path, study, message):
    path = write_case(tmp_path, **study)
    with pytest.raises(CaseError) as err:
        load_case(path)
    text = str(err.value)
    assert "\n" not in text and message in text and text.startswith(f"{path}:"), text


REFUSED = [
    ({"arms": {"train.stages.0.lr": [1e-3, -0.5]}}, "study.arms.train.stages.0.lr: episode 1 value -0.5 is refused"),
    ({"arms": {"model.widht": [4]}}, "study.arms.model.widht: episode 0 value 4 is refused: model.widht: unknown"),
    ({"arms": {"train.stages.3.lr": [1e-3]}}, "study.arms.train.stages.3.lr: episode 0 value 0.001 is refused"),
    ({"contexts": {"problem.params.freq": [2.0, "high"]}}, "study.contexts.problem.params.freq: episode 2 value"),
]


@pytest.mark.parametrize("study,message", REFUSED, ids=[m.split(":")[0] for _, m in REFUSED])
def test_refused_episode_value_is_one_line_before_any_work(tmp_path, capsys, study, message):
    from sciml.cli import main

    path = write_case(tmp_path, **study)
    assert main(["study", str(path), "--output", str(tmp_path / "runs"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and message in err, err
    assert err.startswith(f"sciml study: error: {path}:")  # file and line of the study key
    assert not (tmp_path / "runs").exists()  # nothing was made, nothing trained


def test_missing_objective_metric_names_the_metrics(tmp_path):
    case = case_at(tmp_path, objective="eval/rel_l3", arms={"train.stages.0.lr": [1e-3]}, contexts=None)
    with pytest.raises(ValueError, match=r"objective 'eval/rel_l3' is not a final metric of episode 0; .*eval/rel_l2"):
        run_study(case)


# ---------------------------------------------------------------- interrupted and resumed
def test_study_interrupted_mid_episode_resumes_to_the_same_table(tmp_path, monkeypatch):
    arms = {"train.stages.0.lr": [1e-3, 3e-3, 1e-2]}
    whole = run_study(case_at(tmp_path / "a", contexts=None, arms=arms))

    # the second study is stopped by Ctrl-C in its second episode, after its 3rd logged step: the
    # Trainer checkpoints and stops, the study releases the episode
    real_log = RunDir.log_metrics
    count = {"n": 0}

    def log_then_interrupt(self, record):
        real_log(self, record)
        if "/episodes/001/" in str(self.path) and record.get("step") == 3 and not count["n"]:
            count["n"] += 1
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(RunDir, "log_metrics", log_then_interrupt)
    with pytest.raises(StudyInterrupted) as stop:
        run_study(case_at(tmp_path / "b", contexts=None, arms=arms))
    path = stop.value.path
    half = Study.open(path).episodes()
    assert [(e.k, e.status) for e in half] == [(0, "done"), (1, "interrupted")]
    assert [r["status"] for r in read_results(path)] == ["done", "interrupted"]  # the files say so too
    (run1,) = (path / "episodes" / "001" / "tiny").iterdir()
    assert (run1 / "checkpoints" / "last.pt").exists()

    resumed = run_study(resume=path)
    assert_same_table(read_results(whole.path), read_results(resumed.path))
    # episode 1 went on in its own run directory from its checkpoint (not started over elsewhere)
    assert list((path / "episodes" / "001" / "tiny").iterdir()) == [run1]
    steps = [r["step"] for r in RunDir(run1).read_metrics() if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6]  # checkpointed at step 3 when stopped, resumed from there: no step twice
    # finished studies stay finished: resuming again plays nothing
    assert run_study(resume=path).episodes() == resumed.episodes()


def test_interrupted_between_episodes_resumes(tmp_path):
    def stop_after_first(ep):
        if ep.k == 0:
            raise KeyboardInterrupt

    case = case_at(tmp_path, contexts=None, arms={"train.stages.0.lr": [1e-3, 1e-2]})
    with pytest.raises(StudyInterrupted):
        run_study(case, on_episode=stop_after_first)
    (path,) = (tmp_path / "runs" / "tiny").iterdir()
    assert [e.status for e in Study.open(path).episodes()] == ["done"]
    assert [e.status for e in run_study(resume=path).episodes()] == ["done", "done"]


def test_episode_of_a_killed_process_is_taken_over(tmp_path):
    """kill -9 releases nothing: an episode held by a process that is gone from this host is
    interrupted, and --resume plays it; one held by a live process (this one) is left alone."""
    from sciml.study import _signals_deferred

    study = Study.create(case_at(tmp_path, contexts=None, arms={"train.stages.0.lr": [1e-3, 1e-2]}))
    with _signals_deferred():
        trial, k, _, _ = study._claim()  # claimed as a process would, then "killed": never played
    assert k == 0 and [e.status for e in study.episodes()] == ["running"]  # this process is alive
    joined = Study.open(study.path)
    with _signals_deferred():
        trial1, k1, _, _ = joined._claim()
    assert k1 == 1  # a joining process leaves episode 0 alone
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    for t in (trial, trial1):
        t.set_user_attr("pid", gone.pid)
    assert [e.status for e in study.episodes()] == ["interrupted", "interrupted"]
    eps = run_study(resume=study.path).episodes()
    assert [(e.k, e.status) for e in eps] == [(0, "done"), (1, "done")]


# ---------------------------------------------------------------- a policy of one's own
@POLICIES.register("test_first_arm")
class FirstArm:
    """Always the first arm, in a context drawn for the episode; records what history it was shown."""

    adaptive = True  # asked episode by episode, with the finished ones
    size = None
    shown: list = []

    def __init__(self, contexts, arms, seed: int = 0):
        self.contexts, self.arms, self.seed = contexts, arms, seed

    def propose(self, k, history):
        FirstArm.shown.append([e.k for e in history])
        return self.contexts.draw(np.random.default_rng([self.seed, k])), self.arms.grid()[0]


def test_custom_policy_plugs_in(tmp_path):
    FirstArm.shown = []
    case = case_at(
        tmp_path,
        policy={"type": "test_first_arm", "seed": 3},
        trials=3,
        contexts={"problem.params.freq": {"low": 1, "high": 50, "integer": True}},  # the problem takes integers
    )
    eps = run_study(case).episodes()
    assert [e.arm for e in eps] == [{"train.stages.0.lr": 1e-3}] * 3
    freqs = [e.context["problem.params.freq"] for e in eps]
    assert all(isinstance(f, int) and 1 <= f <= 50 for f in freqs) and len(set(freqs)) == 3
    assert FirstArm.shown == [[], [0], [0, 1]]  # each proposal saw the finished episodes before it


# ---------------------------------------------------------------- processes (slow: new Python processes)
def _env():
    # one thread, as this process runs (conftest): the same arithmetic, so the same numbers
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "SCIML_DEBUG": ""}


@pytest.mark.slow
def test_sigterm_then_resume_from_the_command_line(tmp_path):
    """A `sciml study` process killed with SIGTERM once its first episode is done resumes (`--resume`)
    to the table of an uninterrupted study, wherever the signal landed (in an episode, which then
    resumes from its checkpoint, or between two)."""
    arms = {"train.stages.0.lr": [1e-3, 3e-3, 1e-2]}
    sets = ["train.stages.0.steps=300", "train.checkpoint_every=20", "train.log_every=20"]
    whole = run_study(case_at(tmp_path / "a", sets, contexts=None, arms=arms))
    path = write_case(tmp_path / "b", contexts=None, arms=arms)
    cmd = [sys.executable, "-m", "sciml.cli", "study", str(path), "--output", str(tmp_path / "b" / "runs")]
    cmd += [a for s in sets for a in ("--set", s)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, log = time.monotonic() + 300, None
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        log = next(iter((tmp_path / "b" / "runs").glob("tiny/study-*/episodes.jsonl")), None)
        if log is not None and log.read_text().count("\n") >= 1:
            break
    assert log is not None and proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err
    study_dir = log.parent
    assert Study.open(study_dir).episodes()[0].status == "done"
    done = subprocess.run(
        [sys.executable, "-m", "sciml.cli", "study", "--resume", str(study_dir), "--quiet"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert_same_table(read_results(whole.path), read_results(study_dir))


@pytest.mark.slow
def test_two_processes_share_one_study(tmp_path):
    """A second process (`sciml study --resume DIR`, as --workers starts it) joins a study: once it
    holds an episode, this process plays beside it; every episode is played once, by one of them."""
    study = Study.create(case_at(tmp_path, ["train.stages.0.steps=60"]))
    cmd = [sys.executable, "-m", "sciml.cli", "study", "--resume", str(study.path), "--quiet"]
    other = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not any(t.user_attrs.get("pid") == other.pid for t in study.engine.get_trials()):
        assert time.monotonic() < deadline and other.poll() is None, other.communicate()
        time.sleep(0.05)
    study.run()
    assert other.wait(timeout=300) == 0, other.communicate()
    eps = study.episodes()
    assert [e.k for e in eps] == [0, 1, 2, 3] and {e.status for e in eps} == {"done"}
    players = {t.number: t.user_attrs["pid"] for t in study.engine.get_trials()}
    assert set(players.values()) == {os.getpid(), other.pid}, players  # both played
    # every episode was played once: one run directory each
    assert [len(list((study.path / "episodes" / f"{k:03d}" / "tiny").iterdir())) for k in range(4)] == [1] * 4
    study.write_results()  # the other's last episode too (as run_study does after its workers)
    whole = run_study(case_at(tmp_path / "one", ["train.stages.0.steps=60"]))  # one process
    assert_same_table(read_results(whole.path), read_results(study.path))
