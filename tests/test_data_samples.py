"""Per-sample (format v2) batches for methods on any geometry (sciml/data/samples.py): padded and
masked batches that match the file, reproducible epochs that resume, test batches, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data.hdf5 import H5Dataset, write_dataset
from sciml.data.samples import SampleData
from sciml.mesh import Grid

SIZES = [3, 7, 5, 11, 4, 9, 6, 8]


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    rng = np.random.default_rng(0)
    clouds = [rng.uniform(size=(n, 2)) for n in SIZES]
    u = [np.sin(c[:, :1]) + c[:, 1:] for c in clouds]  # a field of the points: checkable after padding
    return write_dataset(
        tmp_path_factory.mktemp("v2") / "clouds.h5",
        {"u": u},
        {"u": "output"},
        clouds,
        params={"nu": np.arange(len(SIZES), dtype=float)},
    )


def test_batches_are_the_files_samples_padded_and_masked(path):
    data = SampleData(H5Dataset(path), n_train=6, n_test=2, batch_size=4, seed=0).to(dtype=torch.float64)
    ds = H5Dataset(path)
    seen = []
    for _ in range(data.steps_per_epoch()):
        idx = data.next_indices()
        batch = data.batch_of(idx)
        assert batch["points"].dtype == torch.float64 and batch["mask"].dtype == torch.bool
        for b, i in enumerate(idx.tolist()):
            n = SIZES[i]
            assert int(batch["mask"][b].sum()) == n and not batch["mask"][b, n:].any()
            pts = batch["points"][b, :n]
            # float32 items, as H5Dataset serves them: the field equals its function of the points
            assert torch.allclose(batch["u"][b, :n, 0], torch.sin(pts[:, 0]) + pts[:, 1], atol=1e-6)
            assert torch.equal(batch["points"][b, :n], ds[i]["points"].double())
            assert float(batch["nu"][b]) == i
        seen += idx.tolist()
    assert sorted(seen) == sorted(data.train_index.tolist())  # one epoch: every training sample once
    tested = [int(m.sum()) for b in data.test_batches(1) for m in b["mask"]]
    assert sorted(tested) == sorted(SIZES[i] for i in data.test_index.tolist())


def test_epoch_position_resumes(path):
    a = SampleData(H5Dataset(path), 6, 2, 4, seed=1)
    ref = [a.next_batch() for _ in range(5)]
    b = SampleData(H5Dataset(path), 6, 2, 4, seed=1)
    [b.next_batch() for _ in range(2)]
    c = SampleData(H5Dataset(path), 6, 2, 4, seed=1)
    c.load_state_dict(b.state_dict())
    for r, x in zip(ref[2:], [c.next_batch() for _ in range(3)]):
        assert all(torch.equal(r[k], x[k]) for k in ("points", "mask", "u", "nu"))


def test_refusals(path, tmp_path):
    with pytest.raises(ValueError, match="exceeds its 8 samples"):
        SampleData(H5Dataset(path), 6, 4, 2)
    shared = write_dataset(
        tmp_path / "grid.h5", {"u": np.zeros((4, 3, 3, 1))}, {"u": "output"}, Grid((3, 3), ((0, 1), (0, 1)))
    )
    with pytest.raises(ValueError, match="share one support .*use data type hdf5"):
        SampleData(H5Dataset(shared), 2, 1, 1)
