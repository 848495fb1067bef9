"""Dataset format version 2: per-sample supports (point clouds, meshes), input-only datasets, the
collate function, version-1 compatibility and the refusal of malformed files."""

from __future__ import annotations

import pickle
import re

import h5py
import numpy as np
import pytest
import torch
from scipy.spatial import Delaunay

from sciml.data import H5Dataset, write_dataset
from sciml.data.hdf5 import SampleSupports, collate_samples
from sciml.mesh import Grid, Mesh

RNG = np.random.default_rng(0)


def _f32(*shape) -> np.ndarray:
    """Random values that float32 storage keeps exactly, so written and read values compare with ==."""
    return RNG.standard_normal(shape).astype(np.float32)


def _annulus(h: float, r_in: float = 0.35) -> Mesh:
    """A triangle mesh of the annulus r_in < r < 1 with spacing about ``h``: rings of points, a Delaunay
    triangulation (scipy) without the triangles inside the hole; point tags "hole" and "boundary"."""
    radii = np.linspace(r_in, 1.0, int(np.ceil((1.0 - r_in) / h)) + 1)
    rings = []
    for r in radii:
        t = np.linspace(0.0, 2 * np.pi, int(np.ceil(2 * np.pi * r / h)), endpoint=False)
        rings.append(r * np.stack([np.cos(t), np.sin(t)], axis=1))
    pts = np.concatenate(rings)
    tri = Delaunay(pts).simplices
    tri = tri[np.linalg.norm(pts[tri].mean(axis=1), axis=1) > r_in]
    outer = np.arange(len(pts) - len(rings[-1]), len(pts))
    return Mesh(pts, [("triangle", tri)], {"hole": np.arange(len(rings[0])), "boundary": outer})


@pytest.fixture(scope="module")
def disk_meshes() -> list[Mesh]:
    """An annulus (a disk with a hole) meshed at three spacings: 23, 33 and 70 points, 31, 44 and 105
    triangles. (scipy rather than Domain.to_mesh, whose deepxde import alone takes seconds.)"""
    return [_annulus(h) for h in (0.6, 0.4, 0.25)]


def _clouds(path, sizes=(3, 17, 1, 40), **kw):
    pts = [RNG.uniform(-1, 1, (n, 2)) for n in sizes]
    a = [_f32(n, 2) for n in sizes]
    u = [_f32(n, 1) for n in sizes]
    write_dataset(path, {"a": a, "u": u}, {"a": "input", "u": "output"}, pts, **kw)
    return pts, a, u


# ---- round trips ----------------------------------------------------------------------------------
def test_point_clouds_round_trip(tmp_path):
    path = tmp_path / "clouds.h5"
    nu = RNG.uniform(size=4)
    pts, a, u = _clouds(path, channels={"a": ["ax", "ay"]}, params={"nu": nu}, problem="toy", generator={"k": 1})
    ds = H5Dataset(path)
    assert ds.per_sample and len(ds) == ds.n_samples == 4
    assert ds.attrs["format_version"] == 2 and ds.attrs["problem"] == "toy" and ds.attrs["generator"] == {"k": 1}
    assert ds.inputs == ["a"] and ds.outputs == ["u"] and ds.channels == {"a": ["ax", "ay"], "u": ["u"]}
    assert ds.shapes == {"a": (61, 2), "u": (61, 1)} and ds.times is None
    sup = ds.support
    assert isinstance(sup, SampleSupports) and sup.kind == "points" and sup.dim == 2 and len(sup) == 4
    np.testing.assert_array_equal(sup.sizes, [3, 17, 1, 40])
    for i in range(4):
        np.testing.assert_array_equal(sup[i], pts[i])  # float64 points, exactly
        item = ds[i]
        assert set(item) == {"points", "a", "u", "nu"}
        assert item["points"].dtype == item["a"].dtype == torch.float32 and item["nu"].ndim == 0
        np.testing.assert_array_equal(item["points"].numpy(), pts[i].astype(np.float32))
        np.testing.assert_array_equal(item["a"].numpy(), a[i])
        np.testing.assert_array_equal(item["u"].numpy(), u[i])
        assert item["nu"].item() == pytest.approx(nu[i], rel=1e-7)  # a float32 tensor of a float64 value
    assert [x.shape for x in ds.load("u")] == [(3, 1), (17, 1), (1, 1), (40, 1)]
    for got, i in zip(ds.load("a", [3, -4, 3]), [3, 0, 3]):
        np.testing.assert_array_equal(got, a[i])
    np.testing.assert_array_equal(ds.load("nu"), nu)
    with h5py.File(path) as f:  # the documented layout, read with plain h5py
        off = f["support/points/offsets"][()]
        assert off.dtype == np.int64 and off.tolist() == [0, 3, 20, 21, 61]
        np.testing.assert_array_equal(f["support/points/values"][()], np.concatenate(pts))
        np.testing.assert_array_equal(f["fields/u"][off[1] : off[2]], u[1])
        for d in (f["support/points/values"], f["fields/a"], f["fields/u"]):
            assert d.chunks and d.compression == "gzip" and d.shuffle
        assert f["fields/a"].dtype == np.float32 and f["support/points/values"].dtype == np.float64
    assert [p.name for p in tmp_path.iterdir()] == ["clouds.h5"]  # written atomically: no temp file left


