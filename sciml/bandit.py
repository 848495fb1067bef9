"""The METALIC policy of ``sciml study``: a contextual Gaussian-process bandit (Li et al., ICML 2023).

METALIC picks, for each context (a PDE parameter), the arm (e.g. which interface conditions of a
multi-domain PINN are on: nine binary case keys, 512 arms) from a GP surrogate of the reward over
(context, arm), fitted to every finished episode:

- **kernel**: ``outputscale · RBF(standardized context) · exp(-mean_k[a_k != a'_k] / ℓ)``, the
  second factor a Hamming kernel over the arm keys (each arm value encoded as its index among the
  key's values; :func:`hamming_kernel_class`, botorch's ``CategoricalKernel`` computed for many
  arms), a constant mean,
  Gaussian noise; rewards standardized; hyperparameters by maximizing the marginal likelihood
  with LogNormal priors (``botorch.fit.fit_gpytorch_mll``), refitted from the same initial values
  after every play, in float64 (so the same history gives the same model);
- **reward**: ``-log10(objective)`` for a minimized objective (a relative error), the error capped
  at 100 as the reference code does (a failed episode or a non-finite objective counts as 100, so
  reward -2; an objective below 1e-12 counts as 1e-12); the objective itself for
  ``direction: maximize`` (a failed episode then counts as the worst reward seen);
- **acquisition**: ``ucb`` (posterior mean + c · posterior std) or ``ts`` (one joint posterior draw
  over all arms at the episode's context), maximized over every arm; random arms until
  ``warmup`` episodes have finished.

The fitted model is written after every play to ``policy.json`` in the study directory;
:func:`load_policy` reads it back as a :class:`LearnedPolicy` (``choose(context)``: the best arm by
the posterior mean). botorch and gpytorch are imported when a model is fitted, not with the module.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .output import atomic_write_text, to_plain
from .study import POLICIES, Proposal, Space

ACQUISITIONS = ("ucb", "ts")
MAX_ARMS = 4096  # every arm is scored at every proposal (ts: a joint draw, a MAX_ARMS² covariance)
ERR_CAP = 100.0  # a minimized objective above this (or failed, or not finite) counts as this
ERR_FLOOR = 1e-12  # a minimized objective below this counts as this (-log10 of 0 is infinite)
POLICY_FILE = "policy.json"
# L-BFGS-B stops when a step improves the negative log marginal likelihood per episode by less than
# this, relative (scipy's default 2.2e-9): on the toy bandit 2.5x fewer evaluations, the posterior
# mean within 0.01 of a tight fit's (the likelihood is flat along outputscale ~ arm lengthscale)
FTOL = 1e-5
FORMAT, VERSION = "sciml.metalic", 1


# ---------------------------------------------------------------- encodings
@dataclass(frozen=True)
class ContextScale:
    """How a context key enters the GP: ``(t(value) - mean) / std`` with ``t = log`` if ``log``."""

    key: str
    mean: float
    std: float
    log: bool = False

    def z(self, value: Any) -> float:
        if not _is_number(value):
            raise ValueError(f"context {self.key} must be a number, got {value!r}")
        v = float(value)
        if self.log:
            if v <= 0:
                raise ValueError(f"context {self.key} is on a log scale and must be > 0, got {value!r}")
            v = math.log(v)
        return (v - self.mean) / self.std


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _tag(v: Any) -> str:
    """A value's identity among an arm key's values (1 and 1.0 are the same value)."""
    if _is_number(v):
        return repr(float(v))
    return json.dumps(to_plain(v), sort_keys=True)


def context_scales(contexts: Space) -> list[ContextScale]:
    """The standardization of each context key, from the space's declared values: a range ``{low,
    high}`` by the mean and std of the uniform distribution on it (in log space for a log range),
    listed values by their mean and std (std 1 if they are all equal). One-line ValueError for a
    context that is not a number."""
    out = []
    if contexts.points:
        for key in contexts.keys:
            vals: list[Any] = [p.get(key) for p in contexts.points]  # a point without the key: None
            if not all(_is_number(v) for v in vals):
                bad = next(v for v in vals if not _is_number(v))
                raise ValueError(
                    f"metalic needs numeric contexts; {key} takes {bad!r} (give it as an arm, or leave it)"
                )
            out.append(_listed_scale(key, [float(v) for v in vals]))
        return out
    for d in contexts.dims:
        if d.listed:
            if not all(_is_number(v) for v in d.values):
                bad = next(v for v in d.values if not _is_number(v))
                raise ValueError(
                    f"metalic needs numeric contexts; {d.key} takes {bad!r} (give it as an arm, or leave it)"
                )
            out.append(_listed_scale(d.key, [float(v) for v in d.values]))
        else:
            lo, hi = (math.log(d.low), math.log(d.high)) if d.log else (d.low, d.high)
            out.append(ContextScale(d.key, (lo + hi) / 2, (hi - lo) / math.sqrt(12.0), d.log))
    return out


def _listed_scale(key: str, vals: list[float]) -> ContextScale:
    std = float(np.std(vals))
    return ContextScale(key, float(np.mean(vals)), std if std > 0 else 1.0)


def arm_values(arms: Space) -> tuple[list[str], list[list], list[dict], np.ndarray]:
    """``(keys, values per key, candidate arms, candidates as value indices)`` of a finite arm
    space of at most MAX_ARMS arms (one-line ValueError otherwise)."""
    if not arms.keys:
        raise ValueError("metalic picks arms; give study.arms (e.g. {problem.interface.flux: [0, 5]})")
    if not arms.finite:
        rng = next(d for d in arms.dims if not (d.listed or d.n))
        raise ValueError(f"metalic scores every arm; {rng.key} is a range without n (give n: POINTS or listed values)")
    n = math.prod(len(d.grid()) for d in arms.dims) if arms.dims else len(arms.points)
    if n > MAX_ARMS:
        raise ValueError(f"metalic scores every arm; {n} arms is more than {MAX_ARMS} (fewer keys or values)")
    cands = arms.grid()
    keys = arms.keys
    values: list[list] = [[] for _ in keys]
    tags: list[dict[str, int]] = [{} for _ in keys]
    for a in cands:
        if set(a) != set(keys):
            raise ValueError(f"metalic needs every arm to give every key ({', '.join(keys)}); {a} does not")
        for j, key in enumerate(keys):
            t = _tag(a[key])
            if t not in tags[j]:
                tags[j][t] = len(values[j])
                values[j].append(a[key])
    idx = np.array([[tags[j][_tag(a[key])] for j, key in enumerate(keys)] for a in cands], dtype=np.int64)
    return keys, values, cands, idx


def reward(objective: float | None, status: str, direction: str = "minimize") -> float | None:
    """The bandit's reward of an episode: ``-log10(min(objective, 100))`` for a minimized objective
    (failed or not finite: 100, so -2; below 1e-12: 1e-12); the objective itself for a maximized one
    (None if it failed: :class:`MetalicPolicy` then uses the worst reward seen)."""
    ok = status == "done" and objective is not None and math.isfinite(objective)
    if direction == "maximize":
        return float(objective) if ok and objective is not None else None
    err = float(objective) if ok and objective is not None else ERR_CAP
    return -math.log10(min(max(err, ERR_FLOOR), ERR_CAP))


# ---------------------------------------------------------------- the GP
def _torch_gp() -> Any:
    """botorch, gpytorch and torch, imported on first use (a study without metalic never needs them)."""
    import botorch
    import gpytorch
    import torch

    return botorch, gpytorch, torch


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Warnings the fit raises by design: inputs are standardized contexts and arm indices (not the
    unit cube botorch checks for); an L-BFGS-B stop short of convergence (botorch retries, then
    keeps the best it has); jitter added to a Cholesky factor."""
    from botorch.exceptions.warnings import InputDataWarning, OptimizationWarning
    from linear_operator.utils.warnings import NumericalWarning

    with warnings.catch_warnings():
        for cat in (InputDataWarning, OptimizationWarning, NumericalWarning):
            warnings.simplefilter("ignore", cat)
        yield


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Small matrices (episodes × arms): one thread is faster, and several on a busy machine thrash
    (a fit of 30 episodes: 0.2 s on one thread, 3 s on two busy cores)."""
    _, _, torch = _torch_gp()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# the fit's fixed starting point (standardized units: contexts and rewards have std 1)
INIT = {"outputscale": 1.0, "lengthscale_context": 1.0, "lengthscale_arm": 1.0, "mean": 0.0}
# The arm lengthscale's prior, LogNormal(loc, scale). Its median is botorch's dimension-scaled
# prior of an RBF lengthscale, LogNormal(sqrt(2) + log(d)/2, sqrt(3)) (Hvarfner et al. 2024),
# carried over: on d binary keys an RBF of lengthscale l is this kernel with lengthscale 2 l^2 / d,
# whose log is then Normal(log 2 + 2 sqrt(2), 2 sqrt(3)) whatever d. That spread (3.5) let fits to
# 10-20 plays of a toy bandit (tests/core/test_bandit.py) drive the lengthscale to 0, every arm on
# its own; a spread of 1 kept it at 1-10 (correlated arms: a large lengthscale and output scale is
# close to a sum of per-key effects) and found the best arms with fewer plays.
ARM_PRIOR = (math.log(2.0) + 2.0 * math.sqrt(2.0), 1.0)


_HAMMING: list[Any] = []  # the kernel class, made on first use (gpytorch is imported then)


def hamming_kernel_class() -> Any:
    """The gpytorch kernel ``exp(-mean_k[a_k != a'_k] / lengthscale)`` over categorical inputs
    (each a value's index), one lengthscale. It is botorch's ``CategoricalKernel`` with one
    lengthscale (tests/core/test_bandit.py compares them), computed as a product of one-hot codes:
    that one builds an (n, m, d) tensor (and for the diagonal the whole (n, m) matrix), which at
    4096 arms and 12 keys takes seconds and gigabytes. The inputs must be whole numbers >= 0."""
    if _HAMMING:
        return _HAMMING[0]
    import gpytorch
    import torch

    class HammingKernel(gpytorch.kernels.Kernel):
        has_lengthscale = True

        def forward(self, x1: Any, x2: Any, diag: bool = False, last_dim_is_batch: bool = False, **params: Any) -> Any:
            if last_dim_is_batch:
                raise NotImplementedError("HammingKernel: last_dim_is_batch")
            ell = self.lengthscale[..., :1]  # (*batch, 1, 1)
            d = x1.shape[-1]
            if diag:
                return torch.exp(-(x1 != x2).to(x1.dtype).mean(-1) / ell[..., 0])
            # keys that agree, counted by a product of one-hot codes: (n, d·C) @ (d·C, m), exact in floats
            c = int(torch.maximum(x1.max(), x2.max()).item()) + 1 if x1.numel() and x2.numel() else 1
            codes = torch.arange(c, dtype=x1.dtype, device=x1.device)
            h1 = (x1.unsqueeze(-1) == codes).to(x1.dtype).flatten(-2)
            h2 = (x2.unsqueeze(-1) == codes).to(x1.dtype).flatten(-2)
            return torch.exp(-(d - h1 @ h2.transpose(-1, -2)) / (d * ell))

    _HAMMING.append(HammingKernel)
    return HammingKernel


def context_prior(d: int) -> tuple[float, float]:
    """LogNormal(loc, scale) prior of the context lengthscales (standardized units): botorch's
    dimension-scaled prior for inputs in the unit cube, LogNormal(sqrt(2) + log(d)/2, sqrt(3))
    (Hvarfner et al. 2024), moved to standardized inputs (a uniform on [0, 1] has std 1/sqrt(12),
    so a lengthscale there is sqrt(12) times the unit cube's)."""
    return math.sqrt(2.0) + 0.5 * math.log(d) + 0.5 * math.log(12.0), math.sqrt(3.0)


def build_gp(train_x: Any, train_y: Any, n_context: int) -> Any:
    """The botorch ``SingleTaskGP`` over inputs ``[standardized contexts (n_context), arm indices]``:
    ``ScaleKernel(RBF(contexts, ARD, prior :func:`context_prior`) × HammingKernel(arms, prior
    ARM_PRIOR))``, a constant mean, a Gaussian likelihood (botorch's LogNormal noise prior, noise
    ≥ 1e-4), outcomes standardized; every hyperparameter at its fixed initial value (INIT)."""
    botorch, gpytorch, torch = _torch_gp()
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.models.utils.gpytorch_modules import get_gaussian_likelihood_with_lognormal_prior

    d = train_x.shape[-1]
    cat = hamming_kernel_class()(
        active_dims=list(range(n_context, d)),
        lengthscale_prior=gpytorch.priors.LogNormalPrior(ARM_PRIOR[0], ARM_PRIOR[1]),
        lengthscale_constraint=gpytorch.constraints.GreaterThan(1e-6),
    )
    if n_context:
        loc, scale = context_prior(n_context)
        rbf = gpytorch.kernels.RBFKernel(
            ard_num_dims=n_context,
            active_dims=list(range(n_context)),
            lengthscale_prior=gpytorch.priors.LogNormalPrior(loc, scale),
            lengthscale_constraint=gpytorch.constraints.GreaterThan(2.5e-2 * math.sqrt(12.0)),
        )
        base = gpytorch.kernels.ProductKernel(rbf, cat)
    else:
        base = cat
    covar = gpytorch.kernels.ScaleKernel(base)
    with _quiet():
        model = SingleTaskGP(
            train_x,
            train_y,
            likelihood=get_gaussian_likelihood_with_lognormal_prior(),
            covar_module=covar,
            outcome_transform=Standardize(m=1),
        )
    model.to(torch.float64)
    # botorch and gpytorch set these deterministically already; fixed here so that the fit's
    # starting point is written down, not whatever a version's defaults are
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # a float would pass through float32
    covar.outputscale = f64(INIT["outputscale"])
    cat.lengthscale = f64(INIT["lengthscale_arm"])
    if n_context:
        rbf.lengthscale = f64(INIT["lengthscale_context"])
    model.mean_module.constant = f64(INIT["mean"])
    return model


def fit_gp(model: Any) -> Any:
    """Maximize the marginal likelihood (botorch ``fit_gpytorch_mll``: L-BFGS-B; retries after a
    failed attempt draw from the priors with torch's generator seeded 0, so the fit is repeatable).
    If every attempt fails the model keeps its initial hyperparameters. Returns the model in eval mode."""
    botorch, gpytorch, torch = _torch_gp()
    from botorch.exceptions.errors import ModelFittingError
    from botorch.fit import fit_gpytorch_mll

    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    with _quiet(), _one_thread(), torch.random.fork_rng(devices=[]):  # (devices: CUDA's untouched)
        torch.manual_seed(0)
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"ftol": FTOL}})
        except ModelFittingError:
            pass  # rolled back to the initial values
    return model.eval()


# ---------------------------------------------------------------- a fitted policy
class LearnedPolicy:
    """A METALIC model fitted to episodes: the GP of reward over (context, arm).

    Built by :meth:`MetalicPolicy.learn` (fits) or :func:`load_policy` (rebuilds the same GP from
    the file's data and fitted hyperparameters, no fit). ``choose(context)`` is the arm of highest
    posterior mean; ``posterior(context)`` the mean and std of every arm's reward;
    ``term_effects(contexts)`` each arm key's effect on the posterior mean.
    """

    def __init__(
        self,
        contexts: Sequence[ContextScale],
        arm_keys: Sequence[str],
        arm_values: Sequence[Sequence[Any]],
        candidates: np.ndarray,
        x_context: np.ndarray,
        x_arm: np.ndarray,
        rewards: np.ndarray,
        params: Mapping[str, Any] | None = None,
        episodes: Sequence[int | None] = (),
        info: Mapping[str, Any] | None = None,
    ):
        self.contexts = list(contexts)
        self.arm_keys = list(arm_keys)
        self.arm_values = [list(v) for v in arm_values]
        self.candidates = np.asarray(candidates, dtype=np.int64).reshape(-1, len(self.arm_keys))
        self.rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        n = len(self.rewards)
        self.x_context = np.asarray(x_context, dtype=np.float64).reshape(n, len(self.contexts))
        self.x_arm = np.asarray(x_arm, dtype=np.int64).reshape(n, len(self.arm_keys))
        self.episodes = list(episodes)
        self.info = dict(info or {})
        #: a two-stage policy: the phases of its two stages, and the model of the second stage's arm
        #: (its first context is the reward after the first stage, :func:`stage_reward_key`)
        self.stages: list[str] | None = None
        self.next: LearnedPolicy | None = None
        if not n:
            raise ValueError("a learned policy needs at least one episode")
        _, _, torch = _torch_gp()
        self._torch = torch
        z = np.array([[s.z(v) for s, v in zip(self.contexts, row)] for row in self.x_context]).reshape(
            len(self.rewards), len(self.contexts)
        )
        train_x = torch.tensor(np.hstack([z, self.x_arm.astype(np.float64)]), dtype=torch.float64)
        train_y = torch.tensor(self.rewards[:, None], dtype=torch.float64)
        self.model = build_gp(train_x, train_y, len(self.contexts))
        if params is None:
            fit_gp(self.model)
        else:
            named = dict(self.model.named_parameters())
            if set(named) != set(params):
                raise ValueError(f"the parameters are {sorted(params)}, the model's {sorted(named)}")
            with torch.no_grad():
                for name, p in named.items():
                    p.copy_(torch.tensor(params[name], dtype=torch.float64).reshape(p.shape))
            self.model.eval()

    # ---- what it knows
    @property
    def params(self) -> dict[str, Any]:
        """The model's raw (unconstrained) parameters, by name: what rebuilds it exactly."""
        return {name: p.detach().tolist() for name, p in self.model.named_parameters()}

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The fitted hyperparameters, readable: output scale, context lengthscales (standardized
        units) by key, the arm lengthscale, the noise variance and the constant mean (standardized
        reward units), and the reward standardization."""
        covar = self.model.covar_module
        base = covar.base_kernel
        kernels = list(base.kernels) if self.contexts else [base]
        out: dict[str, Any] = {"outputscale": float(covar.outputscale.detach())}
        if self.contexts:
            ls = kernels[0].lengthscale.detach().reshape(-1).tolist()
            out["context_lengthscales"] = {s.key: float(v) for s, v in zip(self.contexts, ls)}
        out["arm_lengthscale"] = float(kernels[-1].lengthscale.detach().reshape(-1)[0])
        out["noise"] = float(self.model.likelihood.noise.detach().reshape(-1)[0])
        out["mean"] = float(self.model.mean_module.constant.detach().reshape(-1)[0])
        tf = self.model.outcome_transform
        out["reward_mean"] = float(tf.means.reshape(-1)[0])
        out["reward_std"] = float(tf.stdvs.reshape(-1)[0])
        return out

    def arm(self, i: int) -> dict[str, Any]:
        """Candidate ``i`` as a mapping of arm key to value."""
        return {k: self.arm_values[j][int(self.candidates[i, j])] for j, k in enumerate(self.arm_keys)}

    @property
    def arms(self) -> list[dict[str, Any]]:
        return [self.arm(i) for i in range(len(self.candidates))]

    # ---- the posterior
    def _inputs(self, context: Mapping[str, Any]) -> Any:
        keys = [s.key for s in self.contexts]
        missing = [k for k in keys if k not in context]
        extra = [k for k in context if k not in keys]
        if missing or extra:
            raise ValueError(
                f"the context gives {', '.join(context) or 'no key'}; the policy's context keys are "
                f"{', '.join(keys) or '(none)'}"
            )
        z = np.array([s.z(context[s.key]) for s in self.contexts], dtype=np.float64)
        x = np.hstack([np.broadcast_to(z, (len(self.candidates), len(z))), self.candidates.astype(np.float64)])
        return self._torch.tensor(x, dtype=self._torch.float64)

    def _posterior(self, context: Mapping[str, Any]) -> Any:
        return self.model.posterior(self._inputs(context))

    def posterior(self, context: Mapping[str, Any]) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
        """``(arms, mean, std)``: every candidate arm and its reward's posterior mean and std
        (without the observation noise) at ``context`` (a mapping of every context key to a number)."""
        with self._torch.no_grad(), _quiet(), _one_thread():
            post = self._posterior(context)
            mean = post.mean.reshape(-1).numpy().copy()
            std = post.variance.clamp_min(0).sqrt().reshape(-1).numpy().copy()
        return self.arms, mean, std

    def joint(self, context: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean and covariance of every arm's reward at ``context`` (Thompson sampling)."""
        with self._torch.no_grad(), _quiet(), _one_thread():
            mvn = self._posterior(context).distribution
            return mvn.mean.reshape(-1).numpy().copy(), mvn.covariance_matrix.numpy().copy()

    def choose(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The arm of highest posterior mean reward at ``context`` (the first one on a tie). For a
        two-stage policy, the first stage's arm (the second's: ``self.next.choose`` at the context and
        the reward after the first stage)."""
        _, mean, _ = self.posterior(context)
        return self.arm(int(np.argmax(mean)))

    def term_effects(self, contexts: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Each arm key's effect on the posterior mean reward: the mean over ``contexts`` and over
        the arms of μ(key at its largest value) − μ(key at its smallest value) (numeric values; else
        the last listed minus the first). Positive: the larger value helps."""
        if not contexts:
            raise ValueError("term_effects needs at least one context")
        means = np.array([self.posterior(c)[1] for c in contexts])  # (contexts, arms)
        out = {}
        for j, key in enumerate(self.arm_keys):
            vals = self.arm_values[j]
            if all(_is_number(v) for v in vals):
                lo, hi = int(np.argmin([float(v) for v in vals])), int(np.argmax([float(v) for v in vals]))
            else:
                lo, hi = 0, len(vals) - 1
            at_hi, at_lo = self.candidates[:, j] == hi, self.candidates[:, j] == lo
            if lo == hi or not at_hi.any() or not at_lo.any():
                out[key] = 0.0
                continue
            out[key] = float(np.mean(means[:, at_hi].mean(axis=1) - means[:, at_lo].mean(axis=1)))
        return out

    # ---- the file
    def to_json(self) -> dict[str, Any]:
        """The policy as plain JSON types (what :meth:`save` writes)."""
        return to_plain(
            {
                "format": FORMAT,
                "version": VERSION,
                "contexts": [{"key": s.key, "mean": s.mean, "std": s.std, "log": s.log} for s in self.contexts],
                "arms": [{"key": k, "values": v} for k, v in zip(self.arm_keys, self.arm_values)],
                "candidates": self.candidates.tolist(),
                "data": {
                    "episodes": self.episodes,
                    "contexts": self.x_context.tolist(),
                    "arms": self.x_arm.tolist(),
                    "rewards": self.rewards.tolist(),
                },
                "hyperparameters": self.hyperparameters,
                "params": self.params,
                "info": self.info,
                **({"stages": self.stages} if self.stages else {}),
                **({"next": self.next.to_json()} if self.next is not None else {}),
            }
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the policy file (JSON, atomically); return its path."""
        return atomic_write_text(path, json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n")


def load_policy(path: str | os.PathLike) -> LearnedPolicy:
    """The :class:`LearnedPolicy` of a policy file (a study's ``policy.json``), rebuilt exactly from
    its data and fitted parameters (no fit). A bad file is a one-line ValueError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such policy file (a METALIC study writes policy.json)") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the policy file ({exc.strerror or exc})") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path}: not a METALIC policy file (not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f'{path}: not a METALIC policy file (no "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise ValueError(f"{path}: policy file version {doc.get('version')!r}; this sciml reads version {VERSION}")
    try:
        learned = _from_json(doc)
        stages = doc.get("stages")
        if stages is not None:
            if not (isinstance(stages, list) and len(stages) == 2 and all(isinstance(p, str) for p in stages)):
                raise ValueError(f"stages must be two phase names, got {stages!r}")
            learned.stages = list(stages)
            learned.next = _from_json(doc["next"]) if "next" in doc else None
        return learned
    except KeyError as exc:
        raise ValueError(f"{path}: damaged METALIC policy file (no {exc})") from None
    except (TypeError, ValueError, IndexError, RuntimeError) as exc:
        msg = " ".join(str(exc).split())
        raise ValueError(f"{path}: damaged METALIC policy file ({type(exc).__name__}: {msg})") from None


def _from_json(doc: dict) -> LearnedPolicy:
    data = doc["data"]
    return LearnedPolicy(
        [ContextScale(c["key"], float(c["mean"]), float(c["std"]), bool(c["log"])) for c in doc["contexts"]],
        [a["key"] for a in doc["arms"]],
        [a["values"] for a in doc["arms"]],
        np.array(doc["candidates"], dtype=np.int64),
        np.array(data["contexts"], dtype=np.float64),
        np.array(data["arms"], dtype=np.int64),
        np.array(data["rewards"], dtype=np.float64),
        params=doc["params"],
        episodes=data.get("episodes", []),
        info=doc.get("info", {}),
    )


def stage_reward_key(phase: str) -> str:
    """The context key of the reward after the first stage (phase ``phase``) in a two-stage
    policy's second model."""
    return f"reward@{phase}"


# ---------------------------------------------------------------- the policy
@POLICIES.register("metalic")
class MetalicPolicy:
    """METALIC (Li et al., ICML 2023): the arm of each context from a GP bandit over (context, arm).

    Each episode's context is drawn from the contexts (seeded by ``seed`` and the episode's index,
    as ``random``); its arm is random until the history holds ``warmup`` finished episodes (and at
    least two), then the maximizer over every arm of the acquisition (``ucb``: posterior mean + ``c``
    · std; ``ts``: one joint posterior draw) of the GP fitted to the finished episodes. See
    :mod:`sciml.bandit`.

    **Two stages** (``stages: [PHASE0, PHASE1]``, the phases of the case's two training stages,
    e.g. Adam then L-BFGS): each arm key takes one value per phase (``{PHASE0: v0, PHASE1: v1}``,
    e.g. an interface term's weight per phase). The first stage's arm comes from a GP over
    (context, arm) whose target is the mean of r₀ and γ·r₁ (rewards after each stage, ``gamma``
    0.9, as the reference code); before the second stage starts, the study measures the objective
    (r₀) and asks :meth:`choose_stage` for the second arm, from a GP over (r₀, context, arm) of the
    final reward r₁. The study records r₀ as the metric ``<objective>@PHASE0``.

    **Playing a learned policy** (``learned: PATH``, a study's ``policy.json``): no learning and no
    exploration; each episode's arm is the arm of highest posterior mean (each stage's, for a
    two-stage file), contexts taken in order when listed (held-out contexts), else drawn.
    """

    adaptive = True
    size: int | None = None

    def __init__(
        self,
        contexts: Space,
        arms: Space,
        acquisition: str = "ucb",
        c: float = 1.0,
        warmup: int = 5,
        seed: int = 0,
        direction: str = "minimize",
        stages: list[str] | None = None,
        gamma: float = 0.9,
        learned: str | None = None,
        objective: str = "eval/rel_l2",
    ):
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}")
        if not (_is_number(c) and math.isfinite(c) and c >= 0):
            raise ValueError(f"c (the UCB exploration weight) must be a number >= 0, got {c!r}")
        for name, v in (("warmup", warmup), ("seed", seed)):
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        if direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be minimize or maximize, got {direction!r}")
        if stages is not None and not (
            isinstance(stages, list)
            and len(stages) == 2
            and all(isinstance(p, str) and p for p in stages)
            and stages[0] != stages[1]
        ):
            raise ValueError(
                f"stages must name the phases of the case's two training stages, e.g. [fit, refine], got {stages!r}"
            )
        if not (_is_number(gamma) and 0 <= gamma <= 1):
            raise ValueError(f"gamma (the discount of the second stage's reward) must be in [0, 1], got {gamma!r}")
        self.contexts, self.arms_space = contexts, arms
        self.acquisition, self.c, self.direction = acquisition, float(c), direction
        self.warmup, self.seed, self.gamma, self.objective = warmup, seed, float(gamma), objective
        self.stages = list(stages) if stages else None
        self.scales = context_scales(contexts)
        self.arm_keys, self.arm_values, self.candidates, self.index = arm_values(arms)
        self._tags = [{_tag(v): i for i, v in enumerate(vals)} for vals in self.arm_values]
        self._cache: tuple[Any, LearnedPolicy] | None = None
        self.fixed: LearnedPolicy | None = None
        if learned is not None:
            self._play_learned(learned)

    def _play_learned(self, path: Any) -> None:
        if not isinstance(path, str) or not path:
            raise ValueError(f"learned must be the path of a policy file (policy.json), got {path!r}")
        fixed = load_policy(path)
        if self.stages is not None and self.stages != fixed.stages:
            raise ValueError(f"stages: {path} has stages {fixed.stages}, not {self.stages} (leave stages out)")
        if fixed.arm_keys != self.arm_keys or [[_tag(v) for v in vals] for vals in fixed.arm_values] != [
            [_tag(v) for v in vals] for vals in self.arm_values
        ]:
            raise ValueError(f"learned: the arms of {path} ({', '.join(fixed.arm_keys)}) are not the study's arms")
        if sorted(s.key for s in fixed.contexts) != sorted(s.key for s in self.scales):
            raise ValueError(
                f"learned: the contexts of {path} ({', '.join(s.key for s in fixed.contexts)}) are not the "
                f"study's ({', '.join(s.key for s in self.scales)})"
            )
        if fixed.info.get("direction", "minimize") != self.direction:
            raise ValueError(
                f"learned: {path} was learned to {fixed.info.get('direction')} its objective; this study "
                f"{'minimizes' if self.direction == 'minimize' else 'maximizes'} it"
            )
        if fixed.stages is not None and fixed.next is None:
            raise ValueError(f"learned: {path} is a two-stage policy without its second stage's model")
        self.fixed, self.stages, self.adaptive = fixed, fixed.stages, False
        self.size = len(self.contexts.grid()) if self.contexts.finite else None

    # ---- the data
    def _split(self, arm: Mapping[str, Any], j: int, key: str) -> tuple[int, int | None]:
        """The value indices of arm key ``key`` (the ``j``-th): one, or one per stage."""
        v = arm[key]
        if self.stages is None:
            return self._tags[j][_tag(v)], None
        return self._tags[j][_tag(v[self.stages[0]])], self._tags[j][_tag(v[self.stages[1]])]

    def _rows(self, history: Sequence[Any]) -> list[tuple]:
        """``(k, context, first arm, second arm or None, first-stage reward or None, reward)`` of
        the finished episodes (one whose context or arm is not of this study is left out). The
        first-stage reward is None where the episode recorded none (it stopped in the first stage)."""
        rows = []
        tag = f"{self.objective}@{self.stages[0]}" if self.stages is not None else ""
        for e in history:
            if getattr(e, "status", None) not in ("done", "failed"):
                continue
            try:
                for s in self.scales:
                    s.z(e.context[s.key])  # a number (> 0 on a log scale), or left out
                ctx = [float(e.context[s.key]) for s in self.scales]
                idx = [self._split(e.arm, j, key) for j, key in enumerate(self.arm_keys)]
            except (KeyError, TypeError, ValueError):
                continue
            r0 = None
            metrics = getattr(e, "metrics", None) or {}
            if self.stages is not None and tag in metrics:
                v = metrics[tag]
                ok = v is not None and math.isfinite(v)
                r0 = reward(v if ok else None, "done" if ok else "failed", self.direction)
                if r0 is None:  # maximized and not finite: the worst first-stage reward (set below)
                    r0 = math.nan
            rows.append(
                (
                    getattr(e, "k", None),
                    ctx,
                    [i for i, _ in idx],
                    [i for _, i in idx] if self.stages else None,
                    r0,
                    reward(e.objective, e.status, self.direction),
                )
            )
        if self.direction == "maximize":  # a failed episode: the worst reward seen (none seen: left out)
            seen = [r[5] for r in rows if r[5] is not None]
            rows = [(*r[:5], min(seen) if r[5] is None else r[5]) for r in rows if r[5] is not None or seen]
            seen0 = [r[4] for r in rows if r[4] is not None and not math.isnan(r[4])]
            rows = [
                (*r[:4], (min(seen0) if seen0 else r[5]) if r[4] is not None and math.isnan(r[4]) else r[4], r[5])
                for r in rows
            ]
        return rows

    def data(self, history: Sequence[Any]) -> tuple[list[int | None], np.ndarray, np.ndarray, np.ndarray]:
        """``(episodes, contexts, arm indices, rewards)`` of the finished episodes of ``history``
        (status ``done`` or ``failed``; one whose context or arm is not of this study is left out).
        Two stages: the first stage's arms, and the target of its model, mean(r₀, γ·r₁)."""
        rows = self._rows(history)
        n = len(rows)
        if self.stages is None:
            rs = [r[5] for r in rows]
        else:  # an episode stopped in its first stage: its final reward for both
            rs = [((r[5] if r[4] is None else r[4]) + self.gamma * r[5]) / 2 for r in rows]
        return (
            [r[0] for r in rows],
            np.array([r[1] for r in rows], dtype=np.float64).reshape(n, len(self.scales)),
            np.array([r[2] for r in rows], dtype=np.int64).reshape(n, len(self.arm_keys)),
            np.array(rs, dtype=np.float64),
        )

    def learn(self, history: Sequence[Any]) -> LearnedPolicy | None:
        """The GP fitted to the finished episodes of ``history`` (None with fewer than two); for two
        stages, the first stage's, with the second stage's as its ``next``. The same history gives
        the same model (the last one is kept, so the study's hook and the next proposal fit once)."""
        if self.fixed is not None:
            return self.fixed
        ks, x, a, r = self.data(history)
        if len(r) < 2:
            return None
        key = repr(self._rows(history))  # everything either model is fitted to
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        info = {"acquisition": self.acquisition, "c": self.c, "warmup": self.warmup, "seed": self.seed}
        info.update(direction=self.direction, reward=_REWARD[self.direction])
        if self.stages is not None:
            info.update(gamma=self.gamma, target="mean(r0, gamma*r1) for the first stage's model, r1 for the second's")
        learned = LearnedPolicy(
            self.scales, self.arm_keys, self.arm_values, self.index, x, a, r, episodes=ks, info=info
        )
        rows = [row for row in self._rows(history) if row[4] is not None]  # the second stage started
        if self.stages is not None:
            learned.stages = list(self.stages)
        if self.stages is not None and len(rows) >= 2:
            r0 = np.array([row[4] for row in rows], dtype=np.float64)
            sd = float(np.std(r0))
            scale = ContextScale(stage_reward_key(self.stages[0]), float(np.mean(r0)), sd if sd > 1e-6 else 1.0)
            learned.next = LearnedPolicy(
                [scale, *self.scales],
                self.arm_keys,
                self.arm_values,
                self.index,
                np.array([[row[4], *row[1]] for row in rows], dtype=np.float64),
                np.array([row[3] for row in rows], dtype=np.int64),
                np.array([row[5] for row in rows], dtype=np.float64),
                episodes=[row[0] for row in rows],
                info={**info, "stage": self.stages[1]},
            )
        self._cache = (key, learned)
        return learned

    def _model(self, history: Sequence[Any]) -> LearnedPolicy | None:
        """The model the next choice comes from: the played file's, or the fit to ``history`` once
        it holds ``warmup`` finished episodes (and at least two); None: a random arm."""
        if self.fixed is not None:
            return self.fixed
        return self.learn(history) if len(self._rows(history)) >= max(self.warmup, 2) else None

    def _pick(self, model: LearnedPolicy | None, context: dict, rng: np.random.Generator) -> int:
        """The index of the candidate arm the acquisition picks (random without a model; the
        posterior mean's best when playing a learned file)."""
        if model is None:
            return int(rng.integers(len(self.candidates)))
        if self.fixed is not None:
            return int(np.argmax(model.posterior(context)[1]))
        if self.acquisition == "ucb":
            _, mean, std = model.posterior(context)
            return int(np.argmax(mean + self.c * std))
        mean, cov = model.joint(context)
        return int(np.argmax(mean + _cholesky(cov) @ rng.standard_normal(len(mean))))

    # ---- the study's calls
    def propose(self, k: int, history: Sequence[Any]) -> Proposal | None:
        """Episode ``k``'s (context, arm): a function of ``k``, ``history`` and ``seed`` alone. Two
        stages: the first stage's arm, also given to the second until :meth:`choose_stage`."""
        rng = np.random.default_rng([self.seed, k])
        if self.fixed is not None and self.size is not None:
            if k >= self.size:
                return None
            context = self.contexts.grid()[k]
        else:
            context = self.contexts.draw(rng)
        arm = self.candidates[self._pick(self._model(history), context, rng)]
        if self.stages is None:
            return context, dict(arm)
        return context, {key: dict.fromkeys(self.stages, v) for key, v in arm.items()}

    def choose_stage(
        self, k: int, phase: str, context: dict, arm: dict, value: float | None, history: Sequence[Any]
    ) -> dict:
        """The arm of episode ``k`` with its second stage's values chosen, given the objective
        ``value`` after the first stage (None: failed) and the finished episodes before ``k``."""
        if self.stages is None or phase != self.stages[1]:
            raise ValueError(f"metalic chooses an arm before the stage of phase {self.stages and self.stages[1]!r}")
        ok = value is not None and math.isfinite(value)
        r0 = reward(value if ok else None, "done" if ok else "failed", self.direction)
        if r0 is None:  # maximized and failed: the worst first-stage reward seen
            seen = [row[4] for row in self._rows(history) if row[4] is not None]
            r0 = min(seen) if seen else 0.0
        if self.fixed is not None and self.fixed.next is None:
            raise ValueError("the played policy file has no second stage's model")
        rng = np.random.default_rng([self.seed, k, 1])
        learned = self._model(history)
        model = learned.next if learned is not None else None  # None: fewer than two second stages yet
        where = {stage_reward_key(self.stages[0]): r0, **context}
        second = self.candidates[self._pick(model, where, rng)]
        first = self.stages[0]
        return {key: {first: arm[key][first], phase: second[key]} for key in self.arm_keys}

    def report_lines(self, history: Sequence[Any]) -> list[str]:
        """The study report's section on what the model learned: each arm key's posterior effect on
        the reward (:meth:`LearnedPolicy.term_effects` over the played contexts), largest first."""
        learned = self.learn(history)
        if learned is None or self.fixed is not None:
            return []
        contexts = [dict(zip([s.key for s in self.scales], row)) for row in learned.x_context]
        effects = sorted(learned.term_effects(contexts).items(), key=lambda kv: -kv[1])
        lines = [
            "## What the model learned",
            "",
            "Posterior effect of each arm key on the reward (−log10 of the objective for a minimized one): "
            "the mean over the played contexts and over all arms of μ(key at its largest value) − μ(key at its "
            "smallest value). Positive: the larger value helps. The model is in `policy.json`.",
            "",
        ]
        if learned.next is None:
            return [*lines, "| arm key | effect |", "|---|---|", *(f"| {k} | {v:+.3f} |" for k, v in effects)]
        later = dict(
            learned.next.term_effects(
                [dict(zip([s.key for s in learned.next.contexts], row)) for row in learned.next.x_context]
            )
        )
        assert self.stages is not None
        return [
            *lines,
            f"| arm key | effect in {self.stages[0]} (on mean(r0, γ·r1)) | effect in {self.stages[1]} (on r1) |",
            "|---|---|---|",
            *(f"| {k} | {v:+.3f} | {later[k]:+.3f} |" for k, v in effects),
        ]

    def after_episode(self, study_path: str | os.PathLike, history: Sequence[Any]) -> Path | None:
        """Write the model fitted to ``history`` to ``<study_path>/policy.json`` (nothing with fewer
        than two finished episodes, or when playing a learned policy; a failed write is a warning,
        the study goes on)."""
        learned = self.learn(history)
        if learned is None or self.fixed is not None:
            return None
        try:
            return learned.save(Path(study_path) / POLICY_FILE)
        except OSError as exc:
            warnings.warn(f"metalic: could not write {Path(study_path) / POLICY_FILE}: {exc}", stacklevel=2)
            return None


_REWARD = {
    "minimize": "-log10(min(max(objective, 1e-12), 100)); failed or not finite: -2",
    "maximize": "objective; failed: the lowest reward seen",
}


def write_policy(policy: MetalicPolicy, history: Sequence[Any], path: str | os.PathLike) -> Path:
    """Fit ``policy``'s GP to ``history`` (finished episodes) and write it to ``path`` (JSON);
    ValueError with fewer than two finished episodes."""
    learned = policy.learn(history)
    if learned is None:
        raise ValueError("a policy file needs at least two finished episodes")
    return learned.save(path)


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """A factor ``L`` with ``L Lᵀ ≈ cov`` (a posterior covariance): Cholesky with growing jitter,
    else the symmetric square root of the positive part."""
    n = len(cov)
    scale = float(np.mean(np.diag(cov))) if n else 1.0
    for jitter in (0.0, 1e-10, 1e-8, 1e-6):
        try:
            return np.linalg.cholesky(cov + jitter * max(scale, 1e-300) * np.eye(n))
        except np.linalg.LinAlgError:
            continue
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    return v * np.sqrt(np.clip(w, 0.0, None))
