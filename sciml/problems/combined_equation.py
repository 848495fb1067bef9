r"""The MP-PDE "combined equation" trajectories (Brandstetter, Worrall & Welling, ICLR 2022).

.. math::

    \partial_t u + \partial_x\big(\alpha u^2 - \beta\,\partial_x u + \gamma\,\partial_{xx} u\big) = \delta(t, x),
    \quad x \in [0, L),\ L = 16 \text{ periodic}, \quad u(0, x) = \delta(0, x),

    \delta(t, x) = \sum_{j=1}^{5} A_j \sin(\omega_j t + 2\pi \ell_j x / L + \phi_j),\quad
    A_j \sim U(-\tfrac12, \tfrac12),\ \omega_j \sim U(-0.4, 0.4),\ \phi_j \sim U(0, 2\pi),\ \ell_j \in \{1, 2, 3\}.

The advective flux is :math:`\alpha u^2` **as written** (α = 1 is :math:`u_t + (u^2)_x = 0`); the
published MP-PDE generator uses :math:`\alpha u^2/2`, so data made here at α match theirs at 2α
(E1/E2 here are :math:`u_t + (u^2)_x = \ldots`, characteristic speed 2u); to mimic that code's data,
pass ``params={"alpha_min": 0.5, "alpha_max": 0.5}`` for E1/E2. For E3 that code draws α ~ U[0, 6]
with the flux αu²/2, the same as the default α ~ U[0, 3] here, but β ~ U[0.1, 0.4]
(``params={"beta_min": 0.1}``) and ℓ_j ∈ {1, 2} (fixed to {1, 2, 3} here).
See :mod:`sciml.solvers.weno` for the scheme.

Experiments (per-sample coefficients drawn uniformly from ``[<name>_min, <name>_max]``, which the
``params`` option overrides):

=====  ==========  ============  ==========  =========
name   α           β             γ           t_end
=====  ==========  ============  ==========  =========
E1     1           0             0           4
E2     1           U[0, 0.2]     0           4
E3     U[0, 3]     U[0, 0.4]     U[0, 1]     2
=====  ==========  ============  ==========  =========

**Solver.** WENO5-JS + Godunov finite volumes, integrating-factor RK4 (diffusion and dispersion
integrated exactly in Fourier space of the discrete operator, so E3's dispersion does not force tiny
steps), on ``nx_fine`` cells (:func:`sciml.solvers.solve_combined_equation`); the source enters as
exact cell averages of δ and u(0) as the exact cell averages of δ(0, ·).

**Stored values.** ``points="uniform"``: the coarse cell averages (means of ``nx_fine / nx``
consecutive fine cells, :func:`sciml.solvers.downsample_periodic`) of the cells
:math:`[x_i - h/2, x_i + h/2]` centred on the grid nodes :math:`x_i = i h`, :math:`h = L/n_x`; the
fine cells are laid out (shifted by :math:`-(f-1)h_f/2`) so that they tile these coarse cells
exactly. Support: ``Grid((nx,), ((0, L),), periodic=(True,))``, whose nodes are those centres.
``points="irregular"``: ``nx`` distinct fine cells chosen by ``default_rng(irregular_seed)``
(sorted, fixed for the problem, independent of the sample seed), fine cells centred at
:math:`i h_f`; the stored values are those fine cell averages (point values at the centres up to
:math:`O(h_f^2)`), the support a :class:`sciml.mesh.Mesh` of the (nx, 1) centres with ``line``
cells joining consecutive points, not wrapping around: periodicity (period L, also in
``problem.periodic``) is for the graph construction to add.

Fields: ``u`` (N, nt, nx, 1), role ``"output"``; times ``linspace(0, t_end, nt)``; per-sample
params ``alpha``, ``beta``, ``gamma`` (all three, every experiment).
"""

from __future__ import annotations

import numpy as np

from ..mesh import Grid, Mesh
from ..registry import PROBLEMS
from ..solvers.weno import SineForcing, cell_centres, downsample_periodic, random_forcing, solve_combined_equation
from .base import DatasetSpec, Param, Problem, resolve_params

N_MODES = 5  # J
ELL_MAX = 3  # ℓ_j ∈ {1, ..., ELL_MAX}
CFL = 0.4
_CHUNK = 256  # trajectories solved at once (bounds the (chunk, nt, nx_fine) buffer)

# (alpha range, beta range, gamma range, t_end) of the paper's experiments
EXPERIMENTS = {
    "E1": ((1.0, 1.0), (0.0, 0.0), (0.0, 0.0), 4.0),
    "E2": ((1.0, 1.0), (0.0, 0.2), (0.0, 0.0), 4.0),
    "E3": ((0.0, 3.0), (0.0, 0.4), (0.0, 1.0), 2.0),
}


