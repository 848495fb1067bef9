"""The METALIC policy (sciml.bandit): the GP is the GP of its formulas, the Hamming kernel is its
formula, the bandit finds the best arm per context on a toy reward (UCB and Thompson sampling) and
re-proposes the same on a resume, the policy file round-trips, and the study section takes it."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from test_study import write_case  # its smallest real case (tests/core/test_study.py)

from sciml.bandit import ERR_CAP, MetalicPolicy, build_gp, context_scales, load_policy, reward, write_policy
from sciml.config import CaseError, load_case
from sciml.study import POLICIES, Dim, Episode, Space, plan_of

# ---------------------------------------------------------------- a toy bandit
# one context x in [0, 1], four binary arm keys; the best arm switches at x = 0.5:
# x < 0.5: a0=1, a1=0 (a0 - a1 counts +0.6 s(x), s > 0); x > 0.5: a0=0, a1=1; always a2=1, a3=0
CONTEXTS = Space((Dim("x", low=0.0, high=1.0),))
ARMS = Space(tuple(Dim(f"a{i}", values=(0, 1)) for i in range(4)))
PLAYS = 26  # 5 random (warmup), then 21 fits: ~5 s per acquisition on a busy 2-core machine


def toy_reward(x: float, arm: dict) -> float:
    s = math.tanh(6 * (0.5 - x))
    return 0.5 + 0.2 * x + 0.6 * s * (arm["a0"] - arm["a1"]) + 0.3 * (arm["a2"] - arm["a3"])


def regret(x: float, arm: dict) -> float:
    return max(toy_reward(x, a) for a in ARMS.grid()) - toy_reward(x, arm)


def episode(k: int, context: dict, arm: dict) -> Episode:
    # the study minimizes an error; reward = -log10(error), so the error is 10^-reward
    return Episode(k, "done", context, arm, 10.0 ** -toy_reward(context["x"], arm))


def play(policy, n: int) -> list[Episode]:
    history: list[Episode] = []
    for k in range(n):
        context, arm = policy.propose(k, history)
        history.append(episode(k, context, arm))
    return history


def random_history(n: int, seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    grid = ARMS.grid()
    return [episode(k, {"x": float(rng.uniform())}, grid[int(rng.integers(len(grid)))]) for k in range(n)]


# ---------------------------------------------------------------- the GP against its formulas
def numpy_gp(learned, context: dict) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and std of every arm's reward, straight from the GP formulas with the fitted
    hyperparameters: k = s · exp(-|z - z'|²/2ℓ²) · exp(-mean(a != a')/ℓ_a), constant mean c, noise
    σ², rewards standardized by their mean and (n-1) std."""
    h = learned.hyperparameters
    scales = learned.contexts
    z_train = np.array([[s.z(v) for s, v in zip(scales, row)] for row in learned.x_context])
    z_test = np.array([[s.z(context[s.key]) for s in scales]] * len(learned.candidates))
    ls = np.array([h["context_lengthscales"][s.key] for s in scales])

    def k(z1, a1, z2, a2):
        d2 = (((z1[:, None, :] - z2[None, :, :]) / ls) ** 2).sum(-1)
        ham = (a1[:, None, :] != a2[None, :, :]).mean(-1)
        return h["outputscale"] * np.exp(-0.5 * d2) * np.exp(-ham / h["arm_lengthscale"])

    y = (learned.rewards - h["reward_mean"]) / h["reward_std"]
    K = k(z_train, learned.x_arm, z_train, learned.x_arm) + h["noise"] * np.eye(len(y))
    Ks = k(z_test, learned.candidates, z_train, learned.x_arm)
    mean = h["mean"] + Ks @ np.linalg.solve(K, y - h["mean"])
    var = h["outputscale"] - np.einsum("ij,ji->i", Ks, np.linalg.solve(K, Ks.T))
    return h["reward_mean"] + h["reward_std"] * mean, h["reward_std"] * np.sqrt(var)


