"""Small command-line and output details users noticed (issue 13 §8): compare columns, progress bar
on a log, stage boundaries on the loss plot, `sciml list` descriptions."""

import io
import sys
from pathlib import Path

import pytest

from sciml import build
from sciml.cli import main
from sciml.config import load_case
from sciml.output import RunDir
from sciml.train import Trainer

ROOT = Path(__file__).resolve().parents[2]


def _fake_run(root, overrides, metrics):
    """A finished run directory (saved case and summary) without training."""
    case = load_case(str(ROOT / "cases" / "burgers_pinn.yaml"), overrides)
    run_dir = RunDir.create(root, case.name)
    run_dir.save_case(case.to_dict())
    run_dir.save_summary({"case": case.name, "metrics": metrics})
    return run_dir.path


def test_compare_shows_problem_model_method_and_stages(tmp_path, capsys):
    mlp = _fake_run(tmp_path / "a", [], {"eval/rel_l2": 0.0375})
    kan = _fake_run(
        tmp_path / "b",
        ["model={type: kan, widths: [10, 10], grid_size: 5}", "train.stages.1.steps=700"],
        {"eval/rel_l2": 0.05},
    )
    assert main(["compare", str(mlp), str(kan)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:5] == ["run", "problem", "model", "method", "stages"] and "eval/rel_l2" in header
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]}
    assert rows[str(mlp)][1:5] == ["burgers1d", "mlp width=20 depth=3", "pinn", "adam 5000 + lbfgs 1500"]
    assert rows[str(kan)][1:5] == ["burgers1d", "kan widths=10x10 grid_size=5", "pinn", "adam 5000 + lbfgs 700"]
    assert rows[str(mlp)][5] == "0.0375"


def test_compare_shows_named_networks(tmp_path, capsys):
    """A run with named networks (LPINN's position and state) shows each, by name."""
    case = load_case(
        str(ROOT / "cases" / "convection_lpinn.yaml"),
        ["model={position: {type: mlp, width: 16, depth: 2}, state: {type: kan, widths: [8]}}"],
    )
    run_dir = RunDir.create(tmp_path, case.name)
    run_dir.save_case(case.to_dict())
    run_dir.save_summary({"case": case.name, "metrics": {"eval/rel_l2": 0.5}})
    assert main(["compare", str(run_dir.path)]) == 0
    row = [c.strip() for c in capsys.readouterr().out.splitlines()[2].strip("|").split("|")]
    assert row[2] == "position: mlp width=16 depth=2; state: kan widths=8"


TINY = """\
name: tiny
seed: 1
problem: {type: burgers1d, params: {nu: 0.05}, n_x: 16, n_t: 4}
data: {type: collocation, n_interior: 32, n_boundary: 8, n_initial: 8}
model: {type: mlp, width: 4, depth: 1}
method: {type: pinn}
train:
  stages:
    - {optimizer: adam, lr: 1.0e-2, steps: 30}
    - {optimizer: adam, lr: 1.0e-3, steps: 20}
  eval_every: 1000
  checkpoint_every: 1000
  log_every: 10
  progress: true
"""


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize("tty", [False, True])
def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch, tty):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    case = load_case(p)
    built = build(case)
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    Trainer(case.train, None, case.seed, case.dtype, case.device).fit(built.method, built.data)
    text = stream.getvalue()
    if tty:
        assert "stage 0 adam" in text and "stage 1 adam" in text  # the bar on a terminal
    else:
        assert text == ""  # nothing flooding a log file


def test_loss_plot_marks_where_each_stage_begins(tmp_path):
    from sciml.plots import loss_figure, plot_losses, stage_boundaries

    recs = [{"step": s, "stage": 0, "loss": 1.0 / s} for s in (10, 20, 30)]
    recs += [{"step": 30, "stage": 0, "eval/rel_l2": 0.5, "eval/n_points": 4096}]
    recs += [{"step": s, "stage": 1, "loss": 0.5 / s} for s in (40, 50)]
    recs += [{"step": s, "stage": 2, "loss": 0.1 / s} for s in (60, 70)]
    assert stage_boundaries(recs) == [(1, 30.0), (2, 50.0)]
    fig = loss_figure(recs)
    for ax in fig.axes:  # the loss and the eval panel
        vlines = [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("stage_")]
        assert sorted(float(ln.get_xdata()[0]) for ln in vlines) == [30.0, 50.0]
        assert all(ln.get_xdata()[0] == ln.get_xdata()[1] for ln in vlines)  # vertical
    eval_curves = [ln.get_label() for ln in fig.axes[1].get_lines() if not ln.get_gid()]
    assert "eval/rel_l2" in eval_curves and "eval/n_points" not in eval_curves  # a count is not plotted
    one_stage = loss_figure(recs[:3])
    assert not [ln for ln in one_stage.axes[0].get_lines() if ln.get_gid()]
    assert plot_losses(recs, tmp_path / "losses.png").stat().st_size > 0


