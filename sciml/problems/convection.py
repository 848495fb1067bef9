"""1D periodic convection (–diffusion): the PINN "failure mode" benchmark.

.. math::

    u_t + \\beta u_x = \\nu u_{xx}, \\quad x \\in [0, 2\\pi) \\text{ periodic},\\ t \\in [0, T],
    \\qquad u(x, 0) = \\sin x,

with exact solution :math:`u = e^{-\\nu t} \\sin(x - \\beta t)`. ``convection1d`` is the
inviscid case (ν = 0) of Krishnapriyan et al., NeurIPS 2021, where a plain PINN fails from
β ≈ 30; ``convection_diffusion1d`` is the setup of Mojgani et al. (LPINN), CMAME 2023.

Periodicity is declared twice, for two kinds of method:

- as a condition ``"periodic"`` on paired boundary points, :math:`u(0, t_i) = u(2\\pi, t_i)`
  (and :math:`u_x` too when ν > 0), which is how Krishnapriyan et al. impose it on a plain PINN;
- as ``Problem.periodic = {"x": 2π}`` (coordinate -> period), for methods that build
  periodicity into the network (LPINN embeds x as (cos x, sin x)).

Both problems also offer their characteristic form ``forms["characteristic"]`` (characteristic speed
:math:`a(u)` and diffusivity ν) for :mod:`pinns.lpinn`.

Multi-domain PINNs split the domain with ``cuts`` and tie the pieces with ``interface`` terms
(the ``cuts`` and ``interface`` options every problem takes: :func:`sciml.problems.interfaces.split_problem`). METALIC's advection family is
``convection1d`` with β ∈ [1, 30] and ``cuts={"t": 0.5}`` (subdomains ``t0``, ``t1``, interface
``t0|t1``); METALIC imposes the exact solution on x = 0, 2π (and t = 1) where these problems keep
the periodic condition.
"""

from __future__ import annotations

import numpy as np
import torch

from ..fields import Field
from ..geometry import Domain, dde
from ..mesh import Grid
from ..registry import PROBLEMS
from ..solvers.spectral import convection_diffusion_fft
from .base import CharacteristicForm, Condition, Param, Problem, check_int, check_number, resolve_params

TWO_PI = 2.0 * np.pi
BETA = Param(30.0, 0.0, 1000.0, "convection speed")
NU = Param(0.01, 0.0, 10.0, "diffusivity")


