"""KAN: B-spline basis vs SciPy, layer shapes and derivatives, grid update, a 1D fit, PINN on Burgers."""

import copy
import time

import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline

import sciml.components  # noqa: F401  (fills the registries)
from pinns.kan import KAN, KANLayer, bspline_basis, build_kan, make_grid, uniform_bspline_basis
from sciml.problems.base import IOSpec
from sciml.registry import MODELS

f64 = torch.float64


def grid2(order, G=7):
    lo, hi = torch.tensor([-1.0, 0.5], dtype=f64), torch.tensor([1.0, 3.0], dtype=f64)
    return lo, hi, make_grid(lo, hi, G, order)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_basis_matches_scipy(order):
    G = 7
    lo, hi, grid = grid2(order, G)
    assert grid.shape == (2, G + 2 * order + 1)
    x = np.random.default_rng(order).uniform(lo.numpy(), hi.numpy(), size=(300, 2))
    x = np.vstack([x, lo.numpy(), hi.numpy()])  # the ends of the grid range too
    B = bspline_basis(torch.tensor(x), grid, order).numpy()
    assert B.shape == (302, 2, G + order)
    for i in range(2):
        ref = BSpline.design_matrix(x[:, i], grid[i].numpy(), order).toarray()
        assert np.abs(B[:, i] - ref).max() < 1e-6


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_basis_partition_of_unity_and_support(order):
    lo, hi, grid = grid2(order)
    x = lo + (hi - lo) * torch.rand(500, 2, dtype=f64)
    B = bspline_basis(torch.cat([x, lo[None]]), grid, order)
    assert (B >= 0).all()
    torch.testing.assert_close(B.sum(-1), torch.ones(501, 2, dtype=f64), rtol=0, atol=1e-12)
    # right end of the grid range: half-open intervals, continuous for order >= 1
    at_b = bspline_basis(hi[None], grid, order).sum(-1)
    assert torch.allclose(at_b, torch.full_like(at_b, 1.0 if order >= 1 else 0.0), atol=1e-12)
    # B_m vanishes outside [t_m, t_{m+k+1}); everything vanishes outside the extended knots
    wide = torch.linspace(-3, 5, 2001, dtype=f64)[:, None].repeat(1, 2)
    Bw = bspline_basis(wide, grid, order)
    for i in range(2):
        t = grid[i]
        for m in range(Bw.shape[-1]):
            outside = (wide[:, i] < t[m]) | (wide[:, i] >= t[m + order + 1])
            assert outside.any() and (Bw[outside, i, m] == 0).all()
            assert (Bw[~outside, i, m] > 0).any()


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_uniform_basis_equals_cox_de_boor(order):
    """The layers' local evaluation matches the recursion, in value and in first and second derivatives."""
    _, _, grid = grid2(order)
    x = torch.rand(400, 2, dtype=f64) * 7 - 2.5  # inside, outside and across the extended knots
    pts = torch.cat([x, grid.T]) if order >= 1 else x  # knots too where the basis is continuous
    torch.testing.assert_close(
        uniform_bspline_basis(pts, grid, order), bspline_basis(pts, grid, order), rtol=0, atol=1e-12
    )
    w = torch.randn(grid.shape[1] - order - 1, dtype=f64)
    derivs = []
    for fn in (bspline_basis, uniform_bspline_basis):
        xr = x.clone().requires_grad_(True)
        g = torch.autograd.grad((fn(xr, grid, order) * w).sum(), xr, create_graph=True)[0] if order else None
        gg = torch.autograd.grad(g.sum(), xr)[0] if order >= 2 else None
        derivs.append((g, gg))
    for a, b in zip(*derivs):
        if a is not None:
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-10, atol=1e-10)


def test_layer_params_shape_backward():
    layer = KANLayer(3, 4, grid_size=6, spline_order=3)
    assert sum(p.numel() for p in layer.parameters()) == 4 * 3 * (6 + 3 + 2)
    assert layer.spline_coef.shape == (4, 3, 9) and layer.grid.shape == (3, 6 + 7)
    x = torch.rand(5, 7, 3) * 2 - 1
    y = layer(x)
    assert y.shape == (5, 7, 4)
    y.square().sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def u_xx(layer, x):
    x = x.clone().requires_grad_(True)
    g = torch.autograd.grad(layer(x)[:, 0].sum(), x, create_graph=True)[0]
    return torch.autograd.grad(g[:, 0].sum(), x)[0][:, 0]


