"""Round trips through the output writers (read back with VTK/pyvista) and RunDir."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from sciml.fields import Field, InconsistentDiscretizationError
from sciml.mesh import Grid, Mesh
from sciml.output import RunDir, atomic_path, atomic_write_text, write_fields, write_png, write_vtu
from sciml.registry import WRITERS

pv = pytest.importorskip("pyvista")


def _grid_field():
    g = Grid((9, 7), ((0.0, 2.0), (-1.0, 1.0)))
    p = g.points()
    u = (np.sin(p[:, 0]) * np.cos(p[:, 1])).reshape(g.shape)
    v = (p[:, 0] ** 2 - p[:, 1]).reshape(g.shape)
    return Field(np.stack([u, v], -1), g, ("u", "v"))


def _series():
    g = Grid((11,), ((0.0, 1.0),))
    t = np.linspace(0.0, 0.4, 5)
    x = g.points()[:, 0]
    u = np.sin(np.pi * x)[None, :] * np.exp(-t)[:, None] + t[:, None]
    return Field(u[..., None], g, ("u",), t)


def _tri_mesh():
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    return Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))])


def _png_ok(path):
    import matplotlib.pyplot as plt

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = plt.imread(path)
    assert img.ndim == 3 and img.shape[2] == 4 and img.shape[0] > 50 and img.shape[1] > 50
    assert np.ptp(img[..., :3]) > 0.1


def test_registered_writers():
    assert {"vtu", "pvd", "xdmf", "png"} <= set(WRITERS.names())


def test_vtu_grid_roundtrip(tmp_path):
    f = _grid_field()
    files = write_fields(f, tmp_path, "sol", ["vtu"])
    assert files == [tmp_path / "sol.vtu"]
    m = pv.read(files[0])
    assert m.n_points == 63 and m.n_cells == 8 * 6
    np.testing.assert_allclose(m.points[:, :2], f.support.points(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(m.point_data["u"], f["u"].ravel(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(m.point_data["v"], f["v"].ravel(), atol=1e-12, rtol=0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_vtu_triangle_mesh(tmp_path):
    mesh = _tri_mesh()
    vals = np.array([[1.0], [2.0], [3.0], [4.5]])
    (path,) = write_vtu(Field(vals, mesh, ("p",)), tmp_path / "tri.vtu")
    m = pv.read(path)
    assert m.n_cells == 2 and set(m.celltypes) == {pv.CellType.TRIANGLE}
    np.testing.assert_array_equal(m.cells_dict[pv.CellType.TRIANGLE], mesh.cells[0][1])
    np.testing.assert_allclose(m.points[:, :2], mesh.points)
    np.testing.assert_allclose(m.point_data["p"], vals[:, 0])


def test_vtu_rejects_time_series(tmp_path):
    with pytest.raises(ValueError, match="pvd"):
        write_vtu(_series(), tmp_path / "s.vtu")


def test_pvd_roundtrip(tmp_path):
    f = _series()
    files = write_fields(f, tmp_path, "burgers", ["pvd"])
    assert files[0] == tmp_path / "burgers.pvd"
    assert (tmp_path / "burgers" / "burgers_0004.vtu").exists() and len(files) == 6
    r = pv.get_reader(str(files[0]))
    np.testing.assert_allclose(r.time_values, f.times, rtol=0, atol=1e-15)
    assert len(r.time_values) == 5
    r.set_active_time_value(f.times[3])
    block = r.read()[0]
    np.testing.assert_allclose(block.point_data["u"], f.values[3, :, 0], atol=1e-12, rtol=0)
    np.testing.assert_allclose(block.points[:, 0], f.points()[:, 0])
    # a shorter series with the same stem leaves no stale step files behind
    short = Field(f.values[:2], f.support, f.names, f.times[:2])
    write_fields(short, tmp_path, "burgers", ["pvd"])
    assert sorted(p.name for p in (tmp_path / "burgers").iterdir()) == ["burgers_0000.vtu", "burgers_0001.vtu"]


def test_xdmf_roundtrip_vtk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # meshio would drop the .h5 in the cwd; it must land next to the .xdmf
    f = _series()
    out = tmp_path / "sub"
    files = write_fields(f, out, "series", ["xdmf"])
    assert files == [out / "series.xdmf", out / "series.h5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
    assert sorted(p.name for p in out.iterdir()) == ["series.h5", "series.xdmf"]
    assert "series.h5:/" in (out / "series.xdmf").read_text()
    r = pv.XdmfReader(str(files[0]))  # VTK's reader, what ParaView uses
    np.testing.assert_allclose(r.time_values, f.times, rtol=0, atol=1e-15)
    r.set_active_time_value(f.times[3])
    block = r.read()
    np.testing.assert_allclose(block.point_data["u"], f.values[3, :, 0], atol=1e-12, rtol=0)
    np.testing.assert_allclose(block.points[:, 0], f.points()[:, 0])


def _mixed_mesh_series():
    """Triangles plus boundary lines (an XDMF "Mixed" topology), two channels, four times."""
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.4, 0.6]])
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    mesh = Mesh(pts, [("triangle", tris), ("line", np.array([[0, 1], [1, 2]]))])
    t = np.array([0.0, 0.25, 0.5, 1.0])
    u = np.sin(3 * pts[:, 0])[None] * np.exp(-t)[:, None] + pts[:, 1][None] * t[:, None]
    return Field(np.stack([u, -2 * u + t[:, None]], -1), mesh, ("u", "u_error"), t)


def _vtk_xdmf_steps(path):
    """Step VTK's own XDMF reader (vtkXdmfReader, as ParaView) through every time it reports."""
    r = pv.XdmfReader(str(path))
    assert r.reader.GetClassName() == "vtkXdmfReader"
    steps = []
    for t in r.time_values:
        r.set_active_time_value(t)
        steps.append(r.read())
    return list(r.time_values), steps


