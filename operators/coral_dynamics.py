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

from .coral import NeuralField


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
    starts = [0] + [k for k in range(1, n) if restart is not None and bool(restart[k])] + [n - 1]
    out = [z_true[:, :1]]
    for s, e in zip(starts[:-1], starts[1:]):
        if e <= s:
            continue
        t = times[s : e + 1]
        step = float((t[1:] - t[:-1]).min()) / substeps
        z = odeint(func, z_true[:, s], t, method="rk4", options={"step_size": step})  # (e - s + 1, B, L)
        out.append(z[1:].transpose(0, 1))
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
        times = data.dataset.times
        self.problem, self.field, self.ode, self.outputs = problem, field, ode, list(data.dataset.outputs)
        self.register_buffer("times", torch.as_tensor(np.asarray(times, dtype=np.float64), dtype=torch.float32))
        self.horizon, self.substeps, self.eval_batch = horizon, substeps, eval_batch
        self.tf = (tf_start, tf_decay, tf_every)
        self.weights, self.phase, self.seed = {}, "fields", int(getattr(data, "seed", 0))
        L = field.latent_dim
        self.register_buffer("mean", torch.zeros(L))
        self.register_buffer("std", torch.ones(L))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))  # processor losses so far (restart draws)
        self.epsilon = tf_start
        self._codes: dict[int, torch.Tensor] = {}

    def _states(self, batch: dict) -> torch.Tensor:
        return torch.cat([batch[n] for n in self.outputs], -1)  # (B, T, n, C)

    # ---- phases
    def param_groups(self, phase: str) -> list[dict]:
        return [{"params": list((self.ode if phase == "processor" else self.field).parameters())}]

    def start_stage(self, phase: str, state, data) -> None:
        self.phase = phase
        if phase == "processor":
            self._cache_codes(data)
            self.after_step(state, data)

    def after_step(self, state, data) -> None:
        if self.phase == "processor" and state is not None:
            epoch = int(state.step_in_stage) // max(data.steps_per_epoch(), 1)
            self.epsilon = teacher_forcing(epoch, *self.tf)

    @torch.no_grad()
    def _cache_codes(self, data) -> None:
        """The codes of every state of the training horizon of every training trajectory, and their
        per-dimension mean and std."""
        self._codes = {}
        H = self.horizon
        for start in range(0, len(data.train_index), self.eval_batch):
            batch = data.batch_of(data.train_index[start : start + self.eval_batch])
            u = self._states(batch)[:, :H]
            B, _, n, C = u.shape
            x = batch["points"][:, None].expand(B, H, n, -1).reshape(B * H, n, -1)
            mask = batch["mask"][:, None].expand(B, H, n).reshape(B * H, n)
            z = self.field.encode(x, u.reshape(B * H, n, C), mask).reshape(B, H, -1)
            for k, i in enumerate(batch["index"].tolist()):
                self._codes[i] = z[k]
        allz = torch.stack(list(self._codes.values())).reshape(-1, self.field.latent_dim)
        self.mean.copy_(allz.mean(0))
        self.std.copy_(allz.std(0).clamp_min(1e-6))

    # ---- training
    def loss(self, batch: dict) -> dict[str, torch.Tensor]:
        H = self.horizon
        if self.phase == "processor":
            if not self._codes:
                raise RuntimeError("coral: the processor phase started without codes (start_stage was not called)")
            z = torch.stack([self._codes[int(i)] for i in batch["index"].tolist()])
            z = (z - self.mean) / self.std
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(self.calls))
            restart = torch.rand(H, generator=g) < self.epsilon
            self.calls += 1
            pred = rollout(self.ode, z, self.times[:H], restart, self.substeps)
            return {"codes": (pred[:, 1:] - z[:, 1:]).square().mean()}
        u = self._states(batch)[:, :H]
        B, _, n, C = u.shape
        x = batch["points"][:, None].expand(B, H, n, -1).reshape(B * H, n, -1)
        mask = batch["mask"][:, None].expand(B, H, n).reshape(B * H, n)
        return {"fit": self.field.reconstruction_loss(x, u.reshape(B * H, n, C), mask)}

    # ---- forecasts
    def forecast(self, x: torch.Tensor, u0: torch.Tensor, mask: torch.Tensor | None = None, query=None) -> torch.Tensor:
        """States at every stored time (B, T, m, C) from initial states ``u0`` (B, n, C) at points
        ``x`` (B, n, d), decoded at ``query`` (B, m, d) (default ``x``)."""
        z0 = (self.field.encode(x, u0, mask) - self.mean) / self.std
        with torch.no_grad():
            T = len(self.times)
            z = rollout(self.ode, z0[:, None], self.times, None, self.substeps) * self.std + self.mean
            q = x if query is None else query
            B, m = q.shape[0], q.shape[1]
            out = self.field(q[:, None].expand(B, T, m, -1).reshape(B * T, m, -1), z.reshape(B * T, -1))
            return out.reshape(B, T, m, -1)

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
            for k, i in enumerate(batch["index"].tolist()):
                m = int(mask[k].sum())
                rows.append((i, *(t[k, ..., :m, :].detach().cpu().double().numpy() for t in (pred, u, fit))))
        return rows

    def evaluate(self, data) -> dict[str, float]:
        H = self.horizon

        def rel(a, b):
            return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))

        rows = self._test(data)
        out = {
            "rel_l2": float(np.mean([rel(p[1:H], r[1:H]) for _, p, r, _ in rows])),
            "fit_rel_l2": float(np.mean([rel(f[:H], r[:H]) for _, _, r, f in rows])),
        }
        if len(self.times) > H:
            out["rel_l2_extra"] = float(np.mean([rel(p[H:], r[H:]) for _, p, r, _ in rows]))
        return out

    def predict(self, data, n_samples: int = 4) -> list[tuple[str, Field]]:
        """Test trajectories (the median error first, then the worst...) on their own points, every
        stored time: the forecast, the reference and the error."""
        from .supervised import pick_samples

        rows = self._test(data)
        errors = [np.linalg.norm(p - r) / max(np.linalg.norm(r), 1e-300) for _, p, r, _ in rows]
        names = tuple(c for n in self.outputs for c in data.dataset.channels[n])
        full = names + tuple(f"{c}_ref" for c in names) + tuple(f"{c}_error" for c in names)
        times = self.times.detach().cpu().double().numpy()
        self.sample_labels, out = {}, []
        for j, role, label in pick_samples(errors, n_samples):
            i, p, r, _ = rows[j]
            stem = f"{role}_sample{i:03d}"
            self.sample_labels[stem] = label.replace(f"#{j}", f"#{i}")
            out.append((stem, Field(np.concatenate([p, r, p - r], -1), data.dataset.support[i], full, times)))
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
