"""Supervised operator learning: minimize the relative L2 (or H1) error of predicted output fields.

.. math:: \\mathcal L = \\frac1B \\sum_b \\frac{\\|G_\\theta(a_b) - u_b\\|_2}{\\|u_b\\|_2}

(the mean over samples, not neuralop's sum). The model sees normalized inputs; its output is
decoded to physical units before the loss, as in the FNO paper.
"""

from __future__ import annotations

import numpy as np
import torch

from sciml.config import OptionError
from sciml.fields import Field
from sciml.mesh import Grid
from sciml.method import AbstractMethod
from sciml.registry import METHODS, MODELS

from .fno import FNO
from .losses import relative_h1


def relative_l2(pred: torch.Tensor, true: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Per-sample ``||pred - true|| / ||true||`` over all but the first axis: (B,)."""
    d = (pred - true).flatten(1).norm(dim=1)
    return d / (true.flatten(1).norm(dim=1) + eps)


class SupervisedOperator(AbstractMethod):
    """Fits ``model`` on (input, output) pairs with the mean relative L2 loss."""

    def __init__(self, problem, model: torch.nn.Module, data, loss: str = "rel_l2", eval_batch: int = 50):
        super().__init__()
        if loss not in ("rel_l2", "rel_h1", "mse"):
            raise ValueError(f"unknown operator loss {loss!r}; choose rel_l2, rel_h1 or mse")
        if not getattr(data, "labelled", True):
            raise ValueError(
                f"supervised training needs outputs; {getattr(data.dataset, 'path', 'the dataset')} is input-only "
                "(no output field)"
            )
        grid = getattr(data, "support", None)
        self.h1_periodic = None  # H1 needs a 2D grid: periodic or not (one-sided differences at the edges)
        if isinstance(grid, Grid) and len(grid.shape) == 2:
            self.h1_periodic = all(grid.periodic)
        if loss == "rel_h1" and self.h1_periodic is None:
            raise ValueError("operator loss rel_h1 needs data on a 2D grid")
        self.problem, self.model, self.kind, self.eval_batch = problem, model, loss, eval_batch
        self.y_normalizer = data.y_normalizer  # part of the state dict: checkpoints carry it
        self.weights = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized input → output in physical units."""
        return self.y_normalizer.decode(self.model(x))

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        pred = self(batch["x"])
        if self.kind == "mse":
            return {"data": (pred - batch["y"]).square().mean()}
        if self.kind == "rel_h1":
            return {"data": relative_h1(pred, batch["y"], periodic=self.h1_periodic).mean()}
        return {"data": relative_l2(pred, batch["y"]).mean()}

    @torch.no_grad()
    def _predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self(c) for c in x.split(self.eval_batch)])

    def evaluate(self, data) -> dict[str, float]:
        pred = self._predict(data.x["test"])
        out = {"rel_l2": float(relative_l2(pred, data.y["test"]).mean())}
        if self.h1_periodic is not None:
            out["rel_h1"] = float(relative_h1(pred, data.y["test"], periodic=self.h1_periodic).mean())
        return out

    def predict(self, data, n_samples: int = 4) -> list[tuple[str, Field]]:
        """Test samples chosen by their relative L2 error (:func:`pick_samples`: the median-error
        sample first, then the worst, then others spread over the errors), named
        ``<role>_sample<index>`` (``median_sample012``, ``worst_sample007``); ``self.sample_labels``
        maps each name to its label, e.g. ``"worst sample #7 (rel L2 0.31)"``."""
        pred_all = self._predict(data.x["test"])
        errors = relative_l2(pred_all, data.y["test"]).cpu().double().numpy()
        picks = pick_samples(errors, n_samples)
        idx = [i for i, _, _ in picks]
        pred = pred_all[idx].cpu().double().numpy()
        true = data.y["test"][idx].cpu().double().numpy()
        inp = data.raw_x["test"][idx].cpu().double().numpy()
        outs = []
        names = tuple(data.input_names) + tuple(data.output_names)
        names += tuple(f"{c}_ref" for c in data.output_names) + tuple(f"{c}_error" for c in data.output_names)
        self.sample_labels = {}
        for k, (i, role, label) in enumerate(picks):
            v = np.concatenate([inp[k], pred[k], true[k], pred[k] - true[k]], axis=-1)
            stem = f"{role}_sample{i:03d}"
            self.sample_labels[stem] = label
            outs.append((stem, Field(v, data.support, names)))
        return outs


