"""Point selectors: budgets, type minimums, residual-driven placement, checkpointed state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml.components  # noqa: F401  (registries)
from pinns.pinn import PINN
from pinns.selection import RAD, RARD, RandomSelector, residual_density, residual_magnitude
from sciml.config import Stage, Train
from sciml.data.collocation import CollocationData
from sciml.nn import MLP
from sciml.registry import METHODS, PROBLEMS
from sciml.train import Trainer


class Bump(torch.nn.Module):
    """u = exp(-200 (x - 0.7)²): Poisson's residual −u'' − f is large only near x = 0.7."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.exp(-200 * (x[:, :1] - 0.7) ** 2) + 0 * self.dummy


@pytest.fixture()
def setup():
    pb = PROBLEMS.build("poisson1d_multiscale", {"params": {"freq": 1.0}})
    data = CollocationData(pb, 200, 2, 1, "pseudo", 0, seed=0)
    return pb, data


def test_residual_density_formula():
    r = np.array([0.0, 1.0, 3.0])
    p = residual_density(r, k=1.0, c=1.0)  # |r|/mean + 1 = (1, 1.75, 3.25)
    assert np.allclose(p, np.array([1.0, 1.75, 3.25]) / 6.0)
    assert np.allclose(residual_density(np.zeros(4), 2.0, 0.0), 0.25)


def test_rad_moves_points_to_the_large_residual(setup):
    pb, data = setup
    method = PINN(pb, Bump(), derivatives="autograd")
    sel = RAD(k=2.0, c=0.0, every=10, types=["interior"])
    sel.bind(method, data)
    before = np.abs(data.points["interior"][:, 0] - 0.7) < 0.1
    sel(method, data, step=10)
    x = data.points["interior"][:, 0]
    assert len(x) == 200 and sel.rounds == 1 and sel.overhead_s > 0
    assert (np.abs(x - 0.7) < 0.1).mean() > 0.5 > 0.3 > before.mean()  # pool: ~20% lie there
    r = residual_magnitude(method, "interior", x[:, None])
    assert r.shape == (200,) and r.min() >= 0
    sel(method, data, step=11)  # not due
    assert sel.rounds == 1


def test_rar_d_grows_to_the_budget_and_stops(setup):
    pb, data = setup
    method = PINN(pb, Bump(), derivatives="autograd")
    sel = RARD(n_add=50, every=5, budget=290, types=["interior"])
    sel.bind(method, data)
    first = data.points["interior"].copy()
    sizes = []
    for step in (5, 10, 15):
        sel(method, data, step)
        sizes.append(len(data.points["interior"]))
    assert sizes == [250, 290, 290]
    assert np.array_equal(data.points["interior"][:200], first)  # old points kept
    with pytest.raises(ValueError, match="below the initial"):
        RARD(n_add=5, budget=100, types=["interior"]).bind(method, data)


def test_random_keeps_sizes_and_every_type(setup):
    pb, data = setup
    method = PINN(pb, MLP(1, 1, width=4, depth=1))
    sel = RandomSelector(every=1)
    sel.bind(method, data)
    old = {k: v.copy() for k, v in data.points.items()}
    sel(method, data, 1)
    for k in old:
        assert data.points[k].shape == old[k].shape and not np.array_equal(data.points[k], old[k])


def test_builder_errors_and_resume_state(setup, tmp_path):
    pb, data = setup
    model = MLP(1, 1, width=8, depth=2)
    with pytest.raises(ValueError, match="needs a type"):
        METHODS.build("pinn", {"selection": {"every": 3}}, problem=pb, model=model)
    with pytest.raises(KeyError, match="unknown sampler"):
        METHODS.build("pinn", {"selection": {"type": "pinnacle-z"}}, problem=pb, model=model)
    with pytest.raises(ValueError, match="budget"):
        METHODS.build("pinn", {"selection": {"type": "rar_d"}}, problem=pb, model=model)
    method = METHODS.build("pinn", {"selection": {"type": "rad", "every": 5}}, problem=pb, model=model)
    with pytest.raises(ValueError, match="no selectable point set 'edge'"):
        METHODS.build("pinn", {"selection": {"type": "rad", "types": ["edge"]}}, problem=pb, model=model).after_step(
            type("S", (), {"step": 1})(), data
        )
    trainer = Trainer(Train(stages=[Stage("adam", 1e-3, steps=12)], log_every=4, eval_every=100, progress=False))
    trainer.fit(method, data)
    assert method.selection.rounds == 2 and method.get_extra_state()["selection"]["rounds"] == 2
    fresh = METHODS.build(
        "pinn", {"selection": {"type": "rad", "every": 5}}, problem=pb, model=MLP(1, 1, width=8, depth=2)
    )
    fresh.load_state_dict(method.state_dict())
    assert fresh.selection.rounds == 2


def test_coupled_conditions_stay_fixed():
    pb = PROBLEMS.build("convection1d", {"params": {"beta": 1.0}})
    data = CollocationData(pb, 64, 8, 16, "pseudo", 0, seed=0)
    method = PINN(pb, MLP(2, 1, width=8, depth=2))
    sel = RandomSelector(every=1)
    sel.bind(method, data)
    assert sel.types == ["interior", "initial"]  # the periodic pairs are not selectable
    with pytest.raises(ValueError, match="periodic pairs"):
        RandomSelector(every=1, types=["periodic"]).bind(method, data)


def test_selection_acts_in_its_phases_only(setup):
    """``selection.phases``: rounds in the stages of phase ``select`` only (steps 5 and 10); the
    L-BFGS stage of phase ``refine`` trains on the fixed final sets. A phase no stage has, a bad
    list and the old ``until`` are one line each."""
    pb, data = setup
    model = MLP(1, 1, width=8, depth=2)
    with pytest.raises(ValueError, match="until is replaced by phases"):
        METHODS.build("pinn", {"selection": {"type": "rad", "until": 10}}, problem=pb, model=model)
    with pytest.raises(ValueError, match="non-empty list of phase names"):
        METHODS.build("pinn", {"selection": {"type": "rad", "phases": "select"}}, problem=pb, model=model)
    stages = [Stage("adam", 1e-3, steps=10, phase="select"), Stage("lbfgs", 1.0, steps=10, phase="refine")]
    opts = {"selection": {"type": "rad", "every": 5, "phases": ["select"]}}
    method = METHODS.build("pinn", opts, problem=pb, model=model)
    trainer = Trainer(Train(stages=stages, log_every=5, eval_every=100, progress=False))
    trainer.fit(method, data)
    assert method.selection.rounds == 2  # steps 5 and 10, none in the L-BFGS stage (steps 15, 20)
    assert not method.selection.in_phase  # the last stage, refine, is not a selection phase
    wrong = METHODS.build("pinn", {"selection": {"type": "rad", "phases": ["explore"]}}, problem=pb, model=model)
    with pytest.raises(ValueError, match="no stage has phase 'explore'; the stages' phases: select, refine"):
        Trainer(Train(stages=stages, progress=False)).fit(wrong, data)
