"""Derivatives of network outputs with respect to their inputs (autograd), batched over points.

Conventions: ``x`` is an ``(n, d)`` tensor with ``requires_grad=True`` that was fed to the
network; ``u`` is ``(n,)`` or ``(n, 1)`` (one scalar field) or ``(n, c)`` for :func:`jacobian`.
Every function keeps the graph (``create_graph=True``) so residuals can be trained on.
"""

from __future__ import annotations

from typing import cast

import torch


def _scalar(u: torch.Tensor) -> torch.Tensor:
    if u.ndim == 2 and u.shape[1] == 1:
        return u[:, 0]
    if u.ndim != 1:
        raise ValueError(f"expected one scalar field of shape (n,) or (n, 1), got {tuple(u.shape)}")
    return u


def grad(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient ``∂u/∂x_j`` of a scalar field: (n, d); zeros where ``u`` does not depend on ``x``
    (e.g. the second derivative of a field that is linear in x)."""
    u = _scalar(u)
    if not u.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True, allow_unused=True, materialize_grads=True)
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
    # sum() starts from the int 0; with at least one axis the result is a tensor
    return cast(torch.Tensor, sum(grad(v[:, i], x)[:, a] for i, a in enumerate(axes)))


def laplacian(u: torch.Tensor, x: torch.Tensor, axes: tuple[int, ...] | None = None) -> torch.Tensor:
    """Laplacian ``Σ_j ∂²u/∂x_j²`` over ``axes`` (default all coordinates): (n,)."""
    g = grad(u, x)
    axes = tuple(range(x.shape[1])) if axes is None else axes
    return cast(torch.Tensor, sum(grad(g[:, a], x)[:, a] for a in axes))  # a tensor for >= 1 axis


def hessian(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Hessian ``∂²u/∂x_i∂x_j``: (n, d, d)."""
    g = grad(u, x)
    return torch.stack([grad(g[:, i], x) for i in range(x.shape[1])], dim=1)


class Derivatives:
    """Lazy, cached derivatives of a network's outputs at points ``x`` — what residuals see.

    ``du()`` is output 0; ``du("x")`` is ∂u/∂x, ``du("x", "x")`` is ∂²u/∂x², ``du("t", out="v")``
    another output; axes are coordinate names or indices. ``du.coord("x")`` is the coordinate
    itself, ``du.x`` all coordinates ``(n, d)`` and ``du.u`` all outputs ``(n, c)``.

    Derivatives come from ``known`` (precomputed, e.g. by :meth:`sciml.nn.MLP.jet`, Taylor-mode
    forward propagation) where available, else from autograd on ``u(x)``; both are cached, so a
    residual may ask for the same derivative twice at no cost. ``requested`` records every
    ``(out, axes)`` asked for, so a method can learn what to precompute.

    On the points of a boundary condition that declares ``normals=True``, ``du.normals`` is the
    outward unit normal ``(n, d)`` at each point and ``du.dn(out=0)`` (alias
    ``du.normal_derivative``) the normal derivative ∂u/∂n = Σ_j n_j ∂u/∂x_j over the first ``d``
    inputs, for Neumann and Robin conditions: ``d`` is the spatial dimension on a boundary, and
    the space-time dimension on an interface of a cut domain (on a cut in time, ∂u/∂n = u_t).
    """

    def __init__(
        self,
        u: torch.Tensor,
        x: torch.Tensor,
        inputs: tuple[str, ...],
        outputs: tuple[str, ...],
        known: dict[tuple[int, tuple[int, ...]], torch.Tensor] | None = None,
        normals: torch.Tensor | None = None,
    ):
        self.u, self.x, self.inputs, self.outputs = u, x, tuple(inputs), tuple(outputs)
        self._cache = dict(known or {})
        self.requested: set[tuple[int, tuple[int, ...]]] = set()
        if normals is not None and (normals.ndim != 2 or len(normals) != len(x) or normals.shape[1] > x.shape[1]):
            raise ValueError(
                f"normals must be (n, d_space) with n = {len(x)} points and d_space <= {x.shape[1]}, "
                f"got {tuple(normals.shape)}"
            )
        self._normals = normals

    @property
    def normals(self) -> torch.Tensor:
        """Outward unit normals ``(n, d_space)`` at the points (boundary conditions with ``normals=True``)."""
        if self._normals is None:
            raise RuntimeError(
                "no normals at these points: only a boundary condition declared with "
                "Condition(..., normals=True) gets outward normals (du.normals, du.dn)"
            )
        return self._normals

    def dn(self, out=0) -> torch.Tensor:
        """The outward normal derivative ∂u/∂n = Σ_j n_j ∂u/∂x_j of output ``out``: (n,)."""
        n = self.normals
        return cast(torch.Tensor, sum(n[:, j] * self(j, out=out) for j in range(n.shape[1])))  # d_space >= 1

    normal_derivative = dn

    def _axis(self, a) -> int:
        if isinstance(a, int):
            return a
        try:
            return self.inputs.index(a)
        except ValueError:
            raise KeyError(f"no coordinate {a!r}; coordinates are {self.inputs}") from None

    def _out(self, o) -> int:
        if isinstance(o, int):
            return o
        try:
            return self.outputs.index(o)
        except ValueError:
            raise KeyError(f"no output {o!r}; outputs are {self.outputs}") from None

    def coord(self, name) -> torch.Tensor:
        return self.x[:, self._axis(name)]

    def __call__(self, *axes, out=0) -> torch.Tensor:
        o = self._out(out)
        key = (o, tuple(sorted(self._axis(a) for a in axes)))
        self.requested.add(key)
        return self._get(key)

    def _get(self, key) -> torch.Tensor:
        if key in self._cache:
            return self._cache[key]
        o, ax = key
        if ax and not self.x.requires_grad:
            raise RuntimeError(
                f"derivative {ax} of output {self.outputs[o]!r} was not precomputed and x does "
                "not require grad: residuals must ask for the same derivatives at every call"
            )
        if not ax:
            val = self.u[:, o]
        else:  # differentiate the next-lower derivative along the last axis; all axes at once
            lower = self._get((o, ax[:-1]))
            g = grad(lower, self.x)
            for j in range(self.x.shape[1]):
                self._cache.setdefault((o, tuple(sorted(ax[:-1] + (j,)))), g[:, j])
            val = self._cache[key]
        self._cache[key] = val
        return val
