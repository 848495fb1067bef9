"""Weak forms with compactly supported test functions (sciml.problems.weak, sciml.quadrature): the
disk rules integrate known functions to their stated accuracy, Wendland's function and its
derivative are right, a weak residual vanishes for an exact solution and not for a perturbed one,
and a problem's weak form agrees with its strong form (integration by parts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from sciml.problems.base import WeakForm
from sciml.problems.weak import weak_residuals
from sciml.quadrature import disk_grid_quadrature, disk_quadrature, wendland, wendland_grad
from sciml.registry import PROBLEMS


def test_disk_rules_integrate_to_their_stated_accuracy():
    pts, w = disk_quadrature(4, 12)  # exact to degree min(2·4 - 2, 11) = 6
    assert w.sum() == pytest.approx(math.pi, rel=1e-14)
    x, y = pts[:, 0], pts[:, 1]
    # ∫ x^2a y^2b over the unit disk = 2 Γ(a+½) Γ(b+½) / ((2a + 2b + 2) Γ(a+b+1)) (odd powers: 0)
    for a, b in ((1, 0), (1, 1), (2, 1), (3, 0), (0, 3)):
        exact = 2 * math.gamma(a + 0.5) * math.gamma(b + 0.5) / ((2 * a + 2 * b + 2) * math.gamma(a + b + 1))
        assert (w * x ** (2 * a) * y ** (2 * b)).sum() == pytest.approx(exact, rel=1e-12), (a, b)
    assert abs((w * x**3 * y).sum()) < 1e-15
    # the Wendland test function (degree 8 with the Jacobian r): exact from 5 radial points
    exact = 2 * math.pi * quad(lambda r: float(wendland(np.array(r))) * r, 0, 1)[0]
    pts, w = disk_quadrature(5, 16)
    assert (w * wendland(np.linalg.norm(pts, axis=1))).sum() == pytest.approx(exact, rel=1e-12)
    # DGNO's 7 x 7 grid rule: 25 points, first order: 13% off on this integral (measured)
    g, wg = disk_grid_quadrature(7)
    assert len(g) == 25
    err = abs((wg * wendland(np.linalg.norm(g, axis=1))).sum() - exact) / exact
    assert 0.05 < err < 0.2


def test_wendland_values_and_derivative():
    assert wendland(np.array(0.0)) == 1.0 and wendland(np.array(1.0)) == 0.0 and wendland(np.array(1.5)) == 0.0
    r = np.linspace(0.02, 0.98, 49)
    h = 1e-6
    fd = (wendland(r + h) - wendland(r - h)) / (2 * h)
    np.testing.assert_allclose(wendland_grad(r), fd, rtol=1e-6, atol=1e-8)
    assert wendland_grad(np.array(1.0)) == 0.0 and wendland_grad(np.array(0.0)) == 0.0
    t = torch.linspace(0, 1, 5, dtype=torch.float64)  # torch too
    np.testing.assert_allclose(wendland(t).numpy(), wendland(t.numpy()))


def exact_u(x):
    return torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1])


# -Δu = 2π² u for u = sin(πx) sin(πy)
POISSON = WeakForm(lambda u, g, x, p, a: g, lambda x, p, a: 2 * math.pi**2 * exact_u(x))


def test_weak_residual_vanishes_for_the_exact_solution_and_not_for_a_perturbed_one():
    g = torch.Generator().manual_seed(0)
    centres = 0.15 + 0.7 * torch.rand(40, 2, generator=g, dtype=torch.float64)
    exact = weak_residuals(POISSON, exact_u, centres, 0.1)
    perturbed = weak_residuals(
        POISSON, lambda x: exact_u(x) + 0.05 * torch.sin(3 * x[:, 0] + 2 * x[:, 1]) * x[:, 0], centres, 0.1
    )
    # the integral of f φ alone is the scale: ~2π² · 0.1² · 0.14 ≈ 0.03
    assert exact.abs().max() < 1e-8, exact.abs().max()  # quadrature error only (measured 1.2e-9)
    assert perturbed.abs().mean() > 1e-4, perturbed.abs().mean()  # measured 1.4e-3
    # DGNO's grid rule: first order, far from zero even for the exact solution (measured 2e-4)
    coarse = weak_residuals(POISSON, exact_u, centres, 0.1, rule=disk_grid_quadrature(7))
    assert coarse.abs().max() > 10 * exact.abs().max()


def test_a_problems_weak_form_is_its_strong_form_integrated_by_parts():
    """poisson2d_bump (Δu = f): for a smooth u, the weak residual against φ equals ∫ (−Δu + f)·(−1)...
    i.e. ∫ ∇u·∇φ + f φ = ∫ (−Δu + f) φ, by parts with φ = 0 on the disk's rim."""
    problem = PROBLEMS.build("poisson2d_bump", {"params": {"sharpness": 10.0}})
    form = problem.form("weak")
    centres = torch.tensor([[0.3, 0.4], [0.5, 0.5], [0.7, 0.25]], dtype=torch.float64)

    def u(x):
        return torch.exp(x[:, 0]) * torch.cos(2 * x[:, 1]) + x[:, 0] ** 3

    weak = weak_residuals(form, u, centres, 0.15, params=problem.params, rule=disk_quadrature(8, 32))
    pts, w = disk_quadrature(8, 32)
    q, wq = torch.as_tensor(pts), torch.as_tensor(w) * 0.15**2
    strong = []
    for c in centres:
        x = (c + 0.15 * q).requires_grad_(True)
        val = u(x)
        (g,) = torch.autograd.grad(val.sum(), x, create_graph=True)
        lap = sum(torch.autograd.grad(g[:, k].sum(), x, retain_graph=True)[0][:, k] for k in range(2))
        f = -form.source(x, problem.params, None)  # the problem's f
        phi = wendland((x - c).norm(dim=1) / 0.15)
        strong.append(((-lap + f) * phi * wq).sum().detach())
    torch.testing.assert_close(weak, torch.stack(strong), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"^radius must be a number > 0"):
        weak_residuals(form, u, centres, 0.0)
