r"""Weak-form residuals with compactly supported test functions (DGNO's virtual observables).

For a problem's :class:`~sciml.problems.base.WeakForm` :math:`-\nabla\cdot F = s`, the residual of a
trial function u against the test function :math:`\varphi_j(x) = \phi(|x - c_j| / R)` (Wendland's
CSRBF :func:`~sciml.quadrature.wendland`, supported on the disk of radius R about the centre
:math:`c_j`, which must lie in the domain at a distance ≥ R from its boundary) is

.. math:: r_j = \int_{|x - c_j| < R} F(u, \nabla u, x)\cdot\nabla\varphi_j - s\,\varphi_j \, dx,

computed by a quadrature rule on the unit disk scaled to each centre (default the product rule
:func:`~sciml.quadrature.disk_quadrature` with 6 radial and 24 angular points; on the tests'
sin·sin Poisson problem with R = 0.1 the exact solution's residuals are 1e-9, a 5% perturbation's
1e-3. DGNO's 7 × 7-grid rule is :func:`~sciml.quadrature.disk_grid_quadrature`, first order: 2e-4 there). Only first derivatives of u are
taken (autograd), so a network trial function needs no second derivatives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..quadrature import disk_quadrature, wendland, wendland_grad
from .base import WeakForm


def weak_residuals(
    form: WeakForm,
    u: Callable[[torch.Tensor], torch.Tensor],
    centres: torch.Tensor,
    radius: float,
    params: dict | None = None,
    inputs: Callable[[torch.Tensor], Any] | None = None,
    rule: tuple[np.ndarray, np.ndarray] | None = None,
    smoothness: int = 3,
) -> torch.Tensor:
    """The weak residuals ``(n_centres,)`` of the trial function ``u`` (points ``(m, 2)`` -> values
    ``(m,)`` or ``(m, 1)``, differentiable) against Wendland test functions of radius ``radius`` about
    ``centres`` ``(n_centres, 2)``; ``inputs(x)``: the problem's input fields at the quadrature points
    (given to the flux and the source). ``rule``: ``(points, weights)`` on the unit disk."""
    if not (isinstance(radius, (int, float)) and radius > 0):
        raise ValueError(f"radius must be a number > 0, got {radius!r}")
    pts, w = rule if rule is not None else disk_quadrature(6, 24)
    q = torch.as_tensor(pts, dtype=centres.dtype, device=centres.device)
    wq = torch.as_tensor(w, dtype=centres.dtype, device=centres.device) * radius**2
    x = (centres[:, None, :] + radius * q[None]).reshape(-1, centres.shape[1])  # (n_c * n_q, 2)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        val = u(x).reshape(len(x))
        (grad,) = torch.autograd.grad(val.sum(), x, create_graph=True)
    d = x - centres.repeat_interleave(len(q), 0)
    dist = d.norm(dim=1)
    r = dist / radius
    phi = wendland(r, smoothness)
    # ∇φ = φ'(r) (x - c) / (|x - c| R); 0 at the centre (φ'(0) = 0)
    gphi = (wendland_grad(r, smoothness) / (dist * radius).clamp_min(1e-30))[:, None] * d
    at = inputs(x) if inputs is not None else None
    p = params or {}
    flux = form.flux(val, grad, x, p, at)
    integrand = (flux * gphi).sum(1) - form.source(x, p, at) * phi
    return (integrand.reshape(len(centres), len(q)) * wq).sum(1)