@pytest.mark.parametrize("make", [_mixed_mesh_series, _series, _grid_field], ids=["mesh2d", "grid1d", "steady2d"])
def test_xdmf_is_one_time_dependent_dataset_equal_to_the_pvd(tmp_path, monkeypatch, make):
    f = make()
    write_fields(f, tmp_path / "out", "sol", ["pvd", "xdmf"])
    # the .xdmf names its .h5 relatively: the pair still reads after moving it, from another cwd
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("sol.xdmf", "sol.h5"):
        (tmp_path / "out" / name).rename(moved / name)
    monkeypatch.chdir(tmp_path)
    times, steps = _vtk_xdmf_steps(moved / "sol.xdmf")
    expected = [0.0] if f.times is None else list(f.times)
    assert len(times) == len(expected)
    np.testing.assert_allclose(times, expected, rtol=0, atol=1e-15)
    pvd = pv.get_reader(str(tmp_path / "out" / "sol.pvd"))
    for t, ds in zip(times, steps):
        # one dataset per time, not a multiblock of a time series plus a static mesh
        assert not isinstance(ds, pv.MultiBlock), ds
        pvd.set_active_time_value(t)
        ref = pvd.read()[0]
        assert sorted(ds.point_data.keys()) == sorted(ref.point_data.keys()) == sorted(f.names)
        for name in f.names:
            np.testing.assert_allclose(ds.point_data[name], ref.point_data[name], rtol=0, atol=1e-12)
        np.testing.assert_allclose(ds.points, ref.points, rtol=0, atol=1e-12)
        assert ds.n_cells == ref.n_cells
        np.testing.assert_array_equal(ds.cell_connectivity, ref.cell_connectivity)
    # and each step is the field's own values at that time, not step 0's
    last = f.values[-1] if f.times is not None else f.values
    np.testing.assert_allclose(steps[-1].point_data[f.names[0]], last[..., 0].ravel(), rtol=0, atol=1e-12)


