"""PINN in strong form: every equation and condition of the problem is a named MSE term.

.. math:: \\mathcal L = \\sum_e w_e \\frac{1}{N_e}\\sum_i r_e(u_\\theta, x_i)^2
          + \\sum_c w_c \\frac{1}{N_c}\\sum_j r_c(u_\\theta, x_j)^2

Reference: Raissi, Perdikaris, Karniadakis, J. Comput. Phys. 378 (2019).
"""
from __future__ import annotations

import numpy as np
import torch

from sciml.fields import Field, comparison, error_metrics
from sciml.method import AbstractMethod
from sciml.ops import Derivatives
from sciml.registry import METHODS


class PINN(AbstractMethod):
    """Physics-informed network: loss terms named after the problem's equations and conditions.

    Parameters
    ----------
    problem, model : the problem and a point-wise network ``(n, n_in) -> (n, n_out)``
    weights : loss-term name -> weight (unnamed terms weigh 1)
    derivatives : ``"auto"`` uses Taylor-mode jets when the model has them (MLP with a smooth
        activation) and autograd otherwise; ``"autograd"`` or ``"jet"`` force one.
    """

    def __init__(self, problem, model: torch.nn.Module, weights: dict[str, float] | None = None,
                 derivatives: str = "auto"):
        super().__init__()
        self.problem, self.model = problem, model
        names = set(problem.equations) | set(problem.conditions)
        weights = dict(weights or {})
        unknown = sorted(set(weights) - names)
        if unknown:
            raise ValueError(f"method.weights: no loss term {unknown[0]!r}; the terms of "
                             f"{problem.name!r} are: {', '.join(sorted(names))}")
        if derivatives not in ("auto", "autograd", "jet"):
            raise ValueError(f"method.derivatives must be auto, autograd or jet, got {derivatives!r}")
        has_jet = getattr(model, "supports_jet", lambda: False)()
        if derivatives == "jet" and not has_jet:
            raise ValueError(f"method.derivatives: jet needs a model with Taylor-mode jets (an MLP with "
                             f"tanh/sin/softplus/silu/relu); {type(model).__name__} has none")
        self.use_jet = has_jet and derivatives != "autograd"
        self.weights = {k: float(v) for k, v in weights.items()}
        # point set -> residuals evaluated on it: equations on the interior, each condition on its own
        self.groups: dict[str, dict] = {}
        if problem.equations:
            self.groups["interior"] = dict(problem.equations)
        for name, cond in problem.conditions.items():
            self.groups[name] = {name: cond.residual}
        self._requests: dict[str, set] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def derivatives(self, group: str, x: torch.Tensor) -> Derivatives:
        """The derivative accessor for the residuals of ``group`` at points ``x``."""
        io = (self.problem.inputs, self.problem.outputs)
        if not self.use_jet:
            x = x.detach().requires_grad_(True)
            return Derivatives(self.model(x), x, *io)
        if group not in self._requests:  # learn which derivatives the residuals ask for, on 2 points
            xs = x[:2].detach().requires_grad_(True)
            probe = Derivatives(self.model(xs), xs, *io)
            for residual in self.groups[group].values():
                residual(probe, self.problem.params)
            if any(len(a) > 2 for _, a in probe.requested):
                self.use_jet = False  # third or higher order: autograd for everything
                return self.derivatives(group, x)
            self._requests[group] = {a for _, a in probe.requested}
        known = self.model.jet(x, self._requests[group])
        u = torch.stack([known[(o, ())] for o in range(len(self.problem.outputs))], dim=1)
        return Derivatives(u, x, *io, known=known)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        p = self.problem.params
        terms = {}
        for group, du in self._all_derivatives(batch).items():
            for name, residual in self.groups[group].items():
                terms[name] = residual(du, p).square().mean()
        return terms

    def _all_derivatives(self, batch) -> dict[str, Derivatives]:
        if not self.use_jet or any(g not in self._requests for g in self.groups):
            return {g: self.derivatives(g, batch[g]) for g in self.groups}
        # jets: every point set in one pass through the network (fewer, larger kernels)
        xs = [batch[g] for g in self.groups]
        known = self.model.jet(torch.cat(xs), set().union(*self._requests.values()))
        io = (self.problem.inputs, self.problem.outputs)
        out, start = {}, 0
        for g, x in zip(self.groups, xs):
            sl = slice(start, start + len(x))
            start += len(x)
            kg = {k: v[sl] for k, v in known.items() if k[1] == () or k[1] in self._requests[g]}
            u = torch.stack([kg[(o, ())] for o in range(len(self.problem.outputs))], dim=1)
            out[g] = Derivatives(u, x, *io, known=kg)
        return out

    # --- evaluation against the reference field ---
    def reference(self) -> Field:
        return self.problem.reference_field()

    def _predict_values(self, ref: Field) -> np.ndarray:
        return predict_on(self.model, ref)

    def evaluate(self, data=None) -> dict[str, float]:
        ref = self.reference()
        return error_metrics(self._predict_values(ref), ref.values)

    def predict(self, data=None, n_samples: int = 4) -> list[tuple[str, Field]]:
        ref = self.reference()
        return [("solution", comparison(self._predict_values(ref), ref))]


def reference_points(ref: Field) -> np.ndarray:
    """Space(-time) query points in the order of ``ref.point_values()`` (times outermost)."""
    x = ref.points()
    if ref.times is None:
        return x
    nt, nx = len(ref.times), len(x)
    return np.hstack([np.tile(x, (nt, 1)), np.repeat(ref.times, nx)[:, None]])


@torch.no_grad()
def predict_on(fn: torch.nn.Module, ref: Field) -> np.ndarray:
    """A point-wise network's values at the reference's points, shaped like ``ref.values``."""
    p = next(fn.parameters())
    x = torch.as_tensor(reference_points(ref), dtype=p.dtype, device=p.device)
    u = torch.cat([fn(c) for c in x.split(65536)]).cpu().numpy().astype(np.float64)
    return u.reshape(ref.values.shape[:-1] + (u.shape[-1],))


@METHODS.register("pinn")
def pinn(*, problem, model, data=None, weights: dict | None = None, derivatives: str = "auto") -> PINN:
    """Physics-informed neural network, strong form (named loss terms with weights)."""
    return PINN(problem, model, weights, derivatives)
