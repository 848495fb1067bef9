r"""Message-passing neural PDE solver (Brandstetter, Worrall, Welling, ICLR 2022), in plain torch.

On a graph of the discretization's nodes (a periodic radius graph on a grid, the cell edges of a
mesh, or k nearest neighbours of a point set; :func:`sciml.mesh.edges`):

- **encoder** f⁰_i = MLP(u_i^{k−K+1..k}, x_i / L, t / t_max, θ) (Swish activations);
- **processor**, M layers: messages m_ij = φ(f_i, f_j, u_i − u_j, x_i − x_j, θ) over the edges j → i,
  mean aggregation, residual update f_i ← f_i + ψ(f_i, mean_j m_ij, θ), then instance
  normalization over the nodes of each sample; x_i − x_j is the minimum-image difference on
  periodic axes;
- **decoder**: a 1D convolution over the hidden vector f_i seen as a signal emits ``bundle`` values
  d^ℓ per channel, and u^{k+ℓ} = u^k + ℓ Δt d^ℓ, ℓ = 1…bundle (temporal bundling).

Batches are dense ``(B, n_nodes, ·)`` tensors over one fixed graph (all samples share the
discretization); aggregation is ``index_add_`` over the edge list.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sciml.mesh import Grid, Mesh, edges


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out), nn.SiLU())


def build_graph(support, period=None, neighbors: int = 3, k: int | None = None) -> torch.Tensor:
    """The (2, E) edge list (source, target) over the support's nodes.

    Grid: all nodes within ``neighbors`` grid spacings (per axis, Chebyshev-free Euclidean radius
    ``neighbors · h_max``; periodic axes wrap). Mesh: its cell edges, or ``k`` nearest neighbours
    when ``k`` is given (then periodic axes wrap). Point cloud: ``k`` nearest neighbours (default 6).
    """
    if isinstance(support, Grid):
        h = max(support.spacing())
        return edges(support.points(), radius=neighbors * h * (1 + 1e-6), period=period)
    if isinstance(support, Mesh) and k is None:
        return edges(mesh=support)
    pts = support.points if isinstance(support, Mesh) else np.asarray(support)
    return edges(pts, k=k or 6, period=period)


class InstanceNorm(nn.Module):
    """Normalize each feature over the nodes of each sample (no affine map, as torch_geometric's default)."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        mean = f.mean(dim=1, keepdim=True)
        var = f.var(dim=1, keepdim=True, unbiased=False)
        return (f - mean) / torch.sqrt(var + self.eps)


class MessagePassingLayer(nn.Module):
    """f_i ← norm(f_i + ψ(f_i, mean_j φ(f_i, f_j, u_i − u_j, x_i − x_j, θ), θ))."""

    def __init__(self, hidden: int, n_u: int, n_x: int, n_theta: int):
        super().__init__()
        self.message = _mlp(2 * hidden + n_u + n_x + n_theta, hidden, hidden)
        self.update = _mlp(2 * hidden + n_theta, hidden, hidden)
        self.norm = InstanceNorm()

    def forward(self, f, u, dx, theta, src, dst, inv_degree):
        # f (B, n, H); u (B, n, n_u); dx (E, n_x) = x_dst − x_src; theta (B, P)
        # φ's first layer is linear in (f_i, f_j, u_i − u_j, x_i − x_j, θ): its node terms are applied
        # per node and gathered to the edges (the same map as on the concatenation, E/n times cheaper)
        H, n_u, n_x = f.shape[-1], u.shape[-1], dx.shape[-1]
        first, rest = self.message[0], self.message[1:]
        Wi, Wj, Wu, Wx, Wt = first.weight.split([H, H, n_u, n_x, theta.shape[-1]], dim=1)
        wu = u @ Wu.T
        node_i, node_j = f @ Wi.T + wu, f @ Wj.T - wu
        pre = node_i[:, dst] + node_j[:, src] + (dx @ Wx.T) + (theta @ Wt.T + first.bias)[:, None, :]
        m = rest(pre)
        agg = torch.zeros_like(f).index_add_(1, dst, m) * inv_degree
        f = f + self.update(torch.cat([f, agg, theta[:, None, :].expand(-1, f.shape[1], -1)], -1))
        return self.norm(f)

    def reference(self, f, u, dx, theta, src, dst, inv_degree):
        """The same layer on the explicit edge concatenation (for tests)."""
        Bn, E = f.shape[0], src.numel()
        th = theta[:, None, :]
        m = self.message(
            torch.cat([f[:, dst], f[:, src], u[:, dst] - u[:, src], dx.expand(Bn, E, -1), th.expand(Bn, E, -1)], -1)
        )
        agg = torch.zeros_like(f).index_add_(1, dst, m) * inv_degree
        f = f + self.update(torch.cat([f, agg, th.expand(Bn, f.shape[1], -1)], -1))
        return self.norm(f)


class MPPDE(nn.Module):
    """MP-PDE on a fixed graph: ``forward(u (B, K, n, C), t (B,), theta (B, P)) -> (B, bundle, n, C)``.

    Parameters
    ----------
    positions : (n, d) node coordinates
    edge_index : (2, E) long, messages flow ``edge_index[0] → edge_index[1]``
    window, bundle, n_fields, n_params : K, output steps, channels C, parameters P
    dt : time step between stored steps (the decoder's ℓΔt scaling)
    t_max : time normalization; ``period`` : per-axis periods (None = not periodic)
    hidden, layers : width H and number of message-passing layers M
    """

    def __init__(
        self,
        positions,
        edge_index: torch.Tensor,
        window: int,
        bundle: int,
        n_fields: int = 1,
        n_params: int = 0,
        dt: float = 1.0,
        t_max: float = 1.0,
        period=None,
        hidden: int = 128,
        layers: int = 6,
    ):
        super().__init__()
        pos = torch.as_tensor(np.asarray(positions), dtype=torch.float32)
        if pos.ndim == 1:
            pos = pos[:, None]
        n, d = pos.shape
        edge_index = torch.as_tensor(edge_index, dtype=torch.long)
        if edge_index.ndim != 2 or edge_index.shape[0] != 2 or edge_index.numel() == 0:
            raise ValueError(f"edge_index must be a non-empty (2, E) tensor, got {tuple(edge_index.shape)}")
        if edge_index.min() < 0 or edge_index.max() >= n:
            raise ValueError(f"edge_index references nodes outside [0, {n})")
        if hidden < 24:
            raise ValueError(f"hidden must be >= 24 for the convolutional decoder, got {hidden}")
        self.window, self.bundle, self.n_fields, self.n_params = int(window), int(bundle), int(n_fields), int(n_params)
        self.dt, self.t_max = float(dt), float(t_max)
        lo, hi = pos.min(0).values, pos.max(0).values
        extent = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        per = torch.tensor([p if p else 0.0 for p in (period or (None,) * d)], dtype=torch.float32)
        if per.numel() != d:
            raise ValueError(f"period has {per.numel()} entries for {d}-dimensional positions")
        length = torch.where(per > 0, per, extent)
        src, dst = edge_index
        dx = pos[dst] - pos[src]
        dx = torch.where(per > 0, dx - per * torch.round(dx / torch.where(per > 0, per, 1.0)), dx)
        deg = torch.zeros(n).index_add_(0, dst, torch.ones(dst.numel()))
        if (deg == 0).any():
            raise ValueError(f"{int((deg == 0).sum())} nodes receive no edge: the graph must cover every node")
        self.register_buffer("x_in", (pos - lo) / length)
        self.register_buffer("dx", dx / length)
        self.register_buffer("src", src)
        self.register_buffer("dst", dst)
        self.register_buffer("inv_degree", (1.0 / deg)[:, None])
        KC, P = self.window * self.n_fields, self.n_params
        self.encoder = _mlp(KC + d + 1 + P, hidden, hidden)
        self.processor = nn.ModuleList(MessagePassingLayer(hidden, KC, d, P) for _ in range(layers))
        # decoder: Conv1d over the hidden vector; the second kernel makes the output length `bundle`
        l1 = (hidden - 16) // 3 + 1
        if l1 < self.bundle:
            raise ValueError(
                f"hidden {hidden} is too small to decode {self.bundle} steps (needs (hidden−16)//3+1 >= bundle)"
            )
        self.decoder = nn.Sequential(
            nn.Conv1d(1, 8, 16, stride=3), nn.SiLU(), nn.Conv1d(8, self.n_fields, l1 - self.bundle + 1)
        )
        self.register_buffer("steps", torch.arange(1, self.bundle + 1, dtype=torch.float32) * self.dt)

    def forward(self, u: torch.Tensor, t: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        B, K, n, C = u.shape
        if K != self.window or C != self.n_fields or n != self.x_in.shape[0]:
            raise ValueError(
                f"MPPDE expects u of shape (B, {self.window}, {self.x_in.shape[0]}, {self.n_fields}), "
                f"got {tuple(u.shape)}"
            )
        theta = u.new_zeros(B, 0) if theta is None else theta
        if theta.shape != (B, self.n_params):
            raise ValueError(f"MPPDE expects theta of shape ({B}, {self.n_params}), got {tuple(theta.shape)}")
        hist = u.permute(0, 2, 1, 3).reshape(B, n, K * C)  # node features: the K past values per channel
        x = self.x_in.expand(B, n, -1)
        tt = (t.to(u.dtype) / self.t_max)[:, None, None].expand(B, n, 1)
        f = self.encoder(torch.cat([hist, x, tt, theta[:, None, :].expand(B, n, -1)], -1))
        for layer in self.processor:
            f = layer(f, hist, self.dx, theta, self.src, self.dst, self.inv_degree)
        d = self.decoder(f.reshape(B * n, 1, -1)).reshape(B, n, C, self.bundle)  # d^ℓ per node and channel
        out = u[:, -1].unsqueeze(-1) + self.steps * d  # u^{k+ℓ} = u^k + ℓΔt d^ℓ
        return out.permute(0, 3, 1, 2)  # (B, bundle, n, C)


class GridStepper(nn.Module):
    """An autoregressive step from a channel-mixing grid operator (FNO, MgNO):
    ``forward(u (B, K, *space, C), t, theta) -> (B, bundle, *space, C)``.

    The operator sees the K·C past values, t/t_max and the parameters as constant channels and
    returns bundle·C channels, read as increments from the last input step (u^{k+ℓ} = u^k + out_ℓ).
    """

    def __init__(self, net: nn.Module, window: int, bundle: int, n_fields: int, t_max: float = 1.0):
        super().__init__()
        self.net, self.window, self.bundle, self.n_fields, self.t_max = net, window, bundle, n_fields, float(t_max)

    def forward(self, u: torch.Tensor, t: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        B, K, *space, C = u.shape
        x = u.movedim(1, -2).reshape(B, *space, K * C)
        const = [(t.to(u.dtype) / self.t_max)[:, None]] + ([theta] if theta is not None and theta.numel() else [])
        const = torch.cat(const, -1)
        x = torch.cat([x, const.reshape(B, *([1] * len(space)), -1).expand(B, *space, -1)], -1)
        out = self.net(x).reshape(B, *space, self.bundle, C).movedim(-2, 1)
        return u[:, -1:] + out
