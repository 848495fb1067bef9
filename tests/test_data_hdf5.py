"""The sciml HDF5 dataset format, the PDEBench Darcy reader and the normalizers."""

from __future__ import annotations

import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sciml.data import (
    H5Dataset,
    IdentityNormalizer,
    UnitGaussianNormalizer,
    convert_pdebench_darcy,
    ensure_dataset,
    read_pdebench_darcy,
    split_indices,
    write_dataset,
)
from sciml.mesh import Grid, Mesh

RNG = np.random.default_rng(0)


def _mesh() -> Mesh:
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]])
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    return Mesh(
        pts,
        [("triangle", tris), ("line", np.array([[0, 1], [1, 2]]))],
        {"bottom": np.array([0, 1]), "hole": np.array([4])},
    )


def _grid() -> Grid:
    return Grid((6, 5), ((0.0, 1.0), (-1.0, 2.0)), (True, False))


# ---- write / read round trips -------------------------------------------------------------
def test_grid_round_trip(tmp_path):
    grid, times = _grid(), np.linspace(0.0, 1.0, 4)
    a = RNG.standard_normal((7, 6, 5, 1))
    u = RNG.standard_normal((7, 4, 6, 5, 2))
    nu = RNG.uniform(size=7)
    gen = {"n": 7, "solver": {"kind": "fd", "dt": 1e-3}, "shape": (6, 5)}
    path = write_dataset(
        tmp_path / "sub" / "g.h5",
        {"a": a, "u": u},
        {"a": "input", "u": "output"},
        grid,
        channels={"u": ["ux", "uy"]},
        params={"nu": nu},
        times=times,
        problem="toy",
        seed=3,
        generator=gen,
    )
    ds = H5Dataset(path)
    assert ds.support == grid and len(ds) == ds.n_samples == 7
    np.testing.assert_array_equal(ds.times, times)
    assert ds.inputs == ["a"] and ds.outputs == ["u"]
    assert ds.channels == {"a": ["a"], "u": ["ux", "uy"]}
    at = ds.attrs
    assert at["format"] == "sciml-dataset" and at["format_version"] == 1
    assert at["problem"] == "toy" and at["seed"] == 3 and at["created"] and at["sciml_version"]
    assert at["generator"] == json.loads(json.dumps(gen))
    np.testing.assert_allclose(ds.params["nu"], nu)
    item = ds[2]
    assert set(item) == {"a", "u", "nu"}
    assert item["a"].dtype == torch.float32 and item["a"].shape == (6, 5, 1)
    assert item["u"].shape == (4, 6, 5, 2) and item["nu"].ndim == 0
    np.testing.assert_allclose(item["u"].numpy(), u[2], rtol=1e-6)
    assert item["nu"].item() == pytest.approx(nu[2])
    np.testing.assert_allclose(ds.load("a"), a.astype(np.float32))
    np.testing.assert_allclose(ds.load("u", [5, 1, 5]), u[[5, 1, 5]].astype(np.float32))
    np.testing.assert_allclose(ds.load("nu", [3]), nu[[3]])
    with h5py.File(path) as f:
        np.testing.assert_allclose(f["support/axis0"][()], grid.axes()[0])
        for name in ("a", "u"):
            d = f["fields"][name]
            assert d.chunks == (1, *d.shape[1:]) and d.compression == "gzip" and d.shuffle
            assert d.dtype == np.float32
    assert [p.name for p in path.parent.iterdir()] == ["g.h5"]  # no temp file left behind
    assert set(H5Dataset(path, fields=["u"])[0]) == {"u", "nu"}


