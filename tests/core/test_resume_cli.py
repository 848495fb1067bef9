"""`sciml run --resume`, `eval`, `export`, `compare` on damaged or unusual run directories: a run
resumes from its first second, --resume never damages a run, every bad file is one line, and the
files a run writes are strict and complete."""

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from sciml.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASE = str(ROOT / "cases" / "burgers_pinn.yaml")
SMALL = [
    "train.stages.0.steps=12",
    "train.stages.1.steps=4",
    "problem.n_x=16",
    "problem.n_t=6",
    "data.n_interior=64",
    "data.n_boundary=8",
    "data.n_initial=16",
    "model.width=6",
    "train.checkpoint_every=5",
    "train.log_every=2",
    "train.eval_every=100",
]


def sets(items):
    return [a for s in items for a in ("--set", s)]


def run_case(tmp_path, capsys, extra=()):
    assert main(["run", CASE, "--quiet", "--output", str(tmp_path / "runs")] + sets(SMALL + list(extra))) == 0
    return Path(capsys.readouterr().out.split("run directory: ")[1].split()[0])


def weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)["method"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k  # the same computation replayed: bit for bit


def one_error_line(capsys, *words):
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "error:" in lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run (module-wide; tests copy it before changing it)."""
    tmp = tmp_path_factory.mktemp("finished")
    assert main(["run", CASE, "--quiet", "--output", str(tmp / "runs")] + sets(SMALL)) == 0
    return next((tmp / "runs" / "burgers_pinn").iterdir())


def copy_run(src, tmp_path):
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def test_a_run_killed_before_its_first_checkpoint_starts_over_in_place(finished, tmp_path, capsys):
    run_dir = copy_run(finished, tmp_path)
    # what a kill in the first seconds leaves: the saved case, maybe a few metrics, no checkpoint
    for p in (run_dir / "checkpoints").iterdir():
        p.unlink()
    (run_dir / "summary.json").unlink()
    (run_dir / "metrics.jsonl").write_text('{"step": 2, "stage": 0, "loss": 1.0}\n{"step": 4, "sta')
    assert main(["run", "--resume", str(run_dir), "--quiet"]) == 0
    capsys.readouterr()
    assert_same_weights(weights(run_dir), weights(finished))
    steps = [r["step"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert steps == sorted(set(steps)) and steps[0] == 2 and steps[-1] == 16  # logged once each


def test_summary_is_strict_json_with_losses_and_the_final_eval_is_logged(finished):
    text = (finished / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert {"loss", "eval/rel_l2", "train_time_s"} <= set(summary["metrics"])
    assert any(k.startswith("loss/") for k in summary["metrics"])
    recs = [json.loads(ln) for ln in (finished / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in recs if r.get("final")]
    assert len(final) == 1 and final[0]["step"] == 16  # eval_every=100 never fired: only the final one
    assert final[0]["eval/rel_l2"] == pytest.approx(summary["metrics"]["eval/rel_l2"], rel=1e-12)


def test_resuming_a_finished_run_keeps_its_losses(finished, tmp_path, capsys):
    run_dir = copy_run(finished, tmp_path)
    before = json.loads((run_dir / "summary.json").read_text())["metrics"]
    assert main(["run", "--resume", str(run_dir), "--quiet"]) == 0
    capsys.readouterr()
    after = json.loads((run_dir / "summary.json").read_text())["metrics"]
    for k in before:
        if k.startswith("loss") or k.startswith("eval/"):
            assert after[k] == pytest.approx(before[k], rel=1e-12), k
    recs = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert sum(1 for r in recs if r.get("final")) == 1  # the old final record was replaced, not repeated


def test_resume_refuses_an_override_the_checkpoint_cannot_take_and_leaves_the_run_intact(finished, tmp_path, capsys):
    run_dir = copy_run(finished, tmp_path)
    saved = (run_dir / "case.yaml").read_bytes()
    for key in ("model.width=40", "problem.params.nu=0.1", "seed=3", "dtype=float64", "train.stages.0.lr=0.1"):
        assert main(["run", "--resume", str(run_dir), "--set", key]) == 2
        one_error_line(capsys, key.split("=")[0], "cannot change on --resume")
        assert (run_dir / "case.yaml").read_bytes() == saved
    assert main(["eval", str(run_dir)]) == 0  # still usable
    capsys.readouterr()


def test_resume_takes_more_steps_and_a_new_stage(finished, tmp_path, capsys):
    run_dir = copy_run(finished, tmp_path)
    assert (
        main(
            [
                "run",
                "--resume",
                str(run_dir),
                "--quiet",
                "--set",
                "train.stages.2={optimizer: adam, lr: 1.0e-4, steps: 3}",
                "--set",
                "output.formats=[vtu]",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    printed = dict(ln.split() for ln in out.splitlines() if ln.startswith("  "))
    assert float(printed["steps"]) == 19
    saved = yaml.safe_load((run_dir / "case.yaml").read_text())
    assert saved["train"]["stages"][2]["steps"] == 3  # the resumed case is saved with the new stage


def test_case_and_resume_together_are_refused(finished, capsys):
    assert main(["run", CASE, "--resume", str(finished)]) == 2
    one_error_line(capsys, "not both")


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "foreign"])
@pytest.mark.parametrize("command", ["resume", "eval", "export"])
def test_a_damaged_checkpoint_is_one_line(finished, tmp_path, capsys, damage, command):
    run_dir = copy_run(finished, tmp_path)
    ckpt = run_dir / "checkpoints" / "last.pt"
    saved = (run_dir / "case.yaml").read_bytes()
    if damage == "empty":
        ckpt.write_bytes(b"")
    elif damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    elif damage == "garbage":
        ckpt.write_bytes(b"\x00\x01not a checkpoint" * 50)
    else:
        torch.save({"weights": torch.zeros(3)}, ckpt)
    argv = {
        "resume": ["run", "--resume", str(run_dir)],
        "eval": ["eval", str(run_dir)],
        "export": ["export", str(run_dir), "--formats", "vtu"],
    }[command]
    assert main(argv) == 2
    one_error_line(capsys, "last.pt")
    assert (run_dir / "case.yaml").read_bytes() == saved


def test_a_checkpoint_of_another_model_is_one_line(finished, tmp_path, capsys):
    run_dir = copy_run(finished, tmp_path)
    case = yaml.safe_load((run_dir / "case.yaml").read_text())
    case["model"]["width"] = 7  # the saved case edited by hand: the weights no longer fit
    (run_dir / "case.yaml").write_text(yaml.safe_dump(case))
    assert main(["eval", str(run_dir)]) == 2
    one_error_line(capsys, "does not fit")


def test_a_broken_saved_case_or_summary_is_one_line(finished, tmp_path, capsys):
    run_dir = copy_run(finished, tmp_path)
    (run_dir / "summary.json").write_text('{"metrics": {"loss": 1.0,')
    assert main(["eval", str(run_dir)]) == 2
    one_error_line(capsys, "summary.json", "not valid JSON")
    assert main(["compare", str(run_dir)]) == 2
    one_error_line(capsys, "summary.json")
    (run_dir / "summary.json").write_text((finished / "summary.json").read_text())
    (run_dir / "case.yaml").write_text("name: [unclosed\n")
    for argv in (["eval", str(run_dir)], ["run", "--resume", str(run_dir)], ["export", str(run_dir)]):
        assert main(argv) == 2
        one_error_line(capsys, "case.yaml")


def test_compare_on_an_unfinished_run_says_so(finished, tmp_path, capsys):
    run_dir = copy_run(finished, tmp_path)
    (run_dir / "summary.json").unlink()
    assert main(["compare", str(run_dir)]) == 2
    one_error_line(capsys, "no summary.json")


def test_output_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert main(["run", CASE, "--output", str(f)] + sets(SMALL)) == 2
    one_error_line(capsys, "afile", "is a file")
    assert f.read_text() == "x"


def test_a_run_failing_at_its_first_step_leaves_no_run_dir(tmp_path, capsys, monkeypatch):
    import pinns.pinn

    def broken(self, batch):
        raise ValueError("residual failed")

    monkeypatch.setattr(pinns.pinn.PINN, "loss", broken)
    assert main(["run", CASE, "--quiet", "--output", str(tmp_path / "runs")] + sets(SMALL)) == 2
    one_error_line(capsys, "residual failed")
    assert not (tmp_path / "runs" / "burgers_pinn").exists()  # nor an empty runs/<case>/


def test_divergence_before_the_first_checkpoint_cites_no_checkpoint(tmp_path, capsys):
    assert (
        main(
            ["run", CASE, "--quiet", "--output", str(tmp_path / "runs")]
            + sets(SMALL + ["train.stages.0.lr=1.0e+3", "train.divergence_factor=1.5"])
        )
        == 2
    )
    line = one_error_line(capsys, "divergence_factor")
    assert "No checkpoint was written" in line and "last.pt" not in line


def test_the_saved_case_holds_absolute_data_paths(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    over = [
        "data.path=data/d.h5",
        "problem.resolution=9",
        "data.n_train=6",
        "data.n_test=2",
        "data.batch_size=3",
        "train.stages.0.epochs=1",
        "model.hidden_channels=4",
        "model.n_modes=[2, 2]",
        "model.n_layers=1",
        "model.projection_channels=4",
        "model.padding=0",
        "train.eval_every=100",
        "output.formats=[vtu]",
        "output.n_samples=1",
    ]
    assert main(["run", str(ROOT / "cases" / "darcy_fno.yaml"), "--quiet", "--output", "runs"] + sets(over)) == 0
    run_dir = Path(capsys.readouterr().out.split("run directory: ")[1].split()[0])
    saved = yaml.safe_load((run_dir / "case.yaml").read_text())
    assert saved["data"]["path"] == str((tmp_path / "data" / "d.h5").resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["eval", str(tmp_path / run_dir)]) == 0
    capsys.readouterr()
    assert not (elsewhere / "data").exists()  # the same dataset was read, none regenerated here


def test_non_finite_final_metrics_fail_and_summary_stays_strict(tmp_path, capsys, monkeypatch):
    import pinns.pinn

    orig = pinns.pinn.PINN.evaluate
    monkeypatch.setattr(pinns.pinn.PINN, "evaluate", lambda self, data=None: {**orig(self, data), "rel_l2": math.nan})
    assert main(["run", CASE, "--quiet", "--output", str(tmp_path / "runs")] + sets(SMALL)) == 2
    one_error_line(capsys, "not finite", "eval/rel_l2")
    summary = next((tmp_path / "runs").rglob("summary.json"))
    data = json.loads(summary.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["metrics"]["eval/rel_l2"] is None


def test_a_run_killed_while_writing_outputs_resumes_and_cleans_up(finished, tmp_path, capsys):
    import os
    import subprocess
    import sys

    from sciml.output import _temp_prefix

    run_dir = copy_run(finished, tmp_path)
    (run_dir / "summary.json").unlink()  # killed after its last checkpoint, while writing plots
    (run_dir / "report.md").unlink()
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)  # exited: its temporary files are leftovers
    live = run_dir / "plots" / (_temp_prefix(run_dir / "plots" / "losses.png") + "abcd1234.png")
    dead = run_dir / "plots" / live.name.replace(f".{os.getpid()}.", f".{dead_pid}.")
    deep = run_dir / "fields" / "solution" / dead.name.replace("losses", "solution_0003").replace(".png", ".vtu")
    for p in (live, dead, deep):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    assert main(["eval", str(run_dir)]) == 0  # reading a run removes nothing
    capsys.readouterr()
    assert dead.exists()
    assert main(["run", "--resume", str(run_dir), "--quiet"]) == 0
    capsys.readouterr()
    assert live.exists() and not dead.exists() and not deep.exists()  # a live writer's file is kept
    metrics = json.loads((run_dir / "summary.json").read_text())["metrics"]
    assert {"loss", "loss/pde", "eval/rel_l2"} <= set(metrics) and (run_dir / "report.md").exists()


@pytest.fixture(scope="module")
def mid_adam(tmp_path_factory):
    """A run stopped by SIGINT at step 6 of its 12 Adam steps (checkpoint at step 6, stage 0)."""
    import os
    import signal

    import sciml.train

    tmp = tmp_path_factory.mktemp("mid")
    log = sciml.train.Trainer._log

    def _log(self, rec):
        log(self, rec)
        if rec.get("step") == 6 and "loss" in rec:
            os.kill(os.getpid(), signal.SIGINT)

    sciml.train.Trainer._log = _log
    try:
        assert main(["run", CASE, "--quiet", "--output", str(tmp / "runs")] + sets(SMALL)) == 130
    finally:
        sciml.train.Trainer._log = log
    return next((tmp / "runs" / "burgers_pinn").iterdir())


@pytest.mark.parametrize(
    "key", ["train.stages.0.lr=0.1", "train.stages.0.optimizer=adamw", "train.log_every=3", "model.width=40", "seed=3"]
)
def test_resume_mid_stage_refuses_what_the_checkpoint_holds(mid_adam, tmp_path, capsys, key):
    run_dir = copy_run(mid_adam, tmp_path)
    saved = (run_dir / "case.yaml").read_bytes()
    assert main(["run", "--resume", str(run_dir), "--set", key]) == 2
    one_error_line(capsys, key.split("=")[0], "cannot change on --resume", "stage 0")
    assert (run_dir / "case.yaml").read_bytes() == saved


def test_resume_mid_stage_takes_more_steps_and_later_stage_options(mid_adam, tmp_path, capsys):
    run_dir = copy_run(mid_adam, tmp_path)
    over = ["train.stages.0.steps=14", "train.stages.1.lr=0.5", "device=cpu", "seed=0", "train.eval_every=7"]
    assert main(["run", "--resume", str(run_dir), "--quiet"] + sets(over)) == 0
    printed = dict(ln.split() for ln in capsys.readouterr().out.splitlines() if ln.startswith("  "))
    assert float(printed["steps"]) == 18
    saved = yaml.safe_load((run_dir / "case.yaml").read_text())
    assert saved["train"]["stages"][0]["steps"] == 14 and saved["train"]["stages"][1]["lr"] == 0.5


def test_the_python_api_refuses_the_same_changes_on_resume(mid_adam, tmp_path):
    from sciml import load_case, run_case
    from sciml.config import CaseError

    run_dir = copy_run(mid_adam, tmp_path)
    saved = (run_dir / "case.yaml").read_bytes()
    case = load_case(run_dir / "case.yaml", ["seed=5"])
    with pytest.raises(CaseError, match="seed: cannot change on --resume"):
        run_case(case, resume=run_dir)
    assert (run_dir / "case.yaml").read_bytes() == saved


@pytest.mark.parametrize(
    "scheduler, refused",
    [
        ({}, False),
        ({"type": "cosine"}, True),
        ({"type": "cosine", "t_max": 50}, False),
        ({"type": "onecycle"}, True),
        ({"type": "step"}, True),
        ({"type": "step", "step_size": 5}, False),
        ({"type": "exponential", "gamma": 0.99}, False),
        ({"type": "cosine", "horizon": "time"}, False),
    ],
)
def test_more_steps_are_refused_where_the_schedule_is_laid_over_them(scheduler, refused):
    from sciml.config import CaseError
    from sciml.run import check_resume_changes

    saved = {"train": {"stages": [{"optimizer": "adam", "steps": 10, "scheduler": scheduler}]}}
    new = {"train": {"stages": [{"optimizer": "adam", "steps": 20, "scheduler": scheduler}]}}
    if refused:
        with pytest.raises(CaseError, match="train.stages.0.steps"):
            check_resume_changes(saved, new, 0, "RUN")
    else:
        check_resume_changes(saved, new, 0, "RUN")
    with pytest.raises(CaseError, match=r"finished all its stages \(1\)"):  # a finished stage is not entered again
        check_resume_changes(saved, new, 1, "RUN")


def test_a_nan_loss_before_the_first_checkpoint_cites_no_checkpoint(tmp_path, capsys, monkeypatch):
    import pinns.pinn

    orig = pinns.pinn.PINN.loss
    monkeypatch.setattr(pinns.pinn.PINN, "loss", lambda self, b: {k: v * math.nan for k, v in orig(self, b).items()})
    assert main(["run", CASE, "--quiet", "--output", str(tmp_path / "runs")] + sets(SMALL)) == 2
    line = one_error_line(capsys, "loss became nan")
    assert "No checkpoint was written" in line and "last.pt" not in line
