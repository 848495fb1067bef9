"""Trainer: stages, exact resume after an interruption, divergence guard, dtype."""

import os
import signal

import numpy as np
import pytest
import torch

from sciml import build, load_case
from sciml.config import CaseError
from sciml.output import RunDir
from sciml.train import Interrupted, Trainer, TrainingDiverged

CASE = """\
name: tiny
seed: 1
dtype: float64
problem: {type: burgers1d, params: {nu: 0.05}, n_x: 32, n_t: 8}
data: {type: collocation, n_interior: 64, n_boundary: 8, n_initial: 16, sampler: pseudo, resample_every: 3}
model: {type: mlp, width: 8, depth: 2}
method: {type: pinn, weights: {initial: 2.0}}
train:
  stages:
    - {optimizer: adam, lr: 1.0e-2, steps: 6, scheduler: {type: step, step_size: 2, gamma: 0.5}}
    - {optimizer: lbfgs, lr: 1.0, steps: 4}
  eval_every: 4
  checkpoint_every: 2
  log_every: 1
  progress: false
"""


@pytest.fixture
def case_file(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(CASE)
    return p


def params(method):
    return torch.cat([p.detach().flatten() for p in method.parameters()])


def interrupt_at(data, step):
    """Make the data's after_step hook send SIGINT to this process at ``step``."""
    orig = data.after_step

    fired = []

    def hook(state):
        orig(state)
        if state.step >= step and not fired:
            fired.append(state.step)
            os.kill(os.getpid(), signal.SIGINT)

    data.after_step = hook


def train(case, run_dir=None, stop_at=None, resume=None):
    """Build ``case`` and fit it (SIGINT at ``stop_at``); (built, trainer, metrics). Also test_exact_resume's."""
    built = build(case)
    if stop_at:
        interrupt_at(built.data, stop_at)
    tr = Trainer(case.train, run_dir, case.seed, case.dtype, case.device)
    return built, tr, tr.fit(built.method, built.data, resume=resume)


def assert_resumes_bit_for_bit(make_case, tmp_path, stop_at: int) -> tuple:
    """Run ``make_case()`` whole, then again stopped by SIGINT at ``stop_at`` and resumed: the
    resumed run ends at the same step with the same method state (bit for bit) and the same final
    metrics but the wall time. Returns the uninterrupted ``(built, trainer, metrics)``."""
    from benchmarks.soak_resume import differences  # the soak's bitwise comparison

    ref, ref_tr, ref_metrics = train(make_case())
    case = make_case()
    run_dir = RunDir.create(tmp_path / "resumed", case.name)
    run_dir.save_case(case.to_dict())
    with pytest.raises(Interrupted):
        train(case, run_dir, stop_at=stop_at)
    built, tr, metrics = train(make_case(), run_dir, resume=run_dir.checkpoints / "last.pt")
    assert tr.state.step == ref_tr.state.step
    assert not differences(built.method.state_dict(), ref.method.state_dict(), "method")
    timing = {"train_time_s"}  # wall clock: the one metric that differs
    assert {k: v for k, v in metrics.items() if k not in timing} == {
        k: v for k, v in ref_metrics.items() if k not in timing
    }
    return ref, ref_tr, ref_metrics


def interrupt_and_resume(case_file, over, tmp_path, stop_at):
    """Run the case with overrides ``over`` until SIGINT at ``stop_at``, resume it; the resumed run."""
    run_dir = RunDir.create(tmp_path / "runs", "tiny")
    run_dir.save_case(load_case(case_file, over).to_dict())
    with pytest.raises(Interrupted):
        train(load_case(case_file, over), run_dir, stop_at=stop_at)
    built, tr, _ = train(load_case(case_file, over), run_dir, resume=run_dir.checkpoints / "last.pt")
    return built, tr


@pytest.mark.parametrize("stop_at", [3, 5, 8])  # mid-Adam, between checkpoints, inside the L-BFGS stage
def test_interrupted_run_resumes_to_the_same_result(case_file, tmp_path, stop_at):
    case = load_case(case_file)
    ref_built, _, ref_metrics = train(case)
    run_dir = RunDir.create(tmp_path / "runs", "tiny")
    run_dir.save_case(case.to_dict())
    with pytest.raises(Interrupted, match=f"stopped at step {stop_at}"):
        train(load_case(case_file), run_dir, stop_at=stop_at)
    built, tr, metrics = train(load_case(case_file), run_dir, resume=run_dir.checkpoints / "last.pt")
    torch.testing.assert_close(params(built.method), params(ref_built.method), rtol=1e-12, atol=1e-12)
    assert metrics["eval/rel_l2"] == pytest.approx(ref_metrics["eval/rel_l2"], rel=1e-10)
    steps = [r["step"] for r in run_dir.read_metrics() if "loss" in r]
    assert steps == list(range(1, 11))  # no step lost, none logged twice


def test_lbfgs_chunks_resume_exactly(case_file, tmp_path):
    # log_every 3: L-BFGS runs several iterations per call; an interrupt lands on a call boundary
    over = ["train.log_every=3", "train.stages.1.steps=9"]
    ref_built, _, _ = train(load_case(case_file, over))
    built, tr = interrupt_and_resume(case_file, over, tmp_path, stop_at=8)
    torch.testing.assert_close(params(built.method), params(ref_built.method), rtol=1e-12, atol=1e-12)
    assert [r["step"] for r in tr.history if "loss" in r][-1] == 15


def test_stages_run_in_order_with_their_optimizers(case_file):
    case = load_case(case_file)
    built, tr, metrics = train(case)
    loss_recs = [r for r in tr.history if "loss" in r]
    assert [r["stage"] for r in loss_recs] == [0] * 6 + [1] * 4
    assert [r["lr"] for r in loss_recs[:6]] == [1e-2, 5e-3, 5e-3, 2.5e-3, 2.5e-3, 1.25e-3]
    assert set(loss_recs[0]) >= {"loss/pde", "loss/initial", "loss/boundary"}
    # the weighted total is what is minimized: loss = pde + 2 * initial + boundary
    r = loss_recs[0]
    assert r["loss"] == pytest.approx(r["loss/pde"] + 2 * r["loss/initial"] + r["loss/boundary"])
    assert next(built.method.parameters()).dtype == torch.float64
    assert loss_recs[-1]["loss"] < loss_recs[0]["loss"]


def test_non_finite_loss_stops_with_a_clear_message(case_file):
    case = load_case(case_file)
    built = build(case)
    orig = built.method.loss
    calls = {"n": 0}

    def bad_loss(batch):
        calls["n"] += 1
        terms = orig(batch)
        if calls["n"] >= 3:
            terms["pde"] = terms["pde"] * float("nan")
        return terms

    built.method.loss = bad_loss
    with pytest.raises(TrainingDiverged, match=r"loss became nan at stage 0 \(adam\), step 2.*terms"):
        Trainer(case.train, seed=case.seed, dtype=case.dtype).fit(built.method, built.data)


def test_divergence_factor_guard(case_file):
    case = load_case(case_file, ["train.divergence_factor=1.0e-3"])
    built = build(case)
    with pytest.raises(TrainingDiverged, match="exceeds divergence_factor"):
        Trainer(case.train, seed=case.seed, dtype=case.dtype).fit(built.method, built.data)


OPERATOR_CASE = """\
name: tiny_fno
seed: 2
problem: {type: darcy2d, resolution: 9}
data: {type: hdf5, path: DATA, n_train: 10, n_test: 4, batch_size: 4}
model: {type: fno, n_modes: [3, 3], hidden_channels: 6, n_layers: 2, projection_channels: 8}
method: {type: supervised}
train:
  stages:
    - {optimizer: adam, lr: 1.0e-3, epochs: 3}
  eval_every: 100
  checkpoint_every: 2
  progress: false
"""


def test_operator_minibatches_resume_exactly(tmp_path):
    p = tmp_path / "op.yaml"
    p.write_text(OPERATOR_CASE.replace("DATA", str(tmp_path / "d.h5")))
    case = load_case(p)
    ref_built, _, _ = train(case)
    assert ref_built.data.steps_per_epoch() == 3  # 10 samples in batches of 4
    run_dir = RunDir.create(tmp_path / "runs", "op")
    run_dir.save_case(case.to_dict())
    with pytest.raises(Interrupted):
        train(load_case(p), run_dir, stop_at=4)
    built, _, _ = train(load_case(p), run_dir, resume=run_dir.checkpoints / "last.pt")
    torch.testing.assert_close(params(built.method), params(ref_built.method), rtol=1e-6, atol=1e-7)
    # the y-normalizer travels with the method's state dict (so eval/export can decode)
    assert any(k.startswith("y_normalizer") for k in built.method.state_dict())


def test_gradient_clipping_bounds_the_update(case_file):
    case = load_case(case_file, ["train.stages=[{optimizer: sgd, lr: 1.0, steps: 1, clip_grad: 1.0e-6}]"])
    built = build(case)
    before = params(built.method).clone()
    Trainer(case.train, seed=case.seed, dtype=case.dtype).fit(built.method, built.data)
    step = (params(built.method) - before).norm()
    assert 0 < step <= 1e-6 * (1 + 1e-9)


def test_time_limit_ends_training_early_and_still_evaluates(case_file, monkeypatch):
    # on a fake clock (1/64 s a step; a real one makes the step count depend on the machine's load)
    # the 0.5 s budget ends the Adam stage after exactly 32 steps, and the L-BFGS stage never starts
    clock = FakeClock(monkeypatch, dt=1 / 64)
    case = load_case(
        case_file,
        [
            "train.time_limit_s=0.5",
            "train.stages=[{optimizer: adam, lr: 1.0e-3, steps: 1000000}, {optimizer: lbfgs, lr: 1.0, steps: 1000000}]",
        ],
    )
    _, trainer, metrics = clock.fit(case)
    assert trainer.time_limited and metrics["steps"] == 32 and metrics["train_time_s"] == 0.5
    assert "eval/rel_l2" in metrics
    with pytest.raises(CaseError, match="time_limit_s"):
        load_case(case_file, ["train.time_limit_s=-1"])


# ---------------------------------------------------------------- progress schedules
def _lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.optimizer.param_groups[0]["lr"])
        sched.optimizer.step()
        sched.step()
    return out


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_onecycle_over_steps_matches_torch_onecycle():
    from sciml.train import ProgressLR

    n = 40
    ours = ProgressLR(_opt(0.1), "onecycle", n, pct_start=0.25, div_factor=4.0, final_div_factor=50.0)
    # torch's warm-up ends at step pct·T − 1 and the annealing at T − 1; ours at p = 0.25 and 1 with
    # p = step / n: the same boundaries (steps 10 and 40) for T = n + 1 and pct = 11/41
    ref = torch.optim.lr_scheduler.OneCycleLR(
        _opt(0.1),
        max_lr=0.1,
        total_steps=n + 1,
        pct_start=11 / 41,
        div_factor=4.0,
        final_div_factor=50.0,
        three_phase=False,
    )
    a, b = _lrs(ours, n + 1), _lrs(ref, n + 1)
    assert a[0] == pytest.approx(0.1 / 4) and max(a) == pytest.approx(0.1) and a[-1] == pytest.approx(0.1 / 200)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_cosine_over_time_follows_the_spent_fraction_of_the_budget():
    from sciml.train import ProgressLR

    clock = {"p": 0.0}
    sched = ProgressLR(_opt(2.0), "cosine", 10, lambda: clock["p"], eta_min=0.5)
    for p in (0.0, 0.25, 0.5, 1.0, 1.7):  # past the budget it stays at eta_min
        clock["p"] = p
        sched.optimizer.step()
        sched.step()
        expect = 0.5 + 1.5 * (1 + np.cos(np.pi * min(p, 1.0))) / 2
        assert sched.optimizer.param_groups[0]["lr"] == pytest.approx(expect, rel=1e-12)
    assert "_progress" not in sched.state_dict()  # the Trainer's callback is not saved


