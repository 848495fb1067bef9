r"""MgNO, the multigrid neural operator (He, Liu, Xu, ICLR 2024), in 2D with channels-last I/O.

Each layer of MgNO is a nonlinearity around one multigrid V-cycle with learned convolutions:

.. math::

    u^{(0)} = a, \qquad
    u^{(t+1)} = \sigma\big(\mathrm{MgConv}_t(u^{(t)}) + W_t u^{(t)} + b_t\big), \qquad
    G_\theta(a) = Q\, u^{(T)},

with :math:`W_t` a 1x1 convolution (with bias :math:`b_t`), :math:`\sigma` = GELU (applied after
every layer, the last one included) and :math:`Q` a 1x1 convolution without bias. There is no
lifting layer: the first V-cycle reads the input channels as its right-hand side.

``MgConv`` (:class:`MgConv`) is one V-cycle, linear in its input :math:`f` (no nonlinearity
inside). Its unknown :math:`u` (``C_u`` channels) solves a learned "equation" :math:`A u = f`
(``C_f`` channels) on ``L`` levels :math:`\ell = 0, \dots, L-1`, each half the size of the one
before. All convolutions are 3x3 with padding 1 and the boundary condition as padding mode, and
have no bias:

- smoothing step ("MgIte") at level :math:`\ell`, with its own :math:`A` (``C_u -> C_f``) and
  :math:`S` (``C_f -> C_u``) for every step:

  .. math:: u_\ell \leftarrow u_\ell + S\big(f_\ell - A u_\ell\big);

- level 0: :math:`f_0 = f`, and the first pre-smoothing step starts from :math:`u_0 = 0`, where it
  reduces to :math:`u_0 = S_0 f` (one convolution, no :math:`A`); the remaining
  ``pre_0 - 1`` steps follow;
- going down (restriction), with stride-2 convolutions :math:`R_\ell` (``C_f -> C_f``) and
  :math:`\Pi_\ell` (``C_u -> C_u``), then ``pre_{l+1}`` smoothing steps:

  .. math:: f_{\ell+1} = R_\ell f_\ell, \qquad u_{\ell+1} = \Pi_\ell u_\ell;

- at the coarsest level, the ``pre`` then the ``post`` steps;
- going up (prolongation), with :math:`R^T_\ell` a learned transposed convolution (kernel 4,
  stride 2, padding 1, ``C_u -> C_u``), then ``post_l`` smoothing steps:

  .. math:: u_\ell \leftarrow u_\ell + R^T_\ell\, u_{\ell+1}.

``iterations = [[pre_0, post_0], ..., [pre_{L-1}, post_{L-1}]]`` sets the smoothing counts; the
paper's Darcy configuration is ``[[1, 0]] * 5 + [[2, 0]]`` (6 levels). A grid of size ``H x W``
needs ``H`` and ``W`` divisible by :math:`2^{L-1}`.

Parameter count. The paper's Darcy model (1 input and 1 output channel, 24 hidden channels,
4 layers, the iterations above) has 572,661 parameters, which this implementation reproduces
exactly (see :func:`mgno_param_count`). The count confirms that

- level 0's single pre-smoothing step *is* the initialization :math:`u_0 = S_0 f` (running a full
  step after it would add ``9 * 2 * C_f * C_u`` per layer: 604,197 in all);
- the first layer's :math:`W_0` maps the input channels to the hidden ones, with bias
  (``1 * 24 + 24``; without a skip in layer 1: 572,613), and the other :math:`W_t` are ``24 x 24``
  with bias (all four without bias: 572,565);
- the head :math:`Q` has no bias (with one: 572,662), and no convolution in the V-cycles has one
  (with biases on all of them: 575,096);
- no lifting, no grid-coordinate inputs, no normalization layers (a 1x1 lift to 24 channels with
  the first V-cycle at ``C_f = 24``: 663,720).

Boundary conditions. ``padding_mode`` is ``"zeros"`` (Dirichlet-like), ``"circular"`` (periodic)
or ``"reflect"``. PyTorch's transposed convolutions only pad with zeros; here :math:`R^T_\ell`
pads its (coarse) input by one cell with the same mode before the transposed convolution and
crops the two extra output cells on each side, which is identical to ``padding=1`` for ``"zeros"`` and makes the whole
model exactly translation-equivariant with ``"circular"`` (for shifts that are multiples of
:math:`2^{L-1}`, the stride alignment of the coarsest grid).

References
----------
J. He, X. Liu, J. Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid",
ICLR 2024, https://arxiv.org/abs/2310.19809.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from sciml.registry import MODELS

from .fno import grid_coordinates

__all__ = ["DARCY_ITERATIONS", "MgConv", "MgNO", "build_mgno", "check_iterations", "mgno_param_count"]

DARCY_ITERATIONS: tuple[tuple[int, int], ...] = ((1, 0),) * 5 + ((2, 0),)
"""Smoothing counts ``(pre, post)`` per level of the paper's Darcy configuration (6 levels)."""

