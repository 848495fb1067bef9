"""Every bad input gets one line, before any work, and leaves nothing behind (issue "Reliability" §3).

Each case runs ``sciml`` in-process on a tiny case in ``tmp_path`` and asserts: exit code 2,
exactly one line on stderr naming the key or file at fault, no traceback (nor the CLI's wrapper
for an unexpected error), and ``tmp_path`` exactly as before (no run directory, no temp file, no
rewritten dataset). ``benchmarks/bad_inputs.py`` runs the same inputs through the real command.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import h5py
import pytest
import yaml

from benchmarks.bad_inputs import OPERATOR, PINN, variant  # the benchmark's tiny cases (pythonpath: the repo root)
from sciml.cli import main
from sciml.config import CaseError, load_case

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A darcy2d dataset at resolution 9 with 6 samples: what OPERATOR reads."""
    from sciml.data.operator import generate_problem_dataset
    from sciml.registry import PROBLEMS

    path = tmp_path_factory.mktemp("data") / "d.h5"
    generate_problem_dataset(PROBLEMS.build("darcy2d", {"resolution": 9}), path, 6, 0)
    return path


@pytest.fixture
def work(tmp_path, monkeypatch):
    """``tmp_path`` as the working directory (cases name relative data paths and output dirs)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_case(folder: Path, case: dict) -> str:
    (folder / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False))
    return "case.yaml"


def copy_dataset(src: Path, folder: Path, edit=None) -> Path:
    dst = folder / "data" / "d.h5"
    dst.parent.mkdir(exist_ok=True)
    shutil.copy(src, dst)
    if edit is not None:
        with h5py.File(dst, "r+") as f:
            edit(f)
    return dst


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): "dir" if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def refused(capsys, folder: Path, argv: list[str], *names: str) -> str:
    """Run ``sciml argv``: exit 2, one stderr line naming ``names``, nothing changed under ``folder``."""
    before = snapshot(folder)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    line = lines[0]
    assert "Traceback" not in err and "unexpected" not in line, line
    for n in names:
        assert n in line, f"{n!r} not in {line!r}"
    assert snapshot(folder) == before, "the failed command left files behind"
    assert not (folder / "runs").exists()
    return line


def run_case(work, capsys, case: dict, *names: str, extra=()) -> str:
    return refused(capsys, work, ["run", write_case(work, case), "--quiet", *extra], *names)


# ---------------------------------------------------------------- ended in a traceback
def test_case_path_is_a_directory(work, capsys):
    (work / "cases").mkdir()
    line = refused(capsys, work, ["run", "cases"], "cases", "directory")
    assert "Errno" not in line


def test_set_below_a_scalar(work, capsys):
    refused(capsys, work, ["run", write_case(work, PINN), "--set", "seed.x=1"], "seed.x", "seed is int")


def test_device_cuda_without_cuda(work, capsys):
    import torch

    dev = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    argv = ["run", write_case(work, variant(PINN, device=dev)), "--quiet"]
    before = snapshot(work)
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "device" in lines[0] and "Traceback" not in lines[0]
    assert snapshot(work) == before


def test_device_cuda_without_cuda_is_a_user_error(work, capsys):
    import torch

    dev = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    run_case(work, capsys, variant(PINN, device=dev), "device")


@pytest.mark.parametrize(
    "key, value, where",
    [("history_size", 0, "train.stages.1.history_size"), ("line_search", "wolfe", "train.stages.1.line_search")],
)
def test_lbfgs_options_at_load_time(work, capsys, key, value, where):
    run_case(work, capsys, variant(PINN, **{f"train__stages__1__{key}": value}), where, "case.yaml:")
    with pytest.raises(CaseError, match=where):
        load_case(work / "case.yaml")  # at load time, not at the end of training


def test_data_batch_size_zero(work, capsys, dataset):
    copy_dataset(dataset, work)
    run_case(work, capsys, variant(OPERATOR, data__batch_size=0), "data.batch_size")


def test_stage_batch_size_negative(work, capsys, dataset):
    copy_dataset(dataset, work)
    run_case(work, capsys, variant(OPERATOR, train__stages__0__batch_size=-1), "train.stages.0.batch_size")


@pytest.mark.parametrize("key", ["n_test", "n_train"])
def test_no_test_or_training_samples(work, capsys, dataset, key):
    copy_dataset(dataset, work)
    run_case(work, capsys, variant(OPERATOR, **{f"data__{key}": 0}), f"data.{key}", ">= 1")


@pytest.mark.parametrize("n", [0, -1])
def test_output_n_samples(work, capsys, n):
    run_case(work, capsys, variant(PINN, output__n_samples=n), "output.n_samples")
    with pytest.raises(CaseError, match="output.n_samples"):
        load_case(work / "case.yaml")


def test_binary_case_file(work, capsys):
    (work / "case.yaml").write_bytes(bytes(range(256)) * 4)
    refused(capsys, work, ["run", "case.yaml"], "case.yaml", "not a text file")


# ---------------------------------------------------------------- silently accepted
@pytest.mark.parametrize(
    "changes, key",
    [
        ({"train__stages__0__clip_grad": -1.0}, "train.stages.0.clip_grad"),
        ({"method__weights": {"pde": -1.0}}, "method.weights.pde"),
        ({"method__weights": {"pde": float("nan")}}, "method.weights.pde"),
        ({"method__weights": [1.0, 2.0]}, "method.weights"),
    ],
)
def test_negative_clip_and_weights(work, capsys, changes, key):
    run_case(work, capsys, variant(PINN, **changes), key)


def test_interval_longer_than_the_run_means_at_the_stage_ends(work, capsys):
    """Documented: log/checkpoint intervals longer than the run act at the end of each stage only."""
    assert main(["run", write_case(work, variant(PINN, train__log_every=10**9)), "--quiet"]) == 0
    run_dir = next((work / "runs" / "tiny").iterdir())
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [2, 4]


@pytest.mark.parametrize("generate", [True, False])
def test_dataset_on_another_grid(work, capsys, dataset, generate):
    copy_dataset(dataset, work)
    case = variant(OPERATOR, problem__resolution=12, data__generate=generate)
    line = run_case(work, capsys, case, "data.path", "d.h5")
    assert "9×9" in line and "12×12" in line


def test_dataset_roles_swapped(work, capsys, dataset):
    def swap(f):
        f["fields/a"].attrs["role"], f["fields/u"].attrs["role"] = "output", "input"

    copy_dataset(dataset, work, swap)
    run_case(work, capsys, OPERATOR, "data.path", "d.h5", "role", "swapped")


# ---------------------------------------------------------------- half-written run directories
@pytest.mark.parametrize(
    "changes, key",
    [
        ({"train__stages__0__lr": float("nan")}, "train.stages.0.lr"),
        ({"train__stages__0__lr": float("inf")}, "train.stages.0.lr"),
        ({"train__stages__0__weight_decay": -1.0}, "train.stages.0.weight_decay"),
        ({"train__divergence_factor": -1.0}, "train.divergence_factor"),
        ({"problem__n_t": 0}, "problem.n_t"),
    ],
)
def test_fails_before_a_run_dir_exists(work, capsys, changes, key):
    run_case(work, capsys, variant(PINN, **changes), key)


def test_nan_in_a_dataset(work, capsys, dataset):
    def poison(f):
        block = f["fields/a"][2]
        block[3, 4, 0] = float("nan")
        f["fields/a"][2] = block

    copy_dataset(dataset, work, poison)
    run_case(work, capsys, OPERATOR, "d.h5", "'a'", "NaN", "sample 2")


# ---------------------------------------------------------------- cryptic messages
def test_params_as_a_list(work, capsys):
    run_case(work, capsys, variant(PINN, problem__params=[0.05]), "problem.params", "mapping", "list")


@pytest.mark.parametrize("seed", [-1, 2**70])
def test_seed_out_of_range(work, capsys, seed):
    run_case(work, capsys, variant(PINN, seed=seed), "seed", "[0, 2^32)")


def test_dataset_without_an_output_field(work, capsys, dataset):
    def drop(f):
        del f["fields/u"]

    copy_dataset(dataset, work, drop)
    run_case(work, capsys, OPERATOR, "data.path", "d.h5", "'u'", "output")


def test_garbage_mesh_file(work, capsys):
    text = (ROOT / "meshes" / "plate_hole.msh").read_bytes()
    start = text.index(b"$Nodes")
    (work / "bad.msh").write_bytes(text[: start + (len(text) - start) // 3])  # cut inside the node block
    case = {
        **PINN,
        "problem": {"type": "plate_hole", "mesh": "bad.msh"},
        "data": {"type": "collocation", "n_interior": 32, "n_boundary": 8, "sampler": "pseudo"},
    }
    run_case(work, capsys, case, "problem.mesh", "bad.msh", "unreadable", "Gmsh")


# ---------------------------------------------------------------- more dataset files
def test_garbage_dataset_file(work, capsys):
    (work / "data").mkdir()
    (work / "data" / "d.h5").write_bytes(b"not an HDF5 file\n" * 20)
    run_case(work, capsys, OPERATOR, "data.path", "d.h5", "not a readable HDF5 file", "regenerate")


def test_more_samples_than_the_file_holds(work, capsys, dataset):
    copy_dataset(dataset, work)
    run_case(
        work,
        capsys,
        variant(OPERATOR, data__n_train=10, data__generate=False),
        "data.n_train",
        "d.h5",
        "exceeds its 6 samples",
    )