class FakeClock:
    """The Trainer's clock advanced by ``dt`` per training step (deterministic time budgets)."""

    def __init__(self, monkeypatch, dt: float):
        self.t, self.dt = 1000.0, dt
        monkeypatch.setattr("sciml.train._clock", lambda: self.t)

    def drive(self, data):
        orig = data.next_batch

        def batch(*a, **k):  # each step takes dt (from fetching its batch on)
            self.t += self.dt
            return orig(*a, **k)

        data.next_batch = batch

    def fit(self, case):
        """Build ``case`` and train it on this clock; (built, trainer, metrics)."""
        built = build(case)
        self.drive(built.data)
        tr = Trainer(case.train, None, case.seed, case.dtype)
        return built, tr, tr.fit(built.method, built.data)


def test_time_horizon_anneals_to_the_end_of_the_budget(case_file, monkeypatch):
    clock = FakeClock(monkeypatch, dt=1 / 64)  # 1 s budget = 64 steps (exact in binary)
    case = load_case(
        case_file,
        [
            "train.time_limit_s=1.0",
            "train.stages=[{optimizer: adam, lr: 1.0e-2, steps: 1000000, scheduler: {type: cosine, horizon: time}}]",
        ],
    )
    _, tr, metrics = clock.fit(case)
    lrs = [r["lr"] for r in tr.history if "lr" in r]  # the rate for the next step, logged after each
    assert tr.time_limited and metrics["steps"] == 64
    # the steps horizon (10^6 steps) would have kept the rate near 1e-2; the time horizon follows the clock
    expect = [1e-2 * (1 + np.cos(np.pi * k / 64)) / 2 for k in range(1, 65)]
    np.testing.assert_allclose(lrs, expect, rtol=1e-9, atol=1e-12)