def test_list_descriptions_are_whole_sentences_wrapped(capsys, monkeypatch):
    import sciml.components  # noqa: F401
    from sciml.registry import ALL, Registry

    for kind, reg in ALL.items():
        for name in reg.names():
            text = reg.describe(name)
            assert text and text.endswith((".", "!", "?")) and "\n" not in text, (kind, name, text)
    assert ALL["data"].describe("trajectories").endswith("(curriculum: at most the epoch number).")
    reg = Registry("thing")

    @reg.register("a")
    def a():
        """One sentence (Lau et al. 2024) that goes
        on over a line break. A second sentence.

        Details."""

    @reg.register("b")
    def b():
        """No stop at all"""

    assert reg.describe("a") == "One sentence (Lau et al. 2024) that goes on over a line break."
    assert reg.describe("b") == "No stop at all"
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["list", "data"]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 80
    assert "(curriculum: at most the epoch number)." in " ".join(out.split())


def test_saved_figures_keep_colour_bar_labels(tmp_path):
    """A colour bar at the figure's edge with long tick labels: the PNG grows to hold them."""
    import matplotlib.image
    import numpy as np
    from matplotlib.figure import Figure

    from sciml.plots import DPI, _save

    fig = Figure(figsize=(3, 2))
    ax = fig.add_axes([0.1, 0.1, 0.7, 0.8])
    im = ax.imshow(np.linspace(-1.2345678e-7, 2.3456789e-7, 12).reshape(3, 4))
    cb = fig.colorbar(im, cax=fig.add_axes([0.88, 0.1, 0.05, 0.8]))
    cb.set_label("von Mises stress (Pa)")
    cb.formatter.set_useOffset(False)
    labels = [t.get_window_extent() for t in cb.ax.get_yticklabels() if t.get_text()]
    assert max(b.x1 for b in labels) > fig.bbox.width  # past the figure's right edge
    height, width = matplotlib.image.imread(_save(fig, tmp_path / "cb.png")).shape[:2]
    assert width > 3 * DPI  # the saved image is wider than the figure: nothing cut off
    assert width >= fig.get_tightbbox().width * DPI - 2


def test_a_network_of_the_wrong_size_is_named_against_the_problem():
    import numpy as np
    import torch

    import sciml.components  # noqa: F401
    from pinns import PINN
    from pinns.kan import KAN
    from sciml.nn import MLP, SubdomainNet, check_model_fits
    from sciml.problems.burgers import burgers1d

    problem = burgers1d(params={"nu": 0.01 / np.pi})
    with pytest.raises(ValueError, match=r"^model expects 3 inputs but problem burgers1d has 2 \(x, t\)"):
        PINN(problem, MLP(3, 1, width=4, depth=1))
    with pytest.raises(ValueError, match=r"^model gives 2 outputs but problem burgers1d has 1 \(u\)"):
        PINN(problem, MLP(2, 2, width=4, depth=1))
    with pytest.raises(ValueError, match="model expects 1 input but problem burgers1d has 2"):
        check_model_fits(KAN(1, 1, widths=[4]), problem)
    nets = SubdomainNet({"a": MLP(3, 1, width=4, depth=1)}, {"a": lambda x: x[:, 0] > 0})
    with pytest.raises(ValueError, match="model expects 3 inputs"):
        check_model_fits(nets, problem)
    PINN(problem, MLP(2, 1, width=4, depth=1))  # the right size
    with pytest.raises(ValueError, match="model expects 3 inputs"):
        check_model_fits(torch.nn.Linear(3, 1), problem)  # torch's own layers state their sizes
    check_model_fits(torch.nn.Tanh(), problem)  # unknown sizes: not checked


def test_list_one_component_shows_its_options_from_the_validators_signature(capsys):
    from sciml.config import CONTEXT_ARGS
    from sciml.registry import ALL

    for kind, name in (("models", "mlp"), ("methods", "pinn"), ("data", "hdf5"), ("problems", "burgers1d")):
        assert main(["list", kind, name]) == 0
        out = capsys.readouterr().out
        reg = ALL[kind]
        opts = [k for k in reg.options(name) if k not in CONTEXT_ARGS]
        assert opts and all(f"\n  {k} " in out for k in opts), (kind, name, out)
    assert main(["list", "models", "mlp"]) == 0
    out = capsys.readouterr().out
    assert "  width = 64\n      hidden width" in out and "Multilayer perceptron" in out
    assert main(["list", "models", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model 'nope'" in err and "mlp" in err