PADDING_MODES = ("zeros", "circular", "reflect")

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


def check_iterations(iterations: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """Validate smoothing counts ``[[pre, post], ...]`` (one pair per level) and return them as tuples.

    Raises
    ------
    ValueError
        If ``iterations`` is empty, an entry is not a pair of non-negative ints, or level 0 has no
        pre-smoothing step (its first step is the initialization ``u = S f``).
    """
    if isinstance(iterations, (str, bytes)) or not isinstance(iterations, Sequence) or len(iterations) == 0:
        raise ValueError(f"iterations must be a non-empty list of [pre, post] pairs, one per level, got {iterations!r}")
    out = []
    for level, pair in enumerate(iterations):
        ok = isinstance(pair, Sequence) and not isinstance(pair, (str, bytes)) and len(pair) == 2
        ok = ok and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in pair)
        if not ok:
            raise ValueError(f"iterations[{level}] must be a pair [pre, post] of non-negative ints, got {pair!r}")
        out.append((int(pair[0]), int(pair[1])))
    if out[0][0] < 1:
        raise ValueError(
            "iterations[0][0] must be >= 1: the first pre-smoothing step on level 0 is the "
            f"initialization u = S f, got iterations[0] = {list(iterations[0])!r}"
        )
    return tuple(out)


def _check_padding_mode(padding_mode: str) -> None:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"unknown padding_mode {padding_mode!r}; choose one of {', '.join(PADDING_MODES)}")


def _conv3(c_in: int, c_out: int, padding_mode: str, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, padding_mode=padding_mode, bias=False)


