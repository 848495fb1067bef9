"""Run by tests/core/test_ddp.py under torchrun (or alone): train a tiny case, save the parameters.

``--clock-dt DT`` replaces the Trainer's clock (``sciml.train._clock``) with a fake one that advances
by ``DT × (rank + 1)`` seconds per training step (from fetching the step's batch on), so a time budget
ends after an exactly known number of steps whatever the machine's load. The ranks' clocks run at
different rates on purpose: the Trainer must follow rank 0's (it broadcasts it), not each its own.
"""

import argparse
import os

import torch
import torch.distributed as dist

import sciml.train
from sciml import build, load_case
from sciml.train import Trainer


class FakeClock:
    """Reads ``t``; ``drive(data)`` makes each ``data.next_batch`` (one per Adam step) advance it by ``dt``."""

    def __init__(self, dt: float):
        self.t, self.dt = 1000.0, dt

    def __call__(self) -> float:
        return self.t

    def drive(self, data) -> None:
        orig = data.next_batch

        def batch(*a, **k):
            self.t += self.dt
            return orig(*a, **k)

        data.next_batch = batch


def main(case_path: str, out: str, clock_dt: float | None = None) -> None:
    case = load_case(case_path)
    built = build(case)
    clock = None
    if clock_dt is not None:
        # the rank from torchrun's environment: the Trainer joins the process group only in fit()
        clock = FakeClock(clock_dt * (int(os.environ.get("RANK", "0")) + 1))
        sciml.train._clock = clock
        clock.drive(built.data)
    tr = Trainer(case.train, None, case.seed, case.dtype, case.device)
    metrics = tr.fit(built.method, built.data)
    flat = torch.cat([p.detach().flatten() for p in built.method.parameters()])
    own = None if clock is None else clock.t - 1000.0  # this rank's own clock at the end (before next_batch below)
    torch.save(
        {
            "params": flat,
            "world": tr.world,
            "steps": metrics["steps"],
            "time_limited": tr.time_limited,
            "train_time_s": metrics["train_time_s"],
            "own_clock_s": own,
            "lrs": [r["lr"] for r in tr.history if "lr" in r],
            "n_interior": len(built.data.next_batch()["interior"]),
        },
        f"{out}.rank{tr.rank}.pt",
    )
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("out")
    ap.add_argument("--clock-dt", type=float, default=None, help="fake clock: seconds per step (× rank + 1)")
    args = ap.parse_args()
    main(args.case, args.out, args.clock_dt)
