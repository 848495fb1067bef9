"""METALIC's two-stage variant: one arm for the first training stage's phase (Adam), one for the
second's (L-BFGS), the second chosen from a GP conditioned on the reward after the first stage.

On a toy staged reward the policy learns the best first arm and the best second arm per context;
a new policy object asked with the same history chooses the same (a resumed study); the policy file
carries both models and plays without learning; a real two-stage study records the error after the
first stage, trains each stage with its own interface terms, and resumes from a stop inside the
second stage of an episode to the same table."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from test_study import assert_same_table  # tests/core/test_study.py

from sciml.bandit import load_policy, stage_reward_key
from sciml.config import CaseError, load_case
from sciml.study import POLICIES, Dim, Episode, Space

CONTEXTS = Space((Dim("x", low=0.0, high=1.0),))
ARMS = Space(tuple(Dim(f"a{i}", values=(0, 1)) for i in range(3)))
STAGES = ["fit", "refine"]
PLAYS = 24  # 5 random (warm-up), then 19 plays from the two GPs


def r_first(first: dict) -> float:
    return 0.5 + 0.6 * first["a0"] - 0.3 * first["a2"]  # after the first stage: a0 on, a2 off


def r_final(x: float, first: dict, second: dict) -> float:
    # the second stage keeps what the first reached; then a1 helps for x < 0.5 and hurts above, a2 helps
    return r_first(first) + 0.6 * math.tanh(6 * (0.5 - x)) * (2 * second["a1"] - 1) + 0.3 * second["a2"]


def play(policy, n: int) -> list[Episode]:
    history: list[Episode] = []
    for k in range(n):
        context, arm = policy.propose(k, history)
        assert all(set(v) == set(STAGES) and v["fit"] == v["refine"] for v in arm.values())  # until chosen
        first = {key: v["fit"] for key, v in arm.items()}
        value = 10.0 ** -r_first(first)
        arm = policy.choose_stage(k, "refine", context, arm, value, history)
        assert {key: v["fit"] for key, v in arm.items()} == first  # the first stage's arm is kept
        second = {key: v["refine"] for key, v in arm.items()}
        final = 10.0 ** -r_final(context["x"], first, second)
        metrics = {"eval/rel_l2@fit": value, "eval/rel_l2": final}
        history.append(Episode(k, "done", context, arm, final, metrics))
    return history


@pytest.mark.parametrize("acquisition", ["ucb", "ts"])
def test_two_stage_bandit_learns_each_stages_arm_and_resumes_the_same(acquisition, tmp_path):
    options = {"acquisition": acquisition, "stages": STAGES, "seed": 2}
    policy = POLICIES.build("metalic", options, contexts=CONTEXTS, arms=ARMS)
    history = play(policy, PLAYS)
    learned = policy.learn(history)
    assert learned.stages == STAGES and learned.next is not None
    # the first model's target is mean(r0, γ r1); its best arm has a0 on and a2 off at any context
    for x in (0.2, 0.8):
        best = learned.choose({"x": x})
        assert (best["a0"], best["a2"]) == (1, 0), (x, best)
    r0 = r_first({"a0": 1, "a1": 0, "a2": 0})
    early = learned.next.choose({stage_reward_key("fit"): r0, "x": 0.1})  # a0 does not matter in the second
    assert (early["a1"], early["a2"]) == (1, 1), early
    late = learned.next.choose({stage_reward_key("fit"): r0, "x": 0.9})
    assert (late["a1"], late["a2"]) == (0, 1)
    assert any(e.arm[k]["fit"] != e.arm[k]["refine"] for e in history for k in e.arm)  # the stages differ
    # the plays after the warm-up were mostly good in both stages
    seconds = [(e.context["x"] < 0.5) == bool(e.arm["a1"]["refine"]) for e in history[-10:]]
    assert np.mean(seconds) >= 0.7, seconds
    # a resumed study: a new policy object with the same history proposes and chooses the same
    again = POLICIES.build("metalic", options, contexts=CONTEXTS, arms=ARMS)
    for k in (PLAYS - 1, 12, 2):
        context, arm = again.propose(k, history[:k])
        assert context == history[k].context
        value = history[k].metrics["eval/rel_l2@fit"]
        assert again.choose_stage(k, "refine", context, arm, value, history[:k]) == history[k].arm
    # the policy file holds both models; played without learning it takes listed contexts in order
    path = learned.save(tmp_path / "policy.json")
    back = load_policy(path)
    assert back.stages == STAGES and back.next.contexts[0].key == "reward@fit"
    probe = {stage_reward_key("fit"): r0, "x": 0.3}
    np.testing.assert_allclose(back.next.posterior(probe)[1], learned.next.posterior(probe)[1], rtol=1e-9, atol=1e-12)
    held = Space(points=({"x": 0.15}, {"x": 0.85}))
    player = POLICIES.build("metalic", {"learned": str(path)}, contexts=held, arms=ARMS)
    assert player.stages == STAGES and player.size == 2 and not player.adaptive
    for k, x in enumerate((0.15, 0.85)):
        context, arm = player.propose(k, [])
        assert context == {"x": x} and {a: v["fit"] for a, v in arm.items()} == back.choose(context)
        second = player.choose_stage(k, "refine", context, arm, 0.1, [])
        assert {a: v["refine"] for a, v in second.items()} == back.next.choose({"reward@fit": 1.0, "x": x})
    assert player.propose(2, []) is None


def test_rows_of_episodes_that_stopped_in_either_stage():
    """The first-stage error is kept when the second stage failed (the first model learns from it,
    the second learns the failure); an episode that stopped in its first stage recorded none and is
    left out of the second model."""
    policy = POLICIES.build("metalic", {"stages": STAGES, "warmup": 2}, contexts=CONTEXTS, arms=ARMS)
    arm = {f"a{i}": {"fit": 1, "refine": 0} for i in range(3)}
    ok = Episode(0, "done", {"x": 0.1}, arm, 0.01, {"eval/rel_l2@fit": 0.1, "eval/rel_l2": 0.01})
    late = Episode(1, "failed", {"x": 0.4}, arm, None, {"eval/rel_l2@fit": 0.1})
    early = Episode(2, "failed", {"x": 0.7}, arm, None, {})
    other = Episode(3, "done", {"x": 0.9}, arm, 0.1, {"eval/rel_l2@fit": 1.0, "eval/rel_l2": 0.1})
    _, _, _, r = policy.data([ok, late, early, other])
    np.testing.assert_allclose(r, [(1 + 0.9 * 2) / 2, (1 - 0.9 * 2) / 2, (-2 - 0.9 * 2) / 2, (0 + 0.9 * 1) / 2])
    learned = policy.learn([ok, late, early, other])
    assert learned.next.episodes == [0, 1, 3] and learned.next.rewards.tolist() == [2.0, -2.0, 1.0]
    assert learned.next.x_context[:, 0].tolist() == [1.0, 1.0, 0.0]  # the reward after the first stage


def test_a_small_learned_file_plays_its_posterior_mean_not_random_arms(tmp_path):
    policy = POLICIES.build("metalic", {"stages": STAGES}, contexts=CONTEXTS, arms=ARMS)
    back = load_policy(policy.learn(play(policy, 3)).save(tmp_path / "policy.json"))  # 3 episodes < warmup 5
    held = Space(points=tuple({"x": x} for x in np.linspace(0.05, 0.95, 6)))
    player = POLICIES.build("metalic", {"learned": str(tmp_path / "policy.json")}, contexts=held, arms=ARMS)
    for k in range(6):
        context, arm = player.propose(k, [])
        assert {a: v["fit"] for a, v in arm.items()} == back.choose(context)
        second = player.choose_stage(k, "refine", context, arm, 0.2, [])
        assert {a: v["refine"] for a, v in second.items()} == back.next.choose(
            {"reward@fit": -math.log10(0.2), **context}
        )


def test_a_resumed_run_may_change_the_weights_of_a_phase_not_started():
    from sciml.config import CaseError
    from sciml.run import check_resume_changes

    stages = [{"optimizer": "adam", "steps": 6, "phase": "fit"}, {"optimizer": "lbfgs", "steps": 4, "phase": "refine"}]
    saved = {"problem": {"interface": {"u": {"fit": 5.0, "refine": 5.0}}}, "train": {"stages": stages}}
    new = {"problem": {"interface": {"u": {"fit": 5.0, "refine": 0.0}}}, "train": {"stages": stages}}
    check_resume_changes(saved, new, 1, "run", step_in_stage=0)  # at the boundary: refine has not started
    check_resume_changes(saved, new, 0, "run", step_in_stage=3)
    with pytest.raises(CaseError, match=r"^problem.interface.u.refine: cannot change on --resume"):
        check_resume_changes(saved, new, 1, "run", step_in_stage=2)
    fit = {"problem": {"interface": {"u": {"fit": 0.0, "refine": 5.0}}}, "train": {"stages": stages}}
    with pytest.raises(CaseError, match=r"^problem.interface.u.fit: cannot change on --resume"):
        check_resume_changes(saved, fit, 0, "run", step_in_stage=1)


def test_two_stage_options_and_files_are_checked_in_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"^stages must name the phases of the case's two training stages"):
        POLICIES.build("metalic", {"stages": ["fit"]}, contexts=CONTEXTS, arms=ARMS)
    with pytest.raises(ValueError, match=r"^gamma .* must be in \[0, 1\]"):
        POLICIES.build("metalic", {"stages": STAGES, "gamma": 2}, contexts=CONTEXTS, arms=ARMS)
    policy = POLICIES.build("metalic", {"stages": STAGES}, contexts=CONTEXTS, arms=ARMS)
    path = policy.learn(play(policy, 4)).save(tmp_path / "policy.json")
    other = Space((Dim("a0", values=(0, 1)),))
    with pytest.raises(ValueError, match=r"^learned: the arms of .* are not the study's arms"):
        POLICIES.build("metalic", {"learned": str(path)}, contexts=CONTEXTS, arms=other)
    with pytest.raises(ValueError, match=r"^stages: .* has stages \['fit', 'refine'\], not \['a', 'b'\]"):
        POLICIES.build("metalic", {"learned": str(path), "stages": ["a", "b"]}, contexts=CONTEXTS, arms=ARMS)
    # a plain run cannot measure the first stage's error: a two-stage file is refused as interface.policy
    from sciml.registry import PROBLEMS

    with pytest.raises(ValueError, match=r"^interface.policy .*: a two-stage policy chooses its second arm"):
        PROBLEMS.build("reaction1d", {"cuts": {"t": 0.5}, "interface": {"policy": str(path)}})
    # the study section, before any work: phases the stages have, in their order; interface arms;
    # an evaluation objective
    for change, message in (
        ('study.policy={"type": "metalic", "stages": ["fit", "polish"]}', r"no training stage has phase 'polish'"),
        (
            'study.policy={"type": "metalic", "stages": ["refine", "fit"]}',
            r"the phases .* must come in the order of the training",
        ),
        ("study.objective=loss/total", r"it must be an evaluation metric \(eval/...\), got 'loss/total'"),
        ("study.arms={train.seed_dummy: [1, 2]}", r"arms are interface terms .*, not 'train.seed_dummy'"),
    ):
        with pytest.raises(CaseError, match=r"^[^\n]*metalic_reaction.yaml.*study.policy.stages: .*" + message):
            tiny_study(tmp_path / "c", [change])
    from sciml.study import StudyError, apply_stage_arm

    with pytest.raises(StudyError, match=r"^a staged policy may change only interface weights .*, not 'train.x'"):
        apply_stage_arm(None, {"train.x": 1})


def tiny_study(root: Path, more: list[str] = ()):
    stages = [
        {"optimizer": "adam", "lr": 1e-3, "steps": 6, "phase": "fit"},
        {"optimizer": "lbfgs", "lr": 1.0, "steps": 4, "phase": "refine"},
    ]
    policy = {"type": "metalic", "stages": STAGES, "warmup": 2, "seed": 1}
    over = [
        f"train.stages={json.dumps(stages)}",
        "train.progress=false",
        "train.log_every=1",
        "train.checkpoint_every=2",
        "output.formats=[]",
        "data.n_interior=64",
        "data.n_boundary=16",
        "data.n_initial=16",
        "model.width=8",
        f"output.dir={root}",
        f"study.policy={json.dumps(policy)}",
        "study.trials=3",
        *more,
    ]
    return load_case("cases/metalic_reaction.yaml", over)


@pytest.mark.parametrize("stop_at", [6, 8])  # the last Adam step (the stage boundary), inside L-BFGS
def test_a_two_stage_study_records_each_stage_and_resumes_inside_the_second(stop_at, tmp_path, monkeypatch):
    import sciml.plots
    from sciml.output import RunDir
    from sciml.study import Study, StudyInterrupted, read_results, run_study

    monkeypatch.setattr(sciml.plots, "plot_losses", lambda records, path: Path(path))
    whole = run_study(tiny_study(tmp_path / "a"))
    eps = whole.episodes()
    assert [e.status for e in eps] == ["done"] * 3
    policy = POLICIES.build(
        "metalic", {"stages": STAGES, "warmup": 2, "seed": 1}, contexts=whole.plan.contexts, arms=whole.plan.arms
    )
    for e in eps:
        assert math.isfinite(e.metrics["eval/rel_l2@fit"])  # the error after the first stage
        # the second stage's arm is what the policy chooses from the error after the first stage
        assert policy.choose_stage(e.k, "refine", e.context, e.arm, e.metrics["eval/rel_l2@fit"], eps[: e.k]) == e.arm
        run = whole.path / e.run_dir
        saved = RunDir.open(run).load_case_dict()["problem"]["interface"]
        assert {f"problem.interface.{t}": v for t, v in saved.items()} == e.arm  # the case says what trained
        logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for stage, phase in ((0, "fit"), (1, "refine")):
            on = {t.split(".")[-1] for t, v in e.arm.items() if v[phase] > 0}
            seen = {
                k.split("/")[1].split("@")[0]
                for r in logged
                if r.get("stage") == stage and not r.get("final")
                for k in r
                if k.startswith("loss/") and "@" in k
            }
            assert seen == on, (e.k, phase, seen, on)  # each stage trains with its own interface terms
    # Ctrl-C inside the second stage of the last episode (its second arm chosen from the GP)
    real_log, fired = RunDir.log_metrics, []

    def log_then_interrupt(self, record):
        real_log(self, record)
        if "/episodes/002/" in str(self.path) and record.get("step") == stop_at and not fired:
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(RunDir, "log_metrics", log_then_interrupt)
    with pytest.raises(StudyInterrupted) as stop:
        run_study(tiny_study(tmp_path / "b"))
    assert fired and Study.open(stop.value.path).episodes()[-1].status == "interrupted"
    resumed = run_study(resume=stop.value.path)
    assert_same_table(read_results(whole.path), read_results(resumed.path))
    a, b = load_policy(whole.path / "policy.json"), load_policy(resumed.path / "policy.json")
    assert a.next.x_arm.tolist() == b.next.x_arm.tolist()
    # float32 training in another process order: the rewards (and r0, the second model's first input)
    np.testing.assert_allclose(b.next.x_context, a.next.x_context, rtol=1e-6)
    np.testing.assert_allclose(b.next.rewards, a.next.rewards, rtol=1e-6)
