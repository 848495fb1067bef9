"""The one training loop every method uses.

Stages (Adam then L-BFGS, or any sequence) run over the same Method. The Trainer owns
seeding, dtype/device, clipping, schedulers, the non-finite/divergence guard, periodic
evaluation, checkpoints with exact resume, a progress bar and JSONL metrics. Under
``torchrun`` it runs data-parallel: each rank takes a shard of the data, gradients are
averaged with ``all_reduce`` after every backward pass (the same arithmetic DDP does),
and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist

from .config import Stage, Train
from .method import DEFAULT_PHASE, AbstractMethod, TrainState

if TYPE_CHECKING:
    from .data.base import Data
    from .output import RunDir

_clock = time.perf_counter  # the Trainer's clock for time budgets (tests substitute a fake one)


class TrainingDiverged(RuntimeError):
    """The loss became non-finite or grew beyond ``divergence_factor`` × its first value."""


class CheckpointError(ValueError):
    """A checkpoint file cannot be read, or does not belong to the case it is loaded into."""


CHECKPOINT_KEYS = ("state", "method", "optimizer", "scheduler", "data", "rng")


def read_checkpoint(path: str | Path, keys=CHECKPOINT_KEYS, map_location="cpu") -> dict:
    """A sciml checkpoint as a dict, or :class:`CheckpointError` in one line naming the file.

    Empty, truncated, garbage and foreign files (any other pickle, a bare state dict) are refused
    before anything is built from them; ``keys`` are the entries the caller needs (evaluation
    needs only ``method``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"{path}: the checkpoint is empty (a run killed while writing it? "
            "checkpoints are written atomically, so this file was not written by sciml)"
        )
    try:
        blob = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # EOFError, UnpicklingError, zip errors, ...: all mean "not readable"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or not a torch file: {reason})") from None
    missing = [k for k in keys if not (isinstance(blob, dict) and k in blob)]
    if missing:
        raise CheckpointError(
            f"{path}: not a sciml checkpoint (no {missing[0]!r} entry; it holds "
            f"{type(blob).__name__ if not isinstance(blob, dict) else sorted(map(str, blob))[:6]})"
        )
    return blob


def load_method_state(method, state: dict, path: str | Path) -> None:
    """``method.load_state_dict`` with a one-line error when the checkpoint was made by another case."""
    try:
        method.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])[:300]
        raise CheckpointError(f"{path}: the checkpoint does not fit this case's model/method ({detail})") from None


class Interrupted(RuntimeError):
    """Training was stopped by SIGINT/SIGTERM after a checkpoint was written to ``checkpoint``."""

    def __init__(self, message: str, checkpoint: Path | None = None):
        super().__init__(message)
        self.checkpoint = checkpoint


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available; use device: cpu or auto")
    dev = torch.device(name)
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s) "
            f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
        )
    return dev


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group when launched by ``torchrun`` (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _world()


def _groups(stage: Stage, params) -> list[dict]:
    """Parameter groups for torch's optimizers from a method's groups (or a plain parameter list):
    ``lr_scale`` becomes the group's ``lr`` (× the stage's); parameters that need no gradient are
    dropped. L-BFGS takes one group (torch's supports no per-group options): groups with one scale
    are merged, different scales are refused."""
    params = list(params)
    groups = params if params and isinstance(params[0], dict) else [{"params": params}]
    out = []
    for g in groups:
        ps = [p for p in g["params"] if p.requires_grad]
        if not ps:
            continue
        extra = {k: v for k, v in g.items() if k not in ("params", "lr_scale")}
        if "lr_scale" in g:
            extra["lr"] = stage.lr * float(g["lr_scale"])
        out.append({"params": ps, **extra})
    if stage.optimizer == "lbfgs" and len(out) > 1:  # (no weight decay in L-BFGS: only the rates must agree)
        if len({g.get("lr") for g in out}) > 1:
            raise ValueError(
                "an lbfgs stage takes one learning rate: the phase's parameter groups have different lr_scale"
            )
        keep = {k: v for k, v in out[0].items() if k == "lr"}
        out = [{"params": [p for g in out for p in g["params"]], **keep}]
    return out


def make_optimizer(stage: Stage, params) -> torch.optim.Optimizer:
    """The stage's optimizer over ``params``: parameters, or a method's groups (:func:`_groups`)."""
    params = _groups(stage, params)
    if not params:
        raise ValueError("the stage has no trainable parameters (every parameter is frozen in its phase)")
    flat = [p for g in params for p in g["params"]]
    # one fused kernel instead of ~10 small ops per tensor: measurable on small PINN networks
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64) for p in flat)
    if stage.optimizer == "adam":
        return torch.optim.Adam(params, lr=stage.lr, weight_decay=stage.weight_decay, fused=fused)
    if stage.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay, fused=fused)
    if stage.optimizer == "sgd":
        return torch.optim.SGD(params, lr=stage.lr, weight_decay=stage.weight_decay, momentum=0.9)
    if stage.optimizer == "lbfgs":
        # one L-BFGS iteration per Trainer step, so checkpoints, logs and budgets count iterations
        return torch.optim.LBFGS(
            params,
            lr=stage.lr,
            max_iter=1,
            history_size=stage.history_size,
            line_search_fn=None if stage.line_search == "none" else stage.line_search,
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )
    raise ValueError(f"unknown optimizer {stage.optimizer!r}")