def test_meshes_of_different_sizes_round_trip(tmp_path, disk_meshes):
    meshes = disk_meshes
    assert len({m.n_points for m in meshes}) == 3
    temp = [_f32(m.n_points, 1) for m in meshes]
    path = write_dataset(tmp_path / "disk.h5", {"T": temp}, {"T": "output"}, meshes)
    ds = H5Dataset(path)
    assert ds.support.kind == "mesh" and ds.support.cell_types == ["triangle"]
    for i, m in enumerate(meshes):
        back = ds.support[i]
        np.testing.assert_array_equal(back.points, m.points)
        assert [t for t, _ in back.cells] == ["triangle"]
        np.testing.assert_array_equal(back.cells[0][1], m.cells[0][1])
        assert list(back.point_tags) == list(m.point_tags) == ["hole", "boundary"]
        for k in m.point_tags:
            np.testing.assert_array_equal(back.point_tags[k], m.point_tags[k])
        item = ds[i]
        assert set(item) == {"points", "cells", "T"} and item["cells"]["triangle"].dtype == torch.int64
        np.testing.assert_array_equal(item["cells"]["triangle"].numpy(), m.cells[0][1])
        np.testing.assert_array_equal(item["T"].numpy(), temp[i])
    with h5py.File(path) as f:  # connectivity is local to each sample: sample 1 starts at point 0 again
        tri = f["support/cells/triangle"]
        c0, c1 = tri["offsets"][1:3]
        assert tri["values"][c0:c1].min() == 0
        assert tri["offsets"][()].tolist() == [0, *np.cumsum([len(m.cells[0][1]) for m in meshes])]


def test_meshes_with_different_cell_types_and_tags(tmp_path):
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    m0 = Mesh(pts, [("triangle", [[0, 1, 2], [0, 2, 3]]), ("line", [[0, 1]])], {"bottom": [0, 1]})
    m1 = Grid((3, 2), ((0.0, 2.0), (0.0, 1.0))).to_mesh()  # quads; tags left/right/bottom/top
    m2 = Mesh(pts[:3], [("triangle", [[0, 1, 2]]), ("triangle", [[2, 1, 0]])])  # a repeated block
    path = write_dataset(
        tmp_path / "mixed.h5", {"f": [_f32(m.n_points, 1) for m in (m0, m1, m2)]}, {"f": "input"}, [m0, m1, m2]
    )
    ds = H5Dataset(path)
    assert ds.support.cell_types == ["triangle", "line", "quad"]
    b0, b1, b2 = (ds.support[i] for i in range(3))
    assert [t for t, _ in b0.cells] == ["triangle", "line"] and [t for t, _ in b1.cells] == ["quad"]
    np.testing.assert_array_equal(b1.cells[0][1], m1.cells[0][1])
    np.testing.assert_array_equal(b2.cells[0][1], [[0, 1, 2], [2, 1, 0]])  # blocks of one type concatenated
    # every stored tag name in every sample (empty where the sample has none)
    assert list(b0.point_tags) == ["bottom", "left", "right", "top"]
    np.testing.assert_array_equal(b1.point_tags["left"], m1.point_tags["left"])
    assert b0.point_tags["left"].shape == (0,) and b1.point_tags["bottom"].tolist() == m1.point_tags["bottom"].tolist()
    # an item has every stored cell type, so that batches have fixed keys
    item = ds[1]
    assert {t: tuple(c.shape) for t, c in item["cells"].items()} == {"triangle": (0, 3), "line": (0, 2), "quad": (2, 4)}


