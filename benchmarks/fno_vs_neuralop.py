"""Darcy FNO: sciml's FNO against neuraloperator 0.3.0's FNO on the same data, loss and loop.

Data: the small Darcy set shipped in the ``neuraloperator==0.3.0`` wheel
(``neuralop/datasets/data/``): ``darcy_train_16.pt`` (1000 samples, 16 x 16), ``darcy_test_16.pt``
and ``darcy_test_32.pt`` (50 samples each). ``x`` is a boolean phase mask (cast to float), ``y``
the pressure; a channel axis is added (last for sciml, second for neuralop).

Identical for both models:

- normalization: sciml's ``UnitGaussianNormalizer(reduce_dims="channel")`` (one mean/std per
  channel) fitted on the training x and y. Pointwise statistics are 16 x 16 maps and could not be
  applied to the 32 x 32 test set, so channel statistics are used for both (``--normalize none``
  turns it off). The model sees encoded x; its output is decoded with the y statistics before
  the loss, so the loss and every error are in physical units;
- loss: mean over the batch of the per-sample relative L2 error, sciml's
  ``operators.supervised.relative_l2`` on the decoded output (neuralop's own ``LpLoss`` sums over
  the batch instead; not used);
- optimizer Adam (lr ``--lr`` 1e-3, weight decay 1e-4), cosine learning-rate decay over the epochs
  (stepped once per epoch), batch size ``--batch-size`` 32, ``--epochs`` 30, the same shuffled
  batches (a generator seeded by (seed, epoch)), the same initial seed;
- architecture, matched so the parameter counts are equal: 4 Fourier layers of width ``--width``,
  a linear lift of (a, x, y) to the width, projection width -> ``--proj`` -> 1 with GELU, GELU
  between layers, no normalization layers. sciml: ``FNO(n_modes=(m, m), hidden_channels=w,
  projection_channels=p)`` (legacy modes: m frequencies of each sign on the first axis, m rfft
  frequencies on the last). neuralop 0.3.0: ``FNO(n_modes=(2m, 2m - 1), hidden_channels=w,
  lifting_channels=0, projection_channels=p, in_channels=3)``: neuralop counts *total* modes
  (centred on 0 on the first axis, ``n // 2 + 1`` rfft modes on the last), so (2m, 2m - 1) keeps
  exactly the legacy set of frequencies (-m..m-1) x (0..m-1) and the same number of spectral
  weights; ``lifting_channels=0`` makes its lift a single linear layer like sciml's. Both counts
  are printed (they agree exactly: neuralop's spectral bias and bias-free skip carry the same
  number of parameters as sciml's biased pointwise layer). What still differs is the
  implementation: weight initialisation (legacy uniform vs neuralop's normal), where the bias
  sits, how the kept modes are sliced, and the speed of each;
- ``--padding`` (fraction of each axis, zero padding on the right after the lift, cropped before
  the projection): sciml ``padding=f``, neuralop ``domain_padding=f`` one-sided; default 0.

Grid coordinates (``--grid``). The data grids contain x = 0 but not x = 1 (node k of n is at
k / n), so ``darcy_test_16`` is exactly ``darcy_test_32[:, ::2, ::2]``. neuralop 0.3.0 appends its
coordinates outside the model (``PositionalEmbedding2D`` in the data processor), built as
``linspace(0, 1, n + 1)[:-1]`` = k / n: the data's own convention, nested between 16 and 32.
sciml's FNO builds ``linspace(0, 1, n)`` = k / (n - 1) inside the model (ends included), which
stretches the grid by n / (n - 1) and by a different factor at 16 (16/15) and 32 (32/31), so
its zero-shot 32 x 32 input coordinates are slightly off the training ones.

- ``native`` (default): each library as a user gets it: sciml's built-in embedding (k / (n-1)),
  neuralop fed k / n channels per batch (what its 0.3.0 data processor does);
- ``exclusive``: both get k / n (sciml with ``positional_embedding=False`` and the channels
  appended per batch by this script);
- ``inclusive``: both get k / (n - 1).

Timing: seconds per epoch of training only (forward, loss, backward, optimizer step over all
batches; no evaluation), measured epoch by epoch with the two models trained *interleaved*
(sciml epoch 1, neuralop epoch 1, sciml epoch 2, ...) so that a burst of load from other
processes hits both; each model has its own batch generator, so interleaving changes no result.
``--threads`` sets ``torch.set_num_threads``.

Run from the repository root (needs ``pip install -e .[bench]``)::

    python benchmarks/fno_vs_neuralop.py --epochs 30 --seeds 0

Prints a markdown table and writes ``benchmarks/out/fno_vs_neuralop.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _provenance import provenance  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))  # `operators` is importable from the repository root

from operators.fno import FNO as ScimlFNO  # noqa: E402
from operators.supervised import relative_l2  # noqa: E402
from sciml.data.normalize import IdentityNormalizer, UnitGaussianNormalizer  # noqa: E402


# ---------------------------------------------------------------- data
def neuralop_data_dir() -> Path:
    spec = importlib.util.find_spec("neuralop")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("neuralop is not installed: pip install -e .[bench]  (neuraloperator==0.3.0)")
    d = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    if not (d / "darcy_train_16.pt").exists():
        raise SystemExit(f"{d} has no darcy_train_16.pt: the benchmark needs the neuraloperator==0.3.0 wheel")
    return d


def load_split(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) channels last: (N, n, n, 1) float32."""
    blob = torch.load(path, map_location="cpu")
    return blob["x"].to(torch.float32)[..., None], blob["y"].to(torch.float32)[..., None]