@pytest.mark.parametrize("order", [2, 3])
def test_second_derivative_autograd(order):
    layer = KANLayer(2, 3, grid_size=5, spline_order=order).to(f64)
    with torch.no_grad():
        layer.spline_coef.normal_()  # make the spline path dominate
    x = torch.rand(200, 2, dtype=f64) * 2 - 1
    h = 1e-5
    e = torch.tensor([h, 0.0], dtype=f64)
    with torch.no_grad():
        fd = (layer(x + e)[:, 0] - 2 * layer(x)[:, 0] + layer(x - e)[:, 0]) / h**2
    ad = u_xx(layer, x)
    assert torch.isfinite(ad).all()
    scale = ad.abs().max()
    assert (ad - fd).abs().max() < 1e-3 * scale
    # continuity across the interior knots: C² for cubic, a jump in u_xx for quadratic
    knots = layer.grid[0, 1:-1]
    y = torch.full_like(knots, 0.3)
    jump = (u_xx(layer, torch.stack([knots + 1e-9, y], 1)) - u_xx(layer, torch.stack([knots - 1e-9, y], 1))).abs().max()
    if order == 3:
        assert jump < 1e-5 * scale
    else:
        assert jump > 1e-2 * scale


def rel_change(model, x, **kw):
    before = model(x).detach()
    model.update_grid(x, **kw)
    return ((model(x).detach() - before).norm() / before.norm()).item()


def test_update_grid_keeps_outputs_and_covers_data():
    torch.manual_seed(1)
    layer = KANLayer(2, 3, grid_size=5, spline_order=3)
    with torch.no_grad():  # a smooth, non-trivial spline on every edge
        centres = torch.linspace(-1.6, 1.6, 8)
        layer.spline_coef.copy_(torch.sin(centres + torch.randn(3, 2, 1)))
    # data partly outside the initial grid range [-1, 1]
    x = torch.stack([torch.rand(1000) * 2.0 - 1.2, torch.rand(1000) * 1.2 - 0.2], 1)
    old_grid = layer.grid.clone()
    assert rel_change(layer, x) < 1e-3
    k, G = 3, 5
    assert not torch.allclose(layer.grid, old_grid)
    assert (layer.grid[:, k] <= x.min(0).values).all() and (layer.grid[:, k + G] >= x.max(0).values).all()
    assert (layer.grid[:, k] > x.min(0).values - 0.05).all() and (layer.grid[:, k + G] < x.max(0).values + 0.05).all()
    # grid extension: twice as fine on the same range, nested spline spaces, so the fit is exact
    assert rel_change(layer, x, grid_size=10) < 1e-5
    assert layer.spline_coef.shape == (3, 2, 13) and layer.grid.shape == (2, 17)


def test_kan_update_grid_and_normalization():
    model = KAN(2, 1, widths=(4, 4), grid_size=5, input_bounds=[[0.0, 10.0], [-5.0, 5.0]])
    x = torch.rand(400, 2) * torch.tensor([10.0, 10.0]) - torch.tensor([0.0, 5.0])
    h = model.normalize(x)
    assert h.min() >= -1 - 1e-6 and h.max() <= 1 + 1e-6
    before = model(x).detach()
    model.update_grid(x)
    assert ((model(x).detach() - before).norm() / before.norm()) < 1e-3
    seen = []
    for squash in (False, True):
        m = KAN(1, 1, widths=(3,), normalize_hidden=squash)
        with torch.no_grad():
            m.layers[0].base_weight.fill_(3.0)
        m.layers[1].register_forward_pre_hook(lambda mod, args: seen.append(args[0].abs().max().item()))
        m(torch.linspace(-1, 1, 50, dtype=torch.float32)[:, None])
    assert seen[0] > 1.2 and seen[1] < 1.0  # hidden values leave the grid range unless squashed
    with pytest.raises(ValueError, match="input_bounds"):
        KAN(2, 1, input_bounds=[[0.0, 1.0]])


def test_kan_fits_sin():
    torch.manual_seed(0)
    model = KAN(1, 1, widths=(4,), grid_size=10)
    x = torch.linspace(-1, 1, 200)[:, None]
    y = torch.sin(3 * x)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: intra-op threads only add overhead, badly so on a busy machine
    t0 = time.perf_counter()
    try:
        for _ in range(300):
            opt.zero_grad()
            loss = (model(x) - y).square().mean()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    mse = (model(x) - y).square().mean().item()
    print(f"sin(3x) fit: mse={mse:.2e} in {time.perf_counter() - t0:.2f}s")
    assert mse < 1e-3
    # a trained network: same grid size, then grid extension to G = 20 (finer spline space)
    same = rel_change(copy.deepcopy(model), x)
    finer = rel_change(copy.deepcopy(model), x, grid_size=20)
    print(f"update_grid on the trained KAN: relative output change {same:.1e} (G=10), {finer:.1e} (G=20)")
    assert same < 1e-2 and finer < 1e-3


