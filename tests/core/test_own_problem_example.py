"""docs/own_problem.md: the shipped example (docs/examples/my_problem.py + lshape_pinn.yaml) is a
valid case that runs, and its exact solution satisfies the stated PDE, Dirichlet and Neumann
conditions, so the problem is stated right (flux signs and normals included)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from sciml.cli import main
from sciml.config import load_case
from sciml.data.collocation import CollocationData
from sciml.registry import PROBLEMS

CASE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "lshape_pinn.yaml"


class Exact(torch.nn.Module):
    def __init__(self, u):
        super().__init__()
        self.u = u

    def forward(self, x):
        return self.u(x)[:, None]


def _problem():
    case = load_case(CASE)  # imports my_problem.py, which registers lshape_poisson
    assert case.problem["type"] == "lshape_poisson" and case.model["type"] == "mlp"
    return PROBLEMS.build("lshape_poisson", {})


def test_case_validates_and_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_MAX_STEPS", "20")
    assert main(["run", str(CASE), "--output", str(tmp_path), "--set", "output.formats=[vtu]"]) == 0
    run = next((tmp_path / "lshape_pinn").iterdir())
    last = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in last if "eval/rel_l2" in r]
    assert evals and np.isfinite(evals[-1]["eval/rel_l2"]) and evals[-1]["eval/n_points"] > 1000
    assert list(run.glob("**/*.vtu"))


def test_exact_solution_satisfies_the_problem():
    from pinns.pinn import PINN

    problem = _problem()
    mod = __import__(problem.exact.__module__)
    data = CollocationData(problem, n_interior=500, n_boundary=600, seed=1).to(dtype=torch.float64)
    batch = data.next_batch()
    assert {"normals:neumann_x", "normals:neumann_y"} <= set(batch)
    losses = PINN(problem, Exact(mod.exact), derivatives="autograd").loss(batch)
    terms = {"pde", "dirichlet_bottom", "dirichlet_right", "dirichlet_top", "dirichlet_left", "neumann_x", "neumann_y"}
    assert terms <= {k.split("/")[-1] for k in losses}
    losses = {k: float(v.detach()) for k, v in losses.items()}
    assert all(v < 1e-16 for v in losses.values()), losses   # mean squares: RMS residuals < 1e-8

    # a wrong solution (sin(πx) e^-y, the flux of the other sign on the notch) fails the Neumann terms
    wrong = PINN(problem, Exact(lambda x: torch.sin(np.pi * x[:, 0]) * torch.exp(-x[:, 1])), derivatives="autograd")
    bad = {k.split("/")[-1]: float(v.detach()) for k, v in wrong.loss(batch).items()}
    assert bad["neumann_y"] > 1e-2 and bad["neumann_x"] > 1e-2


def test_reference_is_the_exact_solution_on_the_mesh():
    problem = _problem()
    ref = problem.reference_field()
    pts = np.asarray(ref.support.points)[:, :2]
    assert np.allclose(ref.values[:, 0], np.sin(np.pi * pts[:, 0]) * np.exp(pts[:, 1]), atol=1e-12)


def test_page_shows_the_shipped_module():
    page = (CASE.parents[1] / "own_problem.md").read_text(encoding="utf-8")
    assert (CASE.parent / "my_problem.py").read_text(encoding="utf-8") in page
    assert "imports: [my_problem.py]" in CASE.read_text(encoding="utf-8")
