"""1D multiscale Poisson: −u'' = f on (0, 1), u(0) = u(1) = 0, with a known two-scale solution.

.. math:: u(x) = \\sin(\\pi x) + 0.1 \\sin(k \\pi x), \\qquad
          f(x) = \\pi^2 \\sin(\\pi x) + 0.1\\,k^2\\pi^2 \\sin(k\\pi x)

with an integer ``k = freq`` (so that u(1) = 0). The problem carries both forms: the strong residual (equation ``pde``,
condition ``boundary``) for the PINN, and the energy pieces (:func:`energy_density`,
:func:`distance`, :func:`lift`) for the energy method (``pinns.energy`` wires them).
The energy :math:`\\Pi[u] = \\int_0^1 (\\tfrac12 u'^2 - f u)\\,dx` is minimized by the exact
solution, where it equals :math:`-\\tfrac12\\int_0^1 f u\\,dx = -\\tfrac12\\int_0^1 u'^2 dx`
(:func:`exact_energy`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..fields import Field
from ..geometry import Domain, dde
from ..mesh import Grid
from ..registry import PROBLEMS
from .base import Condition, EnergyForm, HardConstraint, Param, Problem, resolve_params

PARAMS = {"freq": Param(10.0, 0.0, 1000.0, "integer frequency k of the fine scale 0.1 sin(kπx)")}


def _sin(x):
    return torch.sin(x) if isinstance(x, torch.Tensor) else np.sin(x)


def exact(x, freq: float):
    """u(x) = sin(πx) + 0.1 sin(kπx) (numpy or torch, any shape)."""
    return _sin(np.pi * x) + 0.1 * _sin(freq * np.pi * x)


def source(x, freq: float):
    """f = −u'' = π² sin(πx) + 0.1 k²π² sin(kπx) (numpy or torch, any shape)."""
    return np.pi**2 * _sin(np.pi * x) + 0.1 * (freq * np.pi) ** 2 * _sin(freq * np.pi * x)


def exact_energy(freq: float) -> float:
    """Π[u*] = −½∫₀¹ u*'² dx in closed form (``np.sinc(a) = sin(πa)/(πa)`` = ∫₀¹ cos(aπx) dx)."""
    k = float(freq)
    a = 0.5 * np.pi**2  # ∫ (π cos πx)²
    b = (0.1 * k * np.pi) ** 2 * 0.5 * (1.0 + np.sinc(2 * k))  # ∫ (0.1kπ cos kπx)²
    c = 2 * 0.1 * k * np.pi**2 * 0.5 * (np.sinc(k - 1) + np.sinc(k + 1))  # cross term
    return float(-0.5 * (a + b + c))


def pde_residual(du, p):
    """−u'' − f."""
    return -du("x", "x") - source(du.coord("x"), p["freq"])


def energy_density(u, grad_u, x, p):
    """ψ = ½ u'² − f u at the points: (n,)."""
    return 0.5 * grad_u[:, 0] ** 2 - source(x[:, 0], p["freq"]) * u


def distance(x):
    """φ = x(1 − x): vanishes exactly at both Dirichlet ends."""
    return x[:, 0] * (1.0 - x[:, 0])


def lift(x):
    """g = 0: the homogeneous boundary data."""
    return torch.zeros_like(x[:, 0])


@PROBLEMS.register("poisson1d_multiscale")
def poisson1d_multiscale(*, params: dict | None = None, n_x: int = 512) -> Problem:
    """1D Poisson −u'' = f with exact u = sin(πx) + 0.1 sin(kπx), homogeneous Dirichlet ends."""
    p = resolve_params("poisson1d_multiscale", PARAMS, params)
    if p["freq"] != round(p["freq"]):
        raise ValueError(
            f"poisson1d_multiscale: freq must be an integer (u(1) = 0.1 sin(freq π) must vanish), got {p['freq']}"
        )
    if n_x < 2:
        raise ValueError(f"poisson1d_multiscale: n_x must be >= 2, got {n_x}")
    domain = Domain(
        dde().geometry.Interval(0.0, 1.0),
        {"left": lambda x: np.isclose(x[:, 0], 0.0), "right": lambda x: np.isclose(x[:, 0], 1.0)},
        names=("x",),
    )

    def reference() -> Field:
        grid = Grid((n_x,), ((0.0, 1.0),))
        return Field(exact(grid.points(), p["freq"]), grid, ("u",))

    return Problem(
        name="poisson1d_multiscale",
        inputs=("x",),
        outputs=("u",),
        params=p,
        domain=domain,
        equations={"pde": pde_residual},
        conditions={"boundary": Condition("boundary", lambda du, p: du())},
        reference=reference,
        exact=lambda x: exact(np.asarray(x)[:, :1], p["freq"]),
        forms={"energy": EnergyForm(energy_density)},
        constraint=HardConstraint(distance, lift, covers=("boundary",)),
    )