def test_builder_and_pinn_on_burgers():
    io = IOSpec(("x", "t"), ("u",), 2)
    model = MODELS.build("kan", {"widths": [3], "grid_size": 4, "input_bounds": [[-1, 1], [0, 1]]}, io=io)
    assert isinstance(model, KAN) and model(torch.rand(6, 2)).shape == (6, 1)
    assert MODELS.get("kan") is build_kan
    assert sum(p.numel() for p in model.parameters()) == (2 * 3 + 3 * 1) * (4 + 3 + 2)

    from sciml.config import CaseError, validate
    from sciml.run import build
    from sciml.train import Trainer

    raw = {
        "name": "kan_tiny",
        "seed": 0,
        "dtype": "float64",
        "problem": {"type": "burgers1d", "params": {"nu": 0.05}, "n_x": 32, "n_t": 8},
        "data": {"type": "collocation", "n_interior": 64, "n_boundary": 8, "n_initial": 16, "sampler": "pseudo"},
        "model": {"type": "kan", "widths": [4], "grid_size": 4, "input_bounds": [[-1.0, 1.0], [0.0, 0.99]]},
        "method": {"type": "pinn"},
        "train": {
            "stages": [{"optimizer": "adam", "lr": 1.0e-2, "steps": 2}],
            "eval_every": 2,
            "checkpoint_every": 2,
            "log_every": 1,
            "progress": False,
        },
    }
    case = validate(raw)
    built = build(case)
    assert isinstance(built.model, KAN) and not built.method.use_jet
    p0 = torch.cat([p.detach().flatten() for p in built.method.parameters()]).double()
    metrics = Trainer(case.train, seed=case.seed, dtype=case.dtype).fit(built.method, built.data)
    p1 = torch.cat([p.detach().flatten() for p in built.method.parameters()])
    assert not torch.equal(p0, p1) and all(np.isfinite(v) for v in metrics.values())
    bad = dict(raw, model={"type": "kan", "widths": 5})
    with pytest.raises(CaseError, match="widths"):
        validate(bad)


def test_grid_updates_act_in_their_phases_and_resume_exactly(tmp_path):
    """``grid_update: {every: 2, phases: [fit]}``: the knots follow the collocation points every 2
    steps of the ``fit`` stage and stay put in ``refine``; an interrupted run resumes to the same
    knots, weights and update count; bad options are one line."""
    from sciml.config import CaseError, validate
    from sciml.output import RunDir
    from sciml.run import build
    from sciml.train import Interrupted, Trainer

    raw = {
        "name": "kan_grid",
        "dtype": "float64",
        "problem": {"type": "burgers1d", "params": {"nu": 0.05}, "n_x": 16, "n_t": 4},
        "data": {"type": "collocation", "n_interior": 48, "n_boundary": 8, "n_initial": 12, "resample_every": 1},
        "model": {"type": "kan", "widths": [3], "grid_size": 4, "input_bounds": [[-1.0, 1.0], [0.0, 0.99]]},
        "method": {"type": "pinn", "grid_update": {"every": 2, "phases": ["fit"]}},
        "train": {
            "stages": [
                {"optimizer": "adam", "lr": 1.0e-2, "steps": 6, "phase": "fit"},
                {"optimizer": "adam", "lr": 1.0e-2, "steps": 4, "phase": "refine"},
            ],
            "checkpoint_every": 100,
            "eval_every": 100,
            "progress": False,
        },
    }

    def run(case, run_dir=None, stop_at=None, resume=None):
        built = build(case)
        if stop_at:  # SIGINT from the data's hook: the Trainer checkpoints and stops (as Ctrl-C would)
            import os
            import signal

            after = built.data.after_step

            def hook(state):
                after(state)
                if state.step == stop_at:
                    os.kill(os.getpid(), signal.SIGINT)

            built.data.after_step = hook
        Trainer(case.train, run_dir, case.seed, case.dtype).fit(built.method, built.data, resume=resume)
        return built.method

    knots0 = {k: v.clone() for k, v in build(validate(raw)).method.state_dict().items() if "grid" in k}
    assert knots0  # the KAN's knot buffers
    ref = run(validate(raw))
    assert ref.grid_update.count == 3  # steps 2, 4, 6 of the fit stage; none in refine
    assert any(not torch.equal(ref.state_dict()[k], v) for k, v in knots0.items())
    run_dir = RunDir.create(tmp_path / "runs", "kan_grid")
    with pytest.raises(Interrupted):
        run(validate(raw), run_dir, stop_at=3)
    resumed = run(validate(raw), run_dir, resume=run_dir.checkpoints / "last.pt")
    assert resumed.grid_update.count == 3
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in resumed.state_dict().items() if torch.is_tensor(v))
    for method, message in (
        ({"type": "pinn", "grid_update": {"every": 0}}, "grid_update.every must be an integer >= 1"),
        ({"type": "pinn", "grid_update": {"every": 2, "phases": ["nope"]}}, "no stage has phase 'nope'"),
        ({"type": "pinn", "grid_update": {"every": 2, "phases": []}}, "non-empty list of phase names"),
    ):
        with pytest.raises((CaseError, ValueError), match=message):
            run(validate(dict(raw, method=method)))
    with pytest.raises(ValueError, match="moves a KAN's knots; the model is a MLP"):
        build(validate(dict(raw, model={"type": "mlp", "width": 4, "depth": 1})))
