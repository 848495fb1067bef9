"""Stage phases: a method's parameter groups per phase (frozen parts, per-group learning rates),
checked phase names, and exact resume across a phase switch.

The method here is a small two-part regression, ``y ≈ b(a(x))``: phase ``fit_a`` trains ``a``
alone, phase ``fit_b`` trains ``b`` alone at half the stage's learning rate (as CORAL fits its
fields and then a processor on frozen codes, or DGNO inverts with frozen decoders).
"""

from __future__ import annotations

import pytest
import torch
from test_train import interrupt_at  # tests/core is on sys.path (pytest's prepend import mode)

from sciml.config import Stage, Train
from sciml.method import DEFAULT_PHASE, AbstractMethod
from sciml.output import RunDir
from sciml.train import Interrupted, Trainer, make_optimizer


class TwoPart(AbstractMethod):
    phases = ("fit_a", "fit_b")

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)
        self.weights = {}
        self.started: list[str] = []

    def loss(self, batch):
        x, y = batch
        return {"data": (self.b(torch.tanh(self.a(x))) - y).square().mean()}

    def start_stage(self, phase, state, data):
        self.started.append(phase)

    def param_groups(self, phase):
        if phase == "fit_a":
            return [{"params": list(self.a.parameters())}]
        return [{"params": list(self.b.parameters()), "lr_scale": 0.5}]

    def evaluate(self, data=None):
        return {"rel_l2": 0.0}

    def predict(self, data=None, n_samples=4):
        return []


class Fixed:
    """One full batch, no state (the Trainer's data protocol)."""

    def __init__(self):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(64, 3, generator=g)
        self.y = torch.sin(self.x.sum(1, keepdim=True))

    def to(self, device=None, dtype=None):
        self.x, self.y = self.x.to(dtype or self.x.dtype), self.y.to(dtype or self.y.dtype)
        return self

    def next_batch(self, batch_size=0):
        return self.x, self.y

    def steps_per_epoch(self, batch_size=0):
        return 1

    def after_step(self, state):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def _train(stages, run_dir=None, stop_at=None, resume=None, checkpoint_every=4, crash_at=None):
    method, data = TwoPart(), Fixed()
    if stop_at:
        interrupt_at(data, stop_at)
    if crash_at:  # a hard stop: no checkpoint at the crash, the last one written stays

        def crash(state):
            if state.step == crash_at:
                raise RuntimeError("killed")

        data.after_step = crash
    cfg = Train(stages=stages, log_every=1, eval_every=1000, checkpoint_every=checkpoint_every, progress=False)
    trainer = Trainer(cfg, run_dir, seed=0)
    trainer.fit(method, data, resume=resume)
    return method, trainer


STAGES = [Stage("adam", 1e-2, steps=6, phase="fit_a"), Stage("adam", 1e-2, steps=6, phase="fit_b")]


def test_each_phase_trains_its_group_only():
    start = TwoPart().state_dict()
    method, trainer = _train(STAGES[:1])
    after_a = {k: v.clone() for k, v in method.state_dict().items()}
    assert all(torch.equal(after_a[k], start[k]) for k in ("b.weight", "b.bias"))  # frozen: bitwise
    assert not torch.equal(after_a["a.weight"], start["a.weight"])
    method, trainer = _train(STAGES)
    end = method.state_dict()
    assert all(torch.equal(end[k], after_a[k]) for k in ("a.weight", "a.bias"))  # frozen in fit_b
    assert not torch.equal(end["b.weight"], after_a["b.weight"])
    assert method.started == ["fit_a", "fit_b"] and trainer.state.phase == ""  # "": between stages (done)
    lrs = {r["stage"]: r["lr"] for r in trainer.history if "lr" in r}
    assert lrs == {0: 1e-2, 1: 0.5e-2}  # lr_scale on the stage's rate
    assert all(p.requires_grad for p in method.parameters())  # unfrozen after the stage


def test_phase_names_are_checked_before_training():
    with pytest.raises(ValueError, match="phase 'fit_c' is not a phase of method TwoPart; its phases: fit_a, fit_b"):
        _train([Stage("adam", 1e-2, steps=2, phase="fit_c")])
    with pytest.raises(ValueError, match=f"phase '{DEFAULT_PHASE}' is not a phase"):
        _train([Stage("adam", 1e-2, steps=2)])  # a stage naming no phase is in the default phase


def test_lbfgs_takes_one_learning_rate():
    p, q = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    stage = Stage("lbfgs", 1.0, steps=1)
    opt = make_optimizer(stage, [{"params": [p]}, {"params": [q]}])  # same scale: merged
    assert len(opt.param_groups) == 1 and len(opt.param_groups[0]["params"]) == 2
    with pytest.raises(ValueError, match="lbfgs stage takes one learning rate"):
        make_optimizer(stage, [{"params": [p]}, {"params": [q], "lr_scale": 0.1}])
    with pytest.raises(ValueError, match="no trainable parameters"):
        make_optimizer(Stage("adam", 1e-3, steps=1), [{"params": []}])


@pytest.mark.parametrize("stop_at", [3, 6, 9])  # inside fit_a, at the switch, inside fit_b
def test_resume_is_exact_across_the_phase_switch(tmp_path, stop_at):
    ref, _ = _train(STAGES)
    run_dir = RunDir.create(tmp_path / "runs", "phases")
    with pytest.raises(Interrupted):
        _train(STAGES, run_dir, stop_at=stop_at)
    blob = torch.load(run_dir.checkpoints / "last.pt", weights_only=False)
    assert blob["state"]["phase"] == ("fit_a" if stop_at < 6 else "fit_b" if stop_at > 6 else "fit_a")
    method, trainer = _train(STAGES, run_dir, resume=run_dir.checkpoints / "last.pt")
    assert trainer.state.step == 12
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in method.state_dict().items())


def test_resume_from_the_checkpoint_between_two_phases(tmp_path):
    """A run that dies after the stage switch and before any checkpoint of the new stage resumes from
    the checkpoint written at the end of the first stage (no phase yet), exactly."""
    ref, _ = _train(STAGES)
    run_dir = RunDir.create(tmp_path / "runs", "phases")
    with pytest.raises(RuntimeError, match="killed"):
        _train(STAGES, run_dir, checkpoint_every=100, crash_at=8)
    blob = torch.load(run_dir.checkpoints / "last.pt", weights_only=False)
    assert (blob["state"]["stage"], blob["state"]["step_in_stage"], blob["state"]["phase"]) == (1, 0, "")
    method, trainer = _train(STAGES, run_dir, resume=run_dir.checkpoints / "last.pt", checkpoint_every=100)
    assert trainer.state.step == 12 and method.started == ["fit_b"]
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in method.state_dict().items())


def test_a_checkpoint_of_another_phase_is_refused(tmp_path):
    run_dir = RunDir.create(tmp_path / "runs", "phases")
    with pytest.raises(Interrupted):
        _train(STAGES, run_dir, stop_at=3)
    swapped = [Stage("adam", 1e-2, steps=6, phase="fit_b"), STAGES[1]]
    with pytest.raises(
        ValueError, match="the checkpoint is in phase 'fit_a' of stage 0, the case's stage 0 is phase 'fit_b'"
    ):
        _train(swapped, run_dir, resume=run_dir.checkpoints / "last.pt")