def test_time_horizon_of_a_later_stage_spans_the_budget_left(case_file, monkeypatch):
    clock = FakeClock(monkeypatch, dt=1 / 64)
    case = load_case(
        case_file,
        [
            "train.time_limit_s=1.0",
            "train.stages=[{optimizer: adam, lr: 1.0e-2, steps: 24}, "
            "{optimizer: adam, lr: 1.0e-2, steps: 1000000, scheduler: {type: cosine, horizon: time}}]",
        ],
    )
    _, tr, _ = clock.fit(case)
    lrs = [r["lr"] for r in tr.history if "lr" in r and r["stage"] == 1]
    assert len(lrs) == 40  # the 40/64 s stage 0 left
    np.testing.assert_allclose(lrs, [1e-2 * (1 + np.cos(np.pi * k / 40)) / 2 for k in range(1, 41)], atol=1e-12)


def test_time_budget_spans_a_resume(case_file, tmp_path, monkeypatch):
    clock = FakeClock(monkeypatch, dt=1 / 64)
    over = [
        "train.time_limit_s=1.0",
        "train.stages=[{optimizer: adam, lr: 1.0e-2, steps: 1000000, scheduler: {type: onecycle, horizon: time}}]",
        "train.checkpoint_every=7",
    ]
    ref, ref_tr, ref_metrics = clock.fit(load_case(case_file, over))
    assert ref_metrics["steps"] == 64 and ref_metrics["train_time_s"] == 1.0

    case = load_case(case_file, over)
    run_dir = RunDir.create(tmp_path / "runs", "tiny")
    run_dir.save_case(case.to_dict())
    first = build(case)
    clock.drive(first.data)
    interrupt_at(first.data, 20)
    with pytest.raises(Interrupted):
        Trainer(case.train, run_dir, case.seed, case.dtype).fit(first.method, first.data)
    blob = torch.load(run_dir.checkpoints / "last.pt", weights_only=False)
    assert blob["state"]["step"] == 20 and blob["state"]["elapsed_s"] == 20 / 64
    clock.t += 123.0  # time between the interruption and the resume does not count
    second = build(load_case(case_file, over))
    clock.drive(second.data)
    tr = Trainer(case.train, run_dir, case.seed, case.dtype)
    metrics = tr.fit(second.method, second.data, resume=run_dir.checkpoints / "last.pt")
    # the resumed run stops where the uninterrupted one did, with the same rates and weights
    assert metrics["steps"] == 64 and metrics["train_time_s"] == 1.0
    assert [r["lr"] for r in tr.history if "lr" in r] == pytest.approx(
        [r["lr"] for r in ref_tr.history if "lr" in r][20:]
    )
    torch.testing.assert_close(params(second.method), params(ref.method), rtol=1e-10, atol=1e-12)


