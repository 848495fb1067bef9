"""PDEBench readers beyond Darcy: the 1-D (advection, Burgers) and 2-D diffusion-reaction layouts, written
here in PDEBench's layout with random values and round-tripped through the sciml format."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from sciml.data import H5Dataset
from sciml.data.operator import OperatorData, check_dataset_file
from sciml.data.pdebench import (
    convert_pdebench,
    convert_pdebench_1d,
    convert_pdebench_diff_react,
    read_pdebench_1d,
    read_pdebench_diff_react,
)
from sciml.data.trajectory import TrajectoryData
from sciml.registry import DATA, PROBLEMS

RNG = np.random.default_rng(0)


def _pdebench_1d(path, n=5, nt=7, nx=16, extra_t=True):
    """A file in PDEBench's 1-D layout: cell centres on [0, 1), t-coordinate with one entry more."""
    x = ((np.arange(nx) + 0.5) / nx).astype(np.float32)
    t = (np.arange(nt + int(extra_t)) * 0.05).astype(np.float32)
    tensor = RNG.standard_normal((n, nt, nx)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["tensor"], f["x-coordinate"], f["t-coordinate"] = tensor, x, t
    return {"tensor": tensor, "x": x, "t": t}


def _pdebench_diff_react(path, n=3, nt=6, nx=8, ny=10):
    """A file in PDEBench's 2-D diffusion-reaction layout: one group per sample."""
    x = np.linspace(-1 + 1 / nx, 1 - 1 / nx, nx).astype(np.float32)
    y = np.linspace(-1 + 1 / ny, 1 - 1 / ny, ny).astype(np.float32)
    t = np.linspace(0.0, 5.0, nt).astype(np.float32)
    data = RNG.standard_normal((n, nt, nx, ny, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        for i in range(n):
            g = f.create_group(f"{i:04d}")
            g["data"], g["grid/x"], g["grid/y"], g["grid/t"] = data[i], x, y, t
    return {"data": data, "x": x, "y": y, "t": t}


# ---- 1-D ------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra_t", [True, False])
def test_read_1d(tmp_path, extra_t):
    src = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    raw = _pdebench_1d(src, extra_t=extra_t)
    d = read_pdebench_1d(src)
    assert d["u"].shape == (5, 7, 16, 1) and d["params"] == {"nu": 0.01}
    np.testing.assert_array_equal(d["u"][..., 0], raw["tensor"])
    np.testing.assert_allclose(d["times"], raw["t"][:7], atol=1e-7)
    g = d["grid"]
    assert g.shape == (16,) and g.periodic == (True,)
    np.testing.assert_allclose(g.axes()[0], raw["x"], atol=1e-6)
    np.testing.assert_allclose(g.bounds[0], (1 / 32, 1 + 1 / 32), atol=1e-6)
    part = read_pdebench_1d(src, max_samples=2, t_stride=3)
    np.testing.assert_array_equal(part["u"][..., 0], raw["tensor"][:2, ::3])
    np.testing.assert_allclose(part["times"], raw["t"][:7][::3], atol=1e-7)


def test_convert_1d_operator(tmp_path):
    src = tmp_path / "1D_Advection_Sols_beta0.4.hdf5"
    raw = _pdebench_1d(src)
    ds = H5Dataset(convert_pdebench_1d(src, tmp_path / "adv.h5"))
    assert ds.inputs == ["u0"] and ds.outputs == ["u"] and ds.times is None and len(ds) == 5
    assert ds.shapes == {"u0": (5, 16, 1), "u": (5, 16, 1)}
    np.testing.assert_array_equal(ds.load("u0")[..., 0], raw["tensor"][:, 0])
    np.testing.assert_array_equal(ds.load("u")[..., 0], raw["tensor"][:, -1])
    np.testing.assert_allclose(ds.support.axes()[0], raw["x"], atol=1e-6)
    np.testing.assert_array_equal(ds.params["beta"], np.full(5, 0.4))
    assert ds.attrs["problem"] == "burgers_operator"
    gen = ds.attrs["generator"]
    assert gen["source"] == "pdebench" and gen["file"] == src.name and gen["target"] == "operator"
    assert gen["t"] == pytest.approx([0.0, 0.3])
    # a burgers_operator case at the file's resolution reads it with generate: false, and trains on it
    problem = PROBLEMS.build("burgers_operator", {"resolution": 16})
    check_dataset_file(problem, ds.path, 5, 0, generate=False)
    data = OperatorData(ds, 3, 2, 2, "pointwise", 0)
    assert data.next_batch()["x"].shape == (2, 16, 1)


def test_convert_1d_trajectories(tmp_path):
    src = tmp_path / "1D_Burgers_Sols_Nu0.001.hdf5"
    raw = _pdebench_1d(src, nt=9)
    out = convert_pdebench(src, tmp_path / "burgers_traj.h5", layout="1d", target="trajectories", t_stride=2)
    ds = H5Dataset(out)
    assert ds.inputs == [] and ds.outputs == ["u"] and ds.shapes["u"] == (5, 5, 16, 1)
    np.testing.assert_array_equal(ds.load("u")[..., 0], raw["tensor"][:, ::2])
    np.testing.assert_allclose(ds.times, raw["t"][:9:2], atol=1e-7)
    np.testing.assert_array_equal(ds.params["nu"], np.full(5, 0.001))
    # what data: {type: trajectories} serves
    data = TrajectoryData(ds, 3, 2, 2, time_window=2, bundle=1, pushforward=0, seed=0)
    batch = data.next_batch()
    assert batch["u"].shape == (2, 2, 16, 1) and batch["future"].shape == (2, 1, 16, 1)
    assert data.param_names == ("nu",) and data.period == pytest.approx((1.0,))
    # through the registries with problem from_data (no placeholder problem; generate stays on)
    problem = PROBLEMS.build("from_data", {"path": str(out)})
    assert problem.io_spec().outputs == ("u",)
    built = DATA.build(
        "trajectories",
        {"path": str(out), "n_train": 3, "n_test": 2, "batch_size": 2, "time_window": 2},
        problem=problem,
        seed=0,
    )
    assert built.next_batch()["future"].shape == (2, 2, 16, 1)
    # data.path defaults to the from_data problem's file, as for data: {type: hdf5}
    implicit = DATA.build(
        "trajectories", {"n_train": 3, "n_test": 2, "batch_size": 2, "time_window": 2}, problem=problem, seed=0
    )
    assert str(implicit.dataset.path) == str(out)


def test_1d_errors(tmp_path):
    src = tmp_path / "1D_Burgers_Sols_Nu0.1.hdf5"
    _pdebench_1d(src)
    with h5py.File(src, "r+") as f:
        del f["t-coordinate"]
        f["t-coordinate"] = np.arange(3.0)
    with pytest.raises(ValueError, match="'t-coordinate' has 3 entries; expected 7 or 8"):
        read_pdebench_1d(src)
    with h5py.File(src, "r+") as f:
        del f["x-coordinate"]
    with pytest.raises(ValueError, match="has no dataset 'x-coordinate'"):
        read_pdebench_1d(src)
    with pytest.raises(FileNotFoundError):
        read_pdebench_1d(tmp_path / "missing.hdf5")
    with pytest.raises(ValueError, match="target must be one of"):
        convert_pdebench_1d(src, tmp_path / "x.h5", target="windows")
    with pytest.raises(ValueError, match="layout must be one of"):
        convert_pdebench(src, tmp_path / "x.h5", layout="3d")


# ---- 2-D diffusion-reaction -----------------------------------------------------------------
def test_read_diff_react(tmp_path):
    src = tmp_path / "2D_diff-react_NA_NA.h5"
    raw = _pdebench_diff_react(src)
    d = read_pdebench_diff_react(src)
    assert d["u"].shape == (3, 6, 8, 10, 2) and d["params"] == {}
    np.testing.assert_array_equal(d["u"], raw["data"])
    np.testing.assert_allclose(d["times"], raw["t"], atol=1e-7)
    g = d["grid"]
    assert g.shape == (8, 10) and g.periodic == (False, False)
    np.testing.assert_allclose(g.axes()[0], raw["x"], atol=1e-6)
    np.testing.assert_allclose(g.axes()[1], raw["y"], atol=1e-6)


@pytest.mark.parametrize("target", ["trajectories", "operator"])
def test_convert_diff_react(tmp_path, target):
    src = tmp_path / "2D_diff-react_NA_NA.h5"
    raw = _pdebench_diff_react(src)
    ds = H5Dataset(convert_pdebench_diff_react(src, tmp_path / "dr.h5", target=target, max_samples=2))
    assert len(ds) == 2 and ds.support.shape == (8, 10)
    np.testing.assert_allclose(ds.support.axes()[1], raw["y"], atol=1e-6)
    if target == "trajectories":
        assert ds.outputs == ["u"] and ds.channels["u"] == ["u", "v"] and ds.shapes["u"] == (2, 6, 8, 10, 2)
        np.testing.assert_array_equal(ds.load("u"), raw["data"][:2])
        np.testing.assert_allclose(ds.times, raw["t"], atol=1e-7)
        data = TrajectoryData(ds, 1, 1, 1, time_window=2, bundle=2, pushforward=0, seed=0)
        assert data.next_batch()["u"].shape == (1, 2, 8, 10, 2)
    else:
        assert ds.inputs == ["u0"] and ds.channels == {"u0": ["u0", "v0"], "u": ["u", "v"]}
        np.testing.assert_array_equal(ds.load("u0"), raw["data"][:2, 0])
        np.testing.assert_array_equal(ds.load("u"), raw["data"][:2, -1])


def test_diff_react_errors(tmp_path):
    src = tmp_path / "2D_diff-react_NA_NA.h5"
    _pdebench_diff_react(src)
    with h5py.File(src, "r+") as f:
        del f["0001/grid/x"]
        f["0001/grid/x"] = np.linspace(0, 1, 8)
    with pytest.raises(ValueError, match="sample '0001' has other grid/x coordinates than sample '0000'"):
        read_pdebench_diff_react(src)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f["tensor"] = np.zeros(3)
    with pytest.raises(ValueError, match="no sample groups"):
        read_pdebench_diff_react(empty)


@pytest.mark.parametrize("max_samples", [0, -1])
def test_max_samples_below_one_is_refused(tmp_path, max_samples):
    """A count below one used to crash (diff-react: UnboundLocalError) or, negative, silently drop
    samples from the end (keys[:-1], tensor[:-1])."""
    _pdebench_diff_react(tmp_path / "2D_diff-react_NA_NA.h5")
    _pdebench_1d(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5")
    with pytest.raises(ValueError, match="max_samples must be an integer >= 1"):
        read_pdebench_diff_react(tmp_path / "2D_diff-react_NA_NA.h5", max_samples=max_samples)
    with pytest.raises(ValueError, match="max_samples must be an integer >= 1"):
        read_pdebench_1d(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", max_samples=max_samples)
    assert read_pdebench_diff_react(tmp_path / "2D_diff-react_NA_NA.h5", max_samples=2)["u"].shape[0] == 2


# ---- CLI ------------------------------------------------------------------------------------
def test_cli_convert_pdebench_layouts(tmp_path, capsys):
    from sciml.cli import main

    src = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    raw = _pdebench_1d(src)
    dst = tmp_path / "b.h5"
    rc = main(
        [
            "data",
            "convert-pdebench",
            str(src),
            str(dst),
            "--layout",
            "1d",
            "--target",
            "trajectories",
            "--max-samples",
            "3",
        ]
    )
    assert rc == 0 and f"wrote {dst}" in capsys.readouterr().out
    ds = H5Dataset(dst)
    np.testing.assert_array_equal(ds.load("u")[..., 0], raw["tensor"][:3])
    assert main(["data", "convert-pdebench", str(src), str(dst), "--layout", "darcy"]) == 2
    assert "has no dataset 'nu'" in capsys.readouterr().err
    dr = tmp_path / "2D_diff-react_NA_NA.h5"
    _pdebench_diff_react(dr)
    assert (
        main(
            ["data", "convert-pdebench", str(dr), str(tmp_path / "dr.h5"), "--layout", "diff-react", "--t-stride", "2"]
        )
        == 0
    )
    assert H5Dataset(tmp_path / "dr.h5").shapes["u"] == (3, 3, 8, 10, 2)
