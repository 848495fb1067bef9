"""sciml: PINNs, neural operators and message-passing solvers for PDEs on one core.

The Python API is the objects of the pipeline::

    from sciml import load_case, build, Trainer
    case = load_case("cases/burgers_pinn.yaml", ["train.stages.0.steps=200"])
    parts = build(case)                       # problem, data, model, method
    metrics = Trainer(case.train, seed=case.seed).fit(parts.method, parts.data)
"""
from __future__ import annotations

from .config import Case, CaseError, load_case
from .fields import Field
from .mesh import Grid, Mesh
from .run import build, run
from .train import Trainer

__all__ = ["Case", "CaseError", "Field", "Grid", "Mesh", "Trainer", "build", "load_case", "run"]
__version__ = "0.1.0"
