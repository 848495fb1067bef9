"""Networks every method family uses: MLP with optional Fourier-feature input."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from .registry import MODELS

INITS = ("glorot_normal", "glorot_uniform", "kaiming", "default")


def _tanh(h):
    t = torch.tanh(h)
    s = 1 - t * t
    return t, s, -2 * t * s


def _sin(h):
    t = torch.sin(h)
    return t, torch.cos(h), -t


def _softplus(h):
    sig = torch.sigmoid(h)
    return F.softplus(h), sig, sig * (1 - sig)


def _silu(h):
    sig = torch.sigmoid(h)
    ds = sig * (1 - sig)
    return h * sig, sig + h * ds, ds * (2 + h * (1 - 2 * sig))


def _relu(h):
    return torch.relu(h), (h > 0).to(h.dtype), torch.zeros_like(h)


# activation -> (σ, σ', σ'') for Taylor-mode derivative propagation
_ACT_DERIVS = {"tanh": _tanh, "sin": _sin, "softplus": _softplus, "silu": _silu, "relu": _relu}


class Sin(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "sin": Sin,
    "softplus": nn.Softplus,
}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


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

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int = 64,
        depth: int = 4,
        activation: str = "tanh",
        init: str = "glorot_normal",
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
    ):
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
        linears = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        self.linears = nn.ModuleList(linears)
        self.act = globals()["activation"](activation)
        self.activation_name = activation
        for lin in linears:
            if init == "glorot_normal":
                nn.init.xavier_normal_(lin.weight)
                nn.init.zeros_(lin.bias)
            elif init == "glorot_uniform":
                nn.init.xavier_uniform_(lin.weight)
                nn.init.zeros_(lin.bias)
            elif init == "kaiming":
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
                nn.init.zeros_(lin.bias)

    def supports_jet(self) -> bool:
        return self.B is None and self.activation_name in _ACT_DERIVS

    def jet(
        self, x: torch.Tensor, requests: Iterable[Iterable[int]]
    ) -> dict[tuple[int, tuple[int, ...]], torch.Tensor]:
        """Outputs and their input-derivatives by forward (Taylor-mode) propagation.

        For each layer ``h = W z + b``, ``z' = σ(h)``: first derivatives propagate as
        ``∂z' = σ'(h) ⊙ W∂z`` and second derivatives as
        ``∂ᵢ∂ⱼz' = σ'(h) ⊙ W∂ᵢ∂ⱼz + σ''(h) ⊙ (W∂ᵢz) ⊙ (W∂ⱼz)``. This replaces autograd's
        double-backward graph with a few batched products (the training loss then needs only a
        first-order backward pass, which ``torch.compile`` can also fuse).

        Parameters
        ----------
        x : (n, d) points
        requests : iterable of sorted axis tuples of order 0, 1 or 2, e.g. ``{(), (1,), (0, 0)}``

        Returns
        -------
        dict mapping ``(output index, axes)`` to an ``(n,)`` tensor, for every output.
        """
        if not self.supports_jet():
            raise NotImplementedError(
                "jet() needs an MLP without Fourier features and with tanh/sin/softplus/silu/relu"
            )
        wanted: set[tuple[int, ...]] = {tuple(sorted(r)) for r in requests} | {()}
        if max(len(r) for r in wanted) > 2:
            raise NotImplementedError("jet() propagates derivatives up to second order")
        pairs = sorted(r for r in wanted if len(r) == 2)
        dirs = sorted({a for r in wanted for a in r})
        act = _ACT_DERIVS[self.activation_name]
        # plain 2D tensors per direction (few: one per coordinate used): cheaper to differentiate
        # than one stacked 3D tensor with gathers
        linears = cast("list[nn.Linear]", list(self.linears))  # built as nn.Linear in __init__
        z = linears[0](x)
        W0 = linears[0].weight
        d1 = {a: W0[:, a] for a in dirs}  # (w,), broadcast over points until the first σ'
        d2: dict[tuple[int, ...], Any] = {}
        for lin in linears[1:]:
            t, sp, spp = act(z)
            d2 = {r: spp * d1[r[0]] * d1[r[1]] + (sp * d2[r] if r in d2 else 0) for r in pairs}
            d1 = {a: sp * v for a, v in d1.items()}
            z = lin(t)
            d1 = {a: v @ lin.weight.T for a, v in d1.items()}
            d2 = {r: v @ lin.weight.T for r, v in d2.items()}
        out: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
        for o in range(z.shape[1]):
            out[(o, ())] = z[:, o]
            out.update({(o, (a,)): v[:, o] for a, v in d1.items()})
            out.update({(o, r): v[:, o] for r, v in d2.items()})
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.B is not None:
            z = 2 * math.pi * x @ self.B
            x = torch.cat([torch.cos(z), torch.sin(z)], dim=-1)
        for lin in self.linears[:-1]:
            x = self.act(lin(x))
        return self.linears[-1](x)


@MODELS.register("mlp")
def build_mlp(
    *,
    io,
    width: int = 64,
    depth: int = 4,
    activation: str = "tanh",
    init: str = "glorot_normal",
    fourier_features: int = 0,
    fourier_scale: float = 1.0,
) -> MLP:
    """Multilayer perceptron (point-wise PINN network)."""
    return MLP(io.n_in, io.n_out, width, depth, activation, init, fourier_features, fourier_scale)


class SubdomainNet(nn.Module):
    """One network per subdomain; each point is evaluated by the network of the subdomain that owns it.

    Parameters
    ----------
    nets : subdomain name -> point-wise network ``(n, d) -> (n, c)``
    predicates : subdomain name -> ``f(x) -> bool mask`` on torch points; the first subdomain
        (in order) whose predicate holds owns a point, so shared interfaces are unambiguous

    ``part(name)`` is one subdomain's network, for conditions that must use a given side
    (crack faces, interface continuity); derivatives go through autograd (indexing keeps the
    graph), so each residual sees the derivatives of the network that owns the point.
    """

    def __init__(self, nets: dict[str, nn.Module], predicates: dict):
        super().__init__()
        if list(nets) != list(predicates):
            raise ValueError(f"subdomain networks {list(nets)} and predicates {list(predicates)} differ")
        self.nets = nn.ModuleDict(nets)
        self.predicates = dict(predicates)

    def part(self, name: str) -> nn.Module:
        if name not in self.nets:
            raise KeyError(f"unknown subdomain {name!r}; subdomains: {', '.join(self.nets)}")
        return self.nets[name]

    def owner(self, x: torch.Tensor) -> torch.Tensor:
        """(n,) index of the owning subdomain per point; -1 where none claims it."""
        own = torch.full((len(x),), -1, dtype=torch.long, device=x.device)
        for k, pred in enumerate(self.predicates.values()):
            m = torch.as_tensor(pred(x), device=x.device) & (own < 0)
            own[m] = k
        return own

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not len(x):
            return next(iter(self.nets.values()))(x)
        own = self.owner(x.detach())
        if bool((own < 0).any()):
            bad = x[own < 0][0].tolist()
            raise ValueError(f"point {bad} belongs to no subdomain ({', '.join(self.nets)})")
        out = None
        for k, net in enumerate(self.nets.values()):
            idx = (own == k).nonzero().squeeze(1)
            if not len(idx):
                continue
            y = net(x.index_select(0, idx))
            out = (x.new_zeros(len(x), y.shape[1]) if out is None else out).index_copy(0, idx, y)
        assert out is not None  # x is not empty and every point has an owner (checked above)
        return out


def _sizes(model: nn.Module, attr: str) -> int | None:
    """A point-wise network's number of inputs (``attr="in_features"``) or outputs, if it says
    (MLP, KAN, a SubdomainNet of such); None if it does not."""
    n = getattr(model, attr, None)
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    nets = getattr(model, "nets", None)
    if isinstance(nets, nn.ModuleDict) and len(nets):
        sizes = {_sizes(m, attr) for m in nets.values()}
        return sizes.pop() if len(sizes) == 1 else None
    return None


def check_model_fits(model: nn.Module, problem) -> None:
    """Refuse a network whose input (or output) size is not the problem's, in one line:
    "model expects 3 inputs but problem burgers1d has 2 (x, t)", instead of a torch shape error
    at the first step. Networks that do not state their sizes are not checked."""
    for attr, names, what in (
        ("in_features", problem.inputs, "expects {} input"),
        ("out_features", problem.outputs, "gives {} output"),
    ):
        n = _sizes(model, attr)
        if n is not None and n != len(names):
            plural = "s" if n != 1 else ""
            raise ValueError(
                f"model {what.format(n)}{plural} but problem {problem.name} has {len(names)} "
                f"({', '.join(names)}): build it with {attr} = {len(names)}"
            )