def test_time_series_on_per_sample_supports(tmp_path):
    sizes, times = (5, 2, 9), np.linspace(0.0, 0.5, 3)
    pts = [RNG.uniform(size=(n, 3)) for n in sizes]
    u = [_f32(3, n, 2) for n in sizes]
    k = [_f32(n, 1) for n in sizes]
    path = write_dataset(tmp_path / "t.h5", {"k": k, "u": u}, {"k": "input", "u": "output"}, pts, times=times)
    ds = H5Dataset(path)
    np.testing.assert_array_equal(ds.times, times)
    assert ds.shapes == {"k": (16, 1), "u": (3, 16, 2)}
    for i in range(3):
        np.testing.assert_array_equal(ds[i]["u"].numpy(), u[i])
        np.testing.assert_array_equal(ds[i]["k"].numpy(), k[i])
    batch = collate_samples([ds[i] for i in range(3)])
    assert batch["u"].shape == (3, 3, 9, 2) and batch["k"].shape == (3, 9, 1) and batch["points"].shape == (3, 9, 3)
    np.testing.assert_array_equal(batch["u"][1, :, :2].numpy(), u[1])
    assert (batch["u"][1, :, 2:] == 0).all()


def test_input_only_datasets(tmp_path):
    path = write_dataset(tmp_path / "g.h5", {"a": _f32(3, 4, 5, 1)}, {"a": "input"}, Grid((4, 5), ((0, 1), (0, 1))))
    ds = H5Dataset(path)
    assert ds.attrs["format_version"] == 1  # no version-2 feature: still written as version 1
    assert ds.inputs == ["a"] and ds.outputs == [] and set(ds[2]) == {"a"}
    clouds = [RNG.uniform(size=(n, 2)) for n in (4, 6)]
    f = [_f32(4, 1), _f32(6, 1)]
    ds = H5Dataset(write_dataset(tmp_path / "p.h5", {"f": f}, {"f": "input"}, clouds, params={"s": [1.0, 2.0]}))
    assert ds.outputs == [] and set(ds[1]) == {"points", "f", "s"}
    np.testing.assert_array_equal(ds[1]["f"].numpy(), f[1])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate_samples)))
    assert set(batch) == {"points", "mask", "f", "s"}


# ---- collate ----------------------------------------------------------------------------------
def test_collate_pads_and_masks(tmp_path, disk_meshes):
    meshes = disk_meshes
    vals = [_f32(m.n_points, 2) for m in meshes]
    ds = H5Dataset(
        write_dataset(tmp_path / "m.h5", {"v": vals}, {"v": "input"}, meshes, params={"r": [0.6, 0.4, 0.25]})
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate_samples)
    batch = next(iter(loader))
    sizes = [m.n_points for m in meshes]
    ntri = [len(m.cells[0][1]) for m in meshes]
    n_max, k_max = max(sizes), max(ntri)
    assert set(batch) == {"points", "mask", "cells", "cell_mask", "v", "r"}
    assert batch["points"].shape == (3, n_max, 2) and batch["v"].shape == (3, n_max, 2)
    assert batch["mask"].dtype == torch.bool and batch["mask"].sum(1).tolist() == sizes
    assert batch["cells"]["triangle"].shape == (3, k_max, 3) and batch["cell_mask"]["triangle"].sum(1).tolist() == ntri
    np.testing.assert_allclose(batch["r"].numpy(), [0.6, 0.4, 0.25], rtol=1e-7)  # float32 of float64 values
    for b, (m, v) in enumerate(zip(meshes, vals)):
        n, k = sizes[b], ntri[b]
        assert batch["mask"][b, :n].all() and not batch["mask"][b, n:].any()
        np.testing.assert_array_equal(batch["v"][b, :n].numpy(), v)
        np.testing.assert_array_equal(batch["points"][b, :n].numpy(), m.points.astype(np.float32))
        assert (batch["v"][b, n:] == 0).all() and (batch["points"][b, n:] == 0).all()
        np.testing.assert_array_equal(batch["cells"]["triangle"][b, :k].numpy(), m.cells[0][1])
        assert (batch["cells"]["triangle"][b, k:] == -1).all()
        assert batch["cell_mask"]["triangle"][b, :k].all() and not batch["cell_mask"]["triangle"][b, k:].any()
    # a masked mean over real points equals the per-sample means (float32 sums in another order: tolerance)
    m = batch["mask"][..., None]
    mean = (batch["v"] * m).sum(1) / m.sum(1)
    np.testing.assert_allclose(mean.numpy(), np.stack([v.mean(0) for v in vals]), rtol=1e-5, atol=1e-6)


