r"""DeepONet and MultiONet: operators as inner products of a branch (the input function) and a
trunk (the query point).

**DeepONet** (Lu et al., 2021): the input function sampled at fixed sensors goes through the branch
MLP :math:`b`, the coordinates of a query point through the trunk MLP :math:`t`, and

.. math:: G(a)(x) = \langle b_K(a), t_K(x) \rangle + b_0

with the last hidden layers' features (width :math:`p`). Several outputs split the features into
equal groups, one inner product per group (the usual multi-output DeepONet).

**MultiONet** (Zang & Koutsourelakis, DGNO, J. Comput. Phys. 2025) sums the inner products of the
last :math:`L_s` paired hidden layers of a branch and a trunk of equal width and depth,

.. math:: G(a)(x) = \frac{1}{L_s} \sum_{k=K-L_s+1}^{K} w_k \langle b_k(a), t_k(x) \rangle + b_0,

with learnable scalars :math:`w_k` initialized at 0 (the operator starts at the constant
:math:`b_0`) and :math:`b_0`. With :math:`L_s = 1` and :math:`w_K = 1` it is DeepONet.

Both are models of the supervised operator (and of any method that maps fields on a grid): the
input ``(B, *space, C_in)`` on the data's grid, its values at every grid node the sensors, the output
``(B, *space, C_out)`` at the same nodes; the trunk sees the nodes' coordinates in [0, 1]^d.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sciml.registry import MODELS

ACTIVATIONS = {"tanh": nn.Tanh, "silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU}


def _mlp_layers(n_in: int, width: int, depth: int, activation: str) -> nn.ModuleList:
    """``depth`` hidden layers of ``width``, each Linear then the activation (kept as pairs, so
    every hidden layer's features can be read)."""
    act = ACTIVATIONS[activation]
    return nn.ModuleList(nn.Sequential(nn.Linear(n_in if k == 0 else width, width), act()) for k in range(depth))


def grid_coordinates(shape: tuple[int, ...]) -> torch.Tensor:
    """The nodes of a grid of ``shape`` in [0, 1]^d, C-order: ``(prod(shape), d)``."""
    axes = [torch.linspace(0.0, 1.0, n) if n > 1 else torch.zeros(1) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(shape))


class MultiONet(nn.Module):
    """A MultiONet on a fixed grid (see the module); ``n_shared = 1`` with ``weights`` fixed at 1 is DeepONet.

    Parameters
    ----------
    shape : the grid's shape (the sensors and the query points)
    n_in, n_out : channels of the input and output fields
    width, depth : of the branch and the trunk (equal, as the inner products pair their layers);
        ``n_out`` must divide ``width``
    n_shared : L_s, the number of last layer pairs whose inner products are summed
    trunk_activation, branch_activation : tanh, silu, gelu or relu
    deeponet : the plain DeepONet: one inner product (the last layers'), no weights w_k
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        n_in: int,
        n_out: int,
        width: int = 100,
        depth: int = 5,
        n_shared: int = 4,
        trunk_activation: str = "tanh",
        branch_activation: str = "silu",
        deeponet: bool = False,
    ):
        super().__init__()
        n_shared = 1 if deeponet else n_shared
        for name, v in (("width", width), ("depth", depth), ("n_shared", n_shared)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if n_shared > depth:
            raise ValueError(f"n_shared ({n_shared}) cannot exceed depth ({depth}): it pairs the last layers")
        if width % n_out:
            raise ValueError(f"width ({width}) must be a multiple of the output channels ({n_out})")
        for name, a in (("trunk_activation", trunk_activation), ("branch_activation", branch_activation)):
            if a not in ACTIVATIONS:
                raise ValueError(f"{name} must be one of {', '.join(ACTIVATIONS)}, got {a!r}")
        self.shape, self.n_in, self.n_out = tuple(shape), n_in, n_out
        self.n_shared, self.deeponet = n_shared, deeponet
        self.register_buffer("coords", grid_coordinates(self.shape))
        self.branch = _mlp_layers(math.prod(self.shape) * n_in, width, depth, branch_activation)
        self.trunk = _mlp_layers(len(self.shape), width, depth, trunk_activation)
        if not deeponet:
            self.w = nn.Parameter(torch.zeros(self.n_shared))  # the operator starts at the constant b0
        self.b0 = nn.Parameter(torch.zeros(n_out))
        # the block sums: the features split into n_out groups, one inner product per output
        self.register_buffer("groups", torch.repeat_interleave(torch.eye(n_out), width // n_out, dim=0))

    @staticmethod
    def _features(layers: nn.ModuleList, h: torch.Tensor, keep: int) -> list[torch.Tensor]:
        out = []
        for k, layer in enumerate(layers):
            h = layer(h)
            if k >= len(layers) - keep:
                out.append(h)
        return out

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """``a`` (B, *shape, C_in) -> (B, *shape, C_out)."""
        if tuple(a.shape[1:-1]) != self.shape or a.shape[-1] != self.n_in:
            raise ValueError(
                f"input must be (batch, {', '.join(map(str, self.shape))}, {self.n_in}), got {tuple(a.shape)}"
            )
        bs = self._features(self.branch, a.reshape(len(a), -1), self.n_shared)  # (B, p) each
        ts = self._features(self.trunk, self.coords.to(a.dtype), self.n_shared)  # (n, p) each
        if self.deeponet:
            z = torch.einsum("bp,np->bnp", bs[-1], ts[-1])
        else:
            z = sum(w * torch.einsum("bp,np->bnp", b, t) for w, b, t in zip(self.w, bs, ts)) / self.n_shared
        out = z @ self.groups + self.b0  # (B, n, C_out)
        return out.reshape(len(a), *self.shape, self.n_out)


def _build(io, deeponet: bool, **opts) -> MultiONet:
    if io.shape is None:
        raise ValueError(
            f"{'deeponet' if deeponet else 'multionet'} needs data on one shared grid (its nodes are the sensors)"
        )
    return MultiONet(tuple(io.shape), io.n_in, io.n_out, deeponet=deeponet, **opts)


@MODELS.register("multionet")
def build_multionet(
    *,
    io,
    width: int = 100,
    depth: int = 5,
    n_shared: int = 4,
    trunk_activation: str = "tanh",
    branch_activation: str = "silu",
) -> MultiONet:
    """MultiONet (DGNO's operator network): the inner products of the last ``n_shared`` paired
    branch/trunk layers, weighted by learned scalars that start at 0."""
    opts = {"width": width, "depth": depth, "n_shared": n_shared}
    return _build(io, False, trunk_activation=trunk_activation, branch_activation=branch_activation, **opts)


@MODELS.register("deeponet")
def build_deeponet(
    *, io, width: int = 100, depth: int = 5, trunk_activation: str = "tanh", branch_activation: str = "silu"
) -> MultiONet:
    """DeepONet: one inner product of the branch's and the trunk's last features."""
    opts = {"width": width, "depth": depth, "n_shared": 1}
    return _build(io, True, trunk_activation=trunk_activation, branch_activation=branch_activation, **opts)
