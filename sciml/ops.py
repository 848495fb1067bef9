"""Derivatives of network outputs with respect to their inputs (autograd), batched over points.

Conventions: ``x`` is an ``(n, d)`` tensor with ``requires_grad=True`` that was fed to the
network; ``u`` is ``(n,)`` or ``(n, 1)`` (one scalar field) or ``(n, c)`` for :func:`jacobian`.
Every function keeps the graph (``create_graph=True``) so residuals can be trained on.
"""
from __future__ import annotations

import torch


def _scalar(u: torch.Tensor) -> torch.Tensor:
    if u.ndim == 2 and u.shape[1] == 1:
        return u[:, 0]
    if u.ndim != 1:
        raise ValueError(f"expected one scalar field of shape (n,) or (n, 1), got {tuple(u.shape)}")
    return u


def grad(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient ``∂u/∂x_j`` of a scalar field: (n, d)."""
    u = _scalar(u)
    (g,) = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)
    return g


def partial(u: torch.Tensor, x: torch.Tensor, *axes: int) -> torch.Tensor:
    """Mixed partial derivative ``∂^k u / ∂x_{a1}...∂x_{ak}``: (n,). ``partial(u, x, 0, 0)`` is u_xx."""
    for a in axes:
        u = grad(u, x)[:, a]
    return _scalar(u) if not axes else u


def jacobian(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Jacobian ``∂u_i/∂x_j`` of a vector field: (n, c, d)."""
    if u.ndim == 1:
        u = u[:, None]
    return torch.stack([grad(u[:, i], x) for i in range(u.shape[1])], dim=1)


def div(v: torch.Tensor, x: torch.Tensor, axes: tuple[int, ...] | None = None) -> torch.Tensor:
    """Divergence ``Σ_j ∂v_j/∂x_j`` over ``axes`` (default the first ``v.shape[1]`` coordinates): (n,)."""
    axes = tuple(range(v.shape[1])) if axes is None else axes
    if len(axes) != v.shape[1]:
        raise ValueError(f"divergence of a {v.shape[1]}-vector over {len(axes)} axes")
    return sum(grad(v[:, i], x)[:, a] for i, a in enumerate(axes))


def laplacian(u: torch.Tensor, x: torch.Tensor, axes: tuple[int, ...] | None = None) -> torch.Tensor:
    """Laplacian ``Σ_j ∂²u/∂x_j²`` over ``axes`` (default all coordinates): (n,)."""
    g = grad(u, x)
    axes = tuple(range(x.shape[1])) if axes is None else axes
    return sum(grad(g[:, a], x)[:, a] for a in axes)


def hessian(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Hessian ``∂²u/∂x_i∂x_j``: (n, d, d)."""
    g = grad(u, x)
    return torch.stack([grad(g[:, i], x) for i in range(x.shape[1])], dim=1)
