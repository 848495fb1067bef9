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

import numpy as np
import torch
from torch import nn

from sciml.fields import Field
from sciml.mesh import Mesh
from sciml.method import AbstractMethod
from sciml.problems.base import IOSpec
from sciml.registry import METHODS, MODELS


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

    Initialization (SIREN): weights and biases of the first layer U(±1/fan_in), of the other layers
    U(±√(6/fan_in)/ω0), so
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
            layer.bias.uniform_(-bound, bound)
        bound = math.sqrt(6.0 / self.width) / self.w0
        self.last.weight.uniform_(-bound, bound)
        self.last.bias.uniform_(-bound, bound)
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


# ---------------------------------------------------------------- the method
def decode_targets(data, support, samples: list[int] | None) -> tuple[np.ndarray, list[int]]:
    """The points to decode on (a Mesh's or an (m, d) array, the data's d coordinates) and the test
    samples chosen (file indices; default the first test sample); one ValueError line otherwise."""
    pts = support.points if isinstance(support, Mesh) else np.asarray(support, dtype=np.float64)
    d = int(data.support.points(0).shape[1])
    if pts.ndim != 2 or pts.shape[1] < d:
        raise ValueError(f"the points to decode on must be (m, {d}), got {pts.shape}")
    test = [int(i) for i in data.test_index.tolist()]
    chosen = list(samples) if samples is not None else test[:1]
    bad = [i for i in chosen if i not in test]
    if bad:
        raise ValueError(
            f"sample {bad[0]} is not a test sample (test samples: {test[:8]}{'...' if len(test) > 8 else ''})"
        )
    return pts[:, :d], chosen


def rel_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    """‖pred − ref‖ / ‖ref‖ of one sample (a zero reference divides by 1e-300, not by 0)."""
    return float(np.linalg.norm(pred - ref) / max(np.linalg.norm(ref), 1e-300))


def train_indices(data) -> torch.Tensor:
    """Every training sample's file index (under torchrun too: each process caches all the codes
    and computes the statistics over all the training samples, so they agree)."""
    return getattr(data, "full_train_index", data.train_index)