def test_mesh_and_points_round_trip(tmp_path):
    mesh = _mesh()
    p = RNG.standard_normal((3, 5, 1))
    write_dataset(tmp_path / "m.h5", {"p": p}, {"p": "output"}, mesh)
    back = H5Dataset(tmp_path / "m.h5").support
    assert isinstance(back, Mesh)
    np.testing.assert_array_equal(back.points, mesh.points)
    assert [t for t, _ in back.cells] == ["triangle", "line"]
    for (_, c0), (_, c1) in zip(back.cells, mesh.cells):
        np.testing.assert_array_equal(c0, c1)
    assert back.point_tags.keys() == mesh.point_tags.keys()
    for k in mesh.point_tags:
        np.testing.assert_array_equal(back.point_tags[k], mesh.point_tags[k])

    pts = RNG.uniform(size=(9, 3))
    write_dataset(tmp_path / "p.h5", {"f": RNG.standard_normal((2, 9, 3))}, {"f": "input"}, pts)
    ds = H5Dataset(tmp_path / "p.h5")
    np.testing.assert_array_equal(ds.support, pts)
    assert ds.channels["f"] == ["f0", "f1", "f2"] and ds.times is None and ds.params == {}
    assert ds[1]["f"].shape == (9, 3)


def test_write_validates_shapes(tmp_path):
    grid = _grid()
    with pytest.raises(ValueError, match=r"'u'.*\(N, 6, 5, C\)"):
        write_dataset(tmp_path / "x.h5", {"u": np.zeros((2, 5, 6, 1))}, {"u": "output"}, grid)
    with pytest.raises(ValueError, match="'b' has 3 samples"):
        write_dataset(
            tmp_path / "x.h5",
            {"a": np.zeros((2, 6, 5, 1)), "b": np.zeros((3, 6, 5, 1))},
            {"a": "input", "b": "output"},
            grid,
        )
    with pytest.raises(ValueError, match="role"):
        write_dataset(tmp_path / "x.h5", {"a": np.zeros((2, 6, 5, 1))}, {"a": "target"}, grid)
    with pytest.raises(ValueError, match="parameter 'nu'"):
        write_dataset(
            tmp_path / "x.h5", {"a": np.zeros((2, 6, 5, 1))}, {"a": "input"}, grid, params={"nu": np.zeros(3)}
        )
    assert list(tmp_path.iterdir()) == []


def test_lazy_open_and_pickle(tmp_path):
    path = write_dataset(tmp_path / "g.h5", {"a": RNG.standard_normal((4, 6, 5, 1))}, {"a": "input"}, _grid())
    ds = H5Dataset(path)
    assert ds._file is None
    first = ds[0]["a"]
    assert ds._file is not None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._file is None
    torch.testing.assert_close(clone[0]["a"], first)
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    assert next(iter(loader))["a"].shape == (2, 6, 5, 1)
    ds.close()