def test_collate_shared_support_and_errors(tmp_path):
    grid = Grid((4, 3), ((0, 1), (0, 1)))
    ds = H5Dataset(write_dataset(tmp_path / "g.h5", {"a": _f32(2, 4, 3, 1)}, {"a": "input"}, grid))
    assert collate_samples([ds[0], ds[1]])["a"].shape == (2, 4, 3, 1)  # torch's default_collate
    one = {"points": torch.zeros(3, 2), "f": torch.zeros(3, 1)}
    with pytest.raises(ValueError, match="sample 1 has keys"):
        collate_samples([one, {"points": torch.zeros(2, 2)}])
    with pytest.raises(ValueError, match=r"'f' of sample 1 has shape \(4, 1\) but the sample has 2 points"):
        collate_samples([one, {"points": torch.zeros(2, 2), "f": torch.zeros(4, 1)}])
    with pytest.raises(ValueError, match="at least one sample"):
        collate_samples([])


def test_lazy_open_and_pickle(tmp_path):
    pts, a, _ = _clouds(tmp_path / "c.h5")
    ds = H5Dataset(tmp_path / "c.h5")
    assert ds._file is None  # metadata and offsets read, no sample yet
    np.testing.assert_array_equal(ds.support[3], pts[3])
    assert ds._file is not None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._file is None
    np.testing.assert_array_equal(clone.support[1], pts[1])  # the clone's supports read through its own handle
    np.testing.assert_array_equal(clone[1]["a"].numpy(), a[1])
    assert clone.support._h5.__self__ is clone
    ds.close()


# ---- version 1 stays version 1 --------------------------------------------------------------------------
def _layout(path) -> list[tuple]:
    """Every object's name, kind, shape, dtype, chunking, compression and attribute names."""
    rows = []
    with h5py.File(path) as f:
        rows.append(("/", sorted(f.attrs)))

        def visit(name, o):
            if isinstance(o, h5py.Dataset):
                rows.append((name, o.shape, o.dtype.str, o.chunks, o.compression, o.shuffle, sorted(o.attrs)))
            else:
                rows.append((name, sorted(o.attrs)))

        f.visititems(visit)
    return rows


ROOT_ATTRS = ["created", "format", "format_version", "generator", "problem", "sciml_version", "seed"]
FIELD_ATTRS = ["channels", "role"]


def test_version_1_layout_is_unchanged(tmp_path):
    # the structure the version-1 writer produced before format 2 existed (recorded from it)
    grid = Grid((6, 5), ((0.0, 1.0), (-1.0, 2.0)), (True, False))
    g = write_dataset(
        tmp_path / "g.h5",
        {"a": _f32(3, 6, 5, 1), "u": _f32(3, 4, 6, 5, 2)},
        {"a": "input", "u": "output"},
        grid,
        params={"nu": RNG.uniform(size=3)},
        times=np.linspace(0, 1, 4),
    )
    assert _layout(g) == [
        ("/", ROOT_ATTRS),
        ("fields", []),
        ("fields/a", (3, 6, 5, 1), "<f4", (1, 6, 5, 1), "gzip", True, FIELD_ATTRS),
        ("fields/u", (3, 4, 6, 5, 2), "<f4", (1, 4, 6, 5, 2), "gzip", True, FIELD_ATTRS),
        ("params", []),
        ("params/nu", (3,), "<f8", None, None, False, []),
        ("support", ["bounds", "kind", "periodic", "shape"]),
        ("support/axis0", (6,), "<f8", None, None, False, []),
        ("support/axis1", (5,), "<f8", None, None, False, []),
        ("times", (4,), "<f8", None, None, False, []),
    ]
    mesh = Mesh(
        np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]]),
        [("triangle", np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])), ("line", np.array([[0, 1], [1, 2]]))],
        {"bottom": np.array([0, 1])},
    )
    m = write_dataset(tmp_path / "m.h5", {"p": _f32(2, 5, 1)}, {"p": "output"}, mesh)
    assert _layout(m) == [
        ("/", ROOT_ATTRS),
        ("fields", []),
        ("fields/p", (2, 5, 1), "<f4", (1, 5, 1), "gzip", True, FIELD_ATTRS),
        ("params", []),
        ("support", ["kind"]),
        ("support/cells", []),
        ("support/cells/line", (2, 2), "<i8", None, None, False, []),
        ("support/cells/triangle", (4, 3), "<i8", None, None, False, []),
        ("support/point_tags", []),
        ("support/point_tags/bottom", (2,), "<i8", None, None, False, []),
        ("support/points", (5, 2), "<f8", None, None, False, []),
    ]
    pts = RNG.uniform(size=(9, 2))
    p = write_dataset(tmp_path / "p.h5", {"f": _f32(2, 9, 3)}, {"f": "input"}, pts)
    assert _layout(p)[-2:] == [("support", ["kind"]), ("support/points", (9, 2), "<f8", None, None, False, [])]
    for path in (g, m, p):
        with h5py.File(path) as f:
            assert f.attrs["format_version"] == 1 and not H5Dataset(path).per_sample


