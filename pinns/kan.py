"""Kolmogorov–Arnold networks (KAN) with B-spline edges, usable as a PINN model (KINN).

Every edge ``i → o`` of a layer carries its own learnable univariate function, a SiLU "base"
term plus a B-spline on a per-input knot grid:

.. math:: y_o = \\sum_i w_{oi}\\,\\sigma(x_i) + \\sum_i s_{oi} \\sum_{m=0}^{G+k-1} c_{oim} B_{m,k}(x_i)

References
----------
.. [1] Z. Liu et al., "KAN: Kolmogorov–Arnold Networks", arXiv:2404.19756 (2024).
.. [2] Y. Wang et al., "Kolmogorov–Arnold-Informed neural network (KINN)", arXiv:2406.11045 (2024).
.. [3] C. de Boor, "A Practical Guide to Splines", Springer (1978), ch. IX (the recurrence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from sciml.method import phase_names
from sciml.nn import activation as _activation
from sciml.registry import MODELS


def make_grid(lo: torch.Tensor, hi: torch.Tensor, grid_size: int, order: int) -> torch.Tensor:
    """Uniform knot vectors over ``[lo_i, hi_i]`` for each input, extended by ``order`` knots per side.

    .. math:: t_{i,j} = lo_i + (j - k)\\,h_i, \\quad h_i = \\frac{hi_i - lo_i}{G}, \\quad j = 0, \\dots, G + 2k

    Shapes
    ------
    lo, hi: (d,) → (d, G + 2k + 1)

    References
    ----------
    de Boor (1978), ch. IX.
    """
    h = (hi - lo) / grid_size
    j = torch.arange(-order, grid_size + order + 1, dtype=lo.dtype, device=lo.device)
    return lo[:, None] + j[None, :] * h[:, None]


def bspline_basis(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """All B-spline basis functions of degree ``order`` on each input's knot vector (Cox–de Boor).

    .. math:: B_{j,0}(x) = \\mathbb 1[t_j \\le x < t_{j+1}], \\qquad
              B_{j,p}(x) = \\frac{x - t_j}{t_{j+p} - t_j} B_{j,p-1}(x)
                         + \\frac{t_{j+p+1} - x}{t_{j+p+1} - t_{j+1}} B_{j+1,p-1}(x)

    Vectorised over points and inputs; the only loop is over ``p = 1..order``. The result is a
    piecewise polynomial in ``x`` built from differentiable operations, so autograd gives its exact
    derivatives (``order`` 3 is C², enough for second-order PDE residuals).

    Conventions: knot intervals are half-open ``[t_j, t_{j+1})``. On the grid range ``[a, b] =
    [t_k, t_{G+k}]`` the ``G + k`` functions sum to one; at the right end ``x = b`` this holds for
    ``order >= 1`` (the functions are continuous there), while for ``order = 0`` the point ``b``
    belongs to the first extension interval and every returned value is 0. Outside the extended
    knot range ``[t_0, t_{G+2k})`` every value is 0, and ``B_m`` is 0 outside ``[t_m, t_{m+k+1})``.

    Parameters
    ----------
    x : points, one column per input
    grid : knots per input, increasing (uniform: :func:`make_grid`)
    order : spline degree ``k >= 0``

    Shapes
    ------
    x: (n, d), grid: (d, G + 2k + 1) → (n, d, G + k)

    References
    ----------
    de Boor (1978), ch. IX; Liu et al. (2024), §2.2.
    """
    if x.dim() != 2 or grid.dim() != 2 or grid.shape[0] != x.shape[1]:
        raise ValueError(
            f"bspline_basis needs x (n, d) and grid (d, n_knots), got {tuple(x.shape)} and {tuple(grid.shape)}"
        )
    if order < 0 or grid.shape[1] < order + 2:
        raise ValueError(f"order {order} needs at least {order + 2} knots per input, got {grid.shape[1]}")
    g = grid.unsqueeze(0)  # (1, d, K)
    x = x.unsqueeze(-1)  # (n, d, 1)
    b = ((x >= g[..., :-1]) & (x < g[..., 1:])).to(x.dtype)  # (n, d, K - 1)
    for p in range(1, order + 1):
        left = (x - g[..., : -(p + 1)]) / (g[..., p:-1] - g[..., : -(p + 1)])
        right = (g[..., p + 1 :] - x) / (g[..., p + 1 :] - g[..., 1:-p])
        b = left * b[..., :-1] + right * b[..., 1:]  # (n, d, K - 1 - p)
    return b


def uniform_bspline_basis(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """:func:`bspline_basis` for uniform knots, from the ``k + 1`` functions that are non-zero at each point.

    With ``u = (x − t_0)/h``, span ``i = ⌊u⌋`` and ``f = u − i``, the recurrence restricted to
    the span (de Boor's local form; every denominator is ``p`` on a unit-spaced grid) gives
    ``B_{i-k+r}``, ``r = 0..k``:

    .. math:: N^{(p)}_r = \\frac{(r - f + 1)\\,N^{(p-1)}_r + (f + p - r)\\,N^{(p-1)}_{r-1}}{p}

    which are scattered into the dense ``(n, d, G + k)`` result. Same values and conventions as
    :func:`bspline_basis` (half-open spans, zero outside the knots) with about ``(G + 2k)/(k + 1)``
    times less elementwise work; the layers use it because their grids are always uniform
    (:func:`make_grid`). ``f`` carries the gradient (``⌊u⌋`` is piecewise constant), so autograd
    derivatives in ``x`` are exact.

    Shapes
    ------
    x: (n, d), grid: (d, G + 2k + 1), uniform per row → (n, d, G + k)

    References
    ----------
    L. Piegl, W. Tiller, "The NURBS Book", 2nd ed., Springer (1997), algorithm A2.2.
    """
    if x.dim() != 2 or grid.dim() != 2 or grid.shape[0] != x.shape[1]:
        raise ValueError(
            f"uniform_bspline_basis needs x (n, d) and grid (d, n_knots), got {tuple(x.shape)} and {tuple(grid.shape)}"
        )
    n_spans = grid.shape[1] - 1
    n_basis = n_spans - order
    u = (x - grid[:, 0]) / (grid[:, 1] - grid[:, 0])
    span = torch.floor(u.detach())
    f = u - span
    N = [torch.ones_like(f)]
    for p in range(1, order + 1):
        nxt, carry = [], 0.0
        for r in range(p):
            t = N[r] / p
            nxt.append(carry + (r + 1 - f) * t)
            carry = (f + p - 1 - r) * t
        N = nxt + [carry]
    inside = (span >= 0) & (span < n_spans)
    w = torch.stack(N, -1) * inside.unsqueeze(-1).to(f.dtype)  # (n, d, k + 1)
    idx = span.clamp(0, n_spans - 1).long().unsqueeze(-1) + torch.arange(order + 1, device=x.device)
    out = torch.zeros(*x.shape, n_basis + 2 * order, dtype=w.dtype, device=x.device).scatter(-1, idx, w)
    return out[..., order : order + n_basis]


def _ridge_lstsq(a: torch.Tensor, y: torch.Tensor, rel_ridge: float = 1e-10) -> torch.Tensor:
    """Batched least squares ``min ‖a c − y‖² + λ‖c‖²`` with a tiny relative ridge λ.

    The ridge only matters for basis functions that no data point touches (their coefficient
    becomes 0); it works on every device, unlike rank-revealing ``lstsq`` drivers.

    Shapes
    ------
    a: (d, n, m), y: (d, n, o) → (d, m, o)
    """
    at = a.transpose(1, 2)
    ata, aty = at @ a, at @ y
    lam = rel_ridge * ata.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(torch.finfo(a.dtype).tiny)
    eye = torch.eye(a.shape[2], dtype=a.dtype, device=a.device)
    return torch.linalg.solve(ata + lam[:, None, None] * eye, aty)


class KANLayer(nn.Module):
    """One KAN layer: a learnable univariate function on every edge, summed per output, no bias.

    .. math:: y_o = \\sum_i w^{base}_{oi}\\,\\sigma(x_i) + \\sum_i s_{oi} \\sum_m c_{oim} B_{m,k}(x_i)

    Parameters: ``base_weight`` (out, in), ``spline_coef`` (out, in, G + k), ``spline_scaler``
    (out, in): ``out · in · (G + k + 2)`` in all. The knots are a buffer ``grid`` (in, G + 2k + 1),
    uniform over ``grid_range`` until :meth:`update_grid` moves them; they stay uniform per input,
    which lets the forward pass use :func:`uniform_bspline_basis`.

    Initialisation: ``base_weight ~ U(±scale_base/√in)`` and ``spline_scaler ~ U(±scale_spline/√in)``
    (PyTorch's Kaiming-uniform bound for ``nn.Linear``, multiplied by the scale); spline
    coefficients ``c ~ N(0, (scale_noise/G)²)``, so each edge starts as a small random spline on
    top of the SiLU path.

    Parameters
    ----------
    in_features, out_features : layer sizes
    grid_size : number of grid intervals ``G`` over ``grid_range``
    spline_order : spline degree ``k`` (3: cubic, C², the PINN default)
    grid_range : ``(a, b)``; inputs outside ``[a − kh, b + kh)`` only see the base path
    base_activation : σ of the base path, a name from :func:`sciml.nn.activation`
    scale_noise, scale_base, scale_spline : initialisation scales (above)

    Shapes
    ------
    x: (..., in_features) → (..., out_features)

    References
    ----------
    Liu et al., arXiv:2404.19756 (2024), eq. 2.10; Wang et al., arXiv:2406.11045 (2024).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: Sequence[float] = (-1.0, 1.0),
        base_activation: str = "silu",
        scale_noise: float = 0.1,
        scale_base: float = 1.0,
        scale_spline: float = 1.0,
    ):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"KANLayer sizes must be >= 1, got {in_features} -> {out_features}")
        if grid_size < 1 or spline_order < 0:
            raise ValueError(f"KANLayer needs grid_size >= 1 and spline_order >= 0, got {grid_size}, {spline_order}")
        a, b = (float(v) for v in grid_range)
        if not a < b:
            raise ValueError(f"grid_range must be (a, b) with a < b, got {tuple(grid_range)}")
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.spline_order = grid_size, spline_order
        self.scale_noise, self.scale_base, self.scale_spline = scale_noise, scale_base, scale_spline
        self.base_activation = base_activation
        self.act = _activation(base_activation)
        lo = torch.full((in_features,), a)
        self.register_buffer("grid", make_grid(lo, lo + (b - a), grid_size, spline_order))
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        self.spline_coef = nn.Parameter(torch.empty(out_features, in_features, grid_size + spline_order))
        self.spline_scaler = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        self.base_weight.uniform_(-bound, bound).mul_(self.scale_base)
        self.spline_scaler.uniform_(-bound, bound).mul_(self.scale_spline)
        self.spline_coef.normal_(0.0, self.scale_noise / self.grid_size)

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.out_features}, grid_size={self.grid_size}, "
            f"spline_order={self.spline_order}, base_activation={self.base_activation!r}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"KANLayer expects {self.in_features} input features, got shape {tuple(x.shape)}")
        lead = x.shape[:-1]
        x = x.reshape(-1, self.in_features)
        base = F.linear(self.act(x), self.base_weight)
        basis = uniform_bspline_basis(x, self.grid, self.spline_order)  # (n, in, G + k)
        coef = self.spline_coef * self.spline_scaler.unsqueeze(-1)  # (out, in, G + k)
        y = base + F.linear(basis.flatten(1), coef.flatten(1))
        return y.reshape(*lead, self.out_features)

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, margin: float = 0.01, grid_size: int | None = None) -> None:
        """Move the knots to the data's range and refit the splines so that the layer barely changes.

        The new grid of each input is uniform over the data's range widened by ``margin`` times
        its span on both sides (a span below 1e-3 counts as 1e-3). For every edge the old spline
        values ``f_{oi}(x_i)`` at the data are then fitted by least squares (float64, tiny ridge)
        in the new basis; the base path and ``spline_scaler`` are untouched:

        .. math:: c'_{oi} = \\arg\\min_c \\sum_n \\Big(\\sum_m c_m B'_m(x_{ni}) - \\sum_m c_{oim} B_m(x_{ni})\\Big)^2

        The fit is exact when the new spline space contains the old one (e.g. a second call on
        the same data with ``grid_size`` doubled); otherwise the output changes by the error of approximating
        the old piecewise polynomial (its knots no longer on the grid) in the new spline space:
        about 1e-5 to 1e-3 relative for smooth splines at the same ``grid_size``, less on a
        finer grid (a trained ``[1, 4, 1]`` KAN with G = 10: 1.7e-3 keeping G, 1.6e-4 with
        ``grid_size=20``). ``grid_size`` other than the current one replaces the
        ``spline_coef`` parameter (grid extension): rebuild the optimizer afterwards; state dicts
        of the old and new sizes are not interchangeable.

        Shapes
        ------
        x: (..., in_features)

        References
        ----------
        Liu et al., arXiv:2404.19756 (2024), §2.4 (grid extension).
        """
        k = self.spline_order
        new_size = self.grid_size if grid_size is None else int(grid_size)
        if new_size < 1:
            raise ValueError(f"grid_size must be >= 1, got {new_size}")
        xs = x.detach().reshape(-1, self.in_features).to(torch.float64)
        old = bspline_basis(xs, self.grid.to(torch.float64), k)  # (n, in, G + k)
        values = torch.einsum("nim,oim->ino", old, self.spline_coef.to(torch.float64))  # (in, n, out)
        lo = xs.min(0).values
        span = (xs.max(0).values - lo).clamp_min(1e-3)
        grid = make_grid(lo - margin * span, lo + (1 + margin) * span, new_size, k)
        new = bspline_basis(xs, grid, k).transpose(0, 1)  # (in, n, G' + k)
        coef = _ridge_lstsq(new, values).permute(2, 0, 1)  # (out, in, G' + k)
        p = self.spline_coef
        self.grid = grid.to(self.grid.dtype)
        if new_size == self.grid_size:
            p.copy_(coef)
        else:
            self.spline_coef = nn.Parameter(coef.to(dtype=p.dtype, device=p.device), requires_grad=p.requires_grad)
            self.grid_size = new_size


