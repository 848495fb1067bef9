"""eNTK and PINNACLE convergence degree (pinns/ntk.py): torch.func Jacobians against autograd,
matrix-free eigensolvers against dense eigh, the Nyström score against its explicit formula."""

from __future__ import annotations

import importlib
import itertools

import pytest
import torch

from pinns.ntk import (
    convergence_degree,
    entk,
    functional_derivatives,
    jacobian,
    output_fn,
    parameters_of,
    residual_fn,
    top_eigenpairs,
)
from sciml.nn import MLP
from sciml.ops import Derivatives
from sciml.problems.base import Problem
from sciml.registry import PROBLEMS

importlib.import_module("sciml.components")  # fills the registries (PROBLEMS)
D = torch.float64


def points(n, seed, lo=(-1.0, 0.0), hi=(1.0, 1.0)):
    g = torch.Generator().manual_seed(seed)
    lo, hi = torch.tensor(lo, dtype=D), torch.tensor(hi, dtype=D)
    return lo + torch.rand(n, 2, generator=g, dtype=D) * (hi - lo)


def brute_jacobian(model, residual, problem, x):
    """Row i = autograd.grad(r_i, params) of the ordinary autograd residual, looped over points."""
    x = x.clone().requires_grad_(True)
    r = residual(Derivatives(model(x), x, problem.inputs, problem.outputs), problem.params).reshape(-1)
    params = [p for p in model.parameters()]
    rows = [
        torch.cat([g.reshape(-1) for g in torch.autograd.grad(r[i], params, retain_graph=True)]) for i in range(len(r))
    ]
    return torch.stack(rows), r.detach()


def low_rank(n, P, spectrum, seed):
    """J = U diag(s) Vᵀ with orthonormal U (n, r), V (P, r)."""
    g = torch.Generator().manual_seed(seed)
    r = len(spectrum)
    U = torch.linalg.qr(torch.randn(n, r, generator=g, dtype=D)).Q
    V = torch.linalg.qr(torch.randn(P, r, generator=g, dtype=D)).Q
    return U @ torch.diag(torch.as_tensor(spectrum, dtype=D)) @ V.T


def align(A, B):
    """Flip B's columns to A's signs (eigenvectors are defined up to sign)."""
    return B * torch.sign((A * B).sum(0))


# ------------------------------------------------------------------ functional derivatives
def test_functional_derivatives_match_autograd():
    model = MLP(2, 2, width=8, depth=2).double()
    x = points(7, 0)
    io = (("x", "t"), ("u", "v"))
    keys = [(o, ax) for o in (0, 1) for ax in [(), (0,), (1,), (0, 0), (0, 1), (1, 1)]]
    fd = functional_derivatives(model, parameters_of(model), x, *io, requests={(0, (0, 1))})
    xa = x.clone().requires_grad_(True)
    ad = Derivatives(model(xa), xa, *io)
    for o, ax in keys:
        got, want = fd(*ax, out=o), ad(*ax, out=o)
        assert got.shape == (7,)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12, msg=f"output {o}, axes {ax}")
    # names work, the mixed derivative is symmetric, and nothing needs autograd on x
    torch.testing.assert_close(fd("t", "x", out="v"), ad("x", "t", out="v"), rtol=0, atol=1e-12)
    assert not fd.x.requires_grad and not fd("x", "x").requires_grad
    # first order only: no second derivatives are made up
    fd1 = functional_derivatives(model, parameters_of(model), x, *io, requests={(1, (1,))})
    torch.testing.assert_close(fd1("t", out=1), ad("t", out=1), rtol=0, atol=1e-12)
    with pytest.raises(RuntimeError, match="not precomputed"):
        fd1("x", "x")


