"""Data-parallel training with torchrun (2 processes, gloo): ranks stay in sync and match one process."""

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
CASE = """\
name: ddp
seed: 4
dtype: float64
problem: {type: burgers1d, params: {nu: 0.05}, n_x: 16, n_t: 4}
data: {type: collocation, n_interior: 128, n_boundary: 16, n_initial: 32, sampler: pseudo}
model: {type: mlp, width: 8, depth: 2}
method: {type: pinn}
train:
  stages:
    - {optimizer: adam, lr: 1.0e-2, steps: 5}
    - {optimizer: lbfgs, lr: 1.0, steps: 3}
  progress: false
"""


WORKER = ROOT / "tests" / "core" / "ddp_worker.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def torchrun(case: Path, out: Path, *args: str) -> None:
    """Train ``case`` on 2 processes; each rank saves ``out.rank{r}.pt``. ``--standalone``: torchrun's
    rendezvous store binds a free port (port 0) and the workers share it, so suites running at the same
    time on one machine never race for a fixed port."""
    exe = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    res = subprocess.run(
        [exe, "--standalone", "--nproc_per_node=2", str(WORKER), str(case), str(out), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]


def test_two_process_training_equals_single_process(tmp_path):
    case = tmp_path / "ddp.yaml"
    case.write_text(CASE)
    torchrun(case, tmp_path / "ddp")
    single = subprocess.run(
        [sys.executable, str(WORKER), str(case), str(tmp_path / "one")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"ddp.rank{r}.pt") for r in (0, 1))
    one = torch.load(tmp_path / "one.rank0.pt")
    assert r0["world"] == 2 and one["world"] == 1
    assert r0["n_interior"] == 64 and one["n_interior"] == 128  # each rank holds half of the points
    # bitwise: both ranks do the same arithmetic on the same all-reduced gradients
    torch.testing.assert_close(r0["params"], r1["params"], rtol=0, atol=0)
    # mean over equal halves, averaged, is the mean over all: same trajectory as one process
    torch.testing.assert_close(r0["params"], one["params"], rtol=1e-9, atol=1e-10)


def test_time_budget_and_time_horizon_schedule_agree_across_ranks(tmp_path):
    # each rank has its own clock; the Trainer follows rank 0's, so the learning rates and the step
    # at which the budget ends are the same on both ranks (else the weights drift apart, or one rank
    # stops while the other waits in a collective). The clocks are fake (tests/core/ddp_worker.py):
    # rank r's advances by (r + 1)/64 s per step, so rank 0's 1.5 s budget is exactly 96 steps, and
    # rank 1, were it to follow its own clock, would stop after 48
    case = tmp_path / "ddp_time.yaml"
    case.write_text(
        CASE.replace(
            "    - {optimizer: adam, lr: 1.0e-2, steps: 5}\n    - {optimizer: lbfgs, lr: 1.0, steps: 3}\n",
            "    - {optimizer: adam, lr: 1.0e-2, steps: 1000000, scheduler: {type: cosine, horizon: time}}\n"
            "  time_limit_s: 1.5\n  log_every: 1\n",
        )
    )
    torchrun(case, tmp_path / "ddp", "--clock-dt", str(1 / 64))  # 0.015625: exact in binary and in decimal
    r0, r1 = (torch.load(tmp_path / f"ddp.rank{r}.pt") for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["time_limited"] and r1["time_limited"]
    assert r0["steps"] == r1["steps"] == 96
    assert r0["train_time_s"] == r1["train_time_s"] == 1.5  # rank 0's clock, broadcast
    assert r0["own_clock_s"] == 1.5 and r1["own_clock_s"] == 3.0  # rank 1's own clock was not followed
    # the rate after each step anneals over rank 0's clock, identical on both ranks
    assert r0["lrs"] == r1["lrs"]
    expect = [1e-2 * (1 + math.cos(math.pi * k / 96)) / 2 for k in range(1, 97)]
    torch.testing.assert_close(
        torch.tensor(r0["lrs"], dtype=torch.float64), torch.tensor(expect, dtype=torch.float64), rtol=1e-9, atol=1e-12
    )
    torch.testing.assert_close(r0["params"], r1["params"], rtol=0, atol=0)  # bitwise, as above
