"""Small command-line and output details users noticed (issue 13 §8): compare columns, progress bar
on a log, stage boundaries on the loss plot, `sciml list` descriptions."""
from pathlib import Path

from sciml.cli import main
from sciml.config import load_case
from sciml.output import RunDir

ROOT = Path(__file__).resolve().parents[2]


def _fake_run(root, overrides, metrics):
    """A finished run directory (saved case and summary) without training."""
    case = load_case(str(ROOT / "cases" / "burgers_pinn.yaml"), overrides)
    run_dir = RunDir.create(root, case.name)
    run_dir.save_case(case.to_dict())
    run_dir.save_summary({"case": case.name, "metrics": metrics})
    return run_dir.path


def test_compare_shows_problem_model_method_and_stages(tmp_path, capsys):
    mlp = _fake_run(tmp_path / "a", [], {"eval/rel_l2": 0.0375})
    kan = _fake_run(tmp_path / "b", ["model={type: kan, widths: [10, 10], grid_size: 5}",
                                     "train.stages.1.steps=700"], {"eval/rel_l2": 0.05})
    assert main(["compare", str(mlp), str(kan)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:5] == ["run", "problem", "model", "method", "stages"] and "eval/rel_l2" in header
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]}
    assert rows[str(mlp)][1:5] == ["burgers1d", "mlp width=20 depth=3", "pinn", "adam 5000 + lbfgs 1500"]
    assert rows[str(kan)][1:5] == ["burgers1d", "kan widths=10x10 grid_size=5", "pinn", "adam 5000 + lbfgs 700"]
    assert rows[str(mlp)][5] == "0.0375"
