"""Lagrangian PINN (LPINN): learn the characteristics and the state along them.

For :math:`u_t + a(u)\\, u_x = \\nu u_{xx}` the solution is carried by characteristics
:math:`X(x_0, t)` labelled by their start :math:`x_0`. Two networks learn

.. math::

    \\hat X(x_0, t) = x_0 + \\hat D(x_0, t), \\qquad \\hat u(x_0, t) \\approx u(\\hat X(x_0, t), t),

with residuals and initial conditions

.. math::

    r_X = \\partial_t \\hat X - a(\\hat u), \\qquad
    r_u = \\partial_t \\hat u - \\nu\\, \\partial_X^2 \\hat u, \\qquad
    \\hat X(x_0, 0) = x_0, \\quad \\hat u(x_0, 0) = u_0(x_0),

where :math:`\\partial_X = J^{-1} \\partial_{x_0}` with :math:`J = \\partial_{x_0} \\hat X`, so

.. math::

    \\partial_X^2 \\hat u = \\frac{\\hat u_{x_0 x_0} J - \\hat u_{x_0} J_{x_0}}{J^3}.

(The released code of Mojgani et al. uses :math:`\\hat u_{x_0 x_0}`, exact only while
:math:`J = 1`; ``chain_rule=False`` reproduces it.) On a periodic domain the networks see
:math:`(\\cos x_0, \\sin x_0, t)`; the displacement :math:`\\hat D` is periodic in :math:`x_0`
while :math:`\\hat X` itself is not, which is why the network learns :math:`\\hat D`. The
Eulerian field is recovered by sorting :math:`(\\hat X \\bmod L, \\hat u)` at each time and
interpolating periodically onto the reference grid.

Reference: Mojgani, Balajewicz, Hassanzadeh, CMAME 404:115810 (2023), arXiv 2205.02902.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from sciml.fields import Field, comparison, error_metrics
from sciml.mesh import Grid
from sciml.method import AbstractMethod
from sciml.ops import Derivatives
from sciml.problems.base import IOSpec
from sciml.registry import METHODS

from .pinn import coefficient_metrics, unknown_coefficients

TERMS = ("characteristic", "state", "initial_position", "initial_state")
LABELS = ("x0", "t")  # the coordinates the Lagrangian networks are differentiated in


def lagrangian_residuals(du: Derivatives, speed, nu, params: dict, chain_rule: bool = True):
    """:math:`(r_X, r_u)` from a :class:`~sciml.ops.Derivatives` of outputs ``("X", "u")`` in ``("x0", "t")``.

    ``speed(u, params)`` is the characteristic speed :math:`a(u)` (β, or ``u`` for Burgers).
    """
    r_x = du("t", out="X") - speed(du(out="u"), params)
    u_t = du("t", out="u")
    if not isinstance(nu, torch.Tensor) and nu == 0:  # a trained ν is a tensor: always diffuse
        return r_x, u_t
    u_xx = du("x0", "x0", out="u")
    if chain_rule:
        jac, jac_x, u_x = du("x0", out="X"), du("x0", "x0", out="X"), du("x0", out="u")
        u_xx = (u_xx * jac - u_x * jac_x) / jac**3
    return r_x, u_t - nu * u_xx


def lagrangian_to_eulerian(X: np.ndarray, u: np.ndarray, x: np.ndarray, lo: float, length: float) -> np.ndarray:
    """Periodic linear interpolation of label values onto fixed nodes, all times at once.

    At each time the positions :math:`P_j = lo + (X_j - lo) \\bmod L` are sorted, extended by
    one point on each side (:math:`P_{last} - L`, :math:`P_{first} + L`) and ``u`` is linearly
    interpolated at ``x``. Rows are shifted by :math:`4L` each, so one ``searchsorted`` on the
    flattened, globally sorted positions serves every time (no Python loop).

    Parameters
    ----------
    X, u : (T, m) positions and values of m labels at T times
    x : (n,) query nodes in ``[lo, lo + length)``
    lo, length : the periodic interval

    Returns
    -------
    (T, n) interpolated values.
    """
    X, u, x = (np.asarray(a, dtype=np.float64) for a in (X, u, x))
    n_t, m = X.shape
    pos = lo + np.mod(X - lo, length)
    order = np.argsort(pos, axis=1, kind="stable")
    pos, val = np.take_along_axis(pos, order, 1), np.take_along_axis(u, order, 1)
    pos = np.concatenate([pos[:, -1:] - length, pos, pos[:, :1] + length], axis=1) - lo + length  # in [0, 3L)
    val = np.concatenate([val[:, -1:], val, val[:, :1]], axis=1)
    shift = (4.0 * length * np.arange(n_t))[:, None]
    flat_p, flat_v = (pos + shift).ravel(), val.ravel()
    q = (x - lo + length)[None, :] + shift  # (T, n), each row inside its own row of positions
    row0 = (np.arange(n_t) * (m + 2))[:, None]
    i = np.clip(np.searchsorted(flat_p, q, side="right") - 1, row0, row0 + m)
    p0, p1 = flat_p[i], flat_p[i + 1]
    gap = p1 - p0
    w = np.divide(q - p0, gap, out=np.zeros_like(q), where=gap > 0)
    return flat_v[i] + w * (flat_v[i + 1] - flat_v[i])


class PeriodicEmbedding(nn.Module):
    """``(x0, t) -> (cos 2πx0/L, sin 2πx0/L, t)`` in front of a network (exact periodicity in x0)."""

    def __init__(self, net: nn.Module, period: float):
        super().__init__()
        self.net, self.period = net, float(period)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a = (2 * math.pi / self.period) * z[:, :1]
        return self.net(torch.cat([torch.cos(a), torch.sin(a), z[:, 1:]], dim=1))


def network_io(problem, n_out: int, names: tuple[str, ...]) -> IOSpec:
    """What an LPINN network maps: ``(cos 2πx0/L, sin 2πx0/L, t)`` to ``names`` (``n_out`` of them)."""
    t = problem.domain.time if problem.domain is not None and problem.domain.time else (0.0, 1.0)
    return IOSpec(("cos_x0", "sin_x0", "t"), names[:n_out], 2, ((-1.0, 1.0), (-1.0, 1.0), tuple(t)))


class LPINN(AbstractMethod):
    """Lagrangian PINN for 1D periodic problems that offer a characteristic form.

    Parameters
    ----------
    problem : a problem with ``periodic = {"x": L}``, a
        :class:`~sciml.problems.base.CharacteristicForm` (``forms["characteristic"]``: speed a(u, params)
        and ν) and one ``"initial"`` condition (its residual gives :math:`\\hat u(x_0, 0) = u_0(x_0)`)
    x_net : network ``(cos, sin, t) → D`` (one output), or both ``(D, u)`` when ``u_net`` is None
        (tied weights: one trunk, two output rows)
    u_net : network ``(cos, sin, t) → u``, or None
    weights : loss-term name (``characteristic, state, initial_position, initial_state``) -> weight
    chain_rule : differentiate in X (True) or in the label x0 as the released code does (False)
    n_labels : labels x0 per time when mapping back to the Eulerian grid
    speed_scale : s in X = x0 + s·D: ``"auto"`` takes the largest initial speed max|a(u0)| (at
        least 1), so D stays O(1) however fast the transport. The residuals stay in physical
        units (the position error is what the solution error follows; dividing r_X by s made
        every β worse). The output row of D starts at zero (characteristics start as X = x0).
    trainable_params : parameter name -> initial guess, learned with the networks; ν (when the
        form names a parameter) and the speed's parameters reach the residuals as tensors
    """

    def __init__(
        self,
        problem,
        x_net: nn.Module,
        u_net: nn.Module | None = None,
        weights: dict | None = None,
        chain_rule: bool = True,
        n_labels: int = 1024,
        speed_scale: float | str = "auto",
        trainable_params: dict[str, float] | None = None,
    ):
        super().__init__()
        self.form, periodic = problem.form("characteristic", method="lpinn"), problem.periodic
        if problem.inputs[1:] != ("t",) or len(problem.outputs) != 1 or problem.inputs[0] not in periodic:
            raise ValueError(
                f"lpinn solves 1D periodic scalar problems u(x, t); {problem.name!r} has inputs "
                f"{problem.inputs}, outputs {problem.outputs}, periodic {sorted(periodic)}"
            )
        initial = [k for k, c in problem.conditions.items() if c.where == "initial"]
        if len(initial) != 1:
            raise ValueError(f"lpinn needs exactly one initial condition; {problem.name!r} has {initial}")
        unknown = sorted(set(weights or {}) - set(TERMS))
        if unknown:
            raise ValueError(f"method.weights: no loss term {unknown[0]!r}; the terms of lpinn are: {', '.join(TERMS)}")
        if n_labels < 2:
            raise ValueError(f"method.n_labels must be >= 2, got {n_labels}")
        self.problem, self.initial = problem, initial[0]
        self.speed = self.form.speed
        self.unknowns = unknown_coefficients(problem, trainable_params)
        self.period = float(periodic[problem.inputs[0]])
        self.lo = float(problem.domain.bounds[0, 0])
        self.x_net = PeriodicEmbedding(x_net, self.period)
        self.u_net = None if u_net is None else PeriodicEmbedding(u_net, self.period)
        self.weights = {k: float(v) for k, v in (weights or {}).items()}
        self.chain_rule, self.n_labels = bool(chain_rule), int(n_labels)
        if speed_scale == "auto":
            speed_scale = self._initial_speed()
        if isinstance(speed_scale, str) or not speed_scale > 0:
            raise ValueError(f"method.speed_scale must be 'auto' or a positive number, got {speed_scale!r}")
        self.speed_scale = float(speed_scale)
        last = getattr(x_net, "linears", [None])[-1]
        if isinstance(last, nn.Linear):  # D ≡ 0 at the start: X = x0, J = ∂X/∂x0 = 1 everywhere, so
            with torch.no_grad():  # the chain rule's 1/J³ starts finite however large s is
                last.weight[0].zero_()
                last.bias[0].zero_()

    def _initial_speed(self, n: int = 1024) -> float:
        """max(1, max |a(u0(x0))|) on n labels; u0 read off the initial condition's residual at u = 0."""
        x0 = self.lo + self.period * torch.arange(n, dtype=torch.float64) / n
        z0 = torch.stack([x0, torch.zeros_like(x0)], 1)
        zero = Derivatives(torch.zeros(n, 1, dtype=torch.float64), z0, self.problem.inputs, self.problem.outputs)
        p = self.params()
        u0 = -self.problem.conditions[self.initial].residual(zero, p)
        return max(1.0, float(torch.as_tensor(self.speed(u0, p)).detach().abs().max()))

    def params(self) -> dict:
        """The problem's parameters, with the trainable ones as tensors (in the autograd graph)."""
        return {**self.problem.params, **dict(self.unknowns.items())}

    def positions_states(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Characteristic positions X and states u, each ``(n,)``, at labels and times ``z = (x0, t)``."""
        out = self.x_net(z)
        u = out[:, 1] if self.u_net is None else self.u_net(z)[:, 0]
        return z[:, 0] + self.speed_scale * out[:, 0], u

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, 2)`` labels and times ``(x0, t)`` → ``(n, 2)`` characteristic position and state ``(X, u)``."""
        return torch.stack(self.positions_states(z), dim=1)

    def derivatives(self, z: torch.Tensor) -> Derivatives:
        """The accessor of ``("X", "u")`` in ``("x0", "t")`` (autograd)."""
        z = z.detach().requires_grad_(True)
        X, u = self.positions_states(z)
        # X and u passed separately: differentiating a column of the stacked tensor would also
        # back-propagate (zero) gradients through the other network
        return Derivatives(torch.stack([X, u], 1), z, LABELS, ("X", "u"), known={(0, ()): X, (1, ()): u})

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        p = self.params()
        nu = self.form.diffusion(p)
        r_x, r_u = lagrangian_residuals(self.derivatives(batch["interior"]), self.speed, nu, p, self.chain_rule)
        z0 = batch[self.initial].detach().requires_grad_(True)  # (x0, t0): here x = x0
        out0 = self(z0)
        du0 = Derivatives(out0[:, 1:], z0, self.problem.inputs, self.problem.outputs)
        r0 = self.problem.conditions[self.initial].residual(du0, p)
        return {
            "characteristic": r_x.square().mean(),
            "state": r_u.square().mean(),
            "initial_position": (out0[:, 0] - z0[:, 0]).square().mean(),
            "initial_state": r0.square().mean(),
        }

    # --- back to the Eulerian grid of the reference ---
    def reference(self) -> Field:
        return self.problem.reference_field()

    @torch.no_grad()
    def lagrangian(self, x0: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(X, u)``, each ``(T, m)``, of labels ``x0`` (m,) at ``times`` (T,)."""
        p = next(self.parameters())
        z = np.stack([np.tile(x0, len(times)), np.repeat(times, len(x0))], axis=1)
        z = torch.as_tensor(z, dtype=p.dtype, device=p.device)
        out = torch.cat([self(c) for c in z.split(65536)]).cpu().numpy().astype(np.float64)
        return out[:, 0].reshape(len(times), -1), out[:, 1].reshape(len(times), -1)

    def _eulerian(self, ref: Field) -> np.ndarray:
        x0 = self.lo + self.period * np.arange(self.n_labels) / self.n_labels
        X, u = self.lagrangian(x0, ref.times)
        x = ref.points()[:, 0]
        return lagrangian_to_eulerian(X, u, x, self.lo, self.period).reshape(ref.values.shape)

    def evaluate(self, data=None) -> dict[str, float]:
        ref = self.reference()
        return {**error_metrics(self._eulerian(ref), ref.values), **coefficient_metrics(self.problem, self.unknowns)}

    def predict(self, data=None, n_samples: int = 4) -> list[tuple[str, Field]]:
        """``solution`` (u, u_ref, u_error on the reference grid) and ``characteristics`` (X, u per label)."""
        ref = self.reference()
        solution = comparison(self._eulerian(ref), ref)
        n = ref.values.shape[1]
        labels = Grid((n,), ((self.lo, self.lo + self.period),), periodic=(True,))
        X, ul = self.lagrangian(labels.axes()[0], ref.times)
        characteristics = Field(np.stack([X, ul], -1), labels, ("X", "u"), ref.times)
        return [("solution", solution), ("characteristics", characteristics)]


@METHODS.register("lpinn")
def lpinn(
    *,
    problem,
    models,
    data=None,
    weights: dict | None = None,
    tie_weights: bool = False,
    chain_rule: bool = True,
    n_labels: int = 1024,
    speed_scale: float | str = "auto",
    trainable_params: dict | None = None,
) -> LPINN:
    """Lagrangian PINN: a network for the characteristics (``position``) and one for the state along
    them (``state``), or one for both (``tie_weights``: ``joint``); one ``model`` section builds each,
    or name them (``model: {position: {...}, state: {...}}``)."""

    def net(name: str, n_out: int) -> nn.Module:
        m = models(name, network_io(problem, n_out, ("X", "u") if n_out == 2 else ({"position": "X"}.get(name, "u"),)))
        if getattr(m, "B", None) is not None:
            raise ValueError("lpinn embeds x0 as (cos x0, sin x0): use an mlp without fourier_features")
        if name in ("position", "joint") and not isinstance(getattr(m, "linears", [None])[-1], nn.Linear):
            raise ValueError(
                f"lpinn: the {name} network must be an mlp (its last layer starts at zero so that X = x0); "
                f"got {type(m).__name__}; the state network may be any model"
            )
        return m

    models.skip_default()  # one model section: the same initial weights as before networks had names
    if tie_weights:
        return LPINN(problem, net("joint", 2), None, weights, chain_rule, n_labels, speed_scale, trainable_params)
    return LPINN(
        problem, net("position", 1), net("state", 1), weights, chain_rule, n_labels, speed_scale, trainable_params
    )
