"""Exact resume for every method family: an interrupted and resumed run ends bit for bit where the
uninterrupted one does, in the case's own dtype (float32 where the case is float32).

Each family is a real case file shrunk by overrides to a few points, a small network and ~10-20
steps of Adam followed by an L-BFGS stage. A SIGINT sent from the data's ``after_step`` hook makes
the Trainer checkpoint and raise :class:`~sciml.train.Interrupted` at one of three points — inside
the Adam stage (between periodic checkpoints), at the Adam/L-BFGS stage boundary, inside the L-BFGS
stage — and a fresh process-like rebuild resumes from ``checkpoints/last.pt``. The final method
state dict (parameters, buffers and extra state such as a point selector's), the data's state (point
sets, generator, epoch position) and the step count are compared with ``torch.equal`` (no tolerance)
against a run that was never interrupted (and never checkpointed).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_train import train  # (built, trainer, metrics); tests/core is on sys.path (pytest's prepend import mode)

from benchmarks.soak_resume import differences  # the soak's bitwise comparison (pythonpath: the repo root)
from sciml import load_case
from sciml.output import RunDir
from sciml.train import Interrupted

ROOT = Path(__file__).resolve().parents[2]

# steps of the Adam stage (A) and of the L-BFGS stage (L); checkpoints every 4 steps, L-BFGS
# chunks of up to 3 iterations (log_every), so interruptions land between periodic checkpoints;
# evaluations every 5 steps (a resumed process skips those before its checkpoint: an evaluation
# with a side effect on training would show)
A, L = 10, 6
TRAIN = ["train.checkpoint_every=4", "train.log_every=3", "train.eval_every=5", "train.progress=false"]


def _stages(first: str = "adam", extra: str = "") -> str:
    return (
        f"train.stages=[{{optimizer: {first}, lr: 1.0e-2, steps: {A}{extra}}}, "
        f"{{optimizer: lbfgs, lr: 1.0, steps: {L}}}]"
    )


BURGERS_TINY = [
    "problem.n_x=16",
    "problem.n_t=4",
    "data.n_interior=48",
    "data.n_boundary=8",
    "data.n_initial=12",
    "model.width=8",
    "model.depth=2",
]

# family -> (case file, overrides; DATA stands for a dataset path in a shared temporary folder)
FAMILIES = {
    # PINN, MLP tanh: Taylor-mode jets, every point set in one fused pass (the default derivative path)
    "pinn_jet": ("burgers_pinn", BURGERS_TINY + [_stages(extra=", scheduler: {type: step, step_size: 3, gamma: 0.5}")]),
    # PINN with a point selector: RAD redraws the interior points every 3 steps (data generator)
    "pinn_rad": (
        "burgers_pinn",
        BURGERS_TINY
        + [_stages(), "method.selection={type: rad, every: 3, pool_factor: 2, types: [interior, initial]}"],
    ),
    # PINNACLE-K: eNTK rounds every 5 steps and on drift (checked every 2), memory, per-type minimums
    "pinn_pinnacle": (
        "burgers_pinnacle",
        BURGERS_TINY
        + [
            _stages(),
            "method.selection={type: pinnacle_k, every: 5, budget: 80, n_select: 12, pool: 24, k: 6, "
            "n_train_max: 40, min_points: 4, check_every: 2, n_check: 8, drift: 0.05}",
        ],
    ),
    # inverse PINN: a trainable coefficient, observations drawn from a pool, PINNACLE-K choosing
    # observations and collocation points jointly
    "pinn_inverse": (
        "burgers_inverse_pinnacle",
        BURGERS_TINY
        + [
            "data.n_observations=60",
            "data.n_observations_active=8",
            _stages(),
            "method.selection={type: pinnacle_k, every: 5, budget: 90, n_select: 12, pool: 24, k: 6, n_train_max: 40, "
            "min_points: {interior: 4, initial: 4, boundary: 4, observations: 8}, max_points: {observations: 8}, "
            "check_every: 2, n_check: 8, drift: 0.05}",
        ],
    ),
    # KINN: the PINN with a KAN (B-spline edges, knot buffers): the autograd derivative path
    "kinn": ("burgers_pinn", BURGERS_TINY[:5] + ["model={type: kan, widths: [5], grid_size: 4}", _stages()]),
    # deep energy method: quadrature of the potential energy, hard-constrained trial function
    "energy": (
        "poisson_energy",
        ["data.n_cells=8", "data.order=3", "problem.n_x=32", "model.width=8", "model.depth=2", _stages()],
    ),
    # energy form on two subdomain networks with penalty terms (crack faces, interface continuity)
    "energy_crack": (
        "crack_energy",
        [
            "data.n_cells=4",
            "data.order=2",
            "data.n_boundary=16",
            "problem.n_grid=10",
            "model.width=8",
            "model.depth=2",
            _stages(),
        ],
    ),
    # Lagrangian PINN: two networks (characteristics, state), autograd second derivatives
    "lpinn": ("burgers_lpinn", BURGERS_TINY + ["method.n_labels=32", _stages()]),
    # supervised FNO on a generated Darcy dataset: minibatches from per-epoch permutations
    "fno": (
        "darcy_fno",
        [
            "problem.resolution=9",
            "data.path=DATA/darcy9.h5",
            "data.n_train=6",
            "data.n_test=2",
            "data.batch_size=2",
            "model.n_modes=[3, 3]",
            "model.hidden_channels=6",
            "model.n_layers=2",
            "model.projection_channels=8",
            "model.padding=2",
            "output.n_samples=1",
            _stages("adam", ", weight_decay: 1.0e-4, scheduler: {type: step, step_size: 4, gamma: 0.5}"),
        ],
    ),
    # autoregressive MP-PDE: windows, pushforward unrolls by the epoch curriculum, a graph network
    "mppde": (
        "ce_mppde",
        [
            "problem.nx=16",
            "problem.nx_fine=32",
            "problem.nt=16",
            "data.path=DATA/ce16.h5",
            "data.n_train=4",
            "data.n_test=2",
            "data.batch_size=2",
            "data.time_window=3",
            "data.bundle=3",
            "data.pushforward=2",
            "model.hidden=24",
            "model.layers=2",
            "output.n_samples=1",
            _stages("adamw", ", weight_decay: 1.0e-8, scheduler: {type: cosine}"),
        ],
    ),
}

POINTS = {"adam": A // 2 + 1, "boundary": A, "lbfgs": A + 3}  # global steps at which SIGINT is sent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("exact_resume_data")


def case_of(family: str, data_dir: Path):
    name, over = FAMILIES[family]
    over = [o.replace("DATA", str(data_dir)) for o in over] + TRAIN
    return load_case(ROOT / "cases" / f"{name}.yaml", over)


_REFERENCE: dict[str, tuple] = {}


def reference(family: str, data_dir: Path):
    """The uninterrupted run of ``family`` (no run dir: nothing checkpointed), once per module."""
    if family not in _REFERENCE:
        _REFERENCE[family] = train(case_of(family, data_dir))[:2]
    return _REFERENCE[family]


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_interrupted_run_resumes_bitwise(family, point, data_dir, tmp_path):
    ref, ref_tr = reference(family, data_dir)
    case = case_of(family, data_dir)
    assert [s.optimizer for s in case.train.stages][1:] == ["lbfgs"]
    run_dir = RunDir.create(tmp_path / "runs", case.name)
    run_dir.save_case(case.to_dict())
    with pytest.raises(Interrupted):
        train(case, run_dir, stop_at=POINTS[point])
    blob = torch.load(run_dir.checkpoints / "last.pt", weights_only=False)
    stopped = blob["state"]["step"]
    assert (stopped < A) if point == "adam" else (stopped == A) if point == "boundary" else (A < stopped < A + L)
    assert stopped % case.train.checkpoint_every or point == "boundary"  # not on a periodic checkpoint
    built, tr, _ = train(case_of(family, data_dir), run_dir, resume=run_dir.checkpoints / "last.pt")

    assert tr.state.step == ref_tr.state.step == A + L
    ref_params = dict(ref.method.named_parameters())
    assert next(iter(ref_params.values())).dtype == {"float32": torch.float32, "float64": torch.float64}[case.dtype]
    moved = [k for k, p in built.method.named_parameters() if not torch.equal(p, ref_params[k])]
    assert not moved, f"{family}: parameters differ after resuming at step {stopped}: {moved}"
    diff = differences(built.method.state_dict(), ref.method.state_dict(), "method")
    diff += differences(built.data.state_dict(), ref.data.state_dict(), "data")
    assert not diff, f"{family}: state differs after resuming at step {stopped}: {diff}"
    steps = [r["step"] for r in run_dir.read_metrics() if "loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == A + L  # none lost at the end, none logged twice


@pytest.mark.parametrize("family", list(FAMILIES))
def test_one_ulp_at_the_resume_is_detected(family, data_dir, tmp_path):
    """The comparison above can fail for every family: a resume whose weights are one float step
    off the checkpoint's (what a different rounding in one step gives) ends elsewhere; and training
    after the resume does move the weights."""
    ref, _ = reference(family, data_dir)
    case = case_of(family, data_dir)
    run_dir = RunDir.create(tmp_path / "runs", case.name)
    run_dir.save_case(case.to_dict())
    with pytest.raises(Interrupted):
        train(case, run_dir, stop_at=POINTS["adam"])
    path = run_dir.checkpoints / "last.pt"
    blob = torch.load(path, weights_only=False)
    saved = {k: v.clone() for k, v in blob["method"].items() if isinstance(v, torch.Tensor)}
    name = next(k for k, v in ref.method.named_parameters() if v.requires_grad)
    w = blob["method"][name].view(-1)
    w[0] = torch.nextafter(w[0], torch.tensor(float("inf"), dtype=w.dtype))
    torch.save(blob, path)
    built, _, _ = train(case_of(family, data_dir), run_dir, resume=path)
    params = dict(built.method.named_parameters())
    assert not torch.equal(params[name], saved[name]), "no training after the resume"
    assert any(not torch.equal(p, params[k]) for k, p in ref.method.named_parameters()), (
        f"{family}: a one-ulp change at the resume went unnoticed"
    )
