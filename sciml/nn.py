"""Networks every method family uses: MLP with optional Fourier-feature input."""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import MODELS

ACTIVATIONS = {"tanh": nn.Tanh, "gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "sin": None, "softplus": nn.Softplus}
INITS = ("glorot_normal", "glorot_uniform", "kaiming", "default")


class Sin(nn.Module):
    def forward(self, x):
        return torch.sin(x)


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return Sin() if name == "sin" else ACTIVATIONS[name]()


class MLP(nn.Module):
    """Fully connected network ``in_features → width × depth → out_features``.

    .. math:: h_{k+1} = \\sigma(W_k h_k + b_k), \\quad y = W_L h_L + b_L

    Parameters
    ----------
    in_features, out_features : sizes (come from the problem, never from the case file)
    width, depth : hidden width and number of hidden layers
    activation : one of ``tanh, gelu, relu, silu, sin, softplus``
    init : ``glorot_normal`` (DeepXDE's default for PINNs), ``glorot_uniform``, ``kaiming``, ``default``
    fourier_features : if > 0, map inputs to ``[cos(2π B x), sin(2π B x)]`` with ``B ~ N(0, σ²)``
    fourier_scale : σ of the Fourier-feature matrix

    Shapes
    ------
    x: (n, in_features) → (n, out_features)
    """

    def __init__(self, in_features: int, out_features: int, width: int = 64, depth: int = 4,
                 activation: str = "tanh", init: str = "glorot_normal", fourier_features: int = 0,
                 fourier_scale: float = 1.0):
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"MLP width and depth must be >= 1, got width={width}, depth={depth}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.in_features, self.out_features = in_features, out_features
        if fourier_features > 0:
            self.register_buffer("B", torch.randn(in_features, fourier_features) * fourier_scale)
            first = 2 * fourier_features
        else:
            self.B = None
            first = in_features
        sizes = [first] + [width] * depth + [out_features]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = globals()["activation"](activation)
        for lin in self.linears:
            if init == "glorot_normal":
                nn.init.xavier_normal_(lin.weight)
                nn.init.zeros_(lin.bias)
            elif init == "glorot_uniform":
                nn.init.xavier_uniform_(lin.weight)
                nn.init.zeros_(lin.bias)
            elif init == "kaiming":
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
                nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.B is not None:
            z = 2 * math.pi * x @ self.B
            x = torch.cat([torch.cos(z), torch.sin(z)], dim=-1)
        for lin in self.linears[:-1]:
            x = self.act(lin(x))
        return self.linears[-1](x)


@MODELS.register("mlp")
def build_mlp(*, io, width: int = 64, depth: int = 4, activation: str = "tanh", init: str = "glorot_normal",
              fourier_features: int = 0, fourier_scale: float = 1.0) -> MLP:
    """Multilayer perceptron (point-wise PINN network)."""
    return MLP(io.n_in, io.n_out, width, depth, activation, init, fourier_features, fourier_scale)