def param_spec(experiment: str) -> dict[str, Param]:
    """The overridable parameters, with the experiment's defaults."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"combined_equation: unknown experiment {experiment!r}; valid: {', '.join(EXPERIMENTS)}")
    (a0, a1), (b0, b1), (g0, g1), t_end = EXPERIMENTS[experiment]
    return {
        "alpha_min": Param(a0, -10.0, 10.0, "smallest advection coefficient α (flux α u²)"),
        "alpha_max": Param(a1, -10.0, 10.0, "largest α"),
        "beta_min": Param(b0, 0.0, 10.0, "smallest viscosity β"),
        "beta_max": Param(b1, 0.0, 10.0, "largest β"),
        "gamma_min": Param(g0, 0.0, 10.0, "smallest dispersion γ"),
        "gamma_max": Param(g1, 0.0, 10.0, "largest γ"),
        "t_end": Param(t_end, 1e-6, 100.0, "final time"),
        "L": Param(16.0, 1e-3, 1e4, "domain length (period)"),
        "amplitude": Param(0.5, 0.0, 10.0, "forcing amplitudes A_j ~ U(-amplitude, amplitude)"),
        "omega_max": Param(0.4, 0.0, 100.0, "forcing frequencies ω_j ~ U(-omega_max, omega_max)"),
    }


def sample_coefficients(n: int, rng: np.random.Generator, params: dict[str, float]):
    """One draw per trajectory, in this order: the forcing (A, ω, φ, ℓ; :func:`random_forcing`), then α, β, γ.

    Returns ``(forcing: SineForcing, alpha (n,), beta (n,), gamma (n,))``; the generator uses exactly
    this, so replaying a seed reproduces a dataset's forcing.
    """
    forcing = random_forcing(
        n, rng, J=N_MODES, L=params["L"], amplitude=params["amplitude"], omega_max=params["omega_max"], ell_max=ELL_MAX
    )
    coef = [rng.uniform(params[f"{c}_min"], params[f"{c}_max"], n) for c in ("alpha", "beta", "gamma")]
    return (forcing, *coef)


def _check_int(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"combined_equation: {name} must be an integer >= {lo}, got {v!r}")
    return int(v)


@PROBLEMS.register("combined_equation")
def combined_equation(
    *,
    experiment: str = "E2",
    nx: int = 50,
    nx_fine: int = 200,
    nt: int = 250,
    points: str = "uniform",
    irregular_seed: int = 0,
    params: dict | None = None,
) -> Problem:
    """MP-PDE combined equation ∂t u + ∂x(αu² − βu_x + γu_xx) = δ(t, x) on [0, 16) (E1/E2/E3), WENO5 data."""
    if not isinstance(experiment, str) or experiment not in EXPERIMENTS:
        raise ValueError(f"combined_equation: unknown experiment {experiment!r}; valid: {', '.join(EXPERIMENTS)}")
    p = resolve_params("combined_equation", param_spec(experiment), params)
    for c in ("alpha", "beta", "gamma"):
        if p[f"{c}_min"] > p[f"{c}_max"]:
            raise ValueError(f"combined_equation: {c}_min = {p[f'{c}_min']} exceeds {c}_max = {p[f'{c}_max']}")
    nx = _check_int("nx", nx, 4)
    nx_fine = _check_int("nx_fine", nx_fine, 6)
    nt = _check_int("nt", nt, 2)
    irregular_seed = _check_int("irregular_seed", irregular_seed, 0)
    if points not in ("uniform", "irregular"):
        raise ValueError(f"combined_equation: points must be 'uniform' or 'irregular', got {points!r}")
    if nx > nx_fine:
        raise ValueError(f"combined_equation: nx = {nx} exceeds nx_fine = {nx_fine} (the solve resolution)")
    L, t_end = p["L"], p["t_end"]
    hf = L / nx_fine
    if points == "uniform":
        if nx_fine % nx:
            valid = [d for d in range(4, nx_fine + 1) if nx_fine % d == 0]
            raise ValueError(
                f"combined_equation: nx_fine = {nx_fine} is not a multiple of nx = {nx} (coarse cells "
                f"are unions of fine cells); valid nx for this nx_fine: {valid}"
            )
        factor = nx_fine // nx
        x_fine = cell_centres(nx_fine, L, offset=-(factor - 1) * hf / 2.0)  # fine cells tile cells centred at i L/nx
        support: Grid | Mesh = Grid((nx,), ((0.0, L),), periodic=(True,))
        pick = None
    else:
        x_fine = cell_centres(nx_fine, L)
        pick = np.sort(np.random.default_rng(irregular_seed).choice(nx_fine, size=nx, replace=False))
        lines = np.stack([np.arange(nx - 1), np.arange(1, nx)], axis=1)
        support = Mesh(x_fine[pick][:, None], [("line", lines)])
    times = np.linspace(0.0, t_end, nt)

    def generate(n_samples: int, rng: np.random.Generator):
        n = _check_int("n_samples", n_samples, 1)
        forcing, alpha, beta, gamma = sample_coefficients(n, rng, p)
        u = np.empty((n, nt, nx, 1))
        for s in range(0, n, _CHUNK):
            sl = slice(s, min(s + _CHUNK, n))
            f = SineForcing(forcing.A[sl], forcing.omega[sl], forcing.phi[sl], forcing.ell[sl], L)
            src = f.source(x_fine, hf)  # exact fine-cell averages of δ
            traj = solve_combined_equation(src(0.0), times, L, alpha[sl], beta[sl], gamma[sl], src, cfl=CFL)
            u[sl, ..., 0] = downsample_periodic(traj, nx=nx) if pick is None else traj[..., pick]
        return {"u": u}, support, {"times": times, "params": {"alpha": alpha, "beta": beta, "gamma": gamma}}

    settings = {
        "experiment": experiment,
        "nx": nx,
        "nx_fine": nx_fine,
        "nt": nt,
        "t_end": t_end,
        "L": L,
        "points": points,
        "irregular_seed": irregular_seed,
        "shape": (nx,),
    }
    return Problem(
        name="combined_equation",
        inputs=("u",),
        outputs=("u",),
        params=p,
        dataset=DatasetSpec(generate, {"u": "output"}, {"u": ["u"]}, settings),
        periodic={"x": L},
    )
