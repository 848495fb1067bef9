"""Energy form (deep energy method): minimize the potential energy by quadrature.

.. math:: \\Pi[u] = \\int_\\Omega \\psi(u, \\nabla u, x)\\,d\\Omega
          \\approx \\Pi_h[u] = \\sum_i w_i\\, \\psi(u(x_i), \\nabla u(x_i), x_i),
          \\qquad u(x) = g(x) + \\varphi(x)\\, N_\\theta(x)

e.g. :math:`\\psi = \\tfrac12 a|\\nabla u|^2 - f u` for :math:`-\\nabla\\cdot(a\\nabla u) = f`.
Essential conditions hold exactly: :math:`\\varphi` vanishes on the Dirichlet boundary and
:math:`g` extends the boundary data, so the single loss term ``energy`` is :math:`\\Pi_h`
(it may be negative). Natural (Neumann/traction) terms belong in :math:`\\psi` or a boundary
rule; only the volume integral is implemented here.

Reference: Samaniego et al., Comput. Methods Appl. Mech. Engrg. 362 (2020) (DEM);
Wang et al. 2024 (KINN) compare it with the strong form.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from sciml.fields import Field, comparison, error_metrics
from sciml.method import AbstractMethod
from sciml.problems.base import EnergyForm
from sciml.ops import grad, jacobian
from sciml.registry import METHODS

from .pinn import predict_on


def energy_form_of(problem) -> EnergyForm:
    """The problem's :class:`~sciml.problems.base.EnergyForm` (``Problem.energy``)."""
    if problem.energy is None:
        raise ValueError(f"problem {problem.name!r} has no energy form (Problem.energy); "
                         "the energy method needs one")
    return problem.energy


def constrained(form: EnergyForm, net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """u = g(x) + φ(x)·N(x): (n, c), satisfying the essential conditions for any network N."""
    n = net(x)
    g = form.lift(x)
    g = g[:, None] if g.ndim == 1 else g
    return g + form.distance(x)[:, None] * n


def energy_functional(form: EnergyForm, u_fn: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
                      weights: torch.Tensor, params: dict) -> torch.Tensor:
    """Π_h[u] = Σ_i w_i ψ(u(x_i), ∇u(x_i), x_i), differentiable in the parameters of ``u_fn``.

    ``u_fn`` maps (n, d) points to (n,) or (n, c) values; derivatives by autograd.
    """
    x = points.detach().requires_grad_(True)
    u = u_fn(x)
    if u.ndim == 1 or u.shape[1] == 1:
        u = u.reshape(-1)
        du = grad(u, x)
    else:
        du = jacobian(u, x)
    return (weights * form.density(u, du, x, params)).sum()


class EnergyMethod(AbstractMethod):
    """Deep energy method: one loss term ``energy`` = Π_h[g + φ N_θ] on quadrature points.

    Parameters
    ----------
    problem : a steady problem with an energy form (:func:`energy_form_of`)
    model : point-wise network N_θ ``(n, d) -> (n, c)``
    form : override of the problem's EnergyForm
    """

    def __init__(self, problem, model: torch.nn.Module, form: EnergyForm | None = None,
                 weights: dict[str, float] | None = None):
        super().__init__()
        self.problem, self.model = problem, model
        self.form = form or energy_form_of(problem)
        weights = dict(weights or {})
        if set(weights) - {"energy"}:
            raise ValueError(f"method.weights: the energy method has one loss term 'energy', got {sorted(weights)}")
        self.weights = {k: float(v) for k, v in weights.items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return constrained(self.form, self.model, x)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"energy": energy_functional(self.form, self, batch["points"], batch["weights"], self.problem.params)}

    # --- evaluation against the reference field (steady: no times) ---
    def reference(self) -> Field:
        return self.problem.reference_field()

    def _predict_values(self, ref: Field) -> np.ndarray:
        return predict_on(self, ref)  # through forward(): the lifted trial function g + φ·N

    def evaluate(self, data=None) -> dict[str, float]:
        ref = self.reference()
        return error_metrics(self._predict_values(ref), ref.values)

    def predict(self, data=None, n_samples: int = 4) -> list[tuple[str, Field]]:
        ref = self.reference()
        return [("solution", comparison(self._predict_values(ref), ref))]


@METHODS.register("energy")
def energy(*, problem, model, data=None, weights: dict | None = None) -> EnergyMethod:
    """Deep energy method: quadrature of the potential energy, essential conditions exact."""
    if getattr(problem.domain, "time", None):
        raise ValueError(f"the energy method needs a steady problem; {problem.name!r} has a time axis")
    return EnergyMethod(problem, model, weights=weights)
