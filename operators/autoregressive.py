r"""Autoregressive operator learning: a model advances a window of K steps by ``bundle`` steps.

Training (Brandstetter, Worrall, Welling 2022): from a window ``u[t−K:t]`` the model is first rolled
forward ``n`` times **without gradient** (the pushforward trick; ``n`` from the data's curriculum),
then once more with gradient, and the loss compares that last bundle with the truth. The model
thus learns to correct its own error distribution (L_stab) at the cost of one extra forward per
unroll. ``n = 0`` is one-step training.

Evaluation is a full rollout from the ground truth of the first ``gt_windows`` · K steps (the window
just before the prediction start) to the last stored time, and reports

- ``accumulated_error``: Σ_t Σ_x (û − u)² / n_x over the predicted steps, averaged over the test
  trajectories (the MP-PDE paper's metric; n_x the number of nodes);
- ``rel_l2``: ‖û − u‖ / ‖u‖ over the predicted space-time block, averaged over trajectories;
- ``rollout_s``: wall time of the rollout per trajectory (batched), in seconds.

Grid operators (FNO, MgNO) are wrapped in :class:`operators.mppde.GridStepper`; models with the
``(u, t, theta)`` interface (:class:`operators.mppde.MPPDE`) are used as they are.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sciml.config import OptionError
from sciml.data.trajectory import TrajectoryData
from sciml.fields import Field
from sciml.method import AbstractMethod
from sciml.registry import METHODS, MODELS

from .mppde import MPPDE, GridStepper, build_graph
from .supervised import pick_samples, relative_l2


class AutoregressiveOperator(AbstractMethod):
    """Pushforward-trained autoregressive stepper with full-rollout evaluation."""

    def __init__(
        self,
        problem,
        model: torch.nn.Module,
        data: TrajectoryData,
        loss: str = "mse",
        gt_windows: int = 1,
        eval_batch: int = 32,
    ):
        super().__init__()
        if not isinstance(data, TrajectoryData):
            raise ValueError(
                f"the autoregressive method needs trajectory data (data: {{type: trajectories}}), "
                f"got {type(data).__name__}"
            )
        if loss not in ("mse", "rel_l2"):
            raise ValueError(f"unknown autoregressive loss {loss!r}; choose mse or rel_l2")
        if isinstance(gt_windows, bool) or not isinstance(gt_windows, int) or gt_windows < 1:
            raise ValueError(f"gt_windows must be an integer >= 1, got {gt_windows!r}")
        if gt_windows * data.window >= len(data.times):
            raise ValueError(
                f"gt_windows·time_window = {gt_windows * data.window} leaves no step to predict "
                f"of the {len(data.times)} stored"
            )
        self.graph = isinstance(model, MPPDE) or getattr(model, "graph_model", False)
        if not self.graph:
            model = GridStepper(model, data.window, data.bundle, len(data.channels), data.t_max)
        self.problem, self.model, self.kind = problem, model, loss
        self.gt_windows, self.eval_batch = gt_windows, eval_batch
        self.window, self.bundle = data.window, data.bundle
        self.t0, self.dt = float(data.times[0]), data.dt
        self.weights = {}

    # --- one step of the model on the data's layout (B, K, *space, C) ---
    def step(self, u: torch.Tensor, t: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The next bundle after window ``u``; ``t`` (B,) is the index of its first step."""
        t = self.t0 + t.to(device=u.device, dtype=u.dtype) * self.dt  # the model sees physical time
        if not self.graph:
            return self.model(u, t, theta)
        B, K, *space, C = u.shape
        out = self.model(u.reshape(B, K, -1, C), t, theta)
        return out.reshape(B, out.shape[1], *space, C)

    def advance(self, u: torch.Tensor, t: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict the next bundle; return it and the new K-step window (the last K of past + predicted)."""
        pred = self.step(u, t, theta)
        return pred, torch.cat([u, pred], 1)[:, -self.window :]

    def loss(self, batch: dict) -> dict[str, torch.Tensor]:
        u, t, theta, n = batch["u"], batch["t"], batch["params"], int(batch["unroll"])
        with torch.no_grad():  # pushforward: roll out n bundles on the model's own predictions
            for i in range(n):
                _, u = self.advance(u, t + i * self.bundle, theta)
        pred = self.step(u, t + n * self.bundle, theta)
        target = batch["future"][:, n * self.bundle : (n + 1) * self.bundle]
        if self.kind == "rel_l2":
            return {"data": relative_l2(pred, target).mean()}
        return {"data": (pred - target).square().mean()}

    # --- rollouts ---
    @torch.no_grad()
    def rollout(self, u: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Predict steps ``gt_windows·K … T−1`` of trajectories ``u (B, T, *space, C)`` from the K steps before."""
        T, start = u.shape[1], self.gt_windows * self.window
        window = u[:, start - self.window : start]
        out = []
        t = torch.full((len(u),), start, device=u.device)
        while sum(p.shape[1] for p in out) < T - start:
            pred, window = self.advance(window, t, theta)
            out.append(pred)
            t = t + self.bundle
        return torch.cat(out, 1)[:, : T - start]

    def _rollouts(self, data: TrajectoryData, split: str = "test", n: int | None = None):
        u, theta = data.u[split], data.params[split]
        if n is not None:
            u, theta = u[:n], theta[:n]
        _sync(u)
        t0 = time.perf_counter()
        pred = torch.cat([self.rollout(a, b) for a, b in zip(u.split(self.eval_batch), theta.split(self.eval_batch))])
        _sync(u)
        per_traj = (time.perf_counter() - t0) / len(u)
        return pred, u[:, self.gt_windows * self.window :], per_traj

    def evaluate(self, data: TrajectoryData, split: str = "test", n: int | None = None) -> dict[str, float]:
        """Rollout metrics over the first ``n`` (all) trajectories of ``split``."""
        pred, true, per_traj = self._rollouts(data, split, n)
        n_x = int(np.prod(true.shape[2:-1]))
        err = (pred - true).double().square()
        acc = err.flatten(1).sum(1) / n_x
        return {
            "accumulated_error": float(acc.mean()),
            "rel_l2": float(relative_l2(pred, true).mean()),
            "rollout_s": per_traj,
        }

    def predict(self, data: TrajectoryData, n_samples: int = 4) -> list[tuple[str, Field]]:
        """Rollouts of test trajectories chosen by their relative L2 error (the median-error one first,
        then the worst, then others spread over the errors; :func:`~operators.supervised.pick_samples`)
        as time series: ground-truth window(s), then predictions. Named ``<role>_rollout<index>``
        (``median_rollout012``, ``worst_rollout007``); ``self.sample_labels`` maps each name to its
        label, e.g. ``"worst sample #7 (rel L2 0.31)"``."""
        pred_all, true_all, _ = self._rollouts(data)
        picks = pick_samples(relative_l2(pred_all, true_all).cpu().double().numpy(), n_samples)
        idx = [i for i, _, _ in picks]
        pred, u = pred_all[idx], data.u["test"][idx]
        start = self.gt_windows * self.window
        full = torch.cat([u[:, :start], pred], 1).double().cpu().numpy()
        ref = u.double().cpu().numpy()
        names = tuple(data.channels)
        names += tuple(f"{c}_ref" for c in data.channels) + tuple(f"{c}_error" for c in data.channels)
        outs = []
        self.sample_labels = {}
        for k, (i, role, label) in enumerate(picks):
            v = np.concatenate([full[k], ref[k], full[k] - ref[k]], axis=-1)  # (T, *space, 3C)
            stem = f"{role}_rollout{i:03d}"
            self.sample_labels[stem] = label
            outs.append((stem, Field(v, data.support, names, data.times)))
        return outs


def _sync(u: torch.Tensor) -> None:
    """Wait for queued GPU work, so that wall-clock timings measure the work, not the launches."""
    if u.is_cuda:
        torch.cuda.synchronize(u.device)


def check_autoregressive(*, loss, gt_windows, eval_batch, **_) -> None:
    """The ``autoregressive`` options (also run by ``sciml.config.validate``, before any work)."""
    if loss not in ("mse", "rel_l2"):
        raise OptionError("loss", f"unknown autoregressive loss {loss!r}; choose mse or rel_l2")
    for k, v in (("gt_windows", gt_windows), ("eval_batch", eval_batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise OptionError(k, f"{k} must be an integer >= 1, got {v!r}")


@METHODS.register("autoregressive")
def autoregressive(
    *, problem, model, data, loss: str = "mse", gt_windows: int = 1, eval_batch: int = 32
) -> AutoregressiveOperator:
    """Autoregressive operator: temporal bundling, pushforward training, rollout evaluation."""
    check_autoregressive(loss=loss, gt_windows=gt_windows, eval_batch=eval_batch)
    return AutoregressiveOperator(problem, model, data, loss, gt_windows, eval_batch)


autoregressive.check = check_autoregressive


@MODELS.register("mppde")
def build_mppde(*, io, hidden: int = 128, layers: int = 6, neighbors: int = 3, k: int | None = None) -> MPPDE:
    """Message-passing neural PDE solver (Brandstetter et al. 2022) on the data's nodes (trajectory data only)."""
    if not hasattr(io, "window"):
        raise ValueError("mppde needs trajectory data (data: {type: trajectories, ...})")
    g = build_graph(io.support, io.period, neighbors=neighbors, k=k)
    return MPPDE(
        io.positions(),
        g,
        io.window,
        io.bundle,
        io.n_fields,
        len(io.param_names),
        io.dt,
        io.t_max,
        io.period,
        hidden,
        layers,
    )
