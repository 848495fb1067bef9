"""A figure of CORAL's predictions on irregular meshes: for a few test samples of a finished CORAL
run (static, on meshes), the input channels, the prediction, the reference and the error, each
drawn on the sample's own triangles.

Run from the repository root, on a run of ``cases/coral_hole.yaml``::

    OMP_NUM_THREADS=1 sciml run cases/coral_hole.yaml
    python benchmarks/coral_figure.py runs/coral_hole/<time> docs/figures/coral_hole.png --samples 3

Samples are chosen as the run's report does (the median error first, then the worst, then spread
over the errors).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.getcwd())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=3)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.tri as mtri

    from sciml.run import load_run

    _, case, built = load_run(args.run_dir)
    fields = built.method.predict(built.data, n_samples=args.samples)
    names = ("f", "dist", "u", "u_ref", "u_error")
    titles = ("input f", "input: distance to the hole", "prediction u", "reference u", "error")
    fig, axes = plt.subplots(len(fields), len(names), figsize=(3.1 * len(names), 2.9 * len(fields)), squeeze=False)
    for row, (stem, field) in enumerate(fields):
        mesh = field.support
        tri = mtri.Triangulation(mesh.points[:, 0], mesh.points[:, 1], dict(mesh.cells)["triangle"])
        lim = np.abs(field.values[:, [field.names.index("u"), field.names.index("u_ref")]]).max()
        for col, name in enumerate(names):
            ax = axes[row, col]
            v = field.values[:, field.names.index(name)]
            kw = {"vmin": -lim, "vmax": lim} if name in ("u", "u_ref") else {}
            pc = ax.tripcolor(tri, v, shading="gouraud", cmap="RdBu_r" if name != "dist" else "viridis", **kw)
            fig.colorbar(pc, ax=ax, fraction=0.046, pad=0.03)
            ax.set_aspect("equal")
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=10)
            if col == 0:
                ax.set_ylabel(built.method.sample_labels.get(stem, stem), fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=72)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