class PairedPeriodicDomain:
    """A 1D space-time :class:`~sciml.geometry.Domain` whose boundary ``"periodic"`` comes in pairs.

    ``sample_boundary(n, "periodic")`` returns ``m = ceil(n/2)`` points ``(lo, t_i)`` followed
    by the ``m`` points ``(hi, t_i)`` at the same times, so a residual can compare
    ``u[:m]`` with ``u[m:]``. Every other call goes to the wrapped domain. (Under data-parallel
    training the pairs survive the ``points[rank::world]`` sharding when ``m`` is a multiple
    of the world size.)
    """

    def __init__(self, domain: Domain):
        if domain.dim != 1 or not domain.time:
            raise ValueError("PairedPeriodicDomain wraps a 1D space-time domain")
        self.domain = domain

    def __getattr__(self, name):
        if name == "domain" or name.startswith("__"):  # not yet set (copy/pickle) or dunder lookups
            raise AttributeError(name)
        return getattr(self.domain, name)

    def sample_boundary(self, n: int, tag: str | None = None, method: str = "pseudo", rng=None) -> np.ndarray:
        if tag != "periodic":
            return self.domain.sample_boundary(n, tag, method, rng)
        rng = np.random.default_rng(rng)
        m = max(1, -(-n // 2))
        (lo, hi), (t0, t1) = self.domain.bounds
        t = t0 + rng.random(m) * (t1 - t0)
        x = np.concatenate([np.full(m, lo), np.full(m, hi)])
        return np.stack([x, np.concatenate([t, t])], axis=1)


def periodic_pairs(du, p, derivative: bool = False):
    """:math:`u(x_L, t_i) - u(x_R, t_i)` (and :math:`u_x` likewise) on paired points ``[left; right]``."""
    u = du()
    m = u.shape[0] // 2
    if u.shape[0] != 2 * m:
        raise ValueError(f"periodic condition needs paired points [left; right], got {u.shape[0]} points")
    r = u[:m] - u[m:]
    if derivative:
        ux = du("x")
        r = torch.cat([r, ux[:m] - ux[m:]])
    return r


def convection_residual(du, p):
    """u_t + β u_x."""
    return du("t") + p["beta"] * du("x")


def convection_diffusion_residual(du, p):
    """u_t + β u_x − ν u_xx."""
    return du("t") + p["beta"] * du("x") - p["nu"] * du("x", "x")


def initial_residual(du, p):
    """u(x, 0) − sin x."""
    return du() - torch.sin(du.coord("x"))


def constant_speed(u, p):
    """Characteristic speed a(u) = β of linear convection."""
    return p["beta"]


def _build(name: str, p: dict, residual, t_end: float, n_x: int, n_t: int) -> Problem:
    t_end = check_number(name, "t_end", t_end, 0.0, strict=True)
    n_x, n_t = check_int(name, "n_x", n_x, 2), check_int(name, "n_t", n_t, 1)  # reference grid
    nu = p.get("nu", 0.0)
    ends = {
        "left": lambda x: np.isclose(x[:, 0], 0.0),
        "right": lambda x: np.isclose(x[:, 0], TWO_PI),
        "periodic": lambda x: np.isclose(x[:, 0], 0.0) | np.isclose(x[:, 0], TWO_PI),
    }
    domain = PairedPeriodicDomain(
        Domain(dde().geometry.Interval(0.0, TWO_PI), ends, time=(0.0, t_end), names=("x", "t"))
    )

    def exact(x: np.ndarray) -> np.ndarray:
        return np.exp(-nu * x[:, 1]) * np.sin(x[:, 0] - p["beta"] * x[:, 1])

    def reference() -> Field:
        grid = Grid((n_x,), ((0.0, TWO_PI),), periodic=(True,))
        times = np.linspace(0.0, t_end, n_t)
        x = grid.axes()[0]
        u = convection_diffusion_fft(np.sin(x), x, times, p["beta"], nu)  # (n_t, n_x)
        return Field(u[..., None], grid, ("u",), times)

    return Problem(
        name=name,
        inputs=("x", "t"),
        outputs=("u",),
        params=p,
        domain=domain,
        equations={"pde": residual},
        conditions={
            "initial": Condition("initial", initial_residual),
            "periodic": Condition(
                "boundary:periodic", lambda du, q: periodic_pairs(du, q, derivative=nu > 0), pointwise=False
            ),
        },
        reference=reference,
        exact=exact,
        periodic={"x": TWO_PI},
        forms={"characteristic": CharacteristicForm(constant_speed, nu="nu" if "nu" in p else 0.0)},
    )


@PROBLEMS.register("convection1d")
def convection1d(*, params: dict | None = None, t_end: float = 1.0, n_x: int = 256, n_t: int = 100) -> Problem:
    """1D periodic convection u_t + β u_x = 0, u0 = sin x (Krishnapriyan et al. failure mode).

    Parameters
    ----------
    params : {beta: β in [0, 1000]} (default 30; METALIC's range is [1, 30])
    t_end : the final time
    n_x, n_t : the reference grid: nodes on [0, 2π) and times on [0, t_end]
    """
    p = resolve_params("convection1d", {"beta": BETA}, params)
    return _build("convection1d", p, convection_residual, t_end, n_x, n_t)


@PROBLEMS.register("convection_diffusion1d")
def convection_diffusion1d(
    *, params: dict | None = None, t_end: float = 1.0, n_x: int = 256, n_t: int = 100
) -> Problem:
    """1D periodic convection–diffusion u_t + β u_x = ν u_xx, u0 = sin x (LPINN benchmark); FFT reference."""
    p = resolve_params("convection_diffusion1d", {"beta": BETA, "nu": NU}, params)
    return _build("convection_diffusion1d", p, convection_diffusion_residual, t_end, n_x, n_t)