# ---- bad files ------------------------------------------------------------------------------
def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        H5Dataset(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="text.h5: not a readable HDF5"):
        H5Dataset(tmp_path / "text.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"plain.h5: not a sciml dataset \(missing attribute 'format'\)"):
        H5Dataset(tmp_path / "plain.h5")
    path = write_dataset(
        tmp_path / "n.h5",
        {"a": np.zeros((3, 6, 5, 1)), "b": np.zeros((3, 6, 5, 1))},
        {"a": "input", "b": "output"},
        _grid(),
    )
    with h5py.File(path, "r+") as f:
        del f["fields/b"]
        f["fields"].create_dataset("b", data=np.zeros((2, 6, 5, 1))).attrs["role"] = "output"
    with pytest.raises(ValueError, match="n.h5: field 'b' has 2 samples"):
        H5Dataset(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ValueError, match="n.h5: unknown sciml dataset format_version 99"):
        H5Dataset(path)


# ---- splits -----------------------------------------------------------------------------
def test_split_indices():
    s = split_indices(100, {"train": 0.9, "test": 0.1}, seed=1)
    assert len(s["train"]) == 90 and len(s["test"]) == 10
    assert np.array_equal(np.sort(np.concatenate(list(s.values()))), np.arange(100))
    again = split_indices(100, {"train": 0.9, "test": 0.1}, seed=1)
    assert all(np.array_equal(s[k], again[k]) for k in s)
    other = split_indices(100, {"train": 0.9, "test": 0.1}, seed=2)
    assert not np.array_equal(s["test"], other["test"])
    t = split_indices(10, (0.7, 0.2, 0.1), seed=0)  # rounding remainder is distributed
    assert list(t) == ["train", "val", "test"] and sum(map(len, t.values())) == 10
    c = split_indices(50, {"train": 30, "test": 5}, seed=0)
    assert len(c["train"]) == 30 and len(c["test"]) == 5
    assert not set(c["train"]) & set(c["test"])
    with pytest.raises(ValueError, match="> 50"):
        split_indices(50, {"train": 40, "test": 20}, seed=0)
    with pytest.raises(ValueError, match="> 1"):
        split_indices(50, {"train": 0.9, "test": 0.2}, seed=0)


# ---- ensure_dataset --------------------------------------------------------------------------
def test_ensure_dataset(tmp_path):
    path, calls = tmp_path / "cache" / "d.h5", []
    gen = {"n": 2, "res": (6, 5), "solver": {"tol": 1e-8}}

    def generate():
        calls.append(1)
        write_dataset(path, {"a": np.ones((2, 6, 5, 1))}, {"a": "input"}, _grid(), generator=gen)

    assert ensure_dataset(path, generate, gen) == path and len(calls) == 1
    assert ensure_dataset(path, generate, dict(gen)) == path and len(calls) == 1
    changed = {**gen, "solver": {"tol": 1e-6}}
    with pytest.raises(ValueError, match=r"d.h5.*solver\.tol.*[Dd]elete the file"):
        ensure_dataset(path, generate, changed)
    assert len(calls) == 1


# ---- file permissions, interrupted and killed generation ----------------------------------------
ROOT = Path(__file__).resolve().parents[1]
# `sciml data generate` on a small Darcy set; the child holds its temporary file open (its solver
# is done, the HDF5 file half written) until the test signals it
GENERATE = [
    "data",
    "generate",
    str(ROOT / "cases" / "darcy_fno.yaml"),
    "--set",
    "data.path=d.h5",
    "--set",
    "problem.resolution=9",
    "--set",
    "data.n_train=6",
    "--set",
    "data.n_test=2",
]
_HOLDING_CHILD = """
import sys, time
import sciml.data.hdf5 as h

write_support = h._write_support
def holding(f, support):
    write_support(f, support)
    time.sleep(600)  # not synchronisation: a stand-in for a long write that the test's signal stops
h._write_support = holding
from sciml.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _temps(directory: Path, name: str = "d.h5") -> list[Path]:
    return sorted(directory.glob(f".{name}.*"))


def _start_holding_generator(cwd: Path) -> tuple[subprocess.Popen, Path]:
    """A `sciml data generate` child and its temporary file, once that file exists."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDING_CHILD, *GENERATE],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300  # generous: importing torch on a loaded machine is slow
    while not _temps(cwd):
        if proc.poll() is not None:
            pytest.fail(f"the generator exited ({proc.returncode}) before writing: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no temporary file after 300 s: {proc.communicate()}")
        time.sleep(0.05)
    (tmp,) = _temps(cwd)
    return proc, tmp


def test_dataset_permissions_follow_the_umask(tmp_path):
    # like every other output, a dataset is 0o666 & ~umask (mkstemp alone would leave it 0600)
    code = (
        "import os, sys; os.umask(0o027)\n"
        "import numpy as np; from sciml.data import write_dataset; from sciml.mesh import Grid\n"
        "write_dataset(sys.argv[1], {'a': np.ones((2, 3, 1))}, {'a': 'input'}, Grid((3,), ((0.0, 1.0),)))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "u.h5")], check=True, timeout=300)
    assert stat.S_IMODE((tmp_path / "u.h5").stat().st_mode) == 0o640
    path = write_dataset(tmp_path / "v.h5", {"a": np.ones((2, 6, 5, 1))}, {"a": "input"}, _grid())
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_generation_removes_the_partial_file(tmp_path, monkeypatch, sig):
    import sciml.data.hdf5 as h

    path, gen = tmp_path / "d.h5", {"n": 2}
    write_support = h._write_support

    def signalled(f, support):  # the temporary file exists now, half written
        write_support(f, support)
        assert _temps(tmp_path, "d.h5")
        os.kill(os.getpid(), sig)
        time.sleep(60)  # the handler interrupts this at once

    monkeypatch.setattr(h, "_write_support", signalled)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(h.GenerationInterrupted, match=f"{sig.name} while generating .*d.h5"):
        ensure_dataset(
            path, lambda: write_dataset(path, {"a": np.ones((2, 6, 5, 1))}, {"a": "input"}, _grid(), generator=gen), gen
        )
    assert list(tmp_path.iterdir()) == []
    assert {s: signal.getsignal(s) for s in before} == before  # the caller's handlers are back


def test_sigterm_stops_sciml_data_generate_cleanly(tmp_path):
    proc, tmp = _start_holding_generator(tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (out, err)
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert not tmp.exists() and list(tmp_path.iterdir()) == []


def test_next_generation_removes_a_killed_generators_temp_but_not_a_live_ones(tmp_path, monkeypatch):
    from sciml.cli import main

    proc, stale = _start_holding_generator(tmp_path)
    proc.kill()  # SIGKILL: no handler runs, the temporary file stays
    proc.communicate(timeout=300)
    assert stale.exists() and str(proc.pid) in stale.name
    # a second generator of the same file, still at work (this process stands in for it)
    live = stale.with_name(stale.name.replace(f".{proc.pid}.", f".{os.getpid()}.", 1))
    live.write_bytes(b"partial")
    monkeypatch.chdir(tmp_path)
    assert main(GENERATE) == 0
    assert not stale.exists() and live.read_bytes() == b"partial"
    assert H5Dataset(tmp_path / "d.h5").n_samples == 8


# ---- PDEBench ---------------------------------------------------------------------------------
def _pdebench_file(path, keys=("tensor", "nu", "x-coordinate", "y-coordinate")):
    c = ((np.arange(8) + 0.5) / 8).astype(np.float32)
    data = {
        "tensor": RNG.standard_normal((3, 1, 8, 8)).astype(np.float32),
        "nu": RNG.uniform(size=(3, 8, 8)).astype(np.float32),
        "x-coordinate": c,
        "y-coordinate": c,
    }
    with h5py.File(path, "w") as f:
        for k in keys:
            f[k] = data[k]
    return data


def test_pdebench_darcy(tmp_path):
    src = tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5"
    raw = _pdebench_file(src)
    d = read_pdebench_darcy(src)
    assert d["a"].shape == d["u"].shape == (3, 8, 8, 1) and d["beta"] == 1.0
    np.testing.assert_array_equal(d["a"][..., 0], raw["nu"])
    np.testing.assert_array_equal(d["u"][..., 0], raw["tensor"][:, 0])
    g = d["grid"]
    assert g.shape == (8, 8) and g.bounds[0] == pytest.approx((0.0625, 0.9375))
    np.testing.assert_allclose(g.axes()[0], raw["x-coordinate"], atol=1e-7)
    out = convert_pdebench_darcy(src, tmp_path / "darcy.h5")
    ds = H5Dataset(out)
    assert ds.inputs == ["a"] and ds.outputs == ["u"] and ds.support == g
    assert ds.attrs["problem"] == "darcy2d"
    assert ds.attrs["generator"] == {"source": "pdebench", "file": src.name}
    np.testing.assert_array_equal(ds[1]["u"].numpy(), d["u"][1])
    assert ds[1]["beta"].item() == 1.0


def test_pdebench_errors(tmp_path):
    bad = tmp_path / "2D_DarcyFlow_beta0.1_Train.hdf5"
    _pdebench_file(bad, keys=("tensor", "x-coordinate", "y-coordinate"))
    with pytest.raises(ValueError, match=r"2D_DarcyFlow_beta0.1_Train.hdf5 has no dataset 'nu'; found: \["):
        read_pdebench_darcy(bad)
    odd = tmp_path / "darcy.hdf5"
    _pdebench_file(odd)
    with h5py.File(odd, "r+") as f:
        del f["x-coordinate"]
        f["x-coordinate"] = np.array([0, 1, 2, 3, 4, 5, 6, 8], dtype=np.float32)
    with pytest.raises(ValueError, match="x-coordinate' is not uniformly spaced"):
        read_pdebench_darcy(odd)


# ---- normalizers ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduce_dims", ["pointwise", "channel"])
def test_unit_gaussian_normalizer(reduce_dims):
    x = torch.randn(64, 6, 5, 2) * torch.tensor([3.0, 0.1]) + torch.tensor([5.0, -2.0])
    norm = UnitGaussianNormalizer(reduce_dims).fit(x)
    assert norm.mean.shape == ((6, 5, 2) if reduce_dims == "pointwise" else (2,))
    z = norm.encode(x)
    torch.testing.assert_close(norm.decode(z), x, atol=1e-5, rtol=1e-5)
    dims = (0,) if reduce_dims == "pointwise" else (0, 1, 2)
    assert z.mean(dim=dims).abs().max() < 1e-4
    assert (z.std(dim=dims, correction=0) - 1).abs().max() < 1e-3
    fresh = UnitGaussianNormalizer(reduce_dims)
    fresh.load_state_dict(norm.state_dict())
    torch.testing.assert_close(fresh.encode(x), z)
    with pytest.raises(RuntimeError, match="before fit"):
        UnitGaussianNormalizer().encode(x)


def test_identity_normalizer():
    x = torch.randn(3, 4, 1)
    ident = IdentityNormalizer().fit(x)
    assert ident.encode(x) is x and ident.decode(x) is x and ident.state_dict() == {}


# ---- a file that differs from the case's generator settings --------------------------------------
def test_refused_file_advice_fits_a_users_file(tmp_path):
    """A file the case would not have generated is refused with advice for both kinds of file: your own
    (read it with data.generate: false) and one sciml generated for another setting (regenerate it)."""
    from sciml.config import OptionError
    from sciml.data.operator import check_dataset_file, generator_config
    from sciml.registry import PROBLEMS

    problem = PROBLEMS.build("darcy2d", {"resolution": 8})
    grid = Grid((8, 8), ((0.0, 1.0), (0.0, 1.0)))
    a, u = RNG.random((6, 8, 8, 1)), RNG.random((6, 8, 8, 1))
    # made by sciml for another seed
    ours = write_dataset(
        tmp_path / "ours.h5",
        {"a": a, "u": u},
        {"a": "input", "u": "output"},
        grid,
        problem="darcy2d",
        generator=generator_config(problem, 6, 1),
    )
    with pytest.raises(OptionError) as err:
        check_dataset_file(problem, ours, 6, 0, generate=True)
    msg = str(err.value)
    assert "generated with different settings: seed (stored 1, requested 0)" in msg
    assert "if this is your own file, set data.generate: false" in msg.lower()
    assert "if sciml generated it for another setting, regenerate it (delete the file)" in msg
    assert "Delete the file or choose another path" not in msg
    # a user's own file (here a converted PDEBench one): no generator record of a problem
    src = tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5"
    _pdebench_file(src)
    theirs = convert_pdebench_darcy(src, tmp_path / "theirs.h5")
    with pytest.raises(OptionError) as err:
        check_dataset_file(problem, theirs, 3, 0, generate=True)
    msg = str(err.value)
    assert "was not made by problem 'darcy2d''s generator" in msg and "source: pdebench" in msg
    assert "if this is your own file, set data.generate: false to read it as it is" in msg
    assert "regenerate it (delete the file)" in msg
    # with generate: false both are read as they are
    assert len(check_dataset_file(problem, ours, 6, 0, generate=False)) == 6
    assert len(check_dataset_file(problem, theirs, 3, 0, generate=False)) == 3
    # a file whose fields are not the problem's: advice for a user's file too
    other = write_dataset(tmp_path / "other.h5", {"k": a, "u": u}, {"k": "input", "u": "output"}, grid)
    with pytest.raises(
        OptionError,
        match=r"no field 'a'.*regenerate it.*your own file, write it with "
        r"problem 'darcy2d''s fields and grid",
    ):
        check_dataset_file(problem, other, 6, 0, generate=False)


def test_ensure_dataset_advice_fits_a_users_file(tmp_path):
    path = write_dataset(
        tmp_path / "d.h5", {"a": np.ones((2, 6, 5, 1))}, {"a": "input"}, _grid(), generator={"source": "mine"}
    )
    with pytest.raises(
        ValueError,
        match=r"If this is your own file, read it as it is .*data.generate: false.*"
        r"delete the file to regenerate it",
    ):
        ensure_dataset(path, lambda: None, {"n": 2})


# ---- problem from_data: fields, roles and grid from the file -------------------------------------
def _own_file(tmp_path) -> Path:
    grid = Grid((8, 6), ((0.0, 1.0), (0.0, 2.0)))
    k, p = RNG.random((10, 8, 6, 2)), RNG.random((10, 8, 6, 1))
    return write_dataset(
        tmp_path / "mine.h5",
        {"k": k, "p": p},
        {"k": "input", "p": "output"},
        grid,
        channels={"k": ["kx", "ky"], "p": ["pressure"]},
        generator={"source": "mine"},
    )


def test_problem_from_data(tmp_path):
    from sciml.config import OptionError
    from sciml.registry import DATA, PROBLEMS

    path = _own_file(tmp_path)
    problem = PROBLEMS.build("from_data", {"path": str(path)})
    io = problem.io_spec()
    assert (io.inputs, io.outputs, io.ndim) == (("kx", "ky"), ("pressure",), 2)
    # data.path defaults to the problem's file; generate (on by default) compares no generator settings
    data = DATA.build("hdf5", {"n_train": 6, "n_test": 4, "batch_size": 3}, problem=problem, seed=0)
    assert data.input_names == ["kx", "ky"] and data.output_names == ["pressure"]
    assert data.next_batch()["x"].shape == (3, 8, 6, 2)
    with pytest.raises(OptionError, match="no such file"):
        PROBLEMS.build("from_data", {"path": str(tmp_path / "nope.h5")})
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(OptionError, match="not a readable HDF5 file"):
        PROBLEMS.build("from_data", {"path": str(tmp_path / "junk.h5")})


def test_case_with_problem_from_data_validates_output_fields(tmp_path):
    import yaml

    from sciml.config import CaseError, load_case

    path = _own_file(tmp_path)
    case = {
        "name": "mine",
        "problem": {"type": "from_data", "path": str(path)},
        "data": {"type": "hdf5", "n_train": 6, "n_test": 4, "batch_size": 3},
        "model": {"type": "fno", "n_modes": [2, 2], "hidden_channels": 4, "n_layers": 1, "projection_channels": 4},
        "method": {"type": "supervised"},
        "train": {"stages": [{"optimizer": "adam", "lr": 1e-3, "steps": 1}]},
        "output": {"fields": ["pressure"]},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(case))
    assert load_case(tmp_path / "c.yaml").problem["type"] == "from_data"
    case["output"]["fields"] = ["u"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(case))
    with pytest.raises(CaseError, match=r"unknown field 'u'; 'from_data' has: kx, ky, pressure"):
        load_case(tmp_path / "c.yaml")