class ProgressLR(torch.optim.lr_scheduler.LRScheduler):
    """Learning rate as a function of training progress p ∈ [0, 1] (cosine or one-cycle shape).

    ``progress`` returns p; without one, p = steps taken / ``n_steps``. The Trainer passes the spent
    fraction of ``train.time_limit_s`` for ``horizon: time``, so a run limited by wall-clock time
    anneals to the end of its budget whatever its speed (a steps horizon in a time-limited run
    leaves the rate wherever the budget cuts it off).

    Shapes (peak rate η = the stage's ``lr``): ``cosine`` η_min + (η − η_min)(1 + cos πp)/2;
    ``onecycle`` rises from η/div_factor to η over p < pct_start, then falls to
    η/(div_factor·final_div_factor), both halves cosine — the rate of
    ``torch.optim.lr_scheduler.OneCycleLR`` (without its momentum cycling), reaching the bottom at
    p = 1 (torch: one step earlier).
    """

    def __init__(
        self,
        optimizer,
        shape: str,
        n_steps: int,
        progress=None,
        *,
        eta_min: float = 0.0,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        if shape not in ("cosine", "onecycle"):
            raise ValueError(f"unknown schedule shape {shape!r}")
        self.shape, self.n_steps, self._progress = shape, max(int(n_steps), 1), progress
        self.eta_min, self.pct_start = float(eta_min), float(pct_start)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)
        super().__init__(optimizer)

    def progress(self) -> float:
        p = self._progress() if self._progress is not None else self.last_epoch / self.n_steps
        return min(max(float(p), 0.0), 1.0)

    def factor(self, p: float, base: float) -> float:
        """The rate at progress ``p`` for peak rate ``base``."""

        def cos_between(hi, lo, q):
            return lo + (hi - lo) * (1.0 + math.cos(math.pi * q)) / 2.0

        if self.shape == "cosine":
            return cos_between(base, self.eta_min, p)
        start = base / self.div_factor
        if p < self.pct_start:
            return cos_between(base, start, 1.0 - p / self.pct_start)
        return cos_between(base, start / self.final_div_factor, (p - self.pct_start) / (1.0 - self.pct_start))

    def get_lr(self):
        p = self.progress()
        return [self.factor(p, base) for base in self.base_lrs]

    def state_dict(self):  # the progress callback is the Trainer's: not part of the state
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_progress")}


