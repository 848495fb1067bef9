r"""Operator-learning datasets on periodic grids (the FNO paper's Burgers and Navier–Stokes).

``burgers_operator``: u0 ↦ u(·, 1) for u_t + (u²/2)_x = ν u_xx on [0, 1) periodic, ν = 0.1,
u0 ~ N(0, 625(−Δ + 25 I)^{−2}); dealiased spectral ETDRK4
(:func:`sciml.solvers.solve_burgers_periodic`), solved on ``resolution · solve_factor`` points and
stored at ``resolution`` (Fourier truncation).

``ns2d``: 2D incompressible Navier–Stokes in vorticity form on the unit torus,
w_t + u·∇w = ν Δw + 0.1(sin 2π(x+y) + cos 2π(x+y)), ν = 1e-3, w0 ~ N(0, 7³(−Δ + 49 I)^{−2.5})
(the FNO generator's amplitude); pseudo-spectral with 2/3 dealiasing, Crank–Nicolson/AB2
(:func:`sciml.solvers.solve_navier_stokes`). Snapshots at t = 1, 2, ..., ``t_in + t_out``: the
input field ``w_in`` holds the first ``t_in`` as channels, the output ``w_out`` the next ``t_out``
(the FNO-2D-time task w(0..10] ↦ w(10..20]).
"""

from __future__ import annotations

import numpy as np

from ..mesh import Grid
from ..registry import PROBLEMS
from ..solvers import burgers_initial_conditions, periodic_grf, solve_burgers_periodic, solve_navier_stokes
from .base import DatasetSpec, Param, Problem, resolve_params
from .base import check_int as _check_int

BURGERS = {"nu": Param(0.1, 1e-4, 10.0, "viscosity"), "t_end": Param(1.0, 1e-6, 100.0, "final time")}
NS = {"nu": Param(1e-3, 1e-6, 1.0, "viscosity"), "dt": Param(1e-2, 1e-5, 0.1, "time step (max)")}


@PROBLEMS.register("burgers_operator")
def burgers_operator(*, params: dict | None = None, resolution: int = 1024, solve_factor: int = 1) -> Problem:
    """1D periodic Burgers operator u0 ↦ u(·, 1), ν = 0.1 (FNO paper); spectral ETDRK4 solver."""
    p = resolve_params("burgers_operator", BURGERS, params)
    n = _check_int("burgers_operator", "resolution", resolution, 8)
    k = _check_int("burgers_operator", "solve_factor", solve_factor, 1)
    grid = Grid((n,), ((0.0, 1.0),), periodic=(True,))

    def generate(n_samples: int, rng: np.random.Generator):
        u0 = burgers_initial_conditions(n_samples, n * k, rng=rng)
        u1 = solve_burgers_periodic(u0, p["t_end"], nu=p["nu"], n_record=1, n_out=n)[:, -1]
        return {"u0": u0[:, ::k, None], "u": u1[..., None]}, grid

    return Problem(
        name="burgers_operator",
        inputs=("u0",),
        outputs=("u",),
        params=p,
        dataset=DatasetSpec(
            generate,
            {"u0": "input", "u": "output"},
            {"u0": ["u0"], "u": ["u"]},
            {"shape": grid.shape, "resolution": n, "solve_factor": k},
        ),
    )


@PROBLEMS.register("ns2d")
def ns2d(
    *,
    params: dict | None = None,
    resolution: int = 64,
    solve_factor: int = 1,
    t_in: int = 10,
    t_out: int = 10,
    layout: str = "channels",
) -> Problem:
    """2D Navier–Stokes vorticity on the torus, ν = 1e-3, FNO forcing: w(0..t_in] ↦ w(t_in..t_in+t_out].

    ``layout: channels`` stores the input and output times as channels of two fields (one-shot
    operators); ``layout: trajectory`` stores one field ``w`` of shape (N, t_in + t_out, n, n, 1)
    at t = 1, 2, … (autoregressive methods, ``data: {type: trajectories, time_window: t_in}``).
    """
    if layout not in ("channels", "trajectory"):
        raise ValueError(f"ns2d: layout must be 'channels' or 'trajectory', got {layout!r}")
    p = resolve_params("ns2d", NS, params)
    n = _check_int("ns2d", "resolution", resolution, 8)
    k = _check_int("ns2d", "solve_factor", solve_factor, 1)
    t_in, t_out = _check_int("ns2d", "t_in", t_in, 1), _check_int("ns2d", "t_out", t_out, 1)
    grid = Grid((n, n), ((0.0, 1.0), (0.0, 1.0)), periodic=(True, True))
    steps = t_in + t_out

    def generate(n_samples: int, rng: np.random.Generator):
        w0 = periodic_grf(n_samples, n * k, alpha=2.5, tau=7.0, rng=rng)
        w = solve_navier_stokes(w0, float(steps), p["dt"], nu=p["nu"], n_record=steps, n_out=n)  # (N, T, n, n)
        if layout == "trajectory":
            return {"w": w[..., None]}, grid, {"times": np.arange(1, steps + 1, dtype=np.float64)}
        w = np.moveaxis(w, 1, -1)  # channels last: one channel per time
        return {"w_in": w[..., :t_in], "w_out": w[..., t_in:]}, grid

    settings = {"shape": grid.shape, "resolution": n, "solve_factor": k, "t_in": t_in, "t_out": t_out}
    if layout == "trajectory":
        settings["layout"] = layout  # (absent for channels: caches written before the option stay valid)
        return Problem(
            name="ns2d",
            inputs=("w",),
            outputs=("w",),
            params=p,
            dataset=DatasetSpec(generate, {"w": "output"}, {"w": ["w"]}, settings),
        )
    chans = {"w_in": [f"w_t{j}" for j in range(1, t_in + 1)], "w_out": [f"w_t{j}" for j in range(t_in + 1, steps + 1)]}
    return Problem(
        name="ns2d",
        inputs=tuple(chans["w_in"]),
        outputs=tuple(chans["w_out"]),
        params=p,
        dataset=DatasetSpec(generate, {"w_in": "input", "w_out": "output"}, chans, settings),
    )
