"""PINNACLE selection: budget and type minimums, score-driven choice, eNTK drift trigger, state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml.components  # noqa: F401  (registries)
from pinns.pinn import PINN
from pinns.pinnacle import Pinnacle
from sciml.config import Stage, Train
from sciml.data.collocation import CollocationData
from sciml.nn import MLP
from sciml.registry import METHODS, PROBLEMS
from sciml.train import Trainer


@pytest.fixture()
def burgers():
    torch.manual_seed(0)
    pb = PROBLEMS.build("burgers1d", {})
    data = CollocationData(pb, 120, 20, 40, "pseudo", 0, seed=0)
    return pb, data, PINN(pb, MLP(2, 1, width=16, depth=2))


@pytest.mark.parametrize("variant", ["k", "s"])
def test_round_respects_budget_and_minimums(burgers, variant):
    pb, data, method = burgers
    sel = Pinnacle(variant=variant, every=10, budget=200, n_select=60, pool=80, k=20, min_points=15)
    sel.bind(method, data)
    for r, step in enumerate((10, 20, 30), 1):  # memory thinning is exact: old + new = budget every round
        sel(method, data, step)
        sizes = {t: len(data.points[t]) for t in sel.types}
        assert sel.rounds == r and sum(sizes.values()) == 200
        assert all(n >= 15 for n in sizes.values()) and sel.counts[-1] == sizes
    assert sel.overhead_s > 0 and sel._K_last is not None
    for t, x in data.points.items():  # every point of a type lies where that type lives
        if t == "initial":
            assert np.all(x[:, 1] == 0.0)
        elif t == "boundary":
            assert np.all(np.isclose(np.abs(x[:, 0]), 1.0))


def test_selection_follows_the_convergence_degree(burgers):
    """With k = 1 eigen-direction, PINNACLE-S picks candidates ∝ α: the chosen mean score beats the pool's."""
    pb, data, method = burgers
    sel = Pinnacle(variant="s", every=1, budget=180, n_select=40, pool=200, k=5, memory=False, types=["interior"])
    sel.bind(method, data)
    pool = data.sample("interior", 400)
    J, r = sel._jacobian(method, "interior", pool, values=True)
    data.set_points("interior", pool[:100])
    sel(method, data, 1)
    chosen = data.points["interior"]
    assert len(chosen) == 180  # without memory: the whole budget is selected
    Jc, rc = sel._jacobian(method, "interior", chosen, values=True)
    assert float(rc.abs().mean()) > float(r.abs().mean())  # residual-weighted, on average larger


def test_drift_triggers_a_round(burgers):
    pb, data, method = burgers
    sel = Pinnacle(every=1000, budget=200, n_select=20, pool=40, k=10, check_every=5, drift=0.5)
    sel.bind(method, data)
    sel(method, data, 1000)
    assert sel.triggers == {"periodic": 1, "drift": 0}
    sel(method, data, 1005)  # unchanged network: no drift
    assert sel.triggers["drift"] == 0
    with torch.no_grad():
        for p in method.model.parameters():
            p.mul_(3.0)
    sel(method, data, 1010)
    assert sel.triggers["drift"] == 1 and sel.rounds == 2


def test_training_with_pinnacle_and_resumable_state(burgers, tmp_path):
    pb, data, _ = burgers
    method = METHODS.build(
        "pinn",
        {
            "selection": {
                "type": "pinnacle_k",
                "every": 5,
                "budget": 200,
                "n_select": 30,
                "pool": 50,
                "k": 10,
                "check_every": 0,
            }
        },
        problem=pb,
        model=MLP(2, 1, width=16, depth=2),
    )
    Trainer(Train(stages=[Stage("adam", 1e-3, steps=11)], log_every=5, eval_every=100, progress=False)).fit(
        method, data
    )
    assert method.selection.rounds == 2
    state = method.state_dict()
    fresh = METHODS.build(
        "pinn",
        {"selection": {"type": "pinnacle_k", "every": 5, "budget": 200}},
        problem=pb,
        model=MLP(2, 1, width=16, depth=2),
    )
    fresh.load_state_dict(state)
    assert fresh.selection.rounds == 2 and fresh.selection.counts == method.selection.counts
    with pytest.raises(ValueError, match="variant"):
        Pinnacle(variant="x")


def test_budget_holds_when_new_points_crowd_out_the_minimums(burgers):
    """n_select close to the budget: the other types' minimums must still fit (no overrun)."""
    pb, data, method = burgers
    sel = Pinnacle(variant="k", every=1, budget=200, n_select=170, pool=80, k=10, min_points=60)
    sel.bind(method, data)
    order = {t: i for i, t in enumerate(sel.types)}
    # force the choice: 80 interior, 80 initial, 10 boundary candidates
    counts = {"interior": 80, "initial": 80, "boundary": 10}
    offsets = np.cumsum([0] + [80] * len(sel.types))
    forced = np.concatenate([offsets[order[t]] + np.arange(counts[t]) for t in sel.types])
    sel._choose = lambda score, emb, n, rng: forced
    for step in (1, 2):
        sel(method, data, step)
        sizes = {t: len(data.points[t]) for t in sel.types}
        assert sum(sizes.values()) == 200 and all(n >= 60 for n in sizes.values()), sizes
