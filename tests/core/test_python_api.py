"""The documented Python API: run_case writes what `sciml run` writes, load_run gives back a
finished run with its trained weights, SCIML_MAX_STEPS caps trainings, and collocation data on a
steady problem needs no n_initial."""

import json
from pathlib import Path

import pytest

import sciml
from sciml import LoadedRun, load_case, load_run, run_case
from sciml.cli import main
from sciml.config import CaseError
from sciml.train import CheckpointError

ROOT = Path(__file__).resolve().parents[2]
BURGERS = ROOT / "cases" / "burgers_pinn.yaml"
TINY = [
    "train.stages.0.steps=6",
    "train.stages.1.steps=2",
    "problem.n_x=16",
    "problem.n_t=4",
    "data.n_interior=64",
    "data.n_boundary=8",
    "data.n_initial=8",
    "model.width=8",
    "train.progress=false",
]


def _files(run_path: Path) -> set[str]:
    return {str(p.relative_to(run_path)) for p in run_path.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run_dir, metrics = run_case(load_case(BURGERS, TINY + [f"output.dir={out}"]))
    return run_dir, metrics


def test_public_names():
    import sys

    assert sciml.run_case is sys.modules["sciml.run"].run_case and sciml.load_run is load_run
    assert {"run_case", "load_run", "LoadedRun", "build", "load_case", "Trainer"} <= set(sciml.__all__)
    from sciml.run import run  # the old name still works

    assert run is run_case


def test_run_case_writes_what_the_cli_writes(finished, tmp_path, capsys):
    run_dir, metrics = finished
    summary = json.loads((run_dir.path / "summary.json").read_text())
    assert summary["metrics"] == pytest.approx(metrics)
    assert (
        main(["run", str(BURGERS), "--quiet", "--output", str(tmp_path)] + [a for s in TINY for a in ("--set", s)]) == 0
    )
    cli_dir = Path(capsys.readouterr().out.split("run directory: ")[1].split()[0])
    assert _files(run_dir.path) == _files(cli_dir)
    assert {"summary.json", "report.md", "case.yaml", "checkpoints/last.pt", "plots/losses.png"} <= _files(cli_dir)
    assert any(f.startswith("fields/") for f in _files(cli_dir))
    cli_metrics = json.loads((cli_dir / "summary.json").read_text())["metrics"]
    assert cli_metrics.keys() == metrics.keys()
    same = {k for k in metrics if "time" not in k}  # same case, same seed: the same run (but its clock)
    assert {k: cli_metrics[k] for k in same} == pytest.approx({k: metrics[k] for k in same})


def test_load_run_evaluates_to_the_summary(finished):
    run_dir, metrics = finished
    loaded = load_run(run_dir.path)
    assert isinstance(loaded, LoadedRun) and loaded.run_dir.path == run_dir.path
    path, case, parts = loaded  # unpacks like sciml.cli's tuple
    assert case.name == "burgers_pinn" and not parts.method.training
    got = parts.method.evaluate(parts.data)
    summary = json.loads((run_dir.path / "summary.json").read_text())["metrics"]
    assert got["rel_l2"] == pytest.approx(summary["eval/rel_l2"], rel=1e-5)
    assert got["rel_l2"] == pytest.approx(metrics["eval/rel_l2"], rel=1e-5)


def test_load_run_errors_are_one_line(finished, tmp_path, capsys):
    run_dir, _ = finished
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "case.yaml").write_text((run_dir.path / "case.yaml").read_text())
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_run(broken)
    (broken / "checkpoints").mkdir(exist_ok=True)  # RunDir.open made it
    (broken / "checkpoints" / "last.pt").write_bytes((run_dir.checkpoints / "last.pt").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="last.pt"):
        load_run(broken)
    assert main(["eval", str(broken)]) == 2  # the CLI keeps its one-line error
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml eval: error:") and "last.pt" in err and "\n" not in err
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "nowhere")


def test_max_steps_caps_every_stage(monkeypatch, tmp_path):
    monkeypatch.setenv("SCIML_MAX_STEPS", "7")
    case = load_case(BURGERS, ["train.stages.0.steps=2000"])
    assert [s.steps for s in case.train.stages] == [7, 7]
    fno = load_case(ROOT / "cases" / "darcy_fno.yaml", [f"data.path={tmp_path / 'd.h5'}"])
    assert all(s.epochs == 7 and s.steps == 0 for s in fno.train.stages)
    monkeypatch.setenv("SCIML_MAX_STEPS", "500")
    assert [s.steps for s in load_case(BURGERS, ["train.stages.1.steps=3"]).train.stages] == [500, 3]
    monkeypatch.setenv("SCIML_MAX_STEPS", "ten")
    with pytest.raises(CaseError, match="SCIML_MAX_STEPS"):
        load_case(BURGERS)


def test_steady_collocation_needs_no_n_initial():
    import sciml.components  # noqa: F401  (registries)
    from sciml.data.collocation import CollocationData
    from sciml.registry import DATA, PROBLEMS

    case = load_case(ROOT / "cases" / "crack_pinn.yaml", ["data.n_initial=0"])  # steady: ignored, may be 0
    assert case.data["n_initial"] == 0
    poisson = PROBLEMS.build("poisson1d_multiscale", {})
    data = CollocationData(poisson, 32, 4)  # no n_initial, no sampler/seed: the builder's defaults
    assert set(data.points) == {"interior", "boundary"}
    assert set(DATA.build("collocation", {"n_interior": 32}, problem=poisson, seed=0).points) == {
        "interior",
        "boundary",
    }
    with pytest.raises(CaseError, match="n_initial"):  # a time-dependent problem does need initial points
        load_case(BURGERS, ["data.n_initial=0"])
    burgers = PROBLEMS.build("burgers1d", {"n_x": 16, "n_t": 4})
    with pytest.raises(ValueError, match="n_initial must be >= 1"):
        CollocationData(burgers, 32, 4, 0)
