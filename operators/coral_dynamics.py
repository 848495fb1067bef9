r"""CORAL for dynamics: one neural field shared over time, a neural ODE between the codes.

Each stored state :math:`u(t_k)` of a trajectory, given at the trajectory's own points (a mesh, or
a few percent of a grid), is represented by a code :math:`z_k` of one neural field
(:class:`~operators.coral.NeuralField`). The codes evolve by :math:`dz/dt = F(z)`, an MLP, integrated
by torchdiffeq's fixed-step RK4 (:func:`rollout`). A forecast encodes the initial state at its
points, integrates the code over every stored time (the training horizon and beyond it) and decodes
anywhere.

Training has two phases, as the static method's: ``fields`` (the field represents every state of
the training horizon, meta-learned encoding) and ``processor`` (the field frozen; the codes of the
training trajectories cached and standardized when the stage starts; the ODE learns to reproduce
them). The processor trains with CORAL's scheduled teacher forcing: the trajectory is restarted
from its true code before each step with probability ε, which starts at ``tf_start`` (0.99) and is
multiplied by ``tf_decay`` (0.99) every ``tf_every`` (10) epochs, and set to 0 below 1e-3, so the
ODE learns one step at a time first and whole rollouts in the end.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from sciml.fields import Field
from sciml.method import AbstractMethod

from .coral import NeuralField, rel_l2


class CodeODE(nn.Module):
    """The right-hand side :math:`F(z)` of the code ODE: an MLP of ``depth`` hidden layers of
    ``width`` with SiLU (swish), as CORAL's (width 512, depth 3). Autonomous: ``t`` is unused."""

    def __init__(self, latent_dim: int, width: int = 512, depth: int = 3):
        super().__init__()
        if not (isinstance(depth, int) and depth >= 1 and isinstance(width, int) and width >= 1):
            raise ValueError(f"width and depth must be integers >= 1, got {width!r}, {depth!r}")
        sizes = [latent_dim] + [width] * depth + [latent_dim]
        layers: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                layers.append(nn.SiLU())
        self.net = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def rollout(
    func: nn.Module, z_true: torch.Tensor, times: torch.Tensor, restart: torch.Tensor | None = None, substeps: int = 1
) -> torch.Tensor:
    """Codes at ``times`` (T,) integrated by RK4 (torchdiffeq), ``substeps`` steps per interval,
    from the first true code ``z_true[:, 0]`` (``z_true`` (B, T, L), or (B, 1, L) without restarts); where ``restart[k]`` (T,) bool is True the
    integration starts again from the true code at ``times[k]`` (teacher forcing; ``restart[0]`` is
    always the start). Returns (B, T, L), the first entry the true initial code."""
    from torchdiffeq import odeint

    n = len(times)
    gaps = times[1:] - times[:-1]
    even = bool(torch.allclose(gaps, gaps[0].expand_as(gaps), rtol=1e-5, atol=0.0)) if n > 1 else True
    starts = [0] + [k for k in range(1, n) if restart is not None and bool(restart[k])] + [n - 1]
    out = [z_true[:, :1]]
    for s, e in zip(starts[:-1], starts[1:]):
        if e <= s:
            continue
        if even:  # one call: RK4 steps land on every stored time
            t = times[s : e + 1]
            z = odeint(func, z_true[:, s], t, method="rk4", options={"step_size": float(gaps[0]) / substeps})
            out.append(z[1:].transpose(0, 1))
            continue
        z = z_true[:, s]  # uneven times: each interval in its own steps (no interpolation between them)
        for k in range(s, e):
            t = times[k : k + 2]
            z = odeint(func, z, t, method="rk4", options={"step_size": float(t[1] - t[0]) / substeps})[1]
            out.append(z[:, None])
    return torch.cat(out, 1)


