"""Every case file in cases/ validates and runs end to end for a couple of steps."""

from pathlib import Path

import pytest

from sciml import load_case, run

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "cases").glob("*.yaml"))


def smoke_overrides(case, tmp_path) -> list[str]:
    over = [
        "train.stages="
        + str(
            [
                {"optimizer": s.optimizer, "lr": s.lr, "steps": 2, **({"phase": s.phase} if s.phase else {})}
                for s in case.train.stages
            ]
        ),
        "train.progress=false",
        f"output.dir={tmp_path / 'runs'}",
    ]
    if case.data["type"] in ("hdf5", "trajectories", "samples"):
        over += [f"data.path={tmp_path / 'data.h5'}", "data.n_train=4", "data.n_test=2", "data.batch_size=2"]
        if "resolution" in case.problem:  # MgNO needs sizes divisible by 2^(levels - 1)
            over.append("problem.resolution=32" if case.model.get("type") == "mgno" else "problem.resolution=17")
    if case.data["type"] == "collocation":
        over += ["data.n_interior=64", "data.n_boundary=8", "data.n_initial=8"]
    if case.problem["type"] == "burgers1d":
        over += ["problem.n_x=16", "problem.n_t=4"]
    return over


def test_there_are_cases():
    assert {p.stem for p in CASES} >= {"burgers_pinn", "darcy_fno"}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_runs(path, tmp_path):
    case = load_case(path)
    run_dir, metrics = run(load_case(path, smoke_overrides(case, tmp_path)), progress=False)
    assert (run_dir.path / "summary.json").exists() and (run_dir.path / "report.md").exists()
    assert "eval/rel_l2" in metrics and metrics["eval/rel_l2"] == metrics["eval/rel_l2"]  # not NaN
    assert list((run_dir.path / "fields").iterdir())