def make_scheduler(stage: Stage, opt, n_steps: int, time_progress=None, step_progress=None):
    """The stage's scheduler. Progress callbacks: ``time_progress()`` (the spent fraction of the
    stage's time budget) serves schedules with ``horizon: time``; ``step_progress()`` (steps taken /
    ``n_steps``; L-BFGS takes several per scheduler call) those over steps."""
    cfg = dict(stage.scheduler)
    kind = cfg.pop("type", "none")
    horizon = cfg.pop("horizon", "steps")
    if horizon == "time" and time_progress is None:
        raise ValueError(f"scheduler {kind!r} with horizon: time needs a time budget (train.time_limit_s)")
    progress = time_progress if horizon == "time" else step_progress
    if kind == "none":
        return None
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(
            opt, step_size=int(cfg.get("step_size", max(1, n_steps // 4))), gamma=float(cfg.get("gamma", 0.5))
        )
    if kind == "cosine":
        if horizon == "time":
            return ProgressLR(opt, "cosine", n_steps, progress, eta_min=float(cfg.get("eta_min", 0.0)))
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=int(cfg.get("t_max", n_steps)), eta_min=float(cfg.get("eta_min", 0.0))
        )
    if kind == "onecycle":
        return ProgressLR(
            opt,
            "onecycle",
            n_steps,
            progress,
            pct_start=float(cfg.get("pct_start", 0.3)),
            div_factor=float(cfg.get("div_factor", 25.0)),
            final_div_factor=float(cfg.get("final_div_factor", 1e4)),
        )
    if kind == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=float(cfg.get("gamma", 0.999)))
    if kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=float(cfg.get("factor", 0.5)), patience=int(cfg.get("patience", 100))
        )
    raise ValueError(f"unknown scheduler {kind!r}")


def evaluation(method: AbstractMethod, data: Data) -> dict[str, float]:
    """The method's evaluation metrics now, named as the Trainer logs them (``eval/<name>``)."""
    method.eval()
    try:
        res = method.evaluate(data)
    finally:
        method.train()
    return {f"eval/{k}": float(v) for k, v in res.items()}


def stage_phase(stage: Stage) -> str:
    """The phase a stage names, or :data:`~sciml.method.DEFAULT_PHASE`."""
    return getattr(stage, "phase", "") or DEFAULT_PHASE


@contextlib.contextmanager
def _frozen_outside(method, opt: torch.optim.Optimizer):
    """Freeze (``requires_grad = False``) the method's parameters that the stage's optimizer does not
    train while the stage runs, so that no gradient is computed, clipped or all-reduced for them;
    restore them afterwards (also when the stage is interrupted)."""
    keep = {id(p) for g in opt.param_groups for p in g["params"]}
    frozen = [p for p in method.parameters() if p.requires_grad and id(p) not in keep]
    for p in frozen:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in frozen:
            p.requires_grad_(True)


def _peek(data):
    """A batch without advancing the data iterator (so compiling does not change the run)."""
    state = data.state_dict()
    batch = data.next_batch(0)
    data.load_state_dict(state)
    return batch