# ------------------------------------------------------------------ Jacobians and the eNTK
def test_entk_matches_bruteforce_autograd():
    problem = PROBLEMS.build("burgers1d", {})
    model = MLP(2, 1, width=6, depth=2).double()
    params = parameters_of(model)
    xp, x0 = points(6, 1), points(5, 2, lo=(-1.0, 0.0), hi=(1.0, 0.0))
    Jp_ref, rp_ref = brute_jacobian(model, problem.equations["pde"], problem, xp)
    J0_ref, r0_ref = brute_jacobian(model, problem.conditions["initial"].residual, problem, x0)
    Jp, rp = jacobian(residual_fn(problem, model, "pde"), params, xp, chunk=4, return_values=True)
    J0 = jacobian(residual_fn(problem, model, "initial"), params, x0)
    assert Jp.shape == (6, sum(p.numel() for p in model.parameters()))
    torch.testing.assert_close(rp, rp_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(Jp, Jp_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(entk(Jp), Jp_ref @ Jp_ref.T, rtol=1e-12, atol=1e-12)
    # cross-type block: PDE rows against initial-condition rows
    K = entk(Jp, J0)
    assert K.shape == (6, 5)
    torch.testing.assert_close(K, Jp_ref @ J0_ref.T, rtol=1e-12, atol=1e-12)
    full = entk(torch.cat([Jp, J0]))
    # the same dot products, but the BLAS blocks and orders the sums of a (11, 11) product otherwise
    # than a (6, 5) one (AMD EPYC: 2 ulps apart), so not bitwise: a few float64 ulps of the summed
    # magnitudes |Jp| |J0|ᵀ, well under the worst-case reordering bound (67 params × eps of them)
    scale = Jp.abs() @ J0.abs().T
    assert bool(((full[:6, 6:] - K).abs() <= 8 * torch.finfo(D).eps * scale).all()), (full[:6, 6:] - K).abs().max()
    # experimental points: the network output itself
    Ju = jacobian(output_fn(model, "u", problem.outputs), params, x0)
    Ju_ref, _ = brute_jacobian(model, lambda du, p: du(), problem, x0)
    torch.testing.assert_close(Ju, Ju_ref, rtol=1e-12, atol=1e-12)


def test_jacobian_vector_residual_and_coupled_points():
    problem = PROBLEMS.build("convection_diffusion1d", {"params": {"beta": 2.0, "nu": 0.1}})
    model = MLP(2, 1, width=5, depth=1).double()
    params = parameters_of(model)
    # a residual with 2 components per point counts as 2 rows per point, point-major
    problem.equations["pair"] = lambda du, p: torch.stack([du("x"), du("x", "x") - du()], dim=1)
    x = points(5, 3, lo=(0.0, 0.0), hi=(6.0, 1.0))
    J, r = jacobian(residual_fn(problem, model, "pair"), params, x, chunk=2, return_values=True)
    J_ref, r_ref = brute_jacobian(model, problem.equations["pair"], problem, x)
    assert J.shape[0] == 10
    torch.testing.assert_close(J, J_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(r, r_ref, rtol=0, atol=1e-12)
    # the periodic condition couples points [left; right]: per-point evaluation is refused...
    t = torch.tensor([0.1, 0.5, 0.9], dtype=D)
    xb = torch.stack(
        [torch.cat([torch.zeros(3, dtype=D), torch.full((3,), 6.283185307179586, dtype=D)]), torch.cat([t, t])], dim=1
    )
    F = residual_fn(problem, model, "periodic")
    with pytest.raises(ValueError, match="pointwise=False"):
        jacobian(F, params, xb)
    # ...and pointwise=False differentiates the whole batch
    Jb = jacobian(F, params, xb, pointwise=False, chunk=2)
    Jb_ref, _ = brute_jacobian(model, problem.conditions["periodic"].residual, problem, xb)
    torch.testing.assert_close(Jb, Jb_ref, rtol=1e-12, atol=1e-12)
    # a coupling residual that runs on single points is caught by comparing with the batch
    problem.equations["centred"] = lambda du, p: du() - du().mean()
    with pytest.raises(ValueError, match="couples points"):
        jacobian(residual_fn(problem, model, "centred"), params, x)


# ------------------------------------------------------------------ eigensolvers
@pytest.mark.parametrize("method", ["randomized", "lanczos"])
@pytest.mark.parametrize("shape", [(60, 200), (200, 60)])
def test_top_eigenpairs_match_dense_eigh(method, shape):
    n, P = shape
    J = low_rank(n, P, 0.7 ** torch.arange(40, dtype=D), seed=4)
    J = J + 1e-9 * torch.randn(n, P, generator=torch.Generator().manual_seed(5), dtype=D)  # full rank
    k = 8
    lam, U = torch.linalg.eigh(J @ J.T)
    lam, U = lam.flip(0)[:k], U.flip(1)[:, :k]
    eig = top_eigenpairs(J, k, method=method)
    assert eig.values.shape == (k,) and eig.vectors.shape == (n, k) and eig.right.shape == (P, k)
    assert bool((eig.values[:-1] >= eig.values[1:]).all())
    torch.testing.assert_close(eig.values, lam, rtol=1e-8, atol=0)
    torch.testing.assert_close(eig.vectors, align(eig.vectors, U), rtol=0, atol=1e-7)
    # right singular vectors: J V = U Σ, orthonormal
    torch.testing.assert_close(J @ eig.right, eig.vectors * eig.values.sqrt(), rtol=0, atol=1e-10)
    torch.testing.assert_close(eig.right.T @ eig.right, torch.eye(k, dtype=D), rtol=0, atol=1e-10)


def test_top_eigenpairs_rank_deficient_and_errors():
    J = low_rank(10, 30, [3.0, 2.0, 1.0], seed=6)
    for method in ("randomized", "lanczos"):
        eig = top_eigenpairs(J, 5, method=method)
        assert eig.values.shape == (3,)  # eigenvalues <= 1e-8 λ_max dropped
        torch.testing.assert_close(eig.values, torch.tensor([9.0, 4.0, 1.0], dtype=D), rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match="rank is at most"):
        top_eigenpairs(J, 11)
    with pytest.raises(ValueError, match="lanczos needs k < min"):
        top_eigenpairs(J, 10, method="lanczos")
    with pytest.raises(ValueError, match="unknown eigensolver"):
        top_eigenpairs(J, 2, method="dense")


# ------------------------------------------------------------------ convergence degree
def test_convergence_degree_matches_dense_formula():
    problem = PROBLEMS.build("burgers1d", {})
    model = MLP(2, 1, width=6, depth=2).double()
    params = parameters_of(model)
    F = residual_fn(problem, model, "pde")
    JX = torch.cat(
        [
            jacobian(F, params, points(12, 7)),
            jacobian(residual_fn(problem, model, "initial"), params, points(6, 8, hi=(1.0, 0.0))),
        ]
    )
    JZ, r = jacobian(F, params, points(9, 9), return_values=True)
    r[[2, 5]] = 0.0  # candidates that are already fit exactly
    k = 5
    lam, U = torch.linalg.eigh(JX @ JX.T)
    lam, U = lam.flip(0)[:k], U.flip(1)[:, :k]
    P_ref = torch.diag(lam.rsqrt()) @ U.T @ (JX @ JZ.T) @ torch.diag(r)
    scores_ref = P_ref.square().sum(0)
    for method in ("randomized", "lanczos"):
        scores, P = convergence_degree(JX, JZ, r, k, method=method)
        assert scores.shape == (9,) and P.shape == (k, 9)
        eig = top_eigenpairs(JX, k, method=method)
        signs = torch.sign((eig.vectors * U).sum(0))
        torch.testing.assert_close(P, signs[:, None] * P_ref, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(scores, scores_ref, rtol=1e-8, atol=1e-12)
        assert scores[2] == 0 and scores[5] == 0 and bool((scores[[0, 1, 3, 4, 6, 7, 8]] > 0).all())
    # vector residuals: (m, c) residuals sum their components' contributions
    r2 = torch.stack([r, 2 * r], dim=1)
    J2 = torch.stack([JZ, -JZ], dim=1).reshape(18, -1)
    s2, _ = convergence_degree(JX, J2, r2, k)
    torch.testing.assert_close(s2, scores_ref, rtol=1e-8, atol=1e-12)  # (1·r - 2·r)² = r²
    with pytest.raises(ValueError, match="rows but r_cand"):
        convergence_degree(JX, JZ, r[:5], k)


# ------------------------------------------------------------------ errors
def test_clear_errors():
    model = MLP(2, 1, width=4, depth=1).double()
    third = Problem(
        name="third", inputs=("x", "t"), outputs=("u",), params={}, equations={"pde": lambda du, p: du("x", "x", "x")}
    )
    with pytest.raises(NotImplementedError, match="order 3"):
        residual_fn(third, model, "pde")
    with pytest.raises(NotImplementedError, match="second order"):
        functional_derivatives(model, parameters_of(model), points(3, 0), ("x", "t"), ("u",), {(0, (0, 0, 1))})
    problem = PROBLEMS.build("burgers1d", {})
    with pytest.raises(ValueError, match="no term 'pdee'.*pde, initial, boundary"):
        residual_fn(problem, model, "pdee")
    with pytest.raises(ValueError, match="no output 'v'"):
        output_fn(model, "v", problem.outputs)
    with pytest.raises(ValueError, match="float32 but the parameters are torch.float64"):
        jacobian(output_fn(model), parameters_of(model), points(3, 0).float())
    J = torch.randn(4, 3, dtype=D)
    with pytest.raises(ValueError, match="must match"):
        convergence_degree(J, torch.randn(2, 5, dtype=D), torch.ones(2, dtype=D), 2)
    for k in (0, 4):
        with pytest.raises(ValueError, match="rank is at most min"):
            top_eigenpairs(J, k)


def test_eigensolvers_are_reproducible_and_sign_fixed():
    J = low_rank(20, 50, [5.0, 3.0, 2.0, 1.0, 0.5], seed=10)
    a, b = top_eigenpairs(J, 3, seed=1), top_eigenpairs(J, 3, seed=2)
    c = top_eigenpairs(J, 3, method="lanczos", seed=3)
    for u, v in itertools.product([a, b, c], repeat=2):
        torch.testing.assert_close(u.vectors, v.vectors, rtol=0, atol=1e-10)
        torch.testing.assert_close(u.right, v.right, rtol=0, atol=1e-10)
    top = a.vectors.gather(0, a.vectors.abs().argmax(0, keepdim=True))
    assert bool((top > 0).all())  # the largest-magnitude entry of each eigenvector is positive