def test_shared_support_labelled_version_2_reads_as_version_1(tmp_path):
    a = _f32(2, 4, 3, 1)
    path = write_dataset(tmp_path / "g.h5", {"a": a}, {"a": "input"}, Grid((4, 3), ((0, 1), (0, 1))))
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 2  # what a writer that labels every file 2 makes
    ds = H5Dataset(path)
    assert not ds.per_sample and ds.support.shape == (4, 3)
    np.testing.assert_array_equal(ds[1]["a"].numpy(), a[1])


# ---- writer refusals ------------------------------------------------------------------------------------
def test_write_refuses_bad_per_sample_input(tmp_path):
    pts = [RNG.uniform(size=(n, 2)) for n in (3, 4)]
    out = tmp_path / "x.h5"
    cases = [
        ({"u": [_f32(3, 1)]}, pts, "field 'u' has 1 samples but there are 2 per-sample supports"),
        ({"u": [_f32(3, 1), _f32(5, 1)]}, pts, r"field 'u' of sample 1 has shape \(5, 1\); expected \(4, C\)"),
        ({"u": [_f32(3, 1), _f32(4, 2)]}, pts, "every sample needs the same channels"),
        ({"points": [_f32(3, 1), _f32(4, 1)]}, pts, "'points' cannot name a field"),
        ({"u": [_f32(3, 1), _f32(4, 1)]}, [pts[0], Grid((2, 2), ((0, 1), (0, 1))).to_mesh()], "mix Meshes and"),
        ({"u": [_f32(3, 1), _f32(4, 1)]}, [pts[0], RNG.uniform(size=(4, 3))], "sample 1 has 3-D points"),
        ({"u": [_f32(3, 1), _f32(0, 1)]}, [pts[0], np.zeros((0, 2))], r"sample 1 has points of shape \(0, 2\)"),
    ]
    for fields, support, msg in cases:
        with pytest.raises(ValueError, match=msg) as exc:
            write_dataset(out, fields, {k: "input" for k in fields}, support)
        assert str(exc.value).startswith(f"{out}: ") and "\n" not in str(exc.value)
    with pytest.raises(ValueError, match=r"parameter 'nu' has shape \(3,\); expected \(2,\)"):
        write_dataset(out, {"u": [_f32(3, 1), _f32(4, 1)]}, {"u": "input"}, pts, params={"nu": np.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    import sciml.data.hdf5 as h

    pts, a, _ = _clouds(tmp_path / "c.h5")

    def broken(g, name, parts):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h, "_write_ragged", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _clouds(tmp_path / "c.h5", sizes=(2, 2, 2, 2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.h5"]  # no temporary file, the old file intact
    np.testing.assert_array_equal(H5Dataset(tmp_path / "c.h5")[3]["a"].numpy(), a[3])


# ---- bad files ------------------------------------------------------------------------------------------
def _replace(f: h5py.File, name: str, data) -> None:
    """Replace dataset ``name`` by ``data``, keeping its attributes."""
    attrs = dict(f[name].attrs)
    del f[name]
    f[name] = data
    f[name].attrs.update(attrs)


def _set_attr(name, key, value):
    def mutate(f):
        f[name].attrs[key] = value

    return mutate


BAD_FILES = {
    "truncated point offsets": (
        lambda f: _replace(f, "support/points/offsets", f["support/points/offsets"][:-1]),
        r"/support/points/offsets ends at 56 but /support/points/values has 126 rows: truncated offsets",
    ),
    "truncated cell offsets": (
        lambda f: _replace(f, "support/cells/triangle/offsets", f["support/cells/triangle/offsets"][:-1]),
        r"/support/cells/triangle/offsets has 3 entries but /support/points/offsets has 4 .*truncated offsets",
    ),
    "decreasing offsets": (
        lambda f: _replace(f, "support/cells/triangle/offsets", np.array([0, 50, 28, 180])),
        r"/support/cells/triangle/offsets is not increasing: sample 1 spans 50\.\.28",
    ),
    "a sample without points": (
        lambda f: _replace(f, "support/points/offsets", np.array([0, 23, 23, 126])),
        r"/support/points/offsets is not increasing: sample 1 spans 23\.\.23 \(every sample has at least one point\)",
    ),
    "offsets not from 0": (
        lambda f: _replace(f, "support/point_tags/hole/offsets", f["support/point_tags/hole/offsets"][()] + 1),
        r"/support/point_tags/hole/offsets starts at 1; expected 0",
    ),
    "float offsets": (
        lambda f: _replace(f, "support/points/offsets", np.array([0.0, 23, 56, 126])),
        r"/support/points/offsets has shape \(4,\) and dtype float64; expected \(N \+ 1,\) integers",
    ),
    "missing offsets": (
        lambda f: f.__delitem__("support/cells/triangle/offsets"),
        r"malformed /support/cells/triangle \(no dataset offsets\)",
    ),
    "field shorter than its support": (
        lambda f: _replace(f, "fields/T", f["fields/T"][:-1]),
        r"field 'T' has 125 values along its point axis but the per-sample supports have 126 points",
    ),
    "time axis without times": (
        lambda f: _replace(f, "fields/T", np.zeros((2, 126, 1), np.float32)),
        r"field 'T' has shape \(2, 126, 1\) \(T = 2\) but the file has no /times",
    ),
    "unknown version": (_set_attr("/", "format_version", 3), r"unknown sciml dataset format_version 3 \(known: "),
    "per-sample support labelled version 1": (
        _set_attr("/", "format_version", 1),
        r"support kind 'per_sample_mesh' needs format_version 2, the file says 1",
    ),
    "bad role": (_set_attr("fields/T", "role", "label"), "field 'T' has role 'label'"),
    "parameter of the wrong length": (
        lambda f: _replace(f, "params/r", np.zeros(2)),
        r"parameter 'r' has shape \(2,\); expected \(3,\)",
    ),
    "reserved name": (lambda f: f.move("fields/T", "fields/mask"), r"field or parameter 'mask' has a reserved name"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_get_one_line_naming_the_file(tmp_path, disk_meshes, case):
    mutate, msg = BAD_FILES[case]
    sizes = [m.n_points for m in disk_meshes]  # 23, 33, 70 points; 31, 44, 105 triangles
    assert sizes == [23, 33, 70]
    path = write_dataset(
        tmp_path / "bad.h5", {"T": [_f32(n, 1) for n in sizes]}, {"T": "output"}, disk_meshes, params={"r": np.ones(3)}
    )
    with h5py.File(path, "r+") as f:
        mutate(f)
    with pytest.raises(ValueError) as exc:
        H5Dataset(path)  # refused when opened, before any sample is read
    text = str(exc.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert re.search(msg, text), text


def test_cells_outside_their_sample_are_refused_when_read(tmp_path):
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    meshes = [Mesh(pts, [("triangle", [[0, 1, 2]])]), Mesh(pts, [("triangle", [[2, 1, 0]])])]
    path = write_dataset(tmp_path / "c.h5", {"f": [_f32(3, 1)] * 2}, {"f": "input"}, meshes)
    with h5py.File(path, "r+") as f:
        f["support/cells/triangle/values"][1] = [0, 1, 3]  # index 3 is the other sample's first point
    ds = H5Dataset(path)  # checking every cell up front would read the whole file: checked per sample
    np.testing.assert_array_equal(ds[0]["cells"]["triangle"].numpy(), [[0, 1, 2]])
    with pytest.raises(ValueError, match=r"c.h5: /support/cells/triangle of sample 1 references points outside"):
        ds[1]
    with pytest.raises(ValueError, match="sample 1 references points outside"):
        ds.support[1]
