"""PINN in strong form: every equation and condition of the problem is a named MSE term.

.. math:: \\mathcal L = \\sum_e w_e \\frac{1}{N_e}\\sum_i r_e(u_\\theta, x_i)^2
          + \\sum_c w_c \\frac{1}{N_c}\\sum_j r_c(u_\\theta, x_j)^2

Reference: Raissi, Perdikaris, Karniadakis, J. Comput. Phys. 378 (2019).
"""
from __future__ import annotations

import numpy as np
import torch

from sciml.fields import Field
from sciml.method import AbstractMethod
from sciml.registry import METHODS


class PINN(AbstractMethod):
    """Physics-informed network: loss terms named after the problem's equations and conditions."""

    def __init__(self, problem, model: torch.nn.Module, weights: dict[str, float] | None = None):
        super().__init__()
        self.problem, self.model = problem, model
        names = set(problem.equations) | set(problem.conditions)
        weights = dict(weights or {})
        unknown = sorted(set(weights) - names)
        if unknown:
            raise ValueError(f"method.weights: no loss term {unknown[0]!r}; the terms of "
                             f"{problem.name!r} are: {', '.join(sorted(names))}")
        self.weights = {k: float(v) for k, v in weights.items()}
        self._reference: Field | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        p = self.problem.params
        terms = {}
        if self.problem.equations:
            x = batch["interior"].detach().requires_grad_(True)
            u = self.model(x)
            for name, residual in self.problem.equations.items():
                terms[name] = residual(u, x, p).square().mean()
        for name, cond in self.problem.conditions.items():
            x = batch[name].detach().requires_grad_(True)
            terms[name] = cond.residual(self.model(x), x, p).square().mean()
        return terms

    # --- evaluation against the reference field ---
    def reference(self) -> Field:
        if self._reference is None:
            if self.problem.reference is None:
                raise ValueError(f"problem {self.problem.name!r} has no reference solution to evaluate against")
            self._reference = self.problem.reference()
        return self._reference

    def _points(self, ref: Field) -> np.ndarray:
        """Space(-time) query points matching ``ref.point_values()`` order."""
        x = ref.points()
        if ref.times is None:
            return x
        nt, nx = len(ref.times), len(x)
        return np.hstack([np.tile(x, (nt, 1)), np.repeat(ref.times, nx)[:, None]])

    @torch.no_grad()
    def _predict_values(self, ref: Field) -> np.ndarray:
        p = next(self.model.parameters())
        x = torch.as_tensor(self._points(ref), dtype=p.dtype, device=p.device)
        u = torch.cat([self.model(c) for c in x.split(65536)]).cpu().numpy().astype(np.float64)
        return u.reshape(ref.values.shape[:-1] + (u.shape[-1],))

    def evaluate(self, data=None) -> dict[str, float]:
        ref = self.reference()
        u = self._predict_values(ref)
        err = u - ref.values
        return {"rel_l2": float(np.linalg.norm(err) / np.linalg.norm(ref.values)),
                "max_abs": float(np.abs(err).max())}

    def predict(self, data=None, n_samples: int = 4) -> list[tuple[str, Field]]:
        ref = self.reference()
        u = self._predict_values(ref)
        names = tuple(ref.names)
        values = np.concatenate([u, ref.values, u - ref.values], axis=-1)
        return [("solution", Field(values, ref.support,
                                   names + tuple(f"{n}_ref" for n in names) + tuple(f"{n}_error" for n in names),
                                   ref.times))]


@METHODS.register("pinn")
def pinn(*, problem, model, data=None, weights: dict | None = None) -> PINN:
    """Physics-informed neural network, strong form (named loss terms with weights)."""
    return PINN(problem, model, weights)