def coordinates(n: tuple[int, int], kind: str) -> torch.Tensor:
    """(1, n0, n1, 2) coordinates: ``exclusive`` k / n, ``inclusive`` k / (n - 1)."""
    axes = [torch.linspace(0.0, 1.0, k + 1)[:-1] if kind == "exclusive" else torch.linspace(0.0, 1.0, k) for k in n]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)[None]


# ---------------------------------------------------------------- models
class Runner:
    """A model with its layout: how a channels-last batch reaches it and how the loss is taken."""

    def __init__(
        self,
        name: str,
        model: torch.nn.Module,
        channels_first: bool,
        grid: str | None,
        y_norm,
        seed: int,
        lr: float,
        weight_decay: float,
        epochs: int,
    ):
        self.name, self.model, self.channels_first, self.grid, self.y_norm = name, model, channels_first, grid, y_norm
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=epochs)
        self.seed = seed
        self.epoch_times: list[float] = []
        self.train_loss: list[float] = []
        self.params = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
        self._grids: dict = {}

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last (B, n, n, C) data to this model's input layout (done once per split)."""
        return x.permute(0, 3, 1, 2).contiguous() if self.channels_first else x

    def _with_grid(self, x: torch.Tensor) -> torch.Tensor:
        if self.grid is None:
            return x
        space = tuple(x.shape[2:]) if self.channels_first else tuple(x.shape[1:-1])
        g = self._grids.get(space)
        if g is None:
            g = coordinates(space, self.grid).to(x)
            g = g.permute(0, 3, 1, 2).contiguous() if self.channels_first else g
            self._grids[space] = g
        dim = 1 if self.channels_first else -1
        return torch.cat([x, g.expand(x.shape[0], *g.shape[1:])], dim=dim)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        if isinstance(self.y_norm, IdentityNormalizer):
            return out
        if self.channels_first:
            shape = (-1,) + (1,) * (out.ndim - 2)
            return out * (self.y_norm.std.view(shape) + self.y_norm.eps) + self.y_norm.mean.view(shape)
        return self.y_norm.decode(out)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.model(self._with_grid(x)))

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, epoch: int) -> float:
        """One epoch over (x, y) in this model's layout; returns its wall time (s)."""
        self.model.train()
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        perm = torch.randperm(len(x), generator=g)
        total, n = 0.0, 0
        t0 = time.perf_counter()
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            loss = relative_l2(self.predict(x[idx]), y[idx]).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        self.sched.step()
        dt = time.perf_counter() - t0
        self.epoch_times.append(dt)
        self.train_loss.append(total / n)
        return dt

    @torch.no_grad()
    def test_error(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.model.eval()
        pred = torch.cat([self.predict(c) for c in x.split(50)])
        return float(relative_l2(pred, y).mean())


def build_models(args, seed: int, y_norm) -> list[Runner]:
    from neuralop.models import FNO as NeuralopFNO

    m, w, p = args.modes, args.width, args.proj
    sciml_grid = None if args.grid == "native" else args.grid
    nop_grid = "exclusive" if args.grid == "native" else args.grid
    torch.manual_seed(seed)
    sciml = ScimlFNO(
        1 if sciml_grid is None else 3,
        1,
        (m, m),
        hidden_channels=w,
        n_layers=args.layers,
        projection_channels=p,
        padding=float(args.padding) if args.padding else 0,
        positional_embedding=sciml_grid is None,
    )
    torch.manual_seed(seed)
    nop = NeuralopFNO(
        n_modes=(2 * m, 2 * m - 1),
        hidden_channels=w,
        in_channels=3,
        out_channels=1,
        lifting_channels=0,
        projection_channels=p,
        n_layers=args.layers,
        domain_padding=args.padding if args.padding else None,
        domain_padding_mode="one-sided",
    )
    common = dict(y_norm=y_norm, seed=seed, lr=args.lr, weight_decay=args.weight_decay, epochs=args.epochs)
    return [
        Runner("sciml FNO", sciml, False, sciml_grid, **common),
        Runner("neuralop 0.3.0 FNO", nop, True, nop_grid, **common),
    ]


# ---------------------------------------------------------------- driver
def run_seed(args, seed: int, data: dict) -> list[dict]:
    norm = {"channel": lambda: UnitGaussianNormalizer("channel"), "none": IdentityNormalizer}[args.normalize]
    x_norm, y_norm = norm().fit(data["train"][0]), norm().fit(data["train"][1])
    runners = build_models(args, seed, y_norm)
    split = {}
    for r in runners:  # each model's copy of the data in its own layout, x encoded, y in physical units
        split[r.name] = {k: (r.layout(x_norm.encode(x)), r.layout(y)) for k, (x, y) in data.items()}
    for epoch in range(args.epochs):
        line = [f"seed {seed} epoch {epoch + 1:3d}"]
        for r in runners:
            x, y = split[r.name]["train"]
            dt = r.train_epoch(x, y, args.batch_size, epoch)
            line.append(f"{r.name}: {dt:6.2f}s loss {r.train_loss[-1]:.4f}")
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            for r in runners:
                line.append(f"{r.name} test16 {r.test_error(*split[r.name]['test16']):.4f}")
        print(" | ".join(line), flush=True)
    rows = []
    for r in runners:
        times = np.asarray(r.epoch_times)
        rows.append(
            {
                "model": r.name,
                "seed": seed,
                "params": r.params,
                "grid": r.grid or "sciml built-in k/(n-1)",
                "s_per_epoch": float(times.mean()),
                "s_per_epoch_median": float(np.median(times)),
                "s_per_epoch_after_first": float(times[1:].mean()) if len(times) > 1 else float(times[0]),
                "train_wall_s": float(times.sum()),
                "final_train_loss": r.train_loss[-1],
                "test_rel_l2_16": r.test_error(*split[r.name]["test16"]),
                "test_rel_l2_32": r.test_error(*split[r.name]["test32"]),
                "epoch_times": times.tolist(),
                "train_loss": r.train_loss,
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| model | seed | params | s/epoch (median) | test rel L2 @16 | test rel L2 @32 (zero-shot) | "
        "time ratio sciml/neuralop |",
        "|---|---|---|---|---|---|---|",
    ]
    base = {r["seed"]: r for r in rows if r["model"].startswith("neuralop")}
    for r in rows:
        ratio = r["s_per_epoch"] / base[r["seed"]]["s_per_epoch"]
        lines.append(
            f"| {r['model']} | {r['seed']} | {r['params']:,} | {r['s_per_epoch']:.3f} "
            f"({r['s_per_epoch_median']:.3f}) | {r['test_rel_l2_16']:.4f} | {r['test_rel_l2_32']:.4f} | "
            f"{ratio:.2f} |"
        )
    if len({r["seed"] for r in rows}) > 1:
        for name in dict.fromkeys(r["model"] for r in rows):
            rs = [r for r in rows if r["model"] == name]
            mean = {k: np.mean([r[k] for r in rs]) for k in ("s_per_epoch", "test_rel_l2_16", "test_rel_l2_32")}
            std = {k: np.std([r[k] for r in rs]) for k in ("test_rel_l2_16", "test_rel_l2_32")}
            lines.append(
                f"| {name} | mean of {len(rs)} | {rs[0]['params']:,} | {mean['s_per_epoch']:.3f} | "
                f"{mean['test_rel_l2_16']:.4f} ± {std['test_rel_l2_16']:.4f} | "
                f"{mean['test_rel_l2_32']:.4f} ± {std['test_rel_l2_32']:.4f} | |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--modes", type=int, default=8, help="legacy modes m (neuralop gets n_modes=(2m, 2m-1))")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--proj", type=int, default=128, help="projection hidden width (both)")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--padding", type=float, default=0.0, help="domain padding fraction (both)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--normalize", choices=("channel", "none"), default="channel")
    ap.add_argument("--grid", choices=("native", "exclusive", "inclusive"), default="native")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=5, help="print test error every this many epochs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(OUT / "fno_vs_neuralop.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # neuralop 0.3.0 / tltorch index with lists (a torch deprecation warning on every forward pass)
    warnings.filterwarnings("ignore", message="Using a non-tuple sequence for multidimensional indexing")

    import neuralop

    d = neuralop_data_dir()
    data = {
        "train": load_split(d / "darcy_train_16.pt"),
        "test16": load_split(d / "darcy_test_16.pt"),
        "test32": load_split(d / "darcy_test_32.pt"),
    }
    data["train"] = tuple(t[: args.n_train] for t in data["train"])
    print(
        f"neuralop {getattr(neuralop, '__version__', '?')} data {d}: "
        + ", ".join(f"{k} x{tuple(v[0].shape)}" for k, v in data.items()),
        flush=True,
    )
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    rows = []
    for seed in args.seeds:
        rows += run_seed(args, seed, data)
    wall = time.perf_counter() - t0
    print()
    print(table(rows))
    blob = {
        "benchmark": "fno_vs_neuralop",
        "settings": vars(args)
        | {
            "torch": torch.__version__,
            "neuralop": getattr(neuralop, "__version__", "?"),
            "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "loadavg_start": load0,
            "loadavg_end": os.getloadavg()[0],
            "total_wall_s": wall,
        },
        "provenance": provenance(),
        "runs": rows,
        "table_markdown": table(rows),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(blob, indent=1))
    print(f"\nwrote {args.out} (total {wall:.0f} s)")


if __name__ == "__main__":
    main()
