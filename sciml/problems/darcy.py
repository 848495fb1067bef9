"""2D Darcy flow: -∇·(a ∇u) = f on (0,1)², u = 0 on the boundary (FNO benchmark).

The coefficient a is piecewise constant, 12 where a Gaussian random field
N(0, (-Δ + 9I)^-2) is non-negative and 3 elsewhere; u comes from the second-order
finite-difference solver :func:`sciml.solvers.solve_darcy`.
"""
from __future__ import annotations

import numpy as np

from ..mesh import Grid
from ..registry import PROBLEMS
from ..solvers import darcy_coefficient, solve_darcy
from .base import DatasetSpec, Param, Problem, resolve_params

PARAMS = {
    "f": Param(1.0, -1e6, 1e6, "constant forcing"),
    "a_high": Param(12.0, 1e-6, 1e6, "coefficient where the GRF >= 0"),
    "a_low": Param(3.0, 1e-6, 1e6, "coefficient where the GRF < 0"),
    "alpha": Param(2.0, 0.5, 10.0, "GRF smoothness exponent"),
    "tau": Param(3.0, 0.0, 100.0, "GRF inverse length scale"),
}


@PROBLEMS.register("darcy2d")
def darcy2d(*, params: dict | None = None, resolution: int = 64) -> Problem:
    """Darcy flow with a thresholded-GRF coefficient; dataset from the FD solver."""
    p = resolve_params("darcy2d", PARAMS, params)
    if not isinstance(resolution, int) or resolution < 3:
        raise ValueError(f"darcy2d: resolution must be an integer >= 3, got {resolution!r}")
    grid = Grid((resolution, resolution), ((0.0, 1.0), (0.0, 1.0)))

    def generate(n_samples: int, rng: np.random.Generator):
        a = darcy_coefficient(n_samples, resolution, rng=rng, high=p["a_high"], low=p["a_low"],
                              alpha=p["alpha"], tau=p["tau"])
        u = solve_darcy(a, p["f"])
        return {"a": a[..., None], "u": u[..., None]}, grid

    return Problem(
        name="darcy2d",
        inputs=("a",),
        outputs=("u",),
        params=p,
        dataset=DatasetSpec(generate, {"a": "input", "u": "output"}, {"a": ["a"], "u": ["u"]},
                            {"shape": grid.shape, "resolution": resolution}),
    )
