r"""CORAL's parts: neural fields with shift modulations, encoded by a few meta-learned gradient steps.

CORAL (Serrano et al., *Operator learning with neural fields: tackling PDEs on general
geometries*, NeurIPS 2023) represents every function ``v`` of a dataset (an input ``a``, an output
``u``, a state ``u_t``) by a small code ``z`` of one shared neural field :math:`f_\theta(x; z)`,
learns the operator between codes, and decodes anywhere. This module holds the parts:

- :class:`ModulatedSiren`: a SIREN whose hidden layers are shifted by modulations computed from the
  code by a hypernetwork, :math:`h_{k+1} = \sin(\omega_0 (W_k h_k + b_k + \varphi_k(z)))`, with a
  linear, unmodulated output layer (shift modulations only, as CORAL);
- :class:`NeuralField`: a modulated SIREN with its learned inner step size, and :meth:`encode`
  (auto-decoding from a meta-learned initialization, COIN++/Functa style): the code starts at 0
  and takes ``steps`` gradient steps :math:`z \leftarrow z - \alpha \nabla_z
  \mathrm{MSE}_b(f(x; z), v)`, each sample's own mean squared error over its own (masked) points,
  so the step neither depends on the batch size nor on how many points a sample has; with
  ``create_graph`` the outer loss differentiates through the steps (second order, training);
- :class:`CodeResNet`: the processor of static problems, code of the input to code of the output.

Points come as padded batches ``x`` (B, n, d) with ``mask`` (B, n), True at real points (the
per-sample batches of :class:`sciml.data.samples.SampleData`), so each sample may have its own
mesh or point set.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ModulatedSiren(nn.Module):
    """A SIREN with shift modulations from a latent code.

    Parameters
    ----------
    in_dim, out_dim : coordinates in, channels out
    width, depth : hidden width and number of sine layers (each one shifted by the code)
    latent_dim : size of the code
    w0 : the sine frequency :math:`\\omega_0` (30 in SIREN; 5–15 on CORAL's design tasks)
    hyper_depth : 1: the hypernetwork is one linear map (CORAL's default); more: an MLP of
        ``hyper_width`` with SiLU between its layers

    Initialization (SIREN): first layer U(±1/fan_in), the other sine layers U(±√(6/fan_in)/ω0), so
    that every hidden activation is arcsine distributed on [-1, 1] (variance 1/2) whatever the
    depth; the hypernetwork's last bias is 0, so the zero code gives the plain SIREN.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        width: int = 128,
        depth: int = 4,
        latent_dim: int = 128,
        w0: float = 30.0,
        hyper_depth: int = 1,
        hyper_width: int = 128,
    ):
        super().__init__()
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not (isinstance(latent_dim, int) and latent_dim >= 1 and isinstance(hyper_depth, int) and hyper_depth >= 1):
            raise ValueError(f"latent_dim and hyper_depth must be integers >= 1, got {latent_dim!r}, {hyper_depth!r}")
        if not (isinstance(w0, (int, float)) and math.isfinite(w0) and w0 > 0):
            raise ValueError(f"w0 must be a number > 0, got {w0!r}")
        self.in_dim, self.out_dim, self.width, self.depth = in_dim, out_dim, width, depth
        self.latent_dim, self.w0 = latent_dim, float(w0)
        self.layers = nn.ModuleList(nn.Linear(in_dim if k == 0 else width, width) for k in range(depth))
        self.last = nn.Linear(width, out_dim)
        sizes = [latent_dim] + [hyper_width] * (hyper_depth - 1) + [width * depth]
        hyper: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            hyper.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                hyper.append(nn.SiLU())
        self.hyper = nn.Sequential(*hyper)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for k, layer in enumerate(self.layers):
            fan_in = layer.in_features
            bound = 1.0 / fan_in if k == 0 else math.sqrt(6.0 / fan_in) / self.w0
            layer.weight.uniform_(-bound, bound)
        bound = math.sqrt(6.0 / self.width) / self.w0
        self.last.weight.uniform_(-bound, bound)
        last_hyper = [m for m in self.hyper if isinstance(m, nn.Linear)][-1]
        last_hyper.bias.zero_()

    def shifts(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The shift of each sine layer, (B, 1, width) each, from codes ``z`` (B, latent_dim)."""
        phi = self.hyper(z)
        return [s[:, None, :] for s in phi.split(self.width, dim=-1)]

    def forward(self, x: torch.Tensor, z: torch.Tensor, hidden: list | None = None) -> torch.Tensor:
        """The fields of codes ``z`` (B, latent_dim) at points ``x`` (B, n, in_dim): (B, n, out_dim).
        ``hidden``, if a list, receives each sine layer's output (for tests of the initialization)."""
        if x.ndim != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"points must be (batch, n, {self.in_dim}), got {tuple(x.shape)}")
        if z.ndim != 2 or z.shape != (x.shape[0], self.latent_dim):
            raise ValueError(f"codes must be ({x.shape[0]}, {self.latent_dim}), got {tuple(z.shape)}")
        h = x
        for layer, shift in zip(self.layers, self.shifts(z)):
            h = torch.sin(self.w0 * (layer(h) + shift))
            if hidden is not None:
                hidden.append(h)
        return self.last(h)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Each sample's mean squared error over its real points (``mask`` True) and channels: (B,)."""
    sq = (pred - target).square().mean(-1)  # (B, n)
    if mask is None:
        return sq.mean(-1)
    m = mask.to(sq.dtype)
    return (sq * m).sum(-1) / m.sum(-1).clamp_min(1.0)


class NeuralField(nn.Module):
    """A modulated SIREN and its inner loop: :meth:`encode` a batch of sampled functions to codes,
    then decode them anywhere (``self(x, z)``).

    ``steps`` inner gradient steps (3 in CORAL) from the zero code, with the step size ``alpha``, a
    learned scalar (initialized at ``lr_code``, 0.01 in CORAL), trained with the field by the outer
    loss :meth:`reconstruction_loss` through the inner steps.
    """

    def __init__(self, siren: ModulatedSiren, steps: int = 3, lr_code: float = 0.01):
        super().__init__()
        if not (isinstance(steps, int) and steps >= 1):
            raise ValueError(f"steps (inner gradient steps) must be an integer >= 1, got {steps!r}")
        if not (isinstance(lr_code, (int, float)) and math.isfinite(lr_code) and lr_code > 0):
            raise ValueError(f"lr_code (the inner step size) must be a number > 0, got {lr_code!r}")
        self.siren, self.steps = siren, steps
        self.alpha = nn.Parameter(torch.tensor(float(lr_code)))

    @property
    def latent_dim(self) -> int:
        return self.siren.latent_dim

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.siren(x, z)

    def encode(
        self,
        x: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        steps: int | None = None,
        create_graph: bool = False,
        trace: list | None = None,
    ) -> torch.Tensor:
        """Codes (B, latent_dim) of the functions with values ``v`` (B, n, out_dim) at points ``x``
        (B, n, in_dim) (``mask`` (B, n): the real points of padded samples). ``create_graph``: keep
        the graph of the steps (training: the outer loss reaches the field and ``alpha`` through
        them); otherwise the codes come back detached. ``trace``, if a list, receives each sample's
        reconstruction error (B,) before every step and after the last."""
        n_steps = self.steps if steps is None else steps
        z = torch.zeros(x.shape[0], self.latent_dim, dtype=x.dtype, device=x.device, requires_grad=True)
        with torch.enable_grad():
            for k in range(n_steps + (trace is not None)):
                err = masked_mse(self.siren(x, z), v, mask)
                if trace is not None:
                    trace.append(err.detach())
                if k == n_steps:
                    break
                # the sum over samples: each code's gradient is its own sample's error's
                (g,) = torch.autograd.grad(err.sum(), z, create_graph=create_graph)
                z = z - self.alpha * g
        return z if create_graph else z.detach()

    def reconstruction_loss(self, x: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The outer (meta-learning) loss: the mean over samples of each one's error after the inner
        steps, differentiable in the field's parameters and ``alpha`` (second order)."""
        z = self.encode(x, v, mask, create_graph=True)
        return masked_mse(self.siren(x, z), v, mask).mean()


class CodeResNet(nn.Module):
    """The processor of static problems: code of the input -> code of the output, ``depth``
    residual blocks of width ``width`` with SiLU (swish), as CORAL's ResNet on codes."""

    def __init__(self, latent_in: int, latent_out: int, width: int = 128, depth: int = 3):
        super().__init__()
        if not (isinstance(depth, int) and depth >= 1 and isinstance(width, int) and width >= 1):
            raise ValueError(f"width and depth must be integers >= 1, got {width!r}, {depth!r}")
        self.inp = nn.Linear(latent_in, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width)) for _ in range(depth)
        )
        self.out = nn.Linear(width, latent_out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.inp(z)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)
