r"""Energy form (deep energy method): minimize the potential energy by quadrature.

.. math:: \Pi[u] = \int_\Omega \psi(u, \nabla u, x)\,d\Omega + \sum_\Gamma \int_\Gamma \psi_\Gamma(u, x)\,ds
          \approx \sum_i w_i\, \psi(u(x_i), \nabla u(x_i), x_i) + \sum_\Gamma \sum_j w^\Gamma_j\, \psi_\Gamma(u(x_j), x_j),
          \qquad u(x) = g(x) + \varphi(x)\, N_\theta(x)

e.g. :math:`\psi = \tfrac12 a|\nabla u|^2 - f u` for :math:`-\nabla\cdot(a\nabla u) = f`, or
:math:`\psi = \tfrac12\sigma(u):\varepsilon(u)` and :math:`\psi_\Gamma = -t\cdot u` for linear
elasticity with a traction :math:`t`. Essential conditions hold exactly through the problem's
:class:`~sciml.problems.base.HardConstraint` (:math:`\varphi` vanishes where they hold, :math:`g`
carries the data), so the loss term ``energy`` is :math:`\Pi_h` (it may be negative). Conditions
no exact constraint can carry (continuity between subdomains, boundary data without a
finite-energy lift) are listed in ``EnergyForm.penalties`` and add terms mean(residual²).

Reference: Samaniego et al., Comput. Methods Appl. Mech. Engrg. 362 (2020) (DEM);
Wang et al. 2024 (KINN) compare it with the strong form.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from sciml.fields import Field, comparison
from sciml.method import AbstractMethod
from sciml.nn import check_model_fits
from sciml.ops import grad, jacobian
from sciml.problems.base import EnergyForm, HardConstraint
from sciml.registry import METHODS

from .multidomain import point_network
from .pinn import autograd_derivatives, field_metrics, predict_fields, sided_residual, trial_function


def energy_form_of(problem) -> EnergyForm:
    """The problem's :class:`~sciml.problems.base.EnergyForm` (``forms["energy"]``)."""
    return problem.form("energy", method="the energy method")


def energy_functional(
    form: EnergyForm,
    u_fn: Callable[[torch.Tensor], torch.Tensor],
    points: torch.Tensor,
    weights: torch.Tensor,
    params: dict,
) -> torch.Tensor:
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


def boundary_energy(
    density: Callable,
    u_fn: Callable[[torch.Tensor], torch.Tensor],
    points: torch.Tensor,
    weights: torch.Tensor,
    params: dict,
) -> torch.Tensor:
    """Σ_j w_j ψ_Γ(u(x_j), x_j) on one boundary's quadrature points."""
    u = u_fn(points)
    u = u.reshape(-1) if u.shape[1] == 1 else u
    return (weights * density(u, points, params)).sum()


class EnergyMethod(AbstractMethod):
    """Deep energy method: loss term ``energy`` = Π_h[g + φ N_θ] on quadrature points, plus one
    penalty term per condition in ``EnergyForm.penalties``.

    Parameters
    ----------
    problem : a steady problem with an energy form (:func:`energy_form_of`)
    model : point-wise network N_θ ``(n, d) -> (n, c)`` (a SubdomainNet on problems with subdomains)
    form, constraint : overrides of the problem's EnergyForm and HardConstraint
    weights : term name -> weight; penalty terms default to the form's weights
    """

    def __init__(
        self,
        problem,
        model: torch.nn.Module,
        form: EnergyForm | None = None,
        constraint: HardConstraint | None = None,
        weights: dict[str, float] | None = None,
    ):
        super().__init__()
        check_model_fits(model, problem)  # a wrong network size in one line, not a torch shape error
        self.problem, self.model = problem, model
        self.form = form or energy_form_of(problem)
        self.constraint = constraint or problem.constraint
        unknown = sorted(set(self.form.penalties) - set(problem.conditions))
        if unknown:
            raise ValueError(f"energy form of {problem.name!r}: penalty {unknown[0]!r} is not a condition")
        terms = {"energy", *self.form.penalties}
        weights = dict(weights or {})
        if set(weights) - terms:
            raise ValueError(
                f"method.weights: no loss term {sorted(set(weights) - terms)[0]!r}; the terms of "
                f"the energy method on {problem.name!r} are: {', '.join(sorted(terms))}"
            )
        self.weights = {
            **{k: float(v) for k, v in self.form.penalties.items()},
            **{k: float(v) for k, v in weights.items()},
        }

    def net(self, subdomain: str | None = None):
        """The trial function g + φ·N of one subdomain's network (or of the whole model)."""
        return trial_function(self.model, self.constraint, subdomain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net()(x)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        p = self.problem.params
        e = energy_functional(self.form, self, batch["points"], batch["weights"], p)
        for tag, density in self.form.boundary.items():
            e = e + boundary_energy(density, self, batch[f"points:{tag}"], batch[f"weights:{tag}"], p)
        terms = {"energy": e}
        for name in self.form.penalties:
            cond = self.problem.conditions[name]
            if cond.subdomain is not None:
                r = sided_residual(self.problem, cond, self.net, batch[name])
            else:
                r = cond.residual(autograd_derivatives(self.problem, self.net(), batch[name]), p)
            terms[name] = r.square().mean()
        return terms

    # --- evaluation against the reference field (steady: no times) ---
    def reference(self) -> Field:
        return self.problem.reference_field()

    def _predict_values(self, ref: Field) -> np.ndarray:
        return predict_fields(self, self.problem, ref)  # through forward(): the lifted trial function

    def evaluate(self, data=None) -> dict[str, float]:
        ref = self.reference()
        return field_metrics(self._predict_values(ref), ref, self.problem.primary or self.problem.outputs)

    def predict(self, data=None, n_samples: int = 4) -> list[tuple[str, Field]]:
        ref = self.reference()
        return [("solution", comparison(self._predict_values(ref), ref))]


@METHODS.register("energy")
def energy(*, problem, models=None, model=None, data=None, weights: dict | None = None) -> EnergyMethod:
    """Deep energy method: quadrature of the potential energy, essential conditions exact."""
    if getattr(problem.domain, "time", None):
        raise ValueError(f"the energy method needs a steady problem; {problem.name!r} has a time axis")
    if model is None:  # from the case: one network, or one per subdomain (pinns.multidomain)
        model = point_network(models, problem)
    return EnergyMethod(problem, model, weights=weights)