def test_xdmf_failed_write_keeps_the_old_pair(tmp_path):
    f = _series()
    write_fields(f, tmp_path, "s", ["xdmf"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match="complex"):
        write_fields(f.with_values(f.values * 1j), tmp_path, "s", ["xdmf"])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp files either


def test_remove_stale_temps_spares_live_writers(tmp_path):
    import subprocess
    import sys

    from sciml.output import _host_tag, remove_stale_temps

    target = tmp_path / "d.h5"
    with atomic_path(target) as tmp:  # a temporary file of this (live) process
        live = tmp
        dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
        dead_proc.wait()
        dead = tmp.with_name(tmp.name.replace(f".{os.getpid()}.", f".{dead_proc.pid}.", 1))
        # a dead pid on another machine sharing the directory may be a live writer there
        other_host = dead.with_name(dead.name.replace(f".tmp.{_host_tag()}.", ".tmp.some-other-host.", 1))
        unrelated = tmp_path / ".other.h5.tmp.x.1.abc.h5"
        for p in (dead, other_host, unrelated):
            p.write_bytes(b"")
        assert remove_stale_temps(target) == [dead]
        assert live.exists() and other_host.exists() and unrelated.exists() and not dead.exists()
    assert target.exists() and not live.exists()


def test_png_outputs(tmp_path):
    from sciml.plots import plot_comparison, plot_losses

    f = _grid_field()
    (p,) = write_png(f, tmp_path / "f.png")
    _png_ok(p)
    noisy = f.with_values(f.values + 0.01 * np.random.default_rng(0).standard_normal(f.values.shape))
    _png_ok(plot_comparison(noisy, f, tmp_path / "cmp2d.png", channel="u"))
    s = _series()
    _png_ok(plot_comparison(s.with_values(1.1 * s.values), s, tmp_path / "cmpxt.png"))
    tri = Field(np.array([[1.0], [2.0], [3.0], [4.5]]), _tri_mesh(), ("p",))
    _png_ok(plot_comparison(tri.with_values(tri.values * 0.9), tri, tmp_path / "cmptri.png"))
    g1 = Grid((30,), ((0.0, 1.0),))
    line = Field(np.sin(3 * g1.points()), g1, ("u",))
    _png_ok(plot_comparison(line.with_values(line.values + 0.05), line, tmp_path / "cmp1d.png"))
    recs = [{"step": i, "loss": 1.0 / (i + 1), "loss/pde": 0.5 / (i + 1), "eval/l2": 0.1} for i in range(20)]
    _png_ok(plot_losses(recs, tmp_path / "loss.png"))
    with pytest.raises(InconsistentDiscretizationError):
        plot_comparison(line, f, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_write_fields_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="valid formats: .*vtu"):
        write_fields(_grid_field(), tmp_path, "x", ["vtu", "foo"])
    assert not list(tmp_path.iterdir())


def test_atomic_failure_leaves_nothing(tmp_path):
    target = tmp_path / "a.vtu"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".vtu" and tmp.name.startswith(".a.vtu.tmp")
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    atomic_write_text(target, "good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("bad")
            raise RuntimeError("boom")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["a.vtu"]


def test_rundir_create_unique_and_open(tmp_path):
    a = RunDir.create(tmp_path, "heat")
    b = RunDir.create(tmp_path, "heat")
    assert a.path != b.path and a.path.parent == b.path.parent == tmp_path / "heat"
    assert time.strftime("%Y%m%d") in a.path.name
    assert a.checkpoints.is_dir() and a.plots.is_dir() and a.fields.is_dir()
    with pytest.raises(ValueError, match="not a run directory"):
        RunDir.open(a.path)
    with pytest.raises(FileNotFoundError):
        RunDir.open(tmp_path / "nope")
    case = {"problem": {"type": "heat", "nu": np.float64(0.1)}, "model": {"width": 64}}
    a.save_case(case)
    again = RunDir.open(a.path)
    assert again.load_case_dict() == {"problem": {"type": "heat", "nu": 0.1}, "model": {"width": 64}}
    assert list(again.load_case_dict()) == ["problem", "model"]
    again.save_summary({"l2": np.float32(0.5)})
    assert json.loads((a.path / "summary.json").read_text()) == {"l2": 0.5}
    again.write_report("# Report")
    assert (a.path / "report.md").read_text() == "# Report\n"


def test_metrics_roundtrip_truncate_and_torn_line(tmp_path):
    torch = pytest.importorskip("torch")
    run = RunDir.create(tmp_path, "c")
    for s in range(5):
        run.log_metrics({"step": np.int64(s), "loss": torch.tensor(1.0 / (s + 1)), "lr": np.float32(1e-3)})
    recs = run.read_metrics()
    assert [r["step"] for r in recs] == [0, 1, 2, 3, 4]
    assert isinstance(recs[1]["loss"], float) and recs[1]["loss"] == pytest.approx(0.5)
    run.truncate_metrics(after_step=2)
    assert [r["step"] for r in run.read_metrics()] == [0, 1, 2]
    # simulate a kill in the middle of writing a record
    with open(run.path / "metrics.jsonl", "ab") as fh:
        fh.write(b'{"step": 3, "lo')
    assert [r["step"] for r in run.read_metrics()] == [0, 1, 2]
    run.log_metrics({"step": 3, "loss": 0.25})  # appending after a torn line starts a fresh line
    assert [r["step"] for r in run.read_metrics()] == [0, 1, 2, 3]
    with pytest.raises(TypeError):
        run.log_metrics({"step": 4, "bad": object()})
    assert os.path.getsize(run.path / "metrics.jsonl") > 0