class _Smoother(nn.Module):
    """One smoothing step ``u <- u + S(f - A u)`` (the paper's MgIte)."""

    def __init__(self, f_channels: int, u_channels: int, padding_mode: str):
        super().__init__()
        self.A = _conv3(u_channels, f_channels, padding_mode)
        self.S = _conv3(f_channels, u_channels, padding_mode)

    def forward(self, u: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return u + self.S(f - self.A(u))


class _Prolongation(nn.ConvTranspose2d):
    """Learned prolongation: ``ConvTranspose2d(c, c, 4, stride=2, padding=1)`` honouring the boundary mode.

    For ``"circular"``/``"reflect"`` the coarse input is padded by one cell with that mode, the
    transposed convolution (``padding=1``) gives ``2n + 4`` cells and the 2 outer ones on each side are
    cropped: the same ``2n`` outputs as zero padding, with the boundary contributions wrapped
    (circular) or mirrored (reflect) instead of dropped.
    """

    def __init__(self, channels: int, padding_mode: str):
        super().__init__(channels, channels, 4, stride=2, padding=1, bias=False)
        self.boundary = padding_mode

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if self.boundary == "zeros":
            return super().forward(u)
        return super().forward(F.pad(u, (1, 1, 1, 1), mode=self.boundary))[..., 2:-2, 2:-2]


class MgConv(nn.Module):
    r"""One multigrid V-cycle with learned convolutions, ``f`` (``C_f`` channels) -> ``u`` (``C_u``).

    Linear in ``f``; see the module docstring for the cycle.

    Parameters
    ----------
    f_channels : int
        Channels ``C_f`` of the right-hand side ``f``.
    u_channels : int
        Channels ``C_u`` of the unknown ``u`` (the output).
    iterations : sequence of (int, int)
        ``(pre, post)`` smoothing steps per level; its length is the number of levels ``L``.
        ``iterations[0][0] >= 1`` (the first step on level 0 is ``u_0 = S_0 f``).
    padding_mode : str
        ``"zeros"``, ``"circular"`` or ``"reflect"``, for every convolution.

    Shapes
    ------
    - input ``(B, C_f, H, W)`` with ``H`` and ``W`` divisible by ``2**(L-1)``
    - output ``(B, C_u, H, W)``
    """

    def __init__(
        self,
        f_channels: int,
        u_channels: int,
        iterations: Sequence[Sequence[int]] = DARCY_ITERATIONS,
        padding_mode: str = "zeros",
    ):
        super().__init__()
        self.iterations = check_iterations(iterations)
        _check_padding_mode(padding_mode)
        self.levels = len(self.iterations)
        self.padding_mode = padding_mode

        def steps(n: int) -> nn.ModuleList:
            return nn.ModuleList(_Smoother(f_channels, u_channels, padding_mode) for _ in range(n))

        self.init = _conv3(f_channels, u_channels, padding_mode)
        self.pre = nn.ModuleList(steps(pre - (1 if lvl == 0 else 0)) for lvl, (pre, _) in enumerate(self.iterations))
        self.post = nn.ModuleList(steps(post) for _, post in self.iterations)
        coarse = range(self.levels - 1)
        self.restrict_f = nn.ModuleList(_conv3(f_channels, f_channels, padding_mode, stride=2) for _ in coarse)
        self.restrict_u = nn.ModuleList(_conv3(u_channels, u_channels, padding_mode, stride=2) for _ in coarse)
        self.prolong = nn.ModuleList(_Prolongation(u_channels, padding_mode) for _ in coarse)

    @property
    def divisor(self) -> int:
        """``2**(L-1)``: grid sizes must be multiples of it."""
        return 2 ** (self.levels - 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        check_grid(tuple(f.shape[-2:]), self.levels, self.padding_mode)
        u = self.init(f)
        for step in self.pre[0]:
            u = step(u, f)
        fs, us = [f], [u]
        for lvl in range(1, self.levels):  # down: restrict f and u, pre-smooth
            f, u = self.restrict_f[lvl - 1](f), self.restrict_u[lvl - 1](u)
            for step in self.pre[lvl]:
                u = step(u, f)
            fs.append(f)
            us.append(u)
        for step in self.post[-1]:  # coarsest: post-smoothing too
            u = step(u, fs[-1])
        for lvl in range(self.levels - 2, -1, -1):  # up: coarse correction, post-smooth
            u = us[lvl] + self.prolong[lvl](u)
            for step in self.post[lvl]:
                u = step(u, fs[lvl])
        return u


def check_grid(size: tuple[int, int], levels: int, padding_mode: str = "zeros") -> None:
    """Raise a ValueError unless an ``H x W`` grid can be coarsened ``levels - 1`` times by 2."""
    divisor = 2 ** (levels - 1)
    h, w = size
    if h % divisor or w % divisor or h < divisor or w < divisor:
        raise ValueError(
            f"MgNO with {levels} levels needs H and W divisible by 2**{levels - 1} = {divisor}; got a {h}x{w} grid"
        )
    if padding_mode == "reflect" and min(h, w) < 2 * divisor:
        raise ValueError(
            f"padding_mode 'reflect' needs a coarsest grid of at least 2x2, i.e. H and W >= "
            f"{2 * divisor} with {levels} levels; got a {h}x{w} grid"
        )


class MgNO(nn.Module):
    r"""Multigrid neural operator in 2D, channels-last I/O like :class:`~operators.FNO`.

    .. math:: u^{(t+1)} = \sigma\big(\mathrm{MgConv}_t(u^{(t)}) + W_t u^{(t)} + b_t\big), \qquad
              G_\theta(a) = Q u^{(T)}, \quad u^{(0)} = a.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input function ``a`` and of the output.
    hidden_channels : int
        Width ``C_u`` of every layer (and ``C_f`` of the V-cycles after the first).
    n_layers : int
        Number of MgConv layers ``T``.
    iterations : sequence of (int, int)
        ``(pre, post)`` smoothing steps per level (see :class:`MgConv`); default: the paper's Darcy
        configuration ``[[1, 0]] * 5 + [[2, 0]]``.
    padding_mode : str
        Boundary condition of the convolutions: ``"zeros"``, ``"circular"`` or ``"reflect"``.
    positional_embedding : bool
        Append 2 coordinate channels (``linspace(0, 1, n)`` per axis) to the input, as FNO does.
        Off by default (the paper's model has none; it would break translation equivariance).
    activation : str
        One of ``"gelu"``, ``"relu"``, ``"tanh"``, ``"silu"``.

    Shapes
    ------
    - input ``(B, H, W, in_channels)``, ``H`` and ``W`` divisible by ``2**(len(iterations) - 1)``
    - output ``(B, H, W, out_channels)``

    References
    ----------
    J. He, X. Liu, J. Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid",
    ICLR 2024, https://arxiv.org/abs/2310.19809.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 24,
        n_layers: int = 4,
        iterations: Sequence[Sequence[int]] = DARCY_ITERATIONS,
        padding_mode: str = "zeros",
        positional_embedding: bool = False,
        activation: str = "gelu",
    ):
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("hidden_channels", hidden_channels),
            ("n_layers", n_layers),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; options: {sorted(_ACTIVATIONS)}")
        _check_padding_mode(padding_mode)
        self.iterations = check_iterations(iterations)
        self.levels = len(self.iterations)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding_mode = padding_mode
        self.positional_embedding = positional_embedding

        c_in = in_channels + (2 if positional_embedding else 0)
        widths = [c_in] + [hidden_channels] * (n_layers - 1)
        self.mgconv = nn.ModuleList(MgConv(c, hidden_channels, self.iterations, padding_mode) for c in widths)
        self.pointwise = nn.ModuleList(nn.Conv2d(c, hidden_channels, 1) for c in widths)
        self.act = _ACTIVATIONS[activation]()
        self.head = nn.Conv2d(hidden_channels, out_channels, 1, bias=False)

    @property
    def divisor(self) -> int:
        """``2**(L-1)``: grid sizes must be multiples of it."""
        return 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(f"expected input (B, H, W, {self.in_channels}) (channels last), got {tuple(x.shape)}")
        check_grid(tuple(x.shape[1:3]), self.levels, self.padding_mode)
        if self.positional_embedding:
            spatial = tuple(x.shape[1:3])
            x = torch.cat([x, grid_coordinates(spatial, x).expand(x.shape[0], *spatial, 2)], dim=-1)
        u = x.movedim(-1, 1)  # (B, C, H, W)
        for mgconv, pointwise in zip(self.mgconv, self.pointwise):
            u = self.act(mgconv(u) + pointwise(u))
        return self.head(u).movedim(1, -1)


def mgno_param_count(
    in_channels: int,
    out_channels: int,
    hidden_channels: int = 24,
    n_layers: int = 4,
    iterations: Sequence[Sequence[int]] = DARCY_ITERATIONS,
    positional_embedding: bool = False,
) -> int:
    """Number of parameters of :class:`MgNO`.

    Per V-cycle ``C_f -> C_u`` with ``L`` levels and ``n`` smoothing steps in all (pre + post over
    the levels): ``9 C_f C_u`` (init, level 0's first step) ``+ (n - 1) 18 C_f C_u`` (A and S)
    ``+ (L - 1) (9 C_f^2 + 9 C_u^2 + 16 C_u^2)`` (R, Pi, R^T). Per layer add ``C_f C_u + C_u`` for
    ``W, b``; the head adds ``C_u * out_channels``.
    """
    its = check_iterations(iterations)
    levels, steps = len(its), sum(pre + post for pre, post in its)
    h = hidden_channels
    total = h * out_channels
    for layer in range(n_layers):
        cf = (in_channels + (2 if positional_embedding else 0)) if layer == 0 else h
        cycle = 9 * cf * h + 18 * cf * h * (steps - 1) + (levels - 1) * (9 * cf * cf + 9 * h * h + 16 * h * h)
        total += cycle + cf * h + h
    return total


@MODELS.register("mgno")
def build_mgno(
    *,
    io,
    hidden_channels: int = 24,
    n_layers: int = 4,
    iterations: Sequence[Sequence[int]] = DARCY_ITERATIONS,
    padding_mode: str = "zeros",
    positional_embedding: bool = False,
    activation: str = "gelu",
) -> MgNO:
    """Multigrid neural operator MgNO (He, Liu, Xu 2024) on 2D grids; in/out channels come from the data."""
    if io.ndim != 2:
        raise ValueError(f"mgno needs 2D grid data, but the data are {io.ndim}-dimensional")
    return MgNO(
        io.n_in,
        io.n_out,
        hidden_channels,
        n_layers,
        check_iterations(iterations),
        padding_mode,
        positional_embedding,
        activation,
    )
