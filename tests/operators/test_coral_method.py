"""CORAL as a method of the one Trainer: a case with named networks (two neural fields and a
processor) and two stages of phases ``fields`` and ``processor`` on a dataset whose samples each
have their own points (HDF5 format version 2, read by ``problem: from_data``): each phase trains
only its own networks, the processor learns from codes cached at its stage's start, a run stopped
inside either phase (or at the switch) resumes bit for bit, and predictions come on each sample's
own points."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_train import assert_resumes_bit_for_bit, train  # tests/core/test_train.py

from benchmarks.coral_disks import F, P, case_of, disks  # the toy dataset and its case
from benchmarks.soak_resume import differences  # the soak's bitwise comparison
from sciml import load_case


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return disks(tmp_path_factory.mktemp("coral") / "disks.h5")


def snapshot(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_each_phase_trains_its_own_networks(data, tmp_path):
    built, _, metrics = train(case_of(data, tmp_path))
    method = built.method
    assert {"eval/rel_l2", "eval/fit_rel_l2"} <= set(metrics) and all(np.isfinite(list(metrics.values())))
    # fields only: the processor keeps its initial weights
    only = case_of(data, tmp_path, [{"optimizer": "adam", "lr": 1e-3, "steps": F, "phase": "fields"}])
    b2, _, _ = train(only)
    fresh, _, _ = train(case_of(data, tmp_path, [{"optimizer": "adam", "lr": 1e-3, "steps": 1, "phase": "processor"}]))
    # (the processor stage alone changes no field: every field weight equals the initial one)
    init = case_of(data, tmp_path, [{"optimizer": "adam", "lr": 1e-3, "steps": 1, "phase": "fields"}])
    from sciml.run import build

    start = build(init).method
    for name in ("field_in", "field_out"):
        assert not differences(snapshot(getattr(fresh.method, name)), snapshot(getattr(start, name)), name)
        assert differences(snapshot(getattr(b2.method, name)), snapshot(getattr(start, name)), name)
    assert not differences(snapshot(b2.method.processor), snapshot(start.processor), "processor")
    assert differences(snapshot(fresh.method.processor), snapshot(start.processor), "processor")
    # the processor learned from the cached codes: each training sample's row is its code from the
    # frozen fields, and the loss is the MSE of the processor's map of its standardized codes
    assert bool(method.cached) and method.codes_in.shape == (8, 8)
    i = int(built.data.train_index[0])
    batch = built.data.batch_of([i])
    x, mask, a, u = method._split(batch)
    torch.testing.assert_close(method.codes_in[method.rows[i]], method.field_in.encode(x, a, mask)[0])
    torch.testing.assert_close(method.codes_out[method.rows[i]], method.field_out.encode(x, u, mask)[0])
    zin = (method.codes_in[method.rows[i]] - method.mean_in) / method.std_in
    zout = (method.codes_out[method.rows[i]] - method.mean_out) / method.std_out
    with torch.no_grad():
        want = (method.processor(zin[None]) - zout[None]).square().mean()
        torch.testing.assert_close(method.loss(batch)["codes"], want)
    # the fields saw standardized values: mean 0, std 1 per channel over the training points
    vals = torch.cat([built.data.batch_of([j])["a"][0] for j in built.data.train_index.tolist()])
    torch.testing.assert_close(vals.mean(0), method.shift_in, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(vals.std(0, unbiased=False), method.scale_in, rtol=1e-4, atol=1e-6)


def test_bad_processors_and_options_are_one_line(data, tmp_path):
    from sciml.run import build

    with pytest.raises(ValueError, match=r"^model.processor: a code ODE \(code_ode\) is for trajectories"):
        build(case_of(data, tmp_path, processor={"type": "code_ode"}))
    with pytest.raises(ValueError, match=r"^method.tf_start is for trajectories; the data have no times"):
        build(load_case(tmp_path / "coral.yaml", ["method.tf_start=0.5"]))


@pytest.mark.parametrize("stop_at", [3, F, F + 3])  # inside the fields phase, at the switch, inside the processor's
def test_a_run_stopped_in_either_phase_resumes_bit_for_bit(data, tmp_path, stop_at):
    _, tr, _ = assert_resumes_bit_for_bit(lambda: case_of(data, tmp_path), tmp_path, stop_at)
    assert tr.state.step == F + P


def test_a_case_writes_predictions_on_each_samples_own_points(data, tmp_path):
    import pyvista as pv

    from sciml.run import run_case

    run_dir, metrics = run_case(case_of(data, tmp_path))
    files = sorted((run_dir.path / "fields").glob("*.vtu"))
    assert len(files) == 2
    sizes = set()
    for f in files:
        grid = pv.read(f)
        sizes.add(grid.n_points)
        for name in ("f", "dist", "u", "u_ref", "u_error"):
            assert name in grid.point_data
        np.testing.assert_allclose(
            grid.point_data["u_error"], grid.point_data["u"] - grid.point_data["u_ref"], atol=1e-6
        )
    assert all(40 <= n <= 80 for n in sizes)


def test_decoding_on_other_points_and_on_a_users_mesh(data, tmp_path, capsys):
    """On a test sample's own points the decoded prediction is the method's prediction and the
    interpolated reference is the reference itself; ``sciml eval RUN --mesh FILE`` writes the
    prediction on a user's mesh (here a finer triangulation of a disk) with the reference
    interpolated, NaN outside the sample's points."""
    import meshio
    import pyvista as pv
    from scipy.spatial import Delaunay

    from sciml.cli import main
    from sciml.run import run_case

    run_dir, _ = run_case(case_of(data, tmp_path))
    from sciml.run import load_run

    _, _, built = load_run(run_dir.path)
    method, d = built.method, built.data
    i = int(d.test_index[0])
    own = d.dataset.support[i]
    [(stem, field)] = method.decode_on(d, own, [i], stem="own")
    rows = {r[0]: r for r in method._test(d)}
    np.testing.assert_allclose(field.values[:, 0], rows[i][3][:, 0], rtol=1e-5, atol=1e-6)  # the prediction
    np.testing.assert_allclose(field.values[:, 1], rows[i][4][:, 0], rtol=1e-6, atol=1e-7)  # the reference
    # a user's mesh: the unit disk (every sample's disk lies inside) with 1200 points, finer than
    # any sample's 40-80 points, and the sample's own points among them
    g = np.linspace(-1.0, 1.0, 39)
    pts = np.array([(x, y) for x in g for y in g if x * x + y * y <= 1.0])
    pts = np.concatenate([pts, own])
    mesh_file = tmp_path / "disk.vtu"
    meshio.write(mesh_file, meshio.Mesh(np.c_[pts, np.zeros(len(pts))], [("triangle", Delaunay(pts).simplices)]))
    assert main(["eval", str(run_dir.path), "--mesh", str(mesh_file), "--sample", str(i)]) == 0
    out = run_dir.path / "fields" / f"disk_sample{i:03d}.vtu"
    grid = pv.read(out)
    assert grid.n_points == len(pts) and {"u", "u_ref", "u_error"} <= set(grid.point_data)
    inside = np.isfinite(grid.point_data["u_ref"])
    assert 0 < inside.sum() < len(pts)  # the sample's points cover part of the unit disk: NaN elsewhere
    err = grid.point_data["u"] - grid.point_data["u_ref"]
    np.testing.assert_allclose(grid.point_data["u_error"][inside], err[inside], rtol=1e-6, atol=1e-6)
    mine = slice(len(pts) - len(own), None)  # at the sample's own points: the prediction and the reference
    np.testing.assert_allclose(grid.point_data["u"][mine], rows[i][3][:, 0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grid.point_data["u_ref"][mine], rows[i][4][:, 0], rtol=1e-5, atol=1e-6)
    assert "rel L2 against the reference interpolated" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"^sample 9999 is not a test sample"):
        method.decode_on(d, own, [9999])
