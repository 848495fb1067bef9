"""The supervised operator method's losses on grid data (relative L2, relative H1)."""

from __future__ import annotations

import types

import pytest
import torch

import sciml.components  # noqa: F401  (registries)
from operators.losses import relative_h1
from operators.supervised import SupervisedOperator, relative_l2
from sciml.data.normalize import IdentityNormalizer
from sciml.mesh import Grid


def fake_data(n=4, size=16, periodic=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, size, size, 1, generator=g, dtype=torch.float64)
    y = torch.randn(n, size, size, 1, generator=g, dtype=torch.float64)
    grid = Grid((size, size), ((0.0, 1.0), (0.0, 1.0)), periodic=(periodic, periodic))
    return types.SimpleNamespace(support=grid, y_normalizer=IdentityNormalizer(), x={"test": x}, y={"test": y})


class Scale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(0.5, dtype=torch.float64))

    def forward(self, x):
        return self.a * x


@pytest.mark.parametrize("periodic", [False, True])
def test_h1_loss_and_metrics(periodic):
    data = fake_data(periodic=periodic)
    method = SupervisedOperator(None, Scale(), data, loss="rel_h1")
    x, y = data.x["test"], data.y["test"]
    loss = method.loss({"x": x, "y": y})["data"]
    assert torch.isclose(loss, relative_h1(0.5 * x, y, periodic=periodic).mean())
    ev = method.evaluate(data)
    assert set(ev) == {"rel_l2", "rel_h1"} and abs(ev["rel_l2"] - float(relative_l2(0.5 * x, y).mean())) < 1e-12
    assert ev["rel_h1"] != ev["rel_l2"]


def test_h1_needs_a_2d_grid():
    data = fake_data()
    data.support = Grid((16,), ((0.0, 1.0),))
    with pytest.raises(ValueError, match="2D grid"):
        SupervisedOperator(None, Scale(), data, loss="rel_h1")
    with pytest.raises(ValueError, match="rel_l2, rel_h1 or mse"):
        SupervisedOperator(None, Scale(), fake_data(), loss="h2")