def test_gp_posterior_is_the_gp_formulas():
    # two contexts (a range and a log range) and an arm key of three values beside two binary ones
    contexts = Space((Dim("nu", low=1e-3, high=5e-2, log=True), Dim("t", low=-1.0, high=3.0)))
    arms = Space((Dim("p", values=(0, 5)), Dim("q", values=(0, 5)), Dim("r", values=("a", "b", "c"))))
    rng = np.random.default_rng(3)
    history = []
    for k in range(14):
        ctx = {"nu": float(np.exp(rng.uniform(np.log(1e-3), np.log(5e-2)))), "t": float(rng.uniform(-1, 3))}
        arm = arms.grid()[int(rng.integers(12))]
        err = 0.05 * (1 + ctx["t"] ** 2 / 4) * (2.0 if arm["p"] else 1.0) * (0.7 if arm["r"] == "b" else 1.0)
        history.append(Episode(k, "done", ctx, arm, err * math.exp(0.1 * rng.standard_normal())))
    learned = MetalicPolicy(contexts, arms).learn(history)
    h = learned.hyperparameters
    assert h["noise"] >= 1e-4 and h["outputscale"] > 0  # a fitted model, not the initial values
    for ctx in ({"nu": 2e-3, "t": 0.0}, {"nu": 4e-2, "t": 2.5}):
        arms_, mean, std = learned.posterior(ctx)
        ref_mean, ref_std = numpy_gp(learned, ctx)
        # both are float64 solves of the same system; K + σ²I has σ² ≥ 1e-4 (botorch's noise floor)
        # against entries ≤ s ~ 1, so its condition number is ≤ ~1e5 and a float64 solve agrees to
        # ~1e-11 relative: 1e-8 leaves room for the different factorizations (Cholesky vs LU)
        np.testing.assert_allclose(mean, ref_mean, rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(std, ref_std, rtol=1e-8, atol=1e-8)
        assert arms_ == arms.grid()


def test_hamming_kernel_is_its_formula():
    rng = np.random.default_rng(0)
    n_ctx, n_arm = 1, 9
    x = np.hstack([rng.standard_normal((7, n_ctx)), rng.integers(0, 3, (7, n_arm))])  # values 0, 1, 2
    X = torch.tensor(x, dtype=torch.float64)
    model = build_gp(X, torch.zeros(7, 1, dtype=torch.float64), n_ctx)
    covar = model.covar_module
    rbf, cat = covar.base_kernel.kernels
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # (a Python float is set through float32)
    cat.lengthscale, rbf.lengthscale, covar.outputscale = f64(0.37), f64(1.3), f64(2.0)
    a = x[:, n_ctx:]
    expect = np.exp(-(a[:, None, :] != a[None, :, :]).mean(-1) / 0.37)  # a category is equal or not
    with torch.no_grad():
        got = cat(X, X).to_dense().numpy()
        full = covar(X, X).to_dense().numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    # the same as botorch's CategoricalKernel with one lengthscale (which this one computes faster)
    from botorch.models.kernels.categorical import CategoricalKernel

    ref = CategoricalKernel(active_dims=list(range(n_ctx, n_ctx + n_arm))).to(torch.float64)
    ref.lengthscale = f64(0.37)
    with torch.no_grad():
        np.testing.assert_allclose(ref(X, X).to_dense().numpy(), got, rtol=1e-12)
        np.testing.assert_allclose(cat(X[:4], X[3:], diag=True).numpy(), np.diag(expect[:4, 3:]), rtol=1e-12)
    rbf_expect = np.exp(-0.5 * ((x[:, None, 0] - x[None, :, 0]) / 1.3) ** 2)
    np.testing.assert_allclose(full, 2.0 * rbf_expect * expect, rtol=1e-12)


# ---------------------------------------------------------------- the bandit
@pytest.mark.parametrize("acquisition", ["ucb", "ts"])
def test_bandit_finds_the_best_arm_per_context_and_resumes_the_same(acquisition):
    policy = POLICIES.build("metalic", {"acquisition": acquisition}, contexts=CONTEXTS, arms=ARMS)
    history = play(policy, PLAYS)
    regrets = [regret(e.context["x"], e.arm) for e in history]
    # a random arm's mean regret on this toy is 0.76 (a wrong a2 or a3 costs 0.3, a wrong a0/a1 up to
    # 1.2 away from x = 0.5); over the last 8 of 26 plays both acquisitions stayed at 0.005-0.11 for
    # seeds 0-3 (this test plays seed 0): 0.15 is the bound
    assert np.mean(regrets[:5]) > 0.5  # the warm-up plays are random
    assert np.mean(regrets[-8:]) < 0.15, np.round(regrets, 2)
    learned = policy.learn(history)
    assert learned.choose({"x": 0.2}) == {"a0": 1, "a1": 0, "a2": 1, "a3": 0}
    assert learned.choose({"x": 0.8}) == {"a0": 0, "a1": 1, "a2": 1, "a3": 0}
    # a resumed study: a new policy object asked again with the same history proposes the same
    again = POLICIES.build("metalic", {"acquisition": acquisition}, contexts=CONTEXTS, arms=ARMS)
    for k in (PLAYS - 1, 9):
        assert again.propose(k, history[:k]) == (history[k].context, history[k].arm)
    assert again.propose(3, history[:3]) == (history[3].context, history[3].arm)  # a warm-up play too


def test_rewards_and_failed_episodes():
    assert reward(0.01, "done") == pytest.approx(2.0)
    assert reward(None, "failed") == reward(float("nan"), "done") == reward(1e9, "done") == -math.log10(ERR_CAP)
    assert reward(3.5, "done", "maximize") == 3.5 and reward(None, "failed", "maximize") is None
    policy = MetalicPolicy(CONTEXTS, ARMS, direction="maximize")
    hist = [Episode(0, "done", {"x": 0.1}, ARMS.grid()[0], 2.0), Episode(1, "failed", {"x": 0.2}, ARMS.grid()[1])]
    hist += [Episode(2, "done", {"x": 0.3}, ARMS.grid()[2], 5.0), Episode(3, "running", {"x": 0.4}, ARMS.grid()[3])]
    ks, _, _, r = policy.data(hist)
    assert ks == [0, 1, 2] and r.tolist() == [2.0, 2.0, 5.0]  # failed: the worst reward seen; running: left out


# ---------------------------------------------------------------- the policy file
def test_policy_file_round_trip_and_bad_files(tmp_path):
    policy = MetalicPolicy(CONTEXTS, ARMS, acquisition="ts")
    history = random_history(20)
    learned = policy.learn(history)
    path = policy.after_episode(tmp_path, history)  # what the study calls after each play
    assert path == tmp_path / "policy.json"
    doc = json.loads(path.read_text())
    assert doc["contexts"] == [{"key": "x", "mean": 0.5, "std": 1 / math.sqrt(12), "log": False}]
    assert [a["key"] for a in doc["arms"]] == ["a0", "a1", "a2", "a3"] and len(doc["data"]["rewards"]) == 20
    assert doc["hyperparameters"] == learned.hyperparameters and doc["info"]["acquisition"] == "ts"
    loaded = load_policy(path)
    for x in np.linspace(0.0, 1.0, 7):
        ctx = {"x": float(x)}
        arms, mean, std = learned.posterior(ctx)
        arms2, mean2, std2 = loaded.posterior(ctx)
        # rebuilt from the data and the fitted parameters (no fit): the same numbers, bit for bit
        assert arms == arms2 and np.array_equal(mean, mean2) and np.array_equal(std, std2)
        assert loaded.choose(ctx) == arms[int(np.argmax(mean))] == learned.choose(ctx)
    assert write_policy(policy, history, tmp_path / "again.json").read_text() == path.read_text()
    # the arm keys' effects: a2 helps and a3 hurts everywhere; a0 helps below x = 0.5, hurts above
    low, high = loaded.term_effects([{"x": 0.1}, {"x": 0.2}]), loaded.term_effects([{"x": 0.8}, {"x": 0.9}])
    assert low["a2"] > 0.1 and low["a3"] < -0.1 and high["a2"] > 0.1 and high["a3"] < -0.1
    assert low["a0"] > 0.2 > -0.2 > high["a0"] and low["a1"] < -0.2 < 0.2 < high["a1"]
    with pytest.raises(ValueError, match="context gives y; the policy's context keys are x"):
        loaded.choose({"y": 0.3})
    # bad files: one line naming the file and what is wrong
    bad = {
        "missing.json": (None, "no such policy file"),
        "cut.json": (path.read_text()[:200], "not a METALIC policy file (not JSON"),
        "other.json": ('{"format": "other"}', "not a METALIC policy file"),
        "v9.json": (json.dumps({**doc, "version": 9}), "policy file version 9; this sciml reads version 1"),
        "nodata.json": (
            json.dumps({k: v for k, v in doc.items() if k != "data"}),
            "damaged METALIC policy file (no 'data')",
        ),
        "short.json": (json.dumps({**doc, "params": {}}), "damaged METALIC policy file"),
    }
    for name, (text, message) in bad.items():
        p = tmp_path / name
        if text is not None:
            p.write_text(text)
        with pytest.raises(ValueError) as err:
            load_policy(p)
        line = str(err.value)
        assert "\n" not in line and line.startswith(str(p)) and message in line, line


def test_context_standardization_from_the_declared_space():
    s = context_scales(Space((Dim("nu", low=1e-3, high=1e-1, log=True), Dim("k", values=(1, 2, 3)))))
    assert (
        s[0].log and s[0].mean == pytest.approx(math.log(1e-2)) and s[0].std == pytest.approx(math.log(100) / 12**0.5)
    )
    assert (s[1].mean, s[1].std) == (2.0, pytest.approx(math.sqrt(2 / 3)))
    assert s[0].z(1e-2) == pytest.approx(0.0)


# ---------------------------------------------------------------- the study section
def test_study_section_takes_metalic_and_refuses_bad_options_in_one_line(tmp_path):
    case = load_case(write_case(tmp_path, policy={"type": "metalic", "acquisition": "ts"}, trials=4))
    plan = plan_of(case)
    assert isinstance(plan.policy, MetalicPolicy) and plan.policy.acquisition == "ts"
    assert plan.policy.direction == "minimize" and plan.trials == 4
    maxi = load_case(
        write_case(tmp_path, name="max.yaml", policy="metalic", trials=4, objective={"direction": "maximize"})
    )
    assert plan_of(maxi).policy.direction == "maximize"  # the study gives the bandit the objective's direction
    bad = [
        ({"policy": {"type": "metalic", "acqusition": "ts"}, "trials": 4},
         "study.policy.acqusition: unknown option for policy 'metalic'; valid options: acquisition, c, warmup, seed"),
        ({"policy": {"type": "metalic", "direction": "maximize"}, "trials": 4},
         "study.policy.direction: unknown option for policy 'metalic'"),
        ({"policy": {"type": "metalic", "acquisition": "ei"}, "trials": 4},
         "study.policy: policy 'metalic': acquisition must be one of ucb, ts, got 'ei'"),
        ({"policy": {"type": "metalic", "warmup": -1}, "trials": 4}, "warmup must be an integer >= 0, got -1"),
        ({"policy": "metalic"}, "policy 'metalic' offers any number of episodes; give trials: N"),
        ({"policy": "metalic", "trials": 4, "arms": {"train.stages.0.lr": {"low": 1e-3, "high": 1e-2}}},
         "metalic scores every arm; train.stages.0.lr is a range without n"),
        ({"policy": "metalic", "trials": 4, "contexts": {"model.init": ["glorot_normal"]}},
         "metalic needs numeric contexts; model.init takes 'glorot_normal'"),
    ]  # fmt: skip
    for i, (study, message) in enumerate(bad):
        path = write_case(tmp_path, name=f"bad{i}.yaml", **study)
        with pytest.raises(CaseError) as err:
            load_case(path)
        text = str(err.value)
        assert "\n" not in text and message in text and text.startswith(f"{path}:"), text


def test_too_many_arms_refused():
    arms = Space(tuple(Dim(f"k{i}", values=(0, 5)) for i in range(13)))  # 8192
    with pytest.raises(ValueError, match="metalic scores every arm; 8192 arms is more than 4096"):
        MetalicPolicy(CONTEXTS, arms)


def test_a_metalic_study_writes_its_policy_file(tmp_path, monkeypatch):
    import sciml.plots
    from sciml.study import run_study

    monkeypatch.setattr(sciml.plots, "plot_losses", lambda records, path: Path(path))
    case = load_case(
        write_case(tmp_path, policy={"type": "metalic", "warmup": 2, "seed": 1}, trials=3),
        [f"output.dir={tmp_path / 'runs'}"],
    )
    study = run_study(case)
    eps = study.episodes()
    assert [e.status for e in eps] == ["done"] * 3
    learned = load_policy(study.path / "policy.json")
    assert learned.episodes == [0, 1, 2]  # rewritten after the last play
    assert learned.rewards.tolist() == [-math.log10(e.objective) for e in eps]
    assert learned.choose({"problem.params.freq": 2.0}) in [{"train.stages.0.lr": v} for v in (1e-3, 1e-2)]
    # the report says what the model learned: each arm key's posterior effect, from the same model
    text = (study.path / "report.md").read_text()
    assert "## What the model learned" in text
    effect = learned.term_effects([{"problem.params.freq": float(e.context["problem.params.freq"])} for e in eps])
    assert f"| train.stages.0.lr | {effect['train.stages.0.lr']:+.3f} |" in text


def test_a_metalic_study_killed_mid_play_resumes_to_the_same_result(tmp_path, monkeypatch):
    """Ctrl-C inside episode 3 (after the warm-up, so its arm came from the GP): the resumed study
    finishes with the same table and the same learned policy as one played without a stop."""
    import os
    import signal

    from test_study import assert_same_table

    import sciml.plots
    from sciml.output import RunDir
    from sciml.study import Study, StudyInterrupted, read_results, run_study

    monkeypatch.setattr(sciml.plots, "plot_losses", lambda records, path: Path(path))
    policy = {"type": "metalic", "warmup": 2, "seed": 3}

    def case(sub):
        return load_case(write_case(tmp_path / sub, policy=policy, trials=4), [f"output.dir={tmp_path / sub / 'runs'}"])

    whole = run_study(case("a"))
    real_log, fired = RunDir.log_metrics, []

    def log_then_interrupt(self, record):
        real_log(self, record)
        if "/episodes/003/" in str(self.path) and record.get("step") == 3 and not fired:
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(RunDir, "log_metrics", log_then_interrupt)
    with pytest.raises(StudyInterrupted) as stop:
        run_study(case("b"))
    assert fired and Study.open(stop.value.path).episodes()[-1].status == "interrupted"
    resumed = run_study(resume=stop.value.path)
    assert_same_table(read_results(whole.path), read_results(resumed.path))
    a, b = load_policy(whole.path / "policy.json"), load_policy(resumed.path / "policy.json")
    assert a.x_arm.tolist() == b.x_arm.tolist() and a.x_context.tolist() == b.x_context.tolist()
    np.testing.assert_allclose(b.rewards, a.rewards, rtol=1e-6)  # float32 training in another process order
