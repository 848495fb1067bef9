"""The kill-and-resume soak (benchmarks/soak_resume.py) on a tiny Burgers PINN: three real ``sciml
run`` processes SIGKILLed at random moments and resumed end bit for bit where the uninterrupted
run does, in intact run dirs. Slow (a dozen processes, each importing torch): ``pytest -m slow``."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TINY = [
    "problem.n_x=32",
    "problem.n_t=10",
    "data.n_interior=200",
    "data.n_boundary=20",
    "data.n_initial=40",
    "model.width=10",
    "model.depth=2",
    "train.stages=[{optimizer: adam, lr: 1.0e-3, steps: 300}, {optimizer: lbfgs, lr: 1.0, steps: 40}]",
    "train.checkpoint_every=25",
    "train.log_every=10",
    "train.eval_every=100",
    "output.formats=[vtu, png]",
]


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak_resume", ROOT / "benchmarks" / "soak_resume.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_soak_three_kills(tmp_path):
    soak = _soak_module()
    argv = [
        "--case",
        "cases/burgers_pinn.yaml",
        "--trials",
        "3",
        "--seed",
        "1",
        "--workdir",
        str(tmp_path / "work"),
        "--out",
        str(tmp_path / "soak.json"),
    ] + [a for s in TINY for a in ("--set", s)]
    res = soak.soak(argv)
    tot = res["totals"]
    assert tot["trials"] == 3 and tot["kills"] >= 1
    assert tot["mismatches"] == 0 and tot["corrupted_run_dirs"] == 0, res["table_markdown"]
    assert tot["failed"] == 0, res["table_markdown"]  # e.g. a resume refused for want of a checkpoint
    assert (tmp_path / "soak.json").exists()
