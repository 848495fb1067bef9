"""Observations and trainable PDE coefficients (inverse problems)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml.components  # noqa: F401  (registries)
from pinns.pinn import PINN
from pinns.selection import RAD
from sciml.config import Stage, Train
from sciml.data.collocation import CollocationData
from sciml.nn import MLP
from sciml.registry import METHODS, PROBLEMS
from sciml.train import Trainer


class ExactConvection(torch.nn.Module):
    """u = sin(x − 30 t), the exact solution of convection1d at β = 30 (no trainable weights)."""

    def forward(self, x):
        return torch.sin(x[:, :1] - 30.0 * x[:, 1:2])


def test_trainable_coefficient_is_recovered_from_the_residual():
    pb = PROBLEMS.build("convection1d", {"params": {"beta": 30.0}})
    data = CollocationData(pb, 256, 8, 64, "hammersley", 0, seed=0)
    method = PINN(pb, ExactConvection(), trainable_params={"beta": 20.0}, derivatives="autograd")
    assert [n for n, _ in method.named_parameters()] == ["unknowns.beta"]
    before = method.evaluate()
    assert before["param/beta"] == 20.0 and np.isclose(before["param/beta_rel_error"], 1 / 3)
    Trainer(Train(stages=[Stage("lbfgs", 1.0, steps=20)], log_every=5, eval_every=100, progress=False)).fit(
        method, data
    )
    after = method.evaluate()
    assert after["param/beta_rel_error"] < 1e-5, after


def test_observations_pool_noise_and_misfit():
    pb = PROBLEMS.build("burgers1d", {})
    data = CollocationData(
        pb, 64, 8, 8, "pseudo", 0, seed=1, n_observations=50, observation_noise=0.0, n_observations_active=10
    )
    xy = data.points["observations"]
    assert xy.shape == (10, 3) and data.observation_pool.shape == (50, 3)
    assert np.allclose(xy[:, 2], pb.exact(xy[:, :2]))  # noiseless: exact values
    noisy = CollocationData(pb, 64, 8, 8, "pseudo", 0, seed=1, n_observations=2000, observation_noise=0.1)
    y = noisy.observation_pool[:, 2]
    err = y - pb.exact(noisy.observation_pool[:, :2])
    assert 0.08 < err.std() / np.sqrt(np.mean(y**2)) < 0.12
    method = PINN(pb, MLP(2, 1, width=8, depth=2))
    terms = method.loss(data.to(dtype=torch.float32).next_batch())
    assert "observations" in terms and float(terms["observations"].detach()) > 0
    # RAD on the observation type picks a subset of the finite pool
    sel = RAD(every=1, types=["observations"], k=2.0, c=0.0)
    sel.bind(method, data)
    sel(method, data, 1)
    pool = {r.tobytes() for r in data.observation_pool}
    assert len(data.points["observations"]) == 10 and all(r.tobytes() in pool for r in data.points["observations"])
    with pytest.raises(ValueError, match="no parameter 'mu'"):
        METHODS.build("pinn", {"trainable_params": {"mu": 1.0}}, problem=pb, model=MLP(2, 1))
    with pytest.raises(ValueError, match="n_observations_active"):
        CollocationData(pb, 64, 8, 8, "pseudo", 0, seed=1, n_observations=5, n_observations_active=6)
