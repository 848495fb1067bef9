"""sciml: PINNs, neural operators and message-passing solvers for PDEs on one core.

The Python API is the objects of the pipeline (docs/python_api.md)::

    from sciml import load_case, run_case, load_run, build, Trainer
    case = load_case("cases/burgers_pinn.yaml", ["train.stages.0.steps=200"])
    run_dir, metrics = run_case(case)          # what `sciml run` does: the same run directory
    run_dir, case, parts = load_run(run_dir.path)   # a finished run, with its trained weights

    parts = build(case)                        # or step by step: problem, data, model, method
    metrics = Trainer(case.train, seed=case.seed).fit(parts.method, parts.data)
"""

from __future__ import annotations

from .config import Case, CaseError, load_case
from .fields import Field
from .mesh import Grid, Mesh

# ``sciml.run`` was the public name of run_case; kept so that old code runs. It hides the module
# sciml.run as an attribute of the package (``from sciml.run import build`` still works).
from .run import (
    Built,
    LoadedRun,
    build,
    load_run,
    run,  # noqa: F401  (the old public name, kept)
    run_case,
)
from .train import Trainer

__all__ = [
    "Built",
    "Case",
    "CaseError",
    "Field",
    "Grid",
    "LoadedRun",
    "Mesh",
    "Trainer",
    "build",
    "load_case",
    "load_run",
    "run_case",
]
__version__ = "0.1.0"
