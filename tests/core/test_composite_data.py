"""Composite batches: dataset samples and fresh points in one batch (sciml/data/composite.py), and
the data protocol's base class (sciml/data/base.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.config import CaseError, load_case
from sciml.data.base import Data
from sciml.data.composite import CompositeData
from sciml.geometry import Domain, dde
from sciml.registry import DATA, PROBLEMS

CASE = """
name: composite
problem: {type: darcy2d, resolution: 9, solve_factor: 1}
data:
  type: composite
  samples: {type: hdf5, path: PATH, n_train: 6, n_test: 2, batch_size: 4}
  points: {type: quadrature, n_cells: 4, order: 2}
model: {type: fno, width: 4, modes: 2, layers: 1}
method: {type: supervised}
train: {stages: [{optimizer: adam, lr: 1.0e-3, steps: 2}]}
"""


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """A tiny Darcy dataset and, for the points, the unit square as the problem's domain."""
    path = tmp_path_factory.mktemp("composite") / "darcy.h5"
    problem = PROBLEMS.build("darcy2d", {"resolution": 9, "solve_factor": 1})
    problem.domain = Domain(dde().geometry.Rectangle([0, 0], [1, 1]))
    return problem, str(path)


def _composite(parts, points: dict):
    problem, path = parts
    samples = DATA.build("hdf5", {"path": path, "n_train": 6, "n_test": 2, "batch_size": 4}, problem=problem, seed=0)
    kind = points.pop("type")
    return CompositeData(samples, DATA.build(kind, points, problem=problem, seed=0)).to(dtype=torch.float64)


def test_a_batch_holds_samples_and_points(parts):
    data = _composite(parts, {"type": "quadrature", "n_cells": 4, "order": 2})
    batch = data.next_batch()
    assert set(batch) == {"x", "y", "points/points", "points/weights"}
    assert batch["x"].shape == (4, 9, 9, 1) and batch["x"].dtype == torch.float64
    assert abs(float(batch["points/weights"].sum()) - 1.0) < 1e-12  # ∫ over the unit square
    assert data.steps_per_epoch() == data.samples.steps_per_epoch() == 2  # 6 samples, batches of 4
    assert data.y_normalizer is data.samples.y_normalizer  # what methods read is the samples'


def test_state_resumes_both_sources(parts):
    """Epoch position and the collocation generator both come back from the checkpointed state."""

    class State:
        step = 0

    def run(data, n):
        out = []
        for k in range(n):
            out.append({k2: v.clone() for k2, v in data.next_batch().items()})
            State.step = k + 1
            data.after_step(State)
        return out

    opts = {"type": "collocation", "n_interior": 16, "n_boundary": 1, "resample_every": 1}
    ref = run(_composite(parts, dict(opts)), 5)
    first = _composite(parts, dict(opts))
    run(first, 3)
    saved = first.state_dict()
    assert set(saved) == {"samples", "points"} and saved["samples"]["epoch"] == 1
    resumed = _composite(parts, dict(opts))
    resumed.load_state_dict(saved)
    tail = run(resumed, 2)
    for a, b in zip(ref[3:], tail):
        assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(ref[3]["points/interior"], ref[4]["points/interior"])  # fresh points every step


def test_case_validation_names_the_sub_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CASE.replace("PATH", str(tmp_path / "d.h5")))
    with pytest.raises(CaseError, match=r"data\.samples\.n_train: .*n_train must be"):
        load_case(path, ["data.samples.n_train=0"])
    with pytest.raises(CaseError, match=r"data\.points\.type: composite data: unknown points type 'grid'"):
        load_case(path, ["data.points={type: grid}"])
    with pytest.raises(CaseError, match="darcy2d.*no domain"):  # darcy2d has no domain to draw points in
        load_case(path)


def test_every_source_is_a_data():
    from sciml.data.collocation import CollocationData
    from sciml.data.operator import OperatorData
    from sciml.data.quadrature import QuadratureData
    from sciml.data.trajectory import TrajectoryData

    for cls in (CollocationData, QuadratureData, OperatorData, TrajectoryData, CompositeData):
        assert issubclass(cls, Data), cls


def test_unlabelled_samples_and_points(parts, tmp_path):
    """An input-only file (no output field) gives unlabelled samples: batches of x alone, here with
    quadrature points beside them (what a physics-informed operator trains on); supervised training
    refuses it in one line."""
    from operators.supervised import SupervisedOperator
    from sciml.data.hdf5 import H5Dataset, write_dataset
    from sciml.data.operator import OperatorData
    from sciml.mesh import Grid

    problem, _ = parts
    grid = Grid((9, 9), ((0.0, 1.0), (0.0, 1.0)))
    a = np.random.default_rng(0).uniform(1, 2, (6, 9, 9, 1))
    path = write_dataset(tmp_path / "coef.h5", {"a": a}, {"a": "input"}, grid)
    samples = OperatorData(H5Dataset(path), n_train=4, n_test=2, batch_size=2, normalize="pointwise", seed=0)
    assert not samples.labelled and samples.y == {}
    points = DATA.build("quadrature", {"n_cells": 4, "order": 2}, problem=problem, seed=0)
    batch = CompositeData(samples, points).to(dtype=torch.float64).next_batch()
    assert set(batch) == {"x", "points/points", "points/weights"} and batch["x"].shape == (2, 9, 9, 1)
    with pytest.raises(ValueError, match="supervised training needs outputs; .*coef.h5 is input-only"):
        SupervisedOperator(problem, torch.nn.Identity(), samples)
    # per-sample supports (format v2) are not stacked on one grid: one line naming the file
    clouds = [np.random.default_rng(k).uniform(size=(5 + k, 2)) for k in range(6)]
    v2 = write_dataset(tmp_path / "clouds.h5", {"a": [c[:, :1] for c in clouds]}, {"a": "input"}, clouds)
    with pytest.raises(ValueError, match="clouds.h5: its samples have supports of their own"):
        OperatorData(H5Dataset(v2), n_train=4, n_test=2, batch_size=2, normalize="none", seed=0)