class KAN(nn.Module):
    """A stack of :class:`KANLayer` ``[in, *widths, out]``, with input normalization.

    .. math:: y = \\Phi_L \\circ \\dots \\circ \\Phi_1(\\hat x), \\qquad
              \\hat x_i = a + (b - a)\\frac{x_i - lo_i}{hi_i - lo_i}

    ``input_bounds`` (``(lo, hi)`` per input, e.g. the PDE domain's box) maps the inputs linearly
    onto ``grid_range = (a, b)`` first; without it inputs are used as given, and coordinates outside
    the grid range only reach the base path. Between layers there is no extra activation (the
    edge functions are the nonlinearity). Hidden values may leave the grid range as training goes
    on; ``normalize_hidden=True`` squashes them before every layer after the first with
    ``c + r·tanh((h − c)/r)`` (``c, r`` the centre and half-width of the grid range; identity to
    first order at ``c``), which keeps them inside the grid. It is off by default, as in KINN;
    :meth:`update_grid` is the other remedy.

    The model is twice differentiable in its input for ``spline_order >= 3`` and a smooth
    ``base_activation``; it has no Taylor-mode ``jet``, so a PINN uses autograd derivatives.

    Parameters
    ----------
    in_features, out_features : sizes (come from the problem)
    widths : hidden layer widths (empty: one layer)
    grid_size, spline_order, grid_range, base_activation, scale_noise, scale_base, scale_spline :
        passed to every :class:`KANLayer`
    input_bounds : ``[(lo, hi)] * in_features`` or None
    normalize_hidden : squash hidden values into the grid range (above)

    Shapes
    ------
    x: (..., in_features) → (..., out_features)

    References
    ----------
    Liu et al., arXiv:2404.19756 (2024); Wang et al. (KINN), arXiv:2406.11045 (2024).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        widths: Sequence[int] = (5, 5),
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: Sequence[float] = (-1.0, 1.0),
        input_bounds: Sequence[Sequence[float]] | None = None,
        normalize_hidden: bool = False,
        base_activation: str = "silu",
        scale_noise: float = 0.1,
        scale_base: float = 1.0,
        scale_spline: float = 1.0,
    ):
        super().__init__()
        widths = [int(w) for w in widths]
        if len(grid_range) != 2:
            raise ValueError(f"grid_range must be [a, b], got {grid_range!r}")
        a, b = (float(v) for v in grid_range)
        sizes = [in_features, *widths, out_features]
        self.layers = nn.ModuleList(
            KANLayer(m, n, grid_size, spline_order, (a, b), base_activation, scale_noise, scale_base, scale_spline)
            for m, n in zip(sizes[:-1], sizes[1:])
        )
        self.in_features, self.out_features = in_features, out_features
        self.normalize_hidden = bool(normalize_hidden)
        self._centre, self._radius = (a + b) / 2, (b - a) / 2
        scale, shift = torch.ones(in_features), torch.zeros(in_features)
        if input_bounds is not None:
            bounds = torch.as_tensor([[float(v) for v in pair] for pair in input_bounds], dtype=torch.float64)
            if bounds.shape != (in_features, 2) or not bool((bounds[:, 0] < bounds[:, 1]).all()):
                raise ValueError(
                    f"input_bounds must be {in_features} pairs [lo, hi] with lo < hi, got {input_bounds!r}"
                )
            s = (b - a) / (bounds[:, 1] - bounds[:, 0])
            scale, shift = s.float(), (a - bounds[:, 0] * s).float()
        self.register_buffer("in_scale", scale)
        self.register_buffer("in_shift", shift)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs mapped by ``input_bounds`` onto the grid range (identity without bounds)."""
        return x * self.in_scale + self.in_shift

    def _squash(self, h: torch.Tensor) -> torch.Tensor:
        return self._centre + self._radius * torch.tanh((h - self._centre) / self._radius)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.normalize(x)
        for i, layer in enumerate(self.layers):
            if i > 0 and self.normalize_hidden:
                h = self._squash(h)
            h = layer(h)
        return h

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, margin: float = 0.01, grid_size: int | None = None) -> None:
        """:meth:`KANLayer.update_grid` layer by layer, each on the inputs it sees after the updates before it.

        Shapes
        ------
        x: (..., in_features)
        """
        h = self.normalize(x)
        for i, layer in enumerate(self.layers):
            if i > 0 and self.normalize_hidden:
                h = self._squash(h)
            layer.update_grid(h, margin, grid_size)
            h = layer(h)