@torch.no_grad()
def channel_stats(
    data, names: list[str], times: int | None = None, batch: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of each channel of the fields ``names`` over the real points of every training
    sample (the first ``times`` stored times of a trajectory); std 1 where a channel is constant."""
    total = sq = count = None
    index = train_indices(data)
    for start in range(0, len(index), batch):
        b = data.batch_of(index[start : start + batch])
        v = torch.cat([b[n] for n in names], -1).double()
        m = b["mask"].double()
        if v.ndim == 4:  # (B, T, n, C)
            v = v[:, :times]
            m = m[:, None].expand(v.shape[:3])
        w = m[..., None]
        dims = tuple(range(v.ndim - 1))
        s1, s2, c = (v * w).sum(dims), (v * v * w).sum(dims), w.sum()
        total, sq, count = (s1, s2, c) if total is None else (total + s1, sq + s2, count + c)
    assert total is not None and sq is not None and count is not None
    mean = total / count
    std = (sq / count - mean**2).clamp_min(0).sqrt()
    return mean.float(), torch.where(std > 1e-12, std, torch.ones_like(std)).float()


class Coral(AbstractMethod):
    """CORAL for static problems: input functions to output functions on each sample's own points.

    Two phases, declared as the phases of the case's training stages:

    - ``fields``: the two neural fields learn to represent the inputs (``field_in``) and the outputs
      (``field_out``) of the training samples, each from its own code fitted by the inner steps
      (meta-learning through them; the loss terms ``fit_in`` and ``fit_out``, masked MSE);
    - ``processor``: the fields frozen, every training sample's two codes are computed once when the
      stage starts (again when a run resumes inside it: the same codes from the same fields), each
      code dimension standardized over the training samples, and the processor learns the map
      from input codes to output codes (``codes``, MSE of the standardized codes).

    A prediction encodes a sample's inputs at its own points (any number, any geometry), maps the
    code and decodes the output at any points. Evaluation: ``rel_l2`` of the prediction on the test
    samples (mean over samples, each on its own points), and ``fit_rel_l2``, the output field's
    error on its own codes (what the fields can represent at best).

    The fields see each channel standardized by its mean and std over the training samples' points
    (a source of size 5 and a distance of size 0.2 weigh alike in the fit); predictions are in the
    data's units. The cached codes are buffers, so a checkpoint holds them and a run resumed inside
    the processor phase trains on the very codes it cached.
    """

    phases = ("fields", "processor")

    def __init__(
        self, problem, field_in: NeuralField, field_out: NeuralField, processor: nn.Module, data, eval_batch: int = 16
    ):
        super().__init__()
        if not hasattr(data, "train_index") or not getattr(data.dataset, "per_sample", False):
            raise ValueError("coral needs samples on supports of their own (data: {type: samples, ...})")
        self.problem, self.field_in, self.field_out, self.processor = problem, field_in, field_out, processor
        self.inputs, self.outputs = list(data.dataset.inputs), list(data.dataset.outputs)
        if not self.inputs or not self.outputs:
            raise ValueError(
                f"coral maps inputs to outputs; {data.dataset.path} has inputs {self.inputs}, outputs {self.outputs}"
            )
        self.eval_batch, self.weights, self.phase = eval_batch, {}, "fields"
        for name, names in (("in", self.inputs), ("out", self.outputs)):
            shift, scale = channel_stats(data, names)
            self.register_buffer(f"shift_{name}", shift)
            self.register_buffer(f"scale_{name}", scale)
        index = sorted(int(i) for i in train_indices(data).tolist())
        self.rows = {i: r for r, i in enumerate(index)}  # file index -> row of the code buffers
        for name in ("in", "out"):
            dim = (field_in if name == "in" else field_out).latent_dim
            self.register_buffer(f"mean_{name}", torch.zeros(dim))
            self.register_buffer(f"std_{name}", torch.ones(dim))
            self.register_buffer(f"codes_{name}", torch.zeros(len(index), dim))
        self.register_buffer("cached", torch.zeros((), dtype=torch.bool))

    # ---- batches
    def _split(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """points, mask, inputs (channels of every input field), outputs; values standardized."""
        a = (torch.cat([batch[n] for n in self.inputs], -1) - self.shift_in) / self.scale_in
        u = (torch.cat([batch[n] for n in self.outputs], -1) - self.shift_out) / self.scale_out
        return batch["points"], batch["mask"], a, u

    # ---- phases
    def param_groups(self, phase: str) -> list[dict]:
        if phase == "processor":
            return [{"params": list(self.processor.parameters())}]
        steps = [self.field_in.alpha, self.field_out.alpha]
        nets = [p for f in (self.field_in, self.field_out) for p in f.parameters() if p is not f.alpha]
        return [{"params": nets}, {"params": steps, "weight_decay": 0.0}]  # the step sizes decay to nothing

    def start_stage(self, phase: str, state, data) -> None:
        self.phase = phase
        resumed_inside = state is not None and int(getattr(state, "step_in_stage", 0)) > 0
        if phase == "processor" and not (resumed_inside and bool(self.cached)):
            self._cache_codes(data)

    @torch.no_grad()
    def _cache_codes(self, data) -> None:
        """Every training sample's input and output codes from the frozen fields, and their
        per-dimension mean and std over the training samples."""
        index = torch.as_tensor(sorted(self.rows))
        for start in range(0, len(index), self.eval_batch):
            batch = data.batch_of(index[start : start + self.eval_batch])
            x, mask, a, u = self._split(batch)
            rows = [self.rows[int(i)] for i in batch["index"].tolist()]
            self.codes_in[rows] = self.field_in.encode(x, a, mask)
            self.codes_out[rows] = self.field_out.encode(x, u, mask)
        for name, codes in (("in", self.codes_in), ("out", self.codes_out)):
            getattr(self, f"mean_{name}").copy_(codes.mean(0))
            std = codes.std(0).clamp_min(1e-6) if len(codes) > 1 else torch.ones_like(codes[0])
            getattr(self, f"std_{name}").copy_(std)
        self.cached.fill_(True)

    def map_codes(self, za: torch.Tensor) -> torch.Tensor:
        """The output codes the processor gives for input codes ``za`` (physical code units)."""
        return self.processor((za - self.mean_in) / self.std_in) * self.std_out + self.mean_out

    # ---- training
    def loss(self, batch: dict) -> dict[str, torch.Tensor]:
        if self.phase == "processor":
            if not bool(self.cached):
                raise RuntimeError("coral: the processor phase started without codes (start_stage was not called)")
            rows = [self.rows[int(i)] for i in batch["index"].tolist()]
            za, zu = self.codes_in[rows], self.codes_out[rows]
            pred = self.processor((za - self.mean_in) / self.std_in)
            return {"codes": (pred - (zu - self.mean_out) / self.std_out).square().mean()}
        x, mask, a, u = self._split(batch)
        return {
            "fit_in": self.field_in.reconstruction_loss(x, a, mask),
            "fit_out": self.field_out.reconstruction_loss(x, u, mask),
        }

    # ---- predictions
    def predict_points(
        self, x: torch.Tensor, a: torch.Tensor, mask: torch.Tensor | None = None, query: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The outputs at ``query`` (B, m, d) (default: the input points) of the samples whose inputs
        are ``a`` (B, n, C_in, standardized) at points ``x`` (B, n, d) (``mask``: their real
        points), in the data's units."""
        za = self.field_in.encode(x, a, mask)
        with torch.no_grad():
            return self.field_out(x if query is None else query, self.map_codes(za)) * self.scale_out + self.shift_out

    def _test(self, data):
        """Per test sample: (file index, points, inputs, prediction, reference, own-code fit), numpy."""
        out = []
        for batch in data.test_batches(self.eval_batch):
            x, mask, a, u = self._split(batch)
            pred = self.predict_points(x, a, mask)
            with torch.no_grad():
                fit = self.field_out(x, self.field_out.encode(x, u, mask)) * self.scale_out + self.shift_out
            a, u = a * self.scale_in + self.shift_in, u * self.scale_out + self.shift_out  # the data's units
            for k, i in enumerate(batch["index"].tolist()):
                n = int(mask[k].sum())
                out.append((i, *(t[k, :n].detach().cpu().double().numpy() for t in (x, a, pred, u, fit))))
        return out

    def evaluate(self, data) -> dict[str, float]:
        rows = self._test(data)
        rel = [rel_l2(p, r) for _, _, _, p, r, _ in rows]
        fit = [rel_l2(f, r) for _, _, _, _, r, f in rows]
        return {"rel_l2": float(np.mean(rel)), "fit_rel_l2": float(np.mean(fit))}

    def predict(self, data, n_samples: int = 4) -> list[tuple[str, Field]]:
        """Test samples chosen by their error (median first, then the worst...; as the supervised
        operator's), each on its own mesh or points: the input channels, the prediction, the
        reference and the error."""
        from .supervised import pick_samples

        rows = self._test(data)
        errors = [rel_l2(p, r) for _, _, _, p, r, _ in rows]
        channels = data.dataset.channels
        names_in = tuple(c for n in self.inputs for c in channels[n])
        names_out = tuple(c for n in self.outputs for c in channels[n])
        names = names_in + names_out + tuple(f"{c}_ref" for c in names_out) + tuple(f"{c}_error" for c in names_out)
        self.sample_labels, out = {}, []
        for j, role, label in pick_samples(errors, n_samples, ids=[row[0] for row in rows]):
            i, _, a, p, r, _ = rows[j]
            stem = f"{role}_sample{i:03d}"
            self.sample_labels[stem] = label
            out.append((stem, Field(np.concatenate([a, p, r, p - r], -1), data.dataset.support[i], names)))
        return out

    def decode_on(self, data, support, samples: list[int] | None = None, stem: str = "mesh") -> list[tuple[str, Field]]:
        """Predictions of test samples decoded on another support (a Mesh or (m, d) points: a finer
        mesh, a user's), one Field per sample named ``<stem>_sample<index>``: the prediction ``u``
        (each output channel), the reference interpolated linearly from the sample's own support
        (``u_ref``; NaN where the support is outside the sample's domain, e.g. in its hole) and the
        error. ``samples``: file indices of test samples (default: the first test sample)."""
        pts, chosen = decode_targets(data, support, samples)
        channels = data.dataset.channels
        names = tuple(c for n in self.outputs for c in channels[n])
        out = []
        for i in chosen:
            batch = data.batch_of([i])
            x, mask, a, u = self._split(batch)
            query = torch.as_tensor(pts, dtype=x.dtype, device=x.device)[None]
            pred = self.predict_points(x, a, mask, query)[0].detach().cpu().double().numpy()
            own = data.dataset.support[i]
            true = (u[0] * self.scale_out + self.shift_out).cpu().double().numpy()
            ref = Field(true, own, names).at(pts, outside="nan")
            values = np.concatenate([pred, ref, pred - ref], -1)
            full = names + tuple(f"{c}_ref" for c in names) + tuple(f"{c}_error" for c in names)
            out.append((f"{stem}_sample{i:03d}", Field(values, support if isinstance(support, Mesh) else pts, full)))
        return out


@MODELS.register("siren")
def build_siren(
    *,
    io,
    width: int = 128,
    depth: int = 4,
    latent_dim: int = 64,
    w0: float = 30.0,
    hyper_depth: int = 1,
    hyper_width: int = 128,
    steps: int = 3,
    lr_code: float = 0.01,
) -> NeuralField:
    """A neural field (CORAL): a SIREN with shift modulations from a ``latent_dim`` code, encoded by
    ``steps`` meta-learned gradient steps of size ``lr_code`` (learned)."""
    siren = ModulatedSiren(io.ndim, io.n_out, width, depth, latent_dim, w0, hyper_depth, hyper_width)
    return NeuralField(siren, steps, lr_code)


@MODELS.register("code_resnet")
def build_code_resnet(*, io, width: int = 128, depth: int = 3) -> CodeResNet:
    """CORAL's processor of static problems: a ResNet from input codes to output codes."""
    return CodeResNet(io.n_in, io.n_out, width, depth)


@MODELS.register("code_ode")
def build_code_ode(*, io, width: int = 512, depth: int = 3):
    """CORAL's processor of dynamics: the right-hand side of dz/dt = F(z), an MLP with SiLU."""
    from .coral_dynamics import CodeODE

    return CodeODE(io.n_in, width, depth)


@METHODS.register("coral")
def coral(
    *,
    problem,
    models,
    data,
    eval_batch: int = 16,
    horizon: int | None = None,
    substeps: int = 1,
    tf_start: float = 0.99,
    tf_decay: float = 0.99,
    tf_every: int = 10,
) -> AbstractMethod:
    """CORAL (Serrano et al. 2023) on each sample's own points, stages of phases ``fields`` then
    ``processor``. Static data (inputs -> outputs): neural fields ``field_in`` and ``field_out``
    (type ``siren``) and a ``processor`` between their codes (type ``code_resnet``). Trajectories
    (an output with times): one ``field`` (``siren``) for every state and a neural ODE ``processor``
    (type ``code_ode``) trained on the first ``horizon`` times with scheduled teacher forcing
    (``tf_start``, ``tf_decay``, ``tf_every``), ``substeps`` RK4 steps per stored interval."""
    if isinstance(eval_batch, bool) or not isinstance(eval_batch, int) or eval_batch < 1:
        raise ValueError(f"method.eval_batch must be an integer >= 1, got {eval_batch!r}")
    ds = getattr(data, "dataset", None)
    if ds is None or not getattr(ds, "per_sample", False):
        raise ValueError("coral needs samples on supports of their own (data: {type: samples, ...})")
    d = int(data.support.points(0).shape[1])
    coords = ("x", "y", "z")[:d] if d <= 3 else tuple(f"x{i}" for i in range(d))
    chan = ds.channels
    if ds.times is not None:  # trajectories: one field over time, a neural ODE between codes
        from .coral_dynamics import CodeODE, CoralDynamics, check_dynamics

        h = check_dynamics(horizon, len(ds.times), substeps, tf_start, tf_decay, tf_every)
        field = models("field", IOSpec(coords, tuple(c for n in ds.outputs for c in chan[n]), d))
        if not isinstance(field, NeuralField):
            raise ValueError(f"model.field must be a neural field (type: siren), got {type(field).__name__}")
        z = tuple(f"z{i}" for i in range(field.latent_dim))
        ode = models("processor", IOSpec(z, z, 0))
        if not isinstance(ode, CodeODE):
            raise ValueError(
                f"model.processor: trajectories need a code ODE (type: code_ode), got {type(ode).__name__}"
            )
        return CoralDynamics(problem, field, ode, data, h, substeps, tf_start, tf_decay, tf_every, eval_batch)
    given = {"horizon": horizon, "substeps": substeps != 1, "tf_start": tf_start != 0.99}
    given.update(tf_decay=tf_decay != 0.99, tf_every=tf_every != 10)
    extra = [k for k, v in given.items() if v is not None and v is not False]
    if extra:
        raise ValueError(f"method.{extra[0]} is for trajectories; the data have no times")
    c_in = tuple(c for n in ds.inputs for c in chan[n])
    c_out = tuple(c for n in ds.outputs for c in chan[n])
    field_in = models("field_in", IOSpec(coords, c_in, d))
    field_out = models("field_out", IOSpec(coords, c_out, d))
    for name, f in (("field_in", field_in), ("field_out", field_out)):
        if not isinstance(f, NeuralField):
            raise ValueError(f"model.{name} must be a neural field (type: siren), got {type(f).__name__}")
    z_in = tuple(f"z{i}" for i in range(field_in.latent_dim))
    z_out = tuple(f"z{i}" for i in range(field_out.latent_dim))
    processor = models("processor", IOSpec(z_in, z_out, 0))
    if type(processor).__name__ == "CodeODE":
        raise ValueError("model.processor: a code ODE (code_ode) is for trajectories; static data take code_resnet")
    return Coral(problem, field_in, field_out, processor, data, eval_batch)