def teacher_forcing(epoch: int, start: float = 0.99, decay: float = 0.99, every: int = 10) -> float:
    """CORAL's schedule: ε = start · decay^(epoch // every), 0 once below 1e-3."""
    eps = start * decay ** (epoch // every)
    return 0.0 if eps < 1e-3 else eps


class CoralDynamics(AbstractMethod):
    """CORAL for trajectories on each sample's own points (see the module). ``horizon``: the number
    of stored times the method trains on (the rest are extrapolated); ``substeps``: RK4 steps per
    stored interval. Evaluation: ``rel_l2`` over the training horizon (after the initial state),
    ``rel_l2_extra`` beyond it, each the mean over test trajectories of the relative L2 error over
    their times and points, and ``fit_rel_l2``, the field's error on codes fitted to the true states."""

    phases = ("fields", "processor")

    def __init__(
        self,
        problem,
        field: NeuralField,
        ode: CodeODE,
        data,
        horizon: int,
        substeps: int = 1,
        tf_start: float = 0.99,
        tf_decay: float = 0.99,
        tf_every: int = 10,
        eval_batch: int = 8,
    ):
        super().__init__()
        from .coral import channel_stats, train_indices

        times = data.dataset.times
        self.problem, self.field, self.ode, self.outputs = problem, field, ode, list(data.dataset.outputs)
        self.register_buffer("times", torch.as_tensor(np.asarray(times, dtype=np.float64), dtype=torch.float32))
        self.horizon, self.substeps, self.eval_batch = horizon, substeps, eval_batch
        self.tf = (tf_start, tf_decay, tf_every)
        self.weights, self.phase, self.seed = {}, "fields", int(getattr(data, "seed", 0))
        shift, scale = channel_stats(data, self.outputs, times=horizon)
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)
        L = field.latent_dim
        index = sorted(int(i) for i in train_indices(data).tolist())
        self.rows = {i: r for r, i in enumerate(index)}  # file index -> row of the code buffer
        self.register_buffer("mean", torch.zeros(L))
        self.register_buffer("std", torch.ones(L))
        self.register_buffer("codes", torch.zeros(len(index), horizon, L))
        self.register_buffer("cached", torch.zeros((), dtype=torch.bool))
        self.epsilon, self.step_in_stage = tf_start, 0

    def _states(self, batch: dict) -> torch.Tensor:
        """(B, T, n, C): every output channel, standardized."""
        return (torch.cat([batch[n] for n in self.outputs], -1) - self.shift) / self.scale

    # ---- phases
    def param_groups(self, phase: str) -> list[dict]:
        if phase == "processor":
            return [{"params": list(self.ode.parameters())}]
        nets = [p for p in self.field.parameters() if p is not self.field.alpha]
        return [{"params": nets}, {"params": [self.field.alpha], "weight_decay": 0.0}]

    def start_stage(self, phase: str, state, data) -> None:
        self.phase = phase
        resumed_inside = state is not None and int(getattr(state, "step_in_stage", 0)) > 0
        if phase == "processor":
            if not (resumed_inside and bool(self.cached)):
                self._cache_codes(data)
            self.after_step(state, data)

    def after_step(self, state, data) -> None:
        """The processor's schedule: ε from the epochs of the stage (of the data's batch size), and
        the step whose restarts the next losses draw (every loss of one step draws the same)."""
        if self.phase == "processor" and state is not None:
            self.step_in_stage = int(state.step_in_stage)
            epoch = self.step_in_stage // max(data.steps_per_epoch(), 1)
            self.epsilon = teacher_forcing(epoch, *self.tf)

    @torch.no_grad()
    def _cache_codes(self, data) -> None:
        """The codes of every state of the training horizon of every training trajectory, and their
        per-dimension mean and std."""
        H = self.horizon
        index = torch.as_tensor(sorted(self.rows))
        for start in range(0, len(index), self.eval_batch):
            batch = data.batch_of(index[start : start + self.eval_batch])
            u = self._states(batch)[:, :H]
            B, _, n, C = u.shape
            x = batch["points"][:, None].expand(B, H, n, -1).reshape(B * H, n, -1)
            mask = batch["mask"][:, None].expand(B, H, n).reshape(B * H, n)
            z = self.field.encode(x, u.reshape(B * H, n, C), mask).reshape(B, H, -1)
            self.codes[[self.rows[int(i)] for i in batch["index"].tolist()]] = z
        allz = self.codes.reshape(-1, self.field.latent_dim)
        self.mean.copy_(allz.mean(0))
        self.std.copy_(allz.std(0).clamp_min(1e-6))
        self.cached.fill_(True)

    # ---- training
    def loss(self, batch: dict) -> dict[str, torch.Tensor]:
        H = self.horizon
        if self.phase == "processor":
            if not bool(self.cached):
                raise RuntimeError("coral: the processor phase started without codes (start_stage was not called)")
            z = self.codes[[self.rows[int(i)] for i in batch["index"].tolist()]]
            z = (z - self.mean) / self.std
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step_in_stage)
            restart = torch.rand(H, generator=g) < self.epsilon
            pred = rollout(self.ode, z, self.times[:H], restart, self.substeps)
            return {"codes": (pred[:, 1:] - z[:, 1:]).square().mean()}
        u = self._states(batch)[:, :H]
        B, _, n, C = u.shape
        x = batch["points"][:, None].expand(B, H, n, -1).reshape(B * H, n, -1)
        mask = batch["mask"][:, None].expand(B, H, n).reshape(B * H, n)
        return {"fit": self.field.reconstruction_loss(x, u.reshape(B * H, n, C), mask)}

    # ---- forecasts
    def forecast(self, x: torch.Tensor, u0: torch.Tensor, mask: torch.Tensor | None = None, query=None) -> torch.Tensor:
        """States at every stored time (B, T, m, C, the data's units) from initial states ``u0``
        (B, n, C, standardized) at points ``x`` (B, n, d), decoded at ``query`` (B, m, d) (default ``x``)."""
        z0 = (self.field.encode(x, u0, mask) - self.mean) / self.std
        with torch.no_grad():
            T = len(self.times)
            z = rollout(self.ode, z0[:, None], self.times, None, self.substeps) * self.std + self.mean
            q = x if query is None else query
            B, m = q.shape[0], q.shape[1]
            out = self.field(q[:, None].expand(B, T, m, -1).reshape(B * T, m, -1), z.reshape(B * T, -1))
            return out.reshape(B, T, m, -1) * self.scale + self.shift  # the data's units

    def _test(self, data):
        rows = []
        for batch in data.test_batches(self.eval_batch):
            u = self._states(batch)
            x, mask = batch["points"], batch["mask"]
            pred = self.forecast(x, u[:, 0], mask)
            with torch.no_grad():
                B, T, n, C = u.shape
                xs = x[:, None].expand(B, T, n, -1).reshape(B * T, n, -1)
                ms = mask[:, None].expand(B, T, n).reshape(B * T, n)
                fit = self.field(xs, self.field.encode(xs, u.reshape(B * T, n, C), ms)).reshape(B, T, n, C)
                fit, u = fit * self.scale + self.shift, u * self.scale + self.shift  # the data's units
            for k, i in enumerate(batch["index"].tolist()):
                m = int(mask[k].sum())
                rows.append((i, *(t[k, ..., :m, :].detach().cpu().double().numpy() for t in (pred, u, fit))))
        return rows

    def evaluate(self, data) -> dict[str, float]:
        H = self.horizon
        rows = self._test(data)
        out = {
            "rel_l2": float(np.mean([rel_l2(p[1:H], r[1:H]) for _, p, r, _ in rows])),
            "fit_rel_l2": float(np.mean([rel_l2(f[:H], r[:H]) for _, _, r, f in rows])),
        }
        if len(self.times) > H:
            out["rel_l2_extra"] = float(np.mean([rel_l2(p[H:], r[H:]) for _, p, r, _ in rows]))
        return out

    def predict(self, data, n_samples: int = 4) -> list[tuple[str, Field]]:
        """Test trajectories (the median error first, then the worst...) on their own points, every
        stored time: the forecast, the reference and the error."""
        from .supervised import pick_samples

        rows = self._test(data)
        errors = [rel_l2(p, r) for _, p, r, _ in rows]
        names = tuple(c for n in self.outputs for c in data.dataset.channels[n])
        full = names + tuple(f"{c}_ref" for c in names) + tuple(f"{c}_error" for c in names)
        times = self.times.detach().cpu().double().numpy()
        self.sample_labels, out = {}, []
        for j, role, label in pick_samples(errors, n_samples, ids=[row[0] for row in rows]):
            i, p, r, _ = rows[j]
            stem = f"{role}_sample{i:03d}"
            self.sample_labels[stem] = label
            out.append((stem, Field(np.concatenate([p, r, p - r], -1), data.dataset.support[i], full, times)))
        return out

    def decode_on(self, data, support, samples: list[int] | None = None, stem: str = "mesh") -> list[tuple[str, Field]]:
        """Forecasts of test trajectories decoded on another support (a Mesh or (m, d) points), one
        time series per trajectory named ``<stem>_sample<index>``: the forecast, the reference
        interpolated linearly from the trajectory's own points at each stored time (NaN outside
        them) and the error. ``samples``: file indices of test trajectories (default: the first)."""
        from sciml.mesh import Mesh

        from .coral import decode_targets

        pts, chosen = decode_targets(data, support, samples)
        names = tuple(c for n in self.outputs for c in data.dataset.channels[n])
        full = names + tuple(f"{c}_ref" for c in names) + tuple(f"{c}_error" for c in names)
        times = self.times.detach().cpu().double().numpy()
        out = []
        for i in chosen:
            batch = data.batch_of([i])
            u = self._states(batch)
            x, mask = batch["points"], batch["mask"]
            query = torch.as_tensor(pts, dtype=x.dtype, device=x.device)[None]
            pred = self.forecast(x, u[:, 0], mask, query)[0].detach().cpu().double().numpy()  # (T, m, C)
            true = (u[0] * self.scale + self.shift).cpu().double().numpy()
            ref = Field(true, data.dataset.support[i], names, times).at(pts, outside="nan")
            values = np.concatenate([pred, ref, pred - ref], -1)
            out.append(
                (f"{stem}_sample{i:03d}", Field(values, support if isinstance(support, Mesh) else pts, full, times))
            )
        return out


def check_dynamics(horizon, n_times: int, substeps, tf_start, tf_decay, tf_every) -> int:
    """The dynamics options, one line each; returns the horizon (default: half the stored times)."""
    if horizon is None:
        horizon = max(n_times // 2, 2)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 2 <= horizon <= n_times:
        raise ValueError(f"method.horizon must be an integer in [2, {n_times}] (stored times), got {horizon!r}")
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"method.substeps must be an integer >= 1, got {substeps!r}")
    for name, v in (("tf_start", tf_start), ("tf_decay", tf_decay)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v <= 1) or math.isnan(v):
            raise ValueError(f"method.{name} must be a number in [0, 1], got {v!r}")
    if isinstance(tf_every, bool) or not isinstance(tf_every, int) or tf_every < 1:
        raise ValueError(f"method.tf_every must be an integer >= 1, got {tf_every!r}")
    return horizon