def pick_samples(errors, n: int, ids=None) -> list[tuple[int, str, str]]:
    """Which of the samples with these per-sample errors to show, as ``(index, role, label)``: the
    median-error sample (a typical one) first, then the worst, then the best and others at evenly
    spaced error quantiles, ``n`` in all (fewer if there are fewer samples). Roles are ``median``,
    ``worst``, ``best`` and ``pNN`` (the error percentile); labels read
    ``"median error sample #12 (rel L2 0.021)"``, ``"worst sample #7 (rel L2 0.31)"``,
    ``"error percentile 33: sample #4 (rel L2 0.018)"``. A NaN error counts as the worst. ``ids``: the
    samples' names in the labels (e.g. their indices in the file), default their positions."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    m = len(errors)
    n = min(int(n), m)
    if n <= 0:
        return []
    order = np.argsort(np.where(np.isnan(errors), np.inf, errors), kind="stable")  # NaN counts as worst
    quantiles = [0.5, 1.0] + [q for q in np.linspace(0.0, 1.0, max(n, 2)) if q not in (0.5, 1.0)]
    picks, used = [], set()
    for q in quantiles + list(np.linspace(0.0, 1.0, m)):  # then any sample left, if ranks collided
        if len(picks) == n:
            break
        rank = int(np.floor(q * (m - 1) + 0.5)) if q != 0.5 else (m - 1) // 2  # the lower median
        i = int(order[rank])
        if i in used:
            continue
        used.add(i)
        q = rank / (m - 1) if m > 1 else 0.5
        role = (
            "median"
            if rank == (m - 1) // 2
            else "worst"
            if rank == m - 1
            else "best"
            if rank == 0
            else f"p{round(100 * q):02d}"
        )
        what = {"median": "median error sample", "worst": "worst sample", "best": "best sample"}.get(
            role, f"error percentile {role[1:]}: sample"
        )
        picks.append((i, role, f"{what} #{i if ids is None else ids[i]} (rel L2 {errors[i]:.3g})"))
    return picks


def check_supervised(*, loss, eval_batch, **_) -> None:
    """The ``supervised`` options (also run by ``sciml.config.validate``, before any work)."""
    if loss not in ("rel_l2", "rel_h1", "mse"):
        raise OptionError("loss", f"unknown operator loss {loss!r}; choose rel_l2, rel_h1 or mse")
    if isinstance(eval_batch, bool) or not isinstance(eval_batch, int) or eval_batch < 1:
        raise OptionError("eval_batch", f"eval_batch must be an integer >= 1, got {eval_batch!r}")


@METHODS.register("supervised")
def supervised(*, problem, model, data, loss: str = "rel_l2", eval_batch: int = 50) -> SupervisedOperator:
    """Supervised operator learning: mean relative L2 (or H1 on 2D grids, or MSE) loss."""
    check_supervised(loss=loss, eval_batch=eval_batch)
    return SupervisedOperator(problem, model, data, loss, eval_batch)


supervised.check = check_supervised


@MODELS.register("fno")
def build_fno(
    *,
    io,
    n_modes: list | None = None,
    hidden_channels: int = 32,
    n_layers: int = 4,
    projection_channels: int = 128,
    padding: float = 0.0,
    positional_embedding: bool = True,
    activation: str = "gelu",
) -> FNO:
    """Fourier neural operator (Li et al. 2021); in/out channels and dimension come from the data."""
    if io.ndim < 1:
        raise ValueError("fno needs grid data (a problem with a dataset on a Grid)")
    modes = tuple(n_modes) if n_modes else (12,) * io.ndim
    if len(modes) != io.ndim:
        raise ValueError(f"model.n_modes has {len(modes)} entries but the data are {io.ndim}-dimensional")
    pad = int(padding) if float(padding).is_integer() and padding >= 1 else float(padding)
    return FNO(
        io.n_in, io.n_out, modes, hidden_channels, n_layers, projection_channels, pad, positional_embedding, activation
    )
