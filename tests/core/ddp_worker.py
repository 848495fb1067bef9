"""Run by tests/core/test_ddp.py under torchrun (or alone): train a tiny case, save the parameters."""
import sys

import torch
import torch.distributed as dist

from sciml import build, load_case
from sciml.train import Trainer


def main(case_path: str, out: str) -> None:
    case = load_case(case_path)
    built = build(case)
    tr = Trainer(case.train, None, case.seed, case.dtype, case.device)
    metrics = tr.fit(built.method, built.data)
    flat = torch.cat([p.detach().flatten() for p in built.method.parameters()])
    torch.save({"params": flat, "world": tr.world, "steps": metrics["steps"], "n_interior": len(built.data.next_batch()["interior"])},
               f"{out}.rank{tr.rank}.pt")
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