class GridUpdates:
    """Move a KAN's knots to the training points every ``every`` steps, in the stages of ``phases``
    (all stages when None; an L-BFGS stage's curvature memory does not survive a change of the
    splines, so list the first-order stages' phases): :meth:`KAN.update_grid` on the data's interior
    points, keeping the grid size, so the parameters keep their shapes and the optimizer its state. A PINN option
    (``method: {type: pinn, grid_update: {every: 200, phases: [fit]}}``); the count of updates is
    part of the method's checkpointed state and the knots are buffers of the model."""

    def __init__(self, every: int, phases: list[str] | None = None, margin: float = 0.01):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"method.grid_update.every must be an integer >= 1, got {every!r}")
        if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 <= margin < 1:
            raise ValueError(f"method.grid_update.margin must be a number in [0, 1), got {margin!r}")
        self.every, self.phases, self.margin = every, phase_names("grid_update.phases", phases), float(margin)
        self.in_phase, self.count, self.last_step = True, 0, 0

    def __call__(self, model, data, step: int) -> None:
        # on crossing a multiple of every: an L-BFGS stage advances several steps per call
        crossed = self.last_step // self.every != step // self.every
        self.last_step = step
        if not self.in_phase or not crossed:
            return
        if "interior" not in getattr(data, "points", {}):
            raise ValueError("method.grid_update needs collocation data with interior points")
        x = data.points["interior"]
        p = next(model.parameters())
        model.update_grid(torch.as_tensor(x, dtype=p.dtype, device=p.device), self.margin)
        self.count += 1


@MODELS.register("kan")
def build_kan(
    *,
    io,
    widths: list = [5, 5],  # noqa: B006  (the builder never mutates it; the schema shows the list)
    grid_size: int = 5,
    spline_order: int = 3,
    grid_range: list = [-1.0, 1.0],  # noqa: B006
    input_bounds: list | None = None,
    normalize_hidden: bool = False,
    base_activation: str = "silu",
    scale_noise: float = 0.1,
    scale_base: float = 1.0,
    scale_spline: float = 1.0,
) -> KAN:
    """Kolmogorov–Arnold network with B-spline edges (KINN); inputs scaled from the domain's bounds."""
    # input_bounds: [[lo, hi], ...] per input; by default the problem's domain box, so the
    # coordinates land on the spline grid
    bounds = input_bounds if input_bounds is not None else (None if io.bounds is None else [list(b) for b in io.bounds])
    return KAN(
        io.n_in,
        io.n_out,
        tuple(widths),
        grid_size,
        spline_order,
        tuple(grid_range),
        bounds,
        normalize_hidden,
        base_activation,
        scale_noise,
        scale_base,
        scale_spline,
    )
