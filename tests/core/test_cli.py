"""The `sciml` command line: list, run, data generate, eval, export, compare, errors, Ctrl-C + resume."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import pyvista as pv

from sciml.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = [
    "train.stages.0.steps=20",
    "train.stages.1.steps=5",
    "problem.n_x=32",
    "problem.n_t=10",
    "data.n_interior=200",
    "model.width=8",
]


def sets(items):
    out = []
    for s in items:
        out += ["--set", s]
    return out


def test_help_everywhere(capsys):
    for argv in (
        ["--help"],
        ["run", "--help"],
        ["data", "--help"],
        ["data", "generate", "--help"],
        ["list", "--help"],
        ["eval", "--help"],
        ["export", "--help"],
        ["compare", "--help"],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
        assert "usage: sciml" in capsys.readouterr().out


def test_list_shows_every_registry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in (
        "problems:",
        "burgers1d",
        "darcy2d",
        "models:",
        "mlp",
        "fno",
        "methods:",
        "pinn",
        "supervised",
        "data:",
        "collocation",
        "hdf5",
        "writers:",
        "vtu",
        "xdmf",
    ):
        assert word in out


def test_bad_case_exits_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "cases" / "burgers_pinn.yaml").read_text().replace("width: 20", "widht: 20"))
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:" in err and "model.widht" in err and "valid options" in err


def test_run_eval_export_compare(tmp_path, capsys):
    case = str(ROOT / "cases" / "burgers_pinn.yaml")
    assert main(["run", case, "--quiet", "--output", str(tmp_path)] + sets(SMALL)) == 0
    run_dir = Path(capsys.readouterr().out.split("run directory: ")[1].split()[0])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0 < summary["metrics"]["eval/rel_l2"] < 2
    # the time series opens in VTK: 10 steps with prediction, reference and error arrays
    reader = pv.get_reader(str(run_dir / "fields" / "solution.pvd"))
    assert len(reader.time_values) == 10
    reader.set_active_time_value(reader.time_values[3])
    mesh = reader.read()[0]
    assert {"u", "u_ref", "u_error"} <= set(mesh.point_data.keys())
    assert (run_dir / "fields" / "solution.xdmf").exists() and (run_dir / "plots" / "losses.png").exists()
    assert main(["eval", str(run_dir)]) == 0
    out = capsys.readouterr().out
    rel = float(out.split("eval/rel_l2")[1].split()[0])
    assert rel == pytest.approx(summary["metrics"]["eval/rel_l2"], rel=1e-5)
    assert main(["export", str(run_dir), "--formats", "xdmf"]) == 0
    assert main(["compare", str(run_dir), str(run_dir)]) == 0
    assert "eval/rel_l2" in capsys.readouterr().out


def test_data_generate_builds_and_caches(tmp_path, capsys):
    case = str(ROOT / "cases" / "darcy_fno.yaml")
    path = tmp_path / "d.h5"
    args = ["data", "generate", case] + sets(
        [f"data.path={path}", "problem.resolution=9", "data.n_train=6", "data.n_test=2"]
    )
    assert main(args) == 0
    assert path.exists()
    mtime = path.stat().st_mtime_ns
    assert main(args) == 0  # cached: not rewritten
    assert path.stat().st_mtime_ns == mtime
    # different generator settings for an existing file are refused, naming the difference
    assert main(args[:-2] + ["--set", "data.n_train=7"]) == 2
    assert "n_samples" in capsys.readouterr().err


def _run_cli(args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "sciml.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_ctrl_c_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    case = str(ROOT / "cases" / "burgers_pinn.yaml")
    over = sets(
        [
            "train.stages.0.steps=1500",
            "train.stages.1.steps=20",
            "train.checkpoint_every=50",
            "train.eval_every=10000",
            "train.log_every=10",
            "problem.n_x=32",
            "problem.n_t=10",
            "data.n_interior=200",
            "model.width=8",
            "dtype=float64",
        ]
    )
    full = _run_cli(["run", case, "--quiet", "--output", str(tmp_path / "a")] + over)
    out, err = full.communicate(timeout=300)
    assert full.returncode == 0, err
    ref = json.loads(next((tmp_path / "a").glob("*/*/summary.json")).read_text())["metrics"]

    # the same command in a process that sends itself SIGINT once it logs step 730 (between two
    # checkpoints): deterministic on any machine, however fast or loaded
    argv = ["run", case, "--quiet", "--output", str(tmp_path / "b")] + over
    child = (
        "import os, signal, sys\n"
        "import sciml.train as t\n"
        "log = t.Trainer._log\n"
        "def _log(self, rec):\n"
        "    log(self, rec)\n"
        "    if rec.get('step') == 730 and 'loss' in rec:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "t.Trainer._log = _log\n"
        "from sciml.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (out, err)
    assert "resume with: sciml run --resume" in err and "stopped at step 730" in err
    run_dir = next((tmp_path / "b").glob("*/*/"))
    assert not (run_dir / "summary.json").exists()
    res = _run_cli(["run", "--resume", str(run_dir), "--quiet"])
    out, err = res.communicate(timeout=300)
    assert res.returncode == 0, err
    got = json.loads((run_dir / "summary.json").read_text())["metrics"]
    assert got["eval/rel_l2"] == ref["eval/rel_l2"]  # resume is exact: the same computation, bit for bit
    assert got["loss"] == ref["loss"]