class _StopFlag:
    """SIGINT/SIGTERM set a flag checked between steps; a second SIGINT interrupts at once."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def __enter__(self):
        def handler(signum, frame):
            if self.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.requested = True

        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[s] = signal.signal(s, handler)
            except ValueError:  # not in the main thread
                pass
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


class Trainer:
    """Runs the stages of a :class:`~sciml.config.Train` section over a method and its data.

    Parameters
    ----------
    config : the ``train`` section
    run_dir : a :class:`~sciml.output.RunDir` for metrics and checkpoints, or None
    seed, dtype, device : from the case
    """

    def __init__(
        self, config: Train, run_dir: RunDir | None = None, seed: int = 0, dtype: str = "float32", device: str = "auto"
    ) -> None:
        self.cfg = config
        self.run_dir = run_dir
        self.seed = seed
        self.dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.device = resolve_device(device)
        self.rank, self.world = init_distributed(self.device)
        self.state = TrainState()
        self.history: list[dict] = []
        self.time_limited = False  # set when train.time_limit_s ended the run
        # seconds before this fit() (from a checkpoint), its start on _clock (set by fit), and the last reading
        self._elapsed0, self._t_start, self._now = 0.0, 0.0, 0.0
        self._first_loss: float | None = None  # the first step's loss (divergence guard); fit() resets it
        self._last: dict[str, float] = {}  # the last logged loss terms (they survive a resume)

    # ---------------------------------------------------------------- checkpoints
    def _ckpt_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir.checkpoints / "last.pt"

    def save_checkpoint(self, method, data, opt, sched) -> None:
        path = self._ckpt_path()
        if path is None or self.rank != 0:
            return
        from .output import atomic_path

        self.state.elapsed_s = self._now
        blob = {
            "state": vars(self.state).copy(),
            "method": method.state_dict(),
            "optimizer": opt.state_dict() if opt is not None else None,
            "scheduler": sched.state_dict() if sched is not None else None,
            "data": data.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
            "first_loss": self._first_loss,
            "last_losses": self._last,  # the last logged losses, for the summary of a resumed finished run
        }
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)

    def _load_checkpoint(self, path: Path, method, data) -> dict:
        blob = read_checkpoint(path, map_location=self.device)
        load_method_state(method, blob["method"], path)
        try:
            data.load_state_dict(blob["data"])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise CheckpointError(
                f"{path}: the checkpoint's data state does not fit this case's data ({exc})"
            ) from None
        self.state = TrainState(**blob["state"])
        torch.set_rng_state(blob["rng"]["torch"].cpu())
        np.random.set_state(blob["rng"]["numpy"])
        random.setstate(blob["rng"]["python"])
        self._first_loss = blob.get("first_loss")
        self._last = dict(blob.get("last_losses") or {})
        return blob

    # ---------------------------------------------------------------- one step
    def _sync_grads(self, method) -> None:
        if self.world == 1:
            return
        for p in method.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= self.world

    def _mean(self, x: float) -> float:
        if self.world == 1:
            return x
        t = torch.tensor([x], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t) / self.world

    def _step(self, method: AbstractMethod, batch, opt, stage: Stage):
        terms_out: dict[str, torch.Tensor] = {}
        use_amp = self.cfg.amp and self.device.type == "cuda"
        # compiled loss for first-order optimizers only: L-BFGS's line search needs loss and gradient
        # consistent to the last bit, and inductor's fused kernels made it stall (no progress at all)
        # on one of three Burgers seeds; the eager loss never did
        loss_fn = method.loss if isinstance(opt, torch.optim.LBFGS) else self._loss

        def closure():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
                terms = loss_fn(batch)
                total = method.total(terms)
            total.backward()
            self._sync_grads(method)
            if stage.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(method.parameters(), stage.clip_grad)
            total = total.detach()
            if self.world > 1:  # every rank must see the global loss (L-BFGS line search decides on it)
                dist.all_reduce(total)
                total /= self.world
            if not terms_out:
                terms_out.update({k: v.detach() for k, v in terms.items()}, _total=total)
            return total

        if isinstance(opt, torch.optim.LBFGS):
            opt.step(closure)
        else:
            closure()
            opt.step()
        return terms_out

    def _tick(self) -> float:
        """Read the clock: training seconds so far, those before a resume included. Under DDP every
        rank takes rank 0's reading, so that all agree on the learning rate and on when the budget
        ends (a rank stopping alone would leave the others waiting in a collective)."""
        now = self._elapsed0 + (_clock() - self._t_start)
        if self.world > 1:
            t = torch.tensor([now], dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
            dist.broadcast(t, 0)
            now = float(t)
        self._now = now
        return now

    def _out_of_time(self) -> bool:
        limit = getattr(self.cfg, "time_limit_s", 0.0)
        return bool(limit) and self._tick() >= limit

    def _time_progress(self):
        """The spent fraction of the time budget left at the stage's start (a callable), or None
        without ``train.time_limit_s``: a ``horizon: time`` schedule in a later stage anneals over
        what the earlier stages left."""
        limit = getattr(self.cfg, "time_limit_s", 0.0)
        if not limit:
            return None
        return lambda: (self._now - self.state.stage_start_s) / max(limit - self.state.stage_start_s, 1e-9)

    # ---------------------------------------------------------------- the loop
    def fit(
        self,
        method: AbstractMethod,
        data: Data,
        resume: str | Path | None = None,
        on_start: Callable[[], object] | None = None,
        on_stage: Callable[[int, str, AbstractMethod, Data], object] | None = None,
    ) -> dict[str, float]:
        """Train ``method`` on ``data`` through every stage; return the final metrics.

        ``on_start()`` runs once the checkpoint (if any) has loaded, before the first step: a
        resumed run's case is saved only when the resume is known to work. ``on_stage(index,
        phase, method, data)`` runs before each stage starts afresh (not when a run resumes inside
        it), before the method's stage hook: an outer loop may look at the method and change what
        the next phase does (a two-stage METALIC study sets the phase's interface weights)."""
        seed_everything(self.seed)
        method.to(device=self.device, dtype=self.dtype)
        data.to(device=self.device, dtype=self.dtype)
        if self.world > 1:
            data.shard(self.rank, self.world)
            for p in method.state_dict().values():
                if isinstance(p, torch.Tensor):  # skip extra (non-tensor) state, e.g. a point selector's
                    dist.broadcast(p, 0)
        method.check_phases([stage_phase(st) for st in self.cfg.stages])  # before any work
        self._first_loss = None
        self._last = {}
        self._loss = method.loss
        if self.cfg.compile:
            # one eager call first: methods may set themselves up on their first batch (PINN probes
            # which derivatives its residuals need); then the loss graph is compiled once
            method.loss(_peek(data))
            self._loss = torch.compile(method.loss, dynamic=False)
        blob = None
        if resume is not None:
            blob = self._load_checkpoint(Path(resume), method, data)
            if self.run_dir is not None and self.rank == 0:
                self.run_dir.truncate_metrics(self.state.step)
        started = False

        def start():  # once every state of the checkpoint (optimizer and scheduler too) has loaded
            nonlocal started
            if not started and on_start is not None:
                on_start()
            started = True

        self._elapsed0, self._t_start = self.state.elapsed_s, _clock()
        self._tick()
        with _StopFlag() as stop:
            for si in range(self.state.stage, len(self.cfg.stages)):
                if self._out_of_time():
                    self.time_limited = True
                    break
                stage = self.cfg.stages[si]
                n_steps = stage.steps or stage.epochs * data.steps_per_epoch(stage.batch_size)
                if self.state.step_in_stage == 0:  # a fresh stage (not one resumed part-way)
                    self.state.stage_start_s = self._now
                phase = stage_phase(stage)
                saved = blob["state"] if blob is not None else {}
                if (
                    saved.get("stage") == si
                    and saved.get("step_in_stage", 0) > 0
                    and saved.get("phase", phase) != phase
                ):
                    raise CheckpointError(
                        f"{resume}: the checkpoint is in phase {saved['phase']!r} of stage {si}, "
                        f"the case's stage {si} is phase {phase!r}"
                    )
                self.state.phase = phase
                if on_stage is not None and self.state.step_in_stage == 0:
                    on_stage(si, phase, method, data)
                method.start_stage(phase, self.state, data)
                opt = make_optimizer(stage, method.param_groups(phase))
                sched = make_scheduler(
                    stage, opt, n_steps, self._time_progress(), lambda n=n_steps: self.state.step_in_stage / n
                )
                if blob is not None and saved["stage"] == si:
                    if blob["optimizer"] is not None:
                        opt.load_state_dict(blob["optimizer"])
                    if sched is not None and blob["scheduler"] is not None:
                        sched.load_state_dict(blob["scheduler"])
                start()
                with _frozen_outside(method, opt):
                    self._run_stage(si, stage, n_steps, method, data, opt, sched, stop)
                # between stages: no phase yet (the next stage's starts when it does)
                self.state.stage, self.state.step_in_stage, self.state.phase = si + 1, 0, ""
                self.save_checkpoint(method, data, None, None)
        start()  # a finished run resumed: no stage ran
        final = self._evaluate(method, data)
        # the final evaluation goes to metrics.jsonl too (periodic ones stop at the last multiple of eval_every)
        self._log(
            {"step": self.state.step, "stage": min(self.state.stage, len(self.cfg.stages) - 1), "final": True, **final}
        )
        metrics = {**self._last, **final}
        metrics["train_time_s"] = self._tick()  # training (and final evaluation) seconds, resumes included
        metrics["steps"] = float(self.state.step)
        return metrics

    def _run_stage(self, si, stage, n_steps, method, data, opt, sched, stop) -> None:
        from tqdm import tqdm

        bar = tqdm(
            total=n_steps,
            initial=self.state.step_in_stage,
            desc=f"stage {si} {stage.optimizer}",
            disable=True if (not self.cfg.progress) or self.rank != 0 else None,  # None: no bar
            leave=False,
            dynamic_ncols=True,
        )  # when stderr is not a terminal (a log file, a pipe)
        lbfgs = isinstance(opt, torch.optim.LBFGS)
        while self.state.step_in_stage < n_steps:
            batch = data.next_batch(stage.batch_size)
            if lbfgs:
                # several L-BFGS iterations per call (up to the next log point): a new call re-evaluates
                # the loss at its start, so one iteration per call would cost an extra evaluation each
                chunk = min(
                    n_steps - self.state.step_in_stage, self.cfg.log_every - self.state.step % self.cfg.log_every
                )
                opt.param_groups[0].update(max_iter=chunk, max_eval=max(chunk * 5 // 4, chunk + 1))
                before = self._lbfgs_iters(opt)
            terms = self._step(method, batch, opt, stage)
            k = self._lbfgs_iters(opt) - before if lbfgs else 1
            total = float(terms.pop("_total"))
            self._guard(total, terms, si, stage)
            prev = self.state.step
            advance = min(max(k, 1), n_steps - self.state.step_in_stage)
            self.state.step_in_stage += advance
            self.state.step += advance
            self._tick()
            if sched is not None:  # after the step count and the clock, which progress schedules read
                sched.step(total) if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) else sched.step()
            method.after_step(self.state, data)
            data.after_step(self.state)
            bar.update(self.state.step - prev)
            step = self.state.step

            def crossed(every):
                return prev // every != step // every

            if crossed(self.cfg.log_every) or self.state.step_in_stage >= n_steps:
                self._last = {
                    "loss": self._mean(total),
                    **{f"loss/{k}": self._mean(float(v)) for k, v in terms.items()},
                }
                self._log(
                    {"step": step, "stage": si, **self._last, "lr": opt.param_groups[0]["lr"], "time_s": self._now}
                )
                bar.set_postfix(loss=f"{self._last['loss']:.3e}")
            if crossed(self.cfg.eval_every):
                self._log({"step": step, "stage": si, **self._evaluate(method, data)})
            if crossed(self.cfg.checkpoint_every):
                self.save_checkpoint(method, data, opt, sched)
            if lbfgs and k == 0:  # no progress possible (converged or line search failed): end the stage
                self.state.step += n_steps - self.state.step_in_stage
                self.state.step_in_stage = n_steps
            if self._out_of_time():  # a wall-clock budget (equal-time comparisons): end training here
                self.time_limited = True
                self.save_checkpoint(method, data, opt, sched)
                break
            if stop.requested:
                self.save_checkpoint(method, data, opt, sched)
                bar.close()
                raise Interrupted(
                    f"stopped at step {step} (stage {si}); checkpoint: {self._ckpt_path()}", self._ckpt_path()
                )
        bar.close()

    @staticmethod
    def _lbfgs_iters(opt) -> int:
        st = opt.state.get(opt.param_groups[0]["params"][0], {})
        return int(st.get("n_iter", 0))

    def _last_checkpoint_note(self) -> str:
        path = self._ckpt_path()
        if path is None or not path.exists():
            return "No checkpoint was written before it."
        return f"Last good checkpoint: {path}."

    def _guard(self, total: float, terms, si: int, stage: Stage) -> None:
        if not math.isfinite(total):
            raise TrainingDiverged(
                f"loss became {total} at stage {si} ({stage.optimizer}), step {self.state.step}; "
                f"terms: { {k: float(v) for k, v in terms.items()} }. Lower the learning rate, enable "
                f"clip_grad, or use dtype: float64. {self._last_checkpoint_note()}"
            )
        if self._first_loss is None:
            self._first_loss = total
        elif total > self.cfg.divergence_factor * max(abs(self._first_loss), 1e-30):  # energies may be negative
            raise TrainingDiverged(
                f"loss {total:.3e} at step {self.state.step} exceeds divergence_factor "
                f"{self.cfg.divergence_factor:g} × the first loss {self._first_loss:.3e}. "
                f"{self._last_checkpoint_note()}"
            )

    def _evaluate(self, method, data) -> dict[str, float]:
        return evaluation(method, data)

    def _log(self, rec: dict[str, Any]) -> None:
        self.history.append(rec)
        if self.run_dir is not None and self.rank == 0:
            self.run_dir.log_metrics(rec)