def test_progress_schedule_over_steps_resumes_exactly(case_file, tmp_path):
    over = [
        "train.stages=[{optimizer: adam, lr: 1.0e-2, steps: 12, scheduler: {type: onecycle, pct_start: 0.25}}]",
        "train.checkpoint_every=5",
    ]
    ref_built, ref_tr, _ = train(load_case(case_file, over))
    built, tr = interrupt_and_resume(case_file, over, tmp_path, stop_at=7)
    torch.testing.assert_close(params(built.method), params(ref_built.method), rtol=1e-12, atol=1e-12)
    lrs = [r["lr"] for r in ref_tr.history if "lr" in r]
    assert max(lrs) == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-2 / 25 / 1e4)


@pytest.mark.parametrize(
    "sched, match",
    [
        ("{type: cosine, horizon: time}", "time_limit_s"),
        ("{type: cosine, horizon: epochs}", "horizon"),
        ("{type: onecycle, pct_start: 1.5}", "pct_start"),
        ("{type: onecycle, div_factor: 0.5}", "div_factor"),
        ("{type: onecycle, final_div_factor: true}", "final_div_factor"),
        ("{type: cosine, eta_min: -1.0}", "eta_min"),
        ("{type: step, horizon: time}", "unknown option"),
    ],
)
def test_schedule_options_are_checked(case_file, sched, match):
    with pytest.raises(CaseError, match=match):
        load_case(case_file, [f"train.stages=[{{optimizer: adam, lr: 1.0e-3, steps: 5, scheduler: {sched}}}]"])
