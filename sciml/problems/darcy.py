"""2D Darcy flow: -∇·(a ∇u) = f on (0,1)², u = 0 on the boundary (FNO benchmark).

``coefficient: piecewise`` (default): a is piecewise constant, 12 where a Gaussian random field
g ~ N(0, (-Δ + 9I)^-2) is non-negative and 3 elsewhere (the FNO paper's data).
``coefficient: lognormal``: the smooth variant a = exp(log_scale · g / std(g)).
u comes from the second-order finite-difference solver :func:`sciml.solvers.solve_darcy`.
With ``solve_factor: k`` the coefficient is sampled and the equation solved on the finer grid of
(resolution − 1)·k + 1 nodes and both are stored at ``resolution`` (every k-th node; the grids
nest because both include the boundary), as the FNO data were solved at 421² and subsampled.
"""

from __future__ import annotations

import numpy as np

from ..mesh import Grid
from ..registry import PROBLEMS
from ..solvers import darcy_coefficient, gaussian_random_field, solve_darcy
from .base import DatasetSpec, Param, Problem, resolve_params

PARAMS = {
    "f": Param(1.0, -1e6, 1e6, "constant forcing"),
    "a_high": Param(12.0, 1e-6, 1e6, "coefficient where the GRF >= 0"),
    "a_low": Param(3.0, 1e-6, 1e6, "coefficient where the GRF < 0"),
    "alpha": Param(2.0, 0.5, 10.0, "GRF smoothness exponent"),
    "tau": Param(3.0, 0.0, 100.0, "GRF inverse length scale"),
    "log_scale": Param(1.0, 0.0, 10.0, "lognormal coefficient: standard deviation of log a"),
}


@PROBLEMS.register("darcy2d")
def darcy2d(
    *, params: dict | None = None, resolution: int = 64, coefficient: str = "piecewise", solve_factor: int = 1
) -> Problem:
    """Darcy flow with a thresholded-GRF (or lognormal) coefficient; dataset from the FD solver."""
    p = resolve_params("darcy2d", PARAMS, params)
    if not isinstance(resolution, int) or resolution < 3:
        raise ValueError(f"darcy2d: resolution must be an integer >= 3, got {resolution!r}")
    if coefficient not in ("piecewise", "lognormal"):
        raise ValueError(f"darcy2d: coefficient must be 'piecewise' or 'lognormal', got {coefficient!r}")
    if not isinstance(solve_factor, int) or solve_factor < 1:
        raise ValueError(f"darcy2d: solve_factor must be an integer >= 1, got {solve_factor!r}")
    grid = Grid((resolution, resolution), ((0.0, 1.0), (0.0, 1.0)))
    fine = (resolution - 1) * solve_factor + 1

    def generate(n_samples: int, rng: np.random.Generator):
        if coefficient == "piecewise":
            a = darcy_coefficient(
                n_samples, fine, rng=rng, high=p["a_high"], low=p["a_low"], alpha=p["alpha"], tau=p["tau"]
            )
        else:
            g = gaussian_random_field(n_samples, fine, alpha=p["alpha"], tau=p["tau"], rng=rng)
            a = np.exp(p["log_scale"] * g / g.std(axis=(1, 2), keepdims=True).clip(1e-12))
        u = solve_darcy(a, p["f"])
        k = solve_factor
        return {"a": a[:, ::k, ::k, None], "u": u[:, ::k, ::k, None]}, grid

    return Problem(
        name="darcy2d",
        inputs=("a",),
        outputs=("u",),
        params=p,
        dataset=DatasetSpec(
            generate,
            {"a": "input", "u": "output"},
            {"a": ["a"], "u": ["u"]},
            {"shape": grid.shape, "resolution": resolution, "coefficient": coefficient, "solve_factor": solve_factor},
        ),
    )
