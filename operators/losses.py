r"""Relative Sobolev (H1) error of fields on 2D grids, with finite-difference derivatives.

For a channels-last field :math:`v` of shape ``(B, H, W, C)`` sampled on a uniform grid,

.. math::

    \|v\|_{H^1}^2 = \sum_{i,j,c} v_{ijc}^2 + (\partial_x v)_{ijc}^2 + (\partial_y v)_{ijc}^2,
    \qquad
    \mathrm{relH1}(\hat u, u) = \frac{\|\hat u - u\|_{H^1}}{\|u\|_{H^1}}

per sample, where :math:`x` is axis 1 (``H``) and :math:`y` axis 2 (``W``). The sums are plain
discrete sums: a uniform cell area would cancel in the ratio, so they approximate the ratio of the
continuous norms on :math:`[0, 1]^2`, whereas the grid spacing sets how the derivatives weigh
against the values.

Derivatives are second order:

- non-periodic grids (both ends included, spacing :math:`h = 1/(n-1)` by default): central
  differences :math:`(v_{i+1} - v_{i-1}) / 2h` inside and the one-sided
  :math:`(\mp 3 v_0 \pm 4 v_1 \mp v_2) / 2h` at the two edges (``torch.gradient``, ``edge_order=2``);
- periodic grids (right end excluded, :math:`h = 1/n` by default): central differences
  everywhere, wrapping around (``torch.roll``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["finite_difference_gradient", "relative_h1"]


def _spacings(shape: tuple[int, int], periodic: bool, spacing: float | Sequence[float] | None) -> tuple[float, float]:
    if spacing is None:
        return tuple(1.0 / n if periodic else 1.0 / (n - 1) for n in shape)
    if isinstance(spacing, (int, float)) and not isinstance(spacing, bool):
        values = (float(spacing),) * 2
    else:
        values = tuple(float(s) for s in spacing)
        if len(values) != 2:
            raise ValueError(f"spacing must be a number or a pair (hx, hy), got {spacing!r}")
    if not all(h > 0 for h in values):
        raise ValueError(f"grid spacings must be positive, got {spacing!r}")
    return values


def finite_difference_gradient(
    v: torch.Tensor, periodic: bool = False, spacing: float | Sequence[float] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Second-order finite-difference :math:`(\partial_x v, \partial_y v)` of a channels-last 2D field.

    Parameters
    ----------
    v : torch.Tensor
        Field ``(B, H, W, C)`` on a uniform grid; ``x`` is axis 1, ``y`` axis 2.
    periodic : bool
        Periodic grid (wrap-around central differences) or not (central inside, second-order
        one-sided at the edges).
    spacing : float or (float, float), optional
        Grid spacings ``(hx, hy)``; default ``1/(n-1)`` per axis (non-periodic, ends included) or
        ``1/n`` (periodic).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``dv/dx`` and ``dv/dy``, each shaped like ``v``.
    """
    if v.ndim != 4:
        raise ValueError(f"expected a channels-last 2D field (B, H, W, C), got shape {tuple(v.shape)}")
    shape = (v.shape[1], v.shape[2])
    if min(shape) < 3:
        raise ValueError(f"second-order differences need at least 3 points per axis, got a {shape[0]}x{shape[1]} grid")
    hx, hy = _spacings(shape, periodic, spacing)
    if periodic:
        return tuple((torch.roll(v, -1, dim) - torch.roll(v, 1, dim)) / (2 * h) for dim, h in ((1, hx), (2, hy)))
    return (
        torch.gradient(v, spacing=hx, dim=1, edge_order=2)[0],
        torch.gradient(v, spacing=hy, dim=2, edge_order=2)[0],
    )


def _h1_norm(v: torch.Tensor, periodic: bool, spacing: float | Sequence[float] | None) -> torch.Tensor:
    # one vector norm over (v, dv/dx, dv/dy): its gradient at v = 0 is 0, not the NaN of sqrt(0)
    dx, dy = finite_difference_gradient(v, periodic, spacing)
    return torch.cat([v, dx, dy], dim=-1).flatten(1).norm(dim=1)


def relative_h1(
    pred: torch.Tensor,
    true: torch.Tensor,
    periodic: bool = False,
    spacing: float | Sequence[float] | None = None,
    eps: float = 1e-12,
) -> torch.Tensor:
    r"""Per-sample relative H1 error :math:`\|\hat u - u\|_{H^1} / \|u\|_{H^1}` of channels-last 2D fields.

    Parameters
    ----------
    pred, true : torch.Tensor
        Predicted and reference fields ``(B, H, W, C)``, same shape.
    periodic : bool
        Whether the grid is periodic (see :func:`finite_difference_gradient`).
    spacing : float or (float, float), optional
        Grid spacings ``(hx, hy)``; default ``1/(n-1)`` per axis (non-periodic) or ``1/n`` (periodic).
    eps : float
        Added to the denominator, as in :func:`~operators.relative_l2`.

    Returns
    -------
    torch.Tensor
        Shape ``(B,)``.
    """
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {tuple(pred.shape)} and {tuple(true.shape)}")
    return _h1_norm(pred - true, periodic, spacing) / (_h1_norm(true, periodic, spacing) + eps)
