"""Empirical NTK of PINN residuals and the PINNACLE convergence degree (numerical core).

PINNACLE (Lau et al., ICLR 2024) picks collocation and experimental points by how strongly the
training dynamics on the current training set act on the loss at each candidate point. With
:math:`\\theta \\in \\mathbb R^P` the network's parameters:

**Residual Jacobians.** A residual term :math:`r(\\theta, x) \\in \\mathbb R^k` (one equation on
interior points, one condition, or the network output itself for experimental points) on points
:math:`X = \\{x_1, \\dots, x_n\\}` has the Jacobian

.. math:: J_X = \\partial_\\theta r(\\theta, X) \\in \\mathbb R^{nk \\times P},
          \\qquad (J_X)_{(i, j)} = \\nabla_\\theta r_j(\\theta, x_i)^\\top,

rows ordered point-major (row ``i * k + j``), parameters flattened and concatenated in the order
of the parameter dict. It is computed per point with :mod:`torch.func`: the network's value and
input derivatives at one point are nested ``jacrev``/``jacfwd`` of a ``functional_call``, so the
residual, evaluated on a :class:`~sciml.ops.Derivatives` accessor whose entries are all
``known``, is a pure tensor function of :math:`\\theta`; ``jacrev`` over :math:`\\theta` gives the
point's rows and ``vmap`` maps over points (cost linear in the number of points).

**Empirical NTK.** :math:`\\Theta(X, Z) = J_X J_Z^\\top`. Residual types (PDE, initial, boundary,
experimental) are row blocks of one Jacobian, so a cross-type block is :math:`J_a J_b^\\top`.

**Top eigenpairs.** With the thin SVD :math:`J_X = U \\Sigma V^\\top`,
:math:`K_{XX} = J_X J_X^\\top = U \\Sigma^2 U^\\top`: eigenvalues :math:`\\lambda_i = \\sigma_i^2`,
eigenvectors :math:`v_i = u_i`. The top :math:`k` are computed from :math:`J` alone (no dense
eigendecomposition of :math:`K`): a randomized range finder with power iterations (Halko,
Martinsson & Tropp, SIAM Rev. 2011), or Lanczos (ARPACK ``eigsh``) on the operator
:math:`w \\mapsto J (J^\\top w)` (on :math:`J^\\top J` instead when :math:`P < n`).

**Convergence degree.** The Nyström extension of the training set's eigenvectors to a candidate
:math:`z` is :math:`\\lambda_i^{-1/2} v_i^\\top K_{X,z}` with :math:`K_{X,z} = J_X J_z^\\top`; the
candidate's embedding and score are

.. math:: P_{iz} = \\lambda_i^{-1/2}\\, v_i^\\top K_{X,z}\\, r(z), \\qquad
          \\alpha(z) = \\sum_{i=1}^k P_{iz}^2 .

Since :math:`\\lambda_i^{-1/2} u_i^\\top J_X = \\sigma_i^{-1} \\sigma_i V_i^\\top = V_i^\\top`,

.. math:: P_{iz} = V_i^\\top \\big(J_z^\\top r(z)\\big),

the coordinates of the candidate's loss gradient :math:`\\nabla_\\theta \\tfrac12 r(z)^2 =
J_z^\\top r(z)` on the top-:math:`k` right singular vectors of :math:`J_X` (the parameter
directions along which training on :math:`X` moves fastest). This form needs no division by
:math:`\\lambda_i` and costs :math:`O(mkP)` for :math:`m` candidates; it is what
:func:`convergence_degree` computes. A candidate with :math:`k` residual components contributes
:math:`K_{X,z} r(z) = \\sum_j K_{X,(z,j)} r_j(z)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacfwd, jacrev, vmap

from sciml.ops import Derivatives

Key = tuple[int, tuple[int, ...]]  # (output index, sorted axes), as in sciml.ops.Derivatives
Params = dict[str, torch.Tensor]
TermFn = Callable[[Params, torch.Tensor], torch.Tensor]  # F(params, X (n, d)) -> (n * k,)


# ------------------------------------------------------------------ parameters and derivatives
def parameters_of(model: nn.Module) -> Params:
    """The model's trainable parameters as a ``name -> detached tensor`` dict (fixed order).

    Parameters absent from such a dict (frozen ones, buffers) keep the module's values under
    :func:`torch.func.functional_call` and are not differentiated.
    """
    return {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}


def functional_derivatives(
    model: nn.Module,
    params: Params,
    x: torch.Tensor,
    inputs: Iterable[str],
    outputs: Iterable[str],
    requests: Iterable[Key] = (),
) -> Derivatives:
    """The network's outputs and input derivatives at ``x`` by :mod:`torch.func`, as a
    :class:`~sciml.ops.Derivatives` whose entries are all ``known`` (no autograd graph on ``x``).

    The single-point map :math:`x \\mapsto u(\\theta, x) \\in \\mathbb R^c` is differentiated
    with ``jacrev`` (first order) and ``jacfwd`` of that (second order, forward-over-reverse),
    and ``vmap`` maps it over points; derivatives are computed up to the highest order in
    ``requests``, for every output and every axis (``d`` and ``c`` are small).

    Parameters
    ----------
    model : point-wise network ``(n, d) -> (n, c)``
    params : ``name -> tensor`` used in place of the module's parameters (differentiable by
        :mod:`torch.func` transforms over it)
    x : (n, d) points
    inputs, outputs : coordinate and output names of the problem
    requests : ``(output index, sorted axes)`` keys the residuals will ask for (as recorded in
        :attr:`Derivatives.requested`); only their highest order matters, at most 2

    Returns
    -------
    Derivatives with ``known[(o, axes)]`` of shape (n,) for all outputs ``o`` and all sorted axes
    tuples up to that order.
    """
    inputs, outputs = tuple(inputs), tuple(outputs)
    requests = set(requests)
    too_high = sorted(k for k in requests if len(k[1]) > 2)
    if too_high:
        o, ax = too_high[0]
        raise NotImplementedError(
            f"derivative of order {len(ax)} (output {o}, axes {ax}) requested: functional "
            "derivatives go up to second order"
        )
    if x.ndim != 2 or x.shape[1] != len(inputs):
        raise ValueError(f"points must be (n, {len(inputs)}) for inputs {inputs}, got {tuple(x.shape)}")
    order = max((len(ax) for _, ax in requests), default=0)

    def u_at(xi):  # (d,) -> (c,)
        return functional_call(model, params, (xi[None],))[0]

    def with_aux(xi):
        u = u_at(xi)
        return u, u

    def first(xi):  # (J (c, d), (J, u))
        jac, u = jacrev(with_aux, has_aux=True)(xi)
        return jac, (jac, u)

    if order == 0:
        u, jac, hess = functional_call(model, params, (x,)), None, None
    elif order == 1:
        jac, (_, u) = vmap(first)(x)
        hess = None
    else:
        hess, (jac, u) = vmap(jacfwd(first, has_aux=True))(x)
    if u.ndim != 2 or u.shape[1] != len(outputs):
        raise ValueError(f"model output must be (n, {len(outputs)}) for outputs {outputs}, got {tuple(u.shape)}")
    d = len(inputs)
    known: dict[Key, torch.Tensor] = {}
    for o in range(len(outputs)):
        known[(o, ())] = u[:, o]
        if jac is not None:
            known.update({(o, (a,)): jac[:, o, a] for a in range(d)})
        if hess is not None:
            known.update({(o, (a, b)): hess[:, o, a, b] for a in range(d) for b in range(a, d)})
    return Derivatives(u, x, inputs, outputs, known=known)


def derivative_requests(problem, model: nn.Module, residuals: Iterable[Callable], x: torch.Tensor) -> set[Key]:
    """The derivative keys ``residuals`` ask for, learnt by evaluating them once by autograd on
    the first two of the points ``x`` (as :meth:`pinns.pinn.PINN.derivatives` does)."""
    xs = x[:2].detach().clone().requires_grad_(True)
    probe = Derivatives(model(xs), xs, problem.inputs, problem.outputs)
    for residual in residuals:
        residual(probe, problem.params)
    return set(probe.requested)


def _probe_points(problem, model: nn.Module) -> torch.Tensor:
    """Two reproducible points inside the problem's input bounds (the unit box without bounds)."""
    p = next(model.parameters(), None)
    dtype, device = (p.dtype, p.device) if p is not None else (torch.get_default_dtype(), None)
    d = len(problem.inputs)
    z = torch.rand(2, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    bounds = problem.io_spec().bounds if problem.domain is not None else None
    if bounds is not None:
        lo = torch.tensor([b[0] for b in bounds], dtype=torch.float64)
        hi = torch.tensor([b[1] for b in bounds], dtype=torch.float64)
        z = lo + z * (hi - lo)
    return z.to(dtype=dtype, device=device)


# ------------------------------------------------------------------ per-term functions F(params, X)
def residual_fn(
    problem,
    model: nn.Module,
    term: str,
    requests: Iterable[Key] | None = None,
    probe: torch.Tensor | None = None,
    coefficients: dict | None = None,
) -> TermFn:
    """``F(params, X) -> (n * k,)``: the flattened residual of one named term as a pure function.

    Parameters
    ----------
    problem : a :class:`~sciml.problems.base.Problem`
    model : the point-wise network (its parameters are replaced by ``params`` at every call)
    term : an equation name (evaluated on interior points) or a condition name (on its points)
    requests : derivative keys the residual needs; by default learnt once, here, by evaluating it
        with autograd on two ``probe`` points (default: two points inside the input bounds)
    probe : (2, d) points for that probe, for residuals that need particular points
    coefficients : PDE parameters to evaluate with (default ``problem.params``; e.g. the current
        estimates of trainable coefficients, held fixed: the Jacobian is over the network's weights)

    Returns
    -------
    ``F(params, X)``: the residual at ``X`` (n, d), flattened point-major to (n * k,) for a
    residual with k components per point.

    Raises
    ------
    ValueError : ``term`` is neither an equation nor a condition of the problem
    NotImplementedError : the term is a condition bound to a subdomain, or the residual needs
        derivatives of order > 2
    """
    if term in problem.equations:
        residual = problem.equations[term]
    elif term in problem.conditions:
        cond = problem.conditions[term]
        if cond.subdomain is not None:
            raise NotImplementedError(
                f"condition {term!r} is bound to subdomain {cond.subdomain!r}: residual "
                "Jacobians of sided/interface conditions are not supported"
            )
        residual = cond.residual
    else:
        names = ", ".join(list(problem.equations) + list(problem.conditions))
        raise ValueError(f"problem {problem.name!r} has no term {term!r}; its equations and conditions are: {names}")
    if requests is None:
        requests = derivative_requests(
            problem, model, [residual], _probe_points(problem, model) if probe is None else probe
        )
    requests = set(requests)
    # fail now rather than inside a transform
    too_high = sorted(k for k in requests if len(k[1]) > 2)
    if too_high:
        raise NotImplementedError(
            f"term {term!r} asks for a derivative of order {len(too_high[0][1])} "
            f"(output {too_high[0][0]}, axes {too_high[0][1]}): functional derivatives go "
            "up to second order"
        )

    coeffs = {
        k: (v.detach() if isinstance(v, torch.Tensor) else v)
        for k, v in (problem.params if coefficients is None else coefficients).items()
    }

    def F(params: Params, x: torch.Tensor) -> torch.Tensor:
        du = functional_derivatives(model, params, x, problem.inputs, problem.outputs, requests)
        return torch.as_tensor(residual(du, coeffs)).reshape(-1)

    return F


def output_fn(model: nn.Module, out: int | str = 0, outputs: Iterable[str] | None = None) -> TermFn:
    """``F(params, X) -> (n,)``: one network output, the operator of experimental (data) points.

    ``out`` is an output index, or a name looked up in ``outputs``.
    """
    if isinstance(out, str):
        names = tuple(outputs or ())
        if out not in names:
            raise ValueError(
                f"no output {out!r}; outputs are {names}"
                if names
                else f"output {out!r} given by name: pass the output names as `outputs`"
            )
        out = names.index(out)

    def F(params: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, params, (x,))[:, out]

    return F


# ------------------------------------------------------------------ Jacobians and the eNTK
def _flatten(jac: Params, params: Params, rows: int) -> torch.Tensor:
    return torch.cat([jac[k].reshape(rows, -1) for k in params], dim=1)


def jacobian(
    F: TermFn,
    params: Params,
    x: torch.Tensor,
    chunk: int | None = 256,
    pointwise: bool = True,
    check: bool = True,
    return_values: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Jacobian of ``F(params, x)`` with respect to all parameters: (n * k, P).

    Parameters
    ----------
    F : ``F(params, X) -> (n * k,)`` (:func:`residual_fn`, :func:`output_fn`)
    params : ``name -> tensor``; columns are the flattened parameters concatenated in this order
    x : (n, d) points
    chunk : points per ``vmap`` batch (bounds memory to about ``chunk`` per-point graphs);
        ``None`` for all at once
    pointwise : F's rows at point i depend only on ``x[i]`` (true of PDE residuals and most
        conditions): per-point ``jacrev`` under ``vmap``, linear in n. ``False`` for residuals
        that couple points (e.g. periodic pairs): one ``jacrev`` of F over all of ``x``, which
        costs n backward passes through the whole batch (``chunk`` then bounds how many run at once)
    check : with ``pointwise``, compare the per-point values with ``F`` on the first chunk as a
        batch, to catch residuals that couple points
    return_values : also return ``F(params, x)`` (n * k,) (computed on the way)

    Returns
    -------
    J (n * k, P), and the values (n * k,) if ``return_values``.
    """
    if x.ndim != 2:
        raise ValueError(f"points must be a 2D (n, d) tensor, got shape {tuple(x.shape)}")
    if not params:
        raise ValueError("no parameters to differentiate: `params` is empty")
    p0 = next(iter(params.values()))
    if x.dtype != p0.dtype:
        raise ValueError(f"points are {x.dtype} but the parameters are {p0.dtype}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1 or None, got {chunk}")
    n = x.shape[0]
    if n == 0:
        raise ValueError("no points: x has 0 rows")
    if not pointwise:
        vals = F(params, x)
        jac = jacrev(F)(params, x) if chunk is None else jacrev(F, chunk_size=chunk)(params, x)
        J = _flatten(jac, params, vals.numel())
        return (J, vals.reshape(-1)) if return_values else J

    def one(p, xi):  # rows of one point
        v = F(p, xi[None])
        return v, v

    per_point = vmap(jacrev(one, has_aux=True), in_dims=(None, 0))
    step = n if chunk is None else chunk
    blocks, values = [], []
    for i, xc in enumerate(x.split(step)):
        try:
            jac, v = per_point(params, xc)
        except Exception as e:
            raise ValueError(
                f"evaluating the residual on single points failed ({type(e).__name__}: {e}); "
                "for a residual that couples points pass pointwise=False"
            ) from e
        if i == 0 and check:
            batch = F(params, xc)
            if batch.shape != (v.numel(),) or not torch.allclose(batch, v.reshape(-1), rtol=1e-5, atol=1e-6):
                raise ValueError(
                    "the residual on single points differs from the residual on the batch: it couples "
                    "points (e.g. periodic pairs); pass pointwise=False"
                )
        blocks.append(_flatten(jac, params, v.numel()))
        values.append(v.reshape(-1))
    J = torch.cat(blocks)
    return (J, torch.cat(values)) if return_values else J


def entk(J_a: torch.Tensor, J_b: torch.Tensor | None = None) -> torch.Tensor:
    """Empirical NTK block :math:`\\Theta(a, b) = J_a J_b^\\top`: (rows_a, rows_b); ``J_b=None`` gives
    :math:`J_a J_a^\\top`."""
    if J_b is None:
        return J_a @ J_a.T
    if J_a.shape[1] != J_b.shape[1]:
        raise ValueError(f"Jacobians have {J_a.shape[1]} and {J_b.shape[1]} parameter columns; they must match")
    return J_a @ J_b.T


# ------------------------------------------------------------------ top eigenpairs of K = J Jᵀ
class EigenPairs(NamedTuple):
    """Top eigenpairs of :math:`K = J J^\\top` from the SVD :math:`J = U \\Sigma V^\\top`.

    values (r,) descending :math:`\\lambda_i = \\sigma_i^2`; vectors (n, r) eigenvectors of K (columns
    :math:`u_i`); right (P, r) right singular vectors :math:`V_i = J^\\top u_i / \\sigma_i`.
    """

    values: torch.Tensor
    vectors: torch.Tensor
    right: torch.Tensor


def _randomized_svd(J: torch.Tensor, q: int, n_iter: int, seed: int):
    """Randomized range finder with QR-stabilised power iterations, then an exact SVD in the range."""
    g = torch.Generator(device=J.device).manual_seed(seed)
    omega = torch.randn(J.shape[1], q, generator=g, dtype=J.dtype, device=J.device)
    Q = torch.linalg.qr(J @ omega).Q
    for _ in range(n_iter):
        Z = torch.linalg.qr(J.T @ Q).Q
        Q = torch.linalg.qr(J @ Z).Q
    Ub, S, Vh = torch.linalg.svd(Q.T @ J, full_matrices=False)  # (q, P): small
    return Q @ Ub, S, Vh.T


def _lanczos_svd(J: torch.Tensor, k: int, seed: int):
    """Top-k of the smaller Gram matrix (J Jᵀ or Jᵀ J) by ARPACK Lanczos on a matrix-free operator."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n, P = J.shape
    left = n <= P  # operate on the (n x n) K = J Jᵀ, else on the (P x P) Jᵀ J
    N = n if left else P

    def matvec(w):
        t = torch.as_tensor(np.ascontiguousarray(w).reshape(-1), dtype=J.dtype, device=J.device)
        y = J @ (J.T @ t) if left else J.T @ (J @ t)
        return y.double().cpu().numpy()

    op = LinearOperator((N, N), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(N)
    lam, W = eigsh(op, k=k, which="LA", v0=v0, tol=0)
    order = np.argsort(lam)[::-1]
    lam = torch.as_tensor(lam[order].copy(), dtype=J.dtype, device=J.device).clamp_min(0)
    W = torch.as_tensor(W[:, order].copy(), dtype=J.dtype, device=J.device)
    S = lam.sqrt()
    safe = torch.where(S > 0, S, torch.ones_like(S))
    if left:
        return W, S, (J.T @ W) / safe
    return (J @ W) / safe, S, W


def top_eigenpairs(
    J: torch.Tensor,
    k: int,
    method: str = "randomized",
    oversample: int = 10,
    n_iter: int = 4,
    seed: int = 0,
    eps: float | None = None,
) -> EigenPairs:
    """The top-``k`` eigenpairs of :math:`K = J J^\\top`, from J (never a dense eigh of K).

    Parameters
    ----------
    J : (n, P) Jacobian
    k : number of eigenpairs, 1 <= k <= min(n, P) (``lanczos``: k < min(n, P))
    method : ``"randomized"`` (range finder with ``k + oversample`` vectors and ``n_iter`` power
        iterations, then an exact SVD of the small projected matrix) or ``"lanczos"`` (ARPACK
        ``eigsh`` on :math:`w \\mapsto J(J^\\top w)`, or on :math:`J^\\top J` when P < n)
    oversample, n_iter : randomized method's extra vectors and power iterations
    seed : seed of the random start (reproducible; the global RNG is not touched)
    eps : eigenvalues <= eps are dropped (default ``1e-8 * λ_max``), so a rank-deficient J gives
        fewer than k pairs

    Returns
    -------
    :class:`EigenPairs` (values descending, eigenvectors as columns, right singular vectors),
    signs fixed so that each eigenvector's largest-magnitude entry is positive.
    """
    if J.ndim != 2:
        raise ValueError(f"J must be a 2D (n, P) matrix, got shape {tuple(J.shape)}")
    n, P = J.shape
    if not 1 <= k <= min(n, P):
        raise ValueError(
            f"k={k} eigenpairs requested of K = J Jᵀ with J of shape ({n}, {P}): its rank is at most "
            f"min(n, P) = {min(n, P)}"
        )
    if method == "randomized":
        if oversample < 0 or n_iter < 0:
            raise ValueError(f"oversample and n_iter must be >= 0, got {oversample} and {n_iter}")
        U, S, V = _randomized_svd(J, min(k + oversample, n, P), n_iter, seed)
    elif method == "lanczos":
        if k >= min(n, P):
            raise ValueError(f"lanczos needs k < min(n, P) = {min(n, P)}, got k={k}; use method='randomized'")
        U, S, V = _lanczos_svd(J, k, seed)
    else:
        raise ValueError(f"unknown eigensolver {method!r}; choose 'randomized' or 'lanczos'")
    U, S, V = U[:, :k], S[:k], V[:, :k]
    lam = S.square()
    thresh = (1e-8 * lam.max() if len(lam) else 0.0) if eps is None else eps
    keep = lam > thresh
    U, lam, V = U[:, keep], lam[keep], V[:, keep]
    idx = U.abs().argmax(dim=0)
    sign = torch.sign(U[idx, torch.arange(U.shape[1], device=U.device)])
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return EigenPairs(lam, U * sign, V * sign)


# ------------------------------------------------------------------ convergence degree
def convergence_degree(
    J_train: torch.Tensor,
    J_cand: torch.Tensor,
    r_cand: torch.Tensor,
    k: int,
    method: str = "randomized",
    eig: EigenPairs | None = None,
    **eig_options,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PINNACLE convergence degree of candidate points under the training set's eNTK.

    .. math:: P_{iz} = \\lambda_i^{-1/2} v_i^\\top K_{X,z} r(z) = V_i^\\top J_z^\\top r(z),
              \\qquad \\alpha(z) = \\lVert P_{:,z} \\rVert^2,

    with :math:`(\\lambda_i, v_i)` the top-k eigenpairs of :math:`K_{XX} = J_X J_X^\\top` and
    :math:`V_i` the matching right singular vectors of :math:`J_X` (see the module docstring for
    the identity). Computed as ``(J_cand @ V) * r``, summed over each candidate's components.

    Parameters
    ----------
    J_train : (n, P) Jacobian of the training points' residuals (all types stacked as row blocks)
    J_cand : (m * c, P) Jacobian of the candidates' residuals, point-major
    r_cand : (m,) or (m, c) candidate residuals (or ``(m * c,)`` with c = 1 understood as m points)
    k : number of eigenpairs (fewer are used if J_train's numerical rank is lower)
    method, eig_options : passed to :func:`top_eigenpairs` (``oversample``, ``n_iter``, ``seed``, ``eps``)
    eig : precomputed :func:`top_eigenpairs` of ``J_train`` (then ``J_train`` is not used)

    Returns
    -------
    scores (m,) and the embedding P (r, m), r <= k.
    """
    if J_cand.ndim != 2 or J_train.ndim != 2:
        raise ValueError(f"Jacobians must be 2D, got {tuple(J_train.shape)} and {tuple(J_cand.shape)}")
    if J_cand.shape[1] != J_train.shape[1]:
        raise ValueError(
            f"J_train has {J_train.shape[1]} parameter columns and J_cand {J_cand.shape[1]}; they must match"
        )
    if r_cand.ndim not in (1, 2):
        raise ValueError(f"r_cand must be (m,) or (m, c), got shape {tuple(r_cand.shape)}")
    m = r_cand.shape[0]
    c = 1 if r_cand.ndim == 1 else r_cand.shape[1]
    if J_cand.shape[0] != m * c:
        raise ValueError(
            f"J_cand has {J_cand.shape[0]} rows but r_cand {tuple(r_cand.shape)} has {m * c} residual values"
        )
    if eig is None:
        eig = top_eigenpairs(J_train, k, method=method, **eig_options)
    elif eig.right.shape[0] != J_cand.shape[1]:
        raise ValueError(f"eigenpairs have {eig.right.shape[0]} parameter rows, J_cand {J_cand.shape[1]} columns")
    proj = J_cand @ eig.right  # (m * c, r): V_iᵀ ∇_θ r_j(z)
    emb = (proj * r_cand.reshape(-1, 1)).reshape(m, c, -1).sum(dim=1).T  # (r, m)
    return emb.square().sum(dim=0), emb
