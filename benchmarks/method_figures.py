"""The figures of the method pages (docs/figures/*.png), each trained here from a case file.

- ``lpinn_convection.png``: LPINN on u_t + 30 u_x = 0 (``cases/convection_lpinn.yaml``): the learned
  characteristics X(x0, t) over the Eulerian solution, the solution mapped back to the grid, and
  its error against the exact solution.
- ``kinn_crack.png``: the mode-III crack in strong form (``cases/crack_pinn.yaml``), MLP and KAN at
  matched parameters (per subdomain 2×22 tanh vs KAN [2, 5, 5, 1], G = 10) and the same steps:
  solution and |error| maps.
- ``energy_plate.png``: the plate with a hole by the deep energy method (``cases/plate_energy.yaml``):
  von Mises stress of the network, of the P2 finite-element reference, and their difference.
- ``pinnacle_points.png``: Burgers with PINNACLE-K (``cases/burgers_pinnacle.yaml``): the selected
  points of each type after successive rounds.
- ``mppde_rollout.png``: MP-PDE on the combined equation E2 at nx = 50 (``cases/ce_mppde.yaml``,
  300 s of training × the scale at a constant learning rate, as in ``benchmarks/mppde.py``): a test rollout against the WENO5 reference in space-time, and on
  the mesh (``cases/heat_mesh_mppde.yaml``, the same budget) the last step of a heat rollout.

Run from the repository root (a few minutes on 1 core)::

    python benchmarks/method_figures.py [--steps-scale 1.0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.tri import Triangulation

ROOT = Path(__file__).resolve().parents[1]
FIGS = ROOT / "docs" / "figures"


def train(case_name: str, overrides: list[str], scale: float):
    from sciml import build, load_case
    from sciml.train import Trainer

    case = load_case(
        ROOT / "cases" / f"{case_name}.yaml", ["train.progress=false", "train.eval_every=1000000", *overrides]
    )
    for st in case.train.stages:
        st.steps = max(1, round(st.steps * scale))
    built = build(case)
    metrics = Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
    print(case_name, overrides, {k: round(v, 6) for k, v in metrics.items() if k.startswith("eval/")}, flush=True)
    return built, metrics


def lpinn_figure(scale: float) -> Path:
    built, metrics = train("convection_lpinn", [], scale)
    (_, sol), (_, lag) = built.method.predict()
    x, t = sol.support.axes()[0], sol.times
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax = fig.subplots(1, 3)
    for j in range(0, lag.values.shape[1], 16):  # every 16th label's characteristic, wrapped to [0, 2π)
        X = np.mod(lag["X"][:, j], 2 * np.pi)
        jumps = np.where(np.abs(np.diff(X)) > np.pi)[0] + 1
        for seg_t, seg_x in zip(np.split(t, jumps), np.split(X, jumps)):
            ax[0].plot(seg_x, seg_t, color="k", lw=0.6)
    ax[0].set(title="characteristics X(x0, t) (every 16th label)", xlabel="x", ylabel="t", xlim=(0, 2 * np.pi))
    for a, name, title, cmap in (
        (ax[1], "u", "LPINN u on the Eulerian grid", "RdBu_r"),
        (ax[2], "u_error", f"error (rel L2 {metrics['eval/rel_l2']:.1e})", "coolwarm"),
    ):
        im = a.pcolormesh(x, t, sol[name], cmap=cmap, shading="auto")
        a.set(title=title, xlabel="x", ylabel="t")
        fig.colorbar(im, ax=a)
    fig.suptitle("u_t + 30 u_x = 0, u0 = sin x (cases/convection_lpinn.yaml)")
    out = FIGS / "lpinn_convection.png"
    fig.savefig(out, dpi=90)
    return out


def crack_figure(scale: float) -> Path:
    models = {
        "MLP 2×22 tanh": "{type: mlp, width: 22, depth: 2, activation: tanh}",
        "KAN [2,5,5,1], G=10": "{type: kan, widths: [5, 5], grid_size: 10, spline_order: 3}",
    }
    over = [
        "data.n_interior=2048",
        "train.stages=[{optimizer: adam, lr: 1.0e-3, steps: 1000}, {optimizer: lbfgs, lr: 1.0, steps: 200}]",
    ]
    fig = Figure(figsize=(10, 8), layout="constrained")
    ax = fig.subplots(2, 2)
    for row, (label, model) in enumerate(models.items()):
        built, metrics = train("crack_pinn", [f"model={model}", *over], scale)
        ((_, sol),) = built.method.predict()
        x, y = sol.support.axes()
        for col, (name, cmap, title) in enumerate((("u", "RdBu_r", "u"), ("u_error", "magma", "|error|"))):
            v = np.abs(sol[name]) if name == "u_error" else sol[name]
            im = ax[row, col].pcolormesh(x, y, v.T, cmap=cmap, shading="auto")
            ax[row, col].plot([-1, 0], [0, 0], color="w" if col else "k", lw=2)
            ax[row, col].set(
                title=f"{label}: {title}" + (f" (rel L2 {metrics['eval/rel_l2']:.1e})" if col else ""), aspect="equal"
            )
            fig.colorbar(im, ax=ax[row, col])
    fig.suptitle("Mode-III crack, strong form, two subdomains (cases/crack_pinn.yaml, 1000 Adam + 200 L-BFGS)")
    out = FIGS / "kinn_crack.png"
    fig.savefig(out, dpi=80)
    return out


def plate_figure(scale: float) -> Path:
    built, metrics = train("plate_energy", [], scale)
    ((_, sol),) = built.method.predict()
    mesh = sol.support
    tri = Triangulation(mesh.points[:, 0], mesh.points[:, 1], mesh.cells_of_dim(2)[0][1])
    fig = Figure(figsize=(13, 3.9), layout="constrained")
    ax = fig.subplots(1, 3)
    vmax = float(np.nanmax(sol["von_mises_ref"]))
    for a, name, title in (
        (ax[0], "von_mises", "deep energy method (MLP 3×30)"),
        (ax[1], "von_mises_ref", "P2 finite elements"),
        (ax[2], "von_mises_error", f"difference (rel L2 {metrics['eval/rel_l2_von_mises']:.1e})"),
    ):
        kw = {"vmin": 0, "vmax": vmax} if name != "von_mises_error" else {"cmap": "coolwarm"}
        im = a.tripcolor(tri, sol[name], shading="gouraud", **kw)
        a.set(title=title, aspect="equal")
        fig.colorbar(im, ax=a)
    fig.suptitle(
        f"Plate with a hole, von Mises stress, T = 100 (cases/plate_energy.yaml); "
        f"displacement rel L2 {metrics['eval/rel_l2']:.1e}"
    )
    out = FIGS / "energy_plate.png"
    fig.savefig(out, dpi=90)
    return out


def pinnacle_figure(scale: float) -> Path:
    """Burgers with PINNACLE-K: the point sets after rounds 1, 2, 4 and 8, colored by type."""
    from sciml import build, load_case
    from sciml.train import Trainer

    case = load_case(ROOT / "cases" / "burgers_pinnacle.yaml", ["train.progress=false", "train.eval_every=1000000"])
    for st in case.train.stages:
        st.steps = max(1, round(st.steps * scale))
    built = build(case)
    data, snaps = built.data, {}
    sel = built.method.selection
    original = data.set_points

    def record(name, x):  # snapshot every type's points after each round
        original(name, x)
        snaps[sel.rounds + 1] = {k: v.copy() for k, v in data.points.items()}

    data.set_points = record
    snaps[0] = {k: v.copy() for k, v in data.points.items()}
    metrics = Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
    print("burgers_pinnacle", {k: round(v, 6) for k, v in metrics.items() if k.startswith("eval/")}, flush=True)
    rounds = [r for r in (0, 1, 2, 4, 8) if r in snaps]
    fig = Figure(figsize=(3.3 * len(rounds), 3.6), layout="constrained")
    ax = fig.subplots(1, len(rounds), squeeze=False)[0]
    colors = {"interior": "tab:blue", "initial": "tab:red", "boundary": "tab:green"}
    for a, r in zip(ax, rounds):
        for name, x in snaps[r].items():
            a.scatter(x[:, 1], x[:, 0], s=3, c=colors.get(name, "k"), label=f"{name} ({len(x)})")
        a.set(title="initial sets" if r == 0 else f"after round {r}", xlabel="t", ylabel="x", xlim=(-0.03, 1.0))
        a.legend(loc="lower right", fontsize=7, markerscale=2)
    fig.suptitle(
        f"PINNACLE-K on Burgers (cases/burgers_pinnacle.yaml): budget 500, 100 new points per round; "
        f"final rel L2 {metrics['eval/rel_l2']:.1e}"
    )
    out = FIGS / "pinnacle_points.png"
    fig.savefig(out, dpi=85)
    return out


def mppde_figure(scale: float) -> Path:
    """Space-time rollout of MP-PDE on E2 and the last step of a rollout on the unstructured mesh."""
    from sciml import build, load_case
    from sciml.train import Trainer

    budget = 300.0 * scale
    runs = {}
    for name in ("ce_mppde", "heat_mesh_mppde"):
        stage = "{optimizer: adamw, lr: 1.0e-3, weight_decay: 1.0e-8, epochs: 100000}"  # the time limit ends it
        case = load_case(
            ROOT / "cases" / f"{name}.yaml",
            [
                "train.progress=false",
                "train.eval_every=1000000",
                f"train.time_limit_s={budget}",
                f"train.stages=[{stage}]",
            ],
        )
        built = build(case)
        metrics = Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
        ev = built.method.evaluate(built.data)
        print(name, {k: round(v, 6) for k, v in ev.items()}, f"{metrics['steps']:.0f} steps", flush=True)
        runs[name] = (built.method.predict(built.data, n_samples=1)[0][1], ev, metrics)
    fig = Figure(figsize=(15, 7.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1)
    f, ev, m = runs["ce_mppde"]
    x, t = f.support.axes()[0], f.times
    ax = top.subplots(1, 3)
    lim = float(np.abs(f["u_ref"]).max())
    for a, key, title in zip(
        ax,
        ("u_ref", "u", "u_error"),
        ("WENO5 reference (200 cells → 50)", "MP-PDE rollout from steps 25–49", "difference"),
    ):
        im = a.pcolormesh(x, t, f[key], cmap="RdBu_r", vmin=-lim, vmax=lim, shading="nearest")
        a.axhline(t[50], color="k", lw=0.6, ls="--")
        a.set(title=title, xlabel="x", ylabel="t")
        top.colorbar(im, ax=a)
    top.suptitle(
        f"combined equation E2, nx = 50 (cases/ce_mppde.yaml, {m['train_time_s']:.0f} s of training, "
        f"{m['steps']:.0f} steps): accumulated error {ev['accumulated_error']:.3g}, rel L2 {ev['rel_l2']:.3f}"
    )
    f, ev, m = runs["heat_mesh_mppde"]
    tri = Triangulation(f.points()[:, 0], f.points()[:, 1], f.support.cells[0][1])
    ax = bottom.subplots(1, 3)
    vmax = float(f["u_ref"][-1].max())
    for a, key, title in zip(ax, ("u_ref", "u", "u_error"), ("finite elements", "MP-PDE rollout", "difference")):
        v = f[key][-1]
        im = a.tripcolor(
            tri,
            v,
            cmap="magma" if key != "u_error" else "RdBu_r",
            vmin=0 if key != "u_error" else -vmax / 4,
            vmax=vmax if key != "u_error" else vmax / 4,
            shading="gouraud",
        )
        a.set(title=f"{title}, t = {f.times[-1]:.2f}", aspect="equal")
        bottom.colorbar(im, ax=a)
    bottom.suptitle(
        f"heat on the plate-with-hole mesh (cases/heat_mesh_mppde.yaml, {m['train_time_s']:.0f} s, "
        f"{m['steps']:.0f} steps): rollout rel L2 {ev['rel_l2']:.3f}"
    )
    out = FIGS / "mppde_rollout.png"
    fig.savefig(out, dpi=80)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--only",
        nargs="+",
        choices=["lpinn", "crack", "plate", "pinnacle", "mppde"],
        default=["lpinn", "crack", "plate", "pinnacle", "mppde"],
    )
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply every stage's steps (quick look: 0.05)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    FIGS.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        figure = {
            "lpinn": lpinn_figure,
            "crack": crack_figure,
            "plate": plate_figure,
            "pinnacle": pinnacle_figure,
            "mppde": mppde_figure,
        }
        out = figure[name](args.steps_scale)
        print("wrote", out.relative_to(ROOT), flush=True)


if __name__ == "__main__":
    main()
