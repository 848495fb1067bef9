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


def test_a_shared_grid_seen_as_subsampled_samples(tmp_path):
    """``data: {type: samples, subsample: F}`` on a format-v1 grid file: each sample keeps round(F·n)
    of the grid's points (the same ones for all with shared_points, else its own), with the values
    stored at those points, and the batches are padded and masked as for per-sample files."""
    from sciml.data.samples import SampleData, Subsampled
    from sciml.mesh import Grid

    g = Grid((8, 8), ((0.0, 1.0), (0.0, 1.0)), periodic=(True, True))
    w = np.random.default_rng(0).standard_normal((5, 3, 8, 8, 1)).astype(np.float32)
    path = write_dataset(tmp_path / "g.h5", {"w": w}, {"w": "output"}, g, times=np.arange(3.0))
    ds = H5Dataset(path)
    pts = np.asarray(g.points()).reshape(-1, 2)
    own = Subsampled(ds, 0.25, shared=False, seed=0)
    same = Subsampled(ds, 0.25, shared=True, seed=0)
    assert all(len(k) == 16 for k in own.keep) and not np.array_equal(own.keep[0], own.keep[1])
    assert all(np.array_equal(k, same.keep[0]) for k in same.keep)
    for i in range(5):
        item = own[i]
        # the kept points and the values stored at them (grid point j is value j of the C-order flattening)
        np.testing.assert_array_equal(item["points"].numpy(), pts[own.keep[i]].astype(np.float32))
        np.testing.assert_array_equal(item["w"].numpy(), w[i].reshape(3, 64, 1)[:, own.keep[i]])
    # point 9 of the flattening is the grid's node (1, 1), where w[i, :, 1, 1] is stored
    np.testing.assert_allclose(pts[9], [g.axes()[0][1], g.axes()[1][1]])
    batch = SampleData(own, 3, 2, 2).next_batch()
    assert batch["w"].shape == (2, 3, 16, 1) and batch["mask"].all()
    with pytest.raises(ValueError, match=r"^subsample must be a fraction in \(0, 1\]"):
        Subsampled(ds, 0.0)
    with pytest.raises(ValueError, match=r"share one support .*\(subsample: FRACTION\)"):
        SampleData(ds, 3, 2, 2)
