"""Tests for MgNO (multigrid neural operator) and the relative H1 loss."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from operators.losses import finite_difference_gradient, relative_h1
from operators.mgno import DARCY_ITERATIONS, MgConv, MgNO, _Prolongation, check_iterations, mgno_param_count
from sciml.problems.base import IOSpec
from sciml.registry import MODELS

SMALL = ((1, 0), (1, 0), (2, 0))  # 3 levels: sizes divisible by 4


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------ MgNO: size


def test_darcy_config_has_the_published_parameter_count():
    # He, Liu, Xu (ICLR 2024), Darcy: 24 channels, 4 layers, 6 levels [[1,0]]*5 + [[2,0]] -> 572,661.
    # Per V-cycle C_f -> C_u with 7 smoothing steps in all, level 0's one being the init S0:
    #   S0 9 C_f C_u + 6 x (A, S) 18 C_f C_u + 5 x (R 9 C_f^2 + Pi 9 C_u^2 + R^T 16 C_u^2)
    #   layer 1 (C_f = 1):     216 + 2,592 + 5 x (9 + 5,184 + 9,216) = 74,853, + W 1->24 with bias 48
    #   layers 2-4 (C_f = 24): 576 x (9 + 108 + 5 x 34) = 165,312, + W 24->24 with bias 600
    #   head 24 -> 1 without bias: 24
    #   74,901 + 3 x 165,912 + 24 = 572,661
    model = MgNO(1, 1, hidden_channels=24, n_layers=4, iterations=[[1, 0]] * 5 + [[2, 0]])
    assert _n_params(model) == 572_661
    assert mgno_param_count(1, 1, 24, 4, DARCY_ITERATIONS) == 572_661
    assert _n_params(MgNO(1, 1)) == 572_661  # the defaults are the Darcy configuration


@pytest.mark.parametrize("iterations", [[[1, 0]], [[2, 1], [0, 2]], [[1, 1], [1, 0], [0, 0], [3, 2]]])
@pytest.mark.parametrize("embed", [False, True])
def test_param_count_formula(iterations, embed):
    model = MgNO(3, 2, hidden_channels=5, n_layers=3, iterations=iterations, positional_embedding=embed)
    assert _n_params(model) == mgno_param_count(3, 2, 5, 3, iterations, positional_embedding=embed)


# ---------------------------------------------------------------- MgNO: shapes


@pytest.mark.parametrize("n", [32, 64])
def test_forward_is_channels_last_at_any_multiple_of_the_divisor(n):
    model = MgNO(2, 3, hidden_channels=6, n_layers=2)  # 6 levels: sizes divisible by 32
    assert model.divisor == 32
    out = model(torch.randn(2, n, n, 2))
    assert out.shape == (2, n, n, 3)
    out.square().mean().backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unused, f"parameters without gradient: {unused}"


def test_rectangular_grid():
    model = MgNO(1, 1, hidden_channels=4, n_layers=1, iterations=SMALL)
    assert model(torch.randn(1, 12, 20, 1)).shape == (1, 12, 20, 1)


@pytest.mark.parametrize("shape", [(33, 33), (48, 40), (64, 48), (16, 16)])
def test_grid_not_divisible_is_a_clear_error(shape):
    model = MgNO(1, 1, hidden_channels=4, n_layers=1)
    with pytest.raises(ValueError, match=rf"divisible by 2\*\*5 = 32; got a {shape[0]}x{shape[1]} grid"):
        model(torch.randn(1, *shape, 1))


def test_wrong_input_layout_is_a_clear_error():
    model = MgNO(2, 1, hidden_channels=4, n_layers=1, iterations=SMALL)
    with pytest.raises(ValueError, match="channels last"):
        model(torch.randn(1, 2, 8, 8))  # channels first
    with pytest.raises(ValueError, match="channels last"):
        model(torch.randn(8, 8, 2))  # no batch axis


# ----------------------------------------------------------- MgNO: the V-cycle


def test_mgconv_is_linear_in_f():
    cycle = MgConv(2, 3, [[1, 1], [1, 1], [2, 1]]).double()
    f1, f2 = torch.randn(2, 2, 2, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(cycle(2.0 * f1 - 3.0 * f2), 2.0 * cycle(f1) - 3.0 * cycle(f2))


def test_mgconv_matches_a_hand_written_two_level_cycle():
    cycle = MgConv(2, 3, [[2, 1], [1, 2]]).double()
    f0 = torch.randn(1, 2, 8, 8, dtype=torch.float64)

    def conv(m, x, stride=1):
        return F.conv2d(x, m.weight, stride=stride, padding=1)

    def smooth(step, u, f):
        return u + conv(step.S, f - conv(step.A, u))

    u0 = conv(cycle.init, f0)  # level 0: init = first pre step
    u0 = smooth(cycle.pre[0][0], u0, f0)  # second pre step
    f1, u1 = conv(cycle.restrict_f[0], f0, 2), conv(cycle.restrict_u[0], u0, 2)
    u1 = smooth(cycle.pre[1][0], u1, f1)
    u1 = smooth(cycle.post[1][1], smooth(cycle.post[1][0], u1, f1), f1)  # coarsest post steps
    u0 = u0 + F.conv_transpose2d(u1, cycle.prolong[0].weight, stride=2, padding=1)
    u0 = smooth(cycle.post[0][0], u0, f0)
    torch.testing.assert_close(cycle(f0), u0)
    assert [len(s) for s in cycle.pre] == [1, 1] and [len(s) for s in cycle.post] == [1, 2]


def test_prolongation_padding_modes():
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    zeros = _Prolongation(3, "zeros").double()
    plain = F.conv_transpose2d(x, zeros.weight, stride=2, padding=1)
    torch.testing.assert_close(zeros(x), plain)
    # circular = the transposed convolution of the periodically tiled input, centre tile
    circ = _Prolongation(3, "circular").double()
    circ.load_state_dict(zeros.state_dict())
    tiled = F.conv_transpose2d(x.repeat(1, 1, 3, 3), circ.weight, stride=2, padding=1)
    torch.testing.assert_close(circ(x), tiled[..., 10:20, 12:24])
    # they agree away from the border
    torch.testing.assert_close(circ(x)[..., 2:-2, 2:-2], plain[..., 2:-2, 2:-2])


# ------------------------------------------------------- MgNO: boundary modes


def test_padding_modes_change_the_output_near_the_boundary_only():
    # 2 levels, 1 layer: a receptive field of a few cells, much smaller than the 48x48 grid
    zeros = MgNO(1, 2, hidden_channels=4, n_layers=1, iterations=[[1, 0], [1, 0]]).double()
    x = torch.randn(2, 48, 48, 1, dtype=torch.float64)
    outs = {}
    for mode in ("zeros", "circular", "reflect"):
        model = MgNO(1, 2, hidden_channels=4, n_layers=1, iterations=[[1, 0], [1, 0]], padding_mode=mode).double()
        model.load_state_dict(zeros.state_dict())
        outs[mode] = model(x).detach()
    for mode in ("circular", "reflect"):
        torch.testing.assert_close(outs[mode][:, 12:-12, 12:-12], outs["zeros"][:, 12:-12, 12:-12])
        for border in (outs[mode][:, 0] - outs["zeros"][:, 0], outs[mode][:, :, -1] - outs["zeros"][:, :, -1]):
            assert border.abs().max() > 1e-3


@pytest.mark.parametrize("iterations, n", [(SMALL, 16), (DARCY_ITERATIONS, 64)])
def test_circular_padding_makes_the_model_translation_equivariant(iterations, n):
    model = MgNO(2, 1, hidden_channels=4, n_layers=2, iterations=iterations, padding_mode="circular").double()
    x = torch.randn(1, n, n, 2, dtype=torch.float64)
    d = model.divisor  # shifts aligned with the coarsest grid
    y = model(x)
    for shift in [(d, 0), (0, 2 * d), (d, n - d)]:
        torch.testing.assert_close(model(torch.roll(x, shift, dims=(1, 2))), torch.roll(y, shift, dims=(1, 2)))
    zeros = MgNO(2, 1, hidden_channels=4, n_layers=2, iterations=iterations).double()
    zeros.load_state_dict(model.state_dict())
    rolled = zeros(torch.roll(x, (d, 0), dims=(1, 2)))
    assert not torch.allclose(rolled, torch.roll(zeros(x), (d, 0), dims=(1, 2)))


def test_reflect_needs_a_coarsest_grid_of_two():
    model = MgNO(1, 1, hidden_channels=4, n_layers=1, iterations=SMALL, padding_mode="reflect")
    assert model(torch.randn(1, 8, 12, 1)).shape == (1, 8, 12, 1)
    with pytest.raises(ValueError, match="reflect"):
        model(torch.randn(1, 4, 8, 1))  # coarsest 1x2


# -------------------------------------------------------------- MgNO: training


def test_a_few_adam_steps_reduce_the_loss():
    model = MgNO(1, 1, hidden_channels=8, n_layers=2, iterations=SMALL)
    x = torch.randn(4, 16, 16, 1)
    y = torch.roll(x, 1, dims=1) - 0.5 * x + 0.3  # a local linear operator plus a constant
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss():
        return (model(x) - y).square().mean()

    with torch.no_grad():
        first = float(loss())
    for _ in range(30):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with torch.no_grad():
        assert float(loss()) < 0.5 * first


# ------------------------------------------------------- MgNO: builder, options


def test_registered_builder():
    io = IOSpec(inputs=("a", "b"), outputs=("u",), ndim=2)
    model = MODELS.build(
        "mgno", {"hidden_channels": 4, "n_layers": 2, "iterations": [[1, 0], [1, 1]], "padding_mode": "circular"}, io=io
    )
    assert isinstance(model, MgNO) and model.padding_mode == "circular"
    assert model(torch.randn(1, 8, 8, 2)).shape == (1, 8, 8, 1)
    assert _n_params(MODELS.build("mgno", {}, io=IOSpec(("a",), ("u",), 2))) == 572_661
    with pytest.raises(ValueError, match="2D"):
        MODELS.build("mgno", {}, io=IOSpec(("a",), ("u",), 1))


@pytest.mark.parametrize(
    "iterations, match",
    [
        ([], "non-empty"),
        ("1,0", "non-empty"),
        ([[1]], r"iterations\[0\]"),
        ([[1, 0], [1, -1]], r"iterations\[1\]"),
        ([[1, 0], [1.0, 0]], r"iterations\[1\]"),
        ([[1, True]], r"iterations\[0\]"),
        ([[0, 1], [1, 0]], "initialization"),
    ],
)
def test_bad_iterations(iterations, match):
    with pytest.raises(ValueError, match=match):
        check_iterations(iterations)
    with pytest.raises(ValueError, match=match):
        MgNO(1, 1, iterations=iterations)


def test_bad_options():
    with pytest.raises(ValueError, match="padding_mode"):
        MgNO(1, 1, padding_mode="replicate")
    with pytest.raises(ValueError, match="hidden_channels"):
        MgNO(1, 1, hidden_channels=0)
    with pytest.raises(ValueError, match="n_layers"):
        MgNO(1, 1, n_layers=0)
    with pytest.raises(ValueError, match="activation"):
        MgNO(1, 1, activation="swish")


# ------------------------------------------------------------ relative H1 loss


def _grid(n: int, periodic: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float64) / n if periodic else torch.linspace(0, 1, n, dtype=torch.float64)
    return torch.meshgrid(x, x, indexing="ij")


def _field(v: torch.Tensor) -> torch.Tensor:
    return v[None, ..., None]


def test_h1_is_zero_for_a_perfect_prediction():
    true = torch.randn(3, 9, 10, 2, requires_grad=True)
    loss = relative_h1(true, true.detach())
    assert loss.shape == (3,)
    assert torch.all(loss == 0)
    loss.sum().backward()
    assert torch.isfinite(true.grad).all()


def test_h1_matches_the_continuous_ratio():
    x, y = _grid(65, periodic=False)
    true = torch.sin(math.pi * x) * torch.sin(math.pi * y)
    pred = true + 0.1 * torch.sin(2 * math.pi * x) * torch.sin(2 * math.pi * y)
    # ||sin(k pi x) sin(k pi y)||^2_H1 on [0,1]^2 = (1 + 2 k^2 pi^2) / 4
    exact = 0.1 * math.sqrt((1 + 8 * math.pi**2) / (1 + 2 * math.pi**2))
    got = float(relative_h1(_field(pred), _field(true)))
    assert got == pytest.approx(exact, rel=0.01)
    l2 = float((pred - true).norm() / true.norm())
    assert l2 == pytest.approx(0.1, rel=0.01) and got > 1.5 * l2  # the derivatives weigh in

    x, y = _grid(64, periodic=True)
    true = torch.sin(2 * math.pi * x) * torch.cos(2 * math.pi * y)
    pred = true + 0.1 * torch.cos(4 * math.pi * x) * torch.sin(2 * math.pi * y)
    # ||.||^2_H1 / area-weight: (1 + 4 pi^2 (kx^2 + ky^2)) / 4 for both terms
    exact = 0.1 * math.sqrt((1 + 4 * math.pi**2 * 5) / (1 + 4 * math.pi**2 * 2))
    assert float(relative_h1(_field(pred), _field(true), periodic=True)) == pytest.approx(exact, rel=0.01)


def test_h1_per_sample():
    x, y = _grid(17, periodic=False)
    true = torch.stack([_field(torch.exp(x) * y)[0], _field(torch.cos(x + 2 * y))[0]])
    pred = true.clone()
    pred[1] += 0.2
    loss = relative_h1(pred, true)
    assert loss[0] == 0 and loss[1] > 0
    torch.testing.assert_close(loss[1:], relative_h1(pred[1:], true[1:]))


@pytest.mark.parametrize("periodic", [False, True])
def test_finite_differences_are_second_order(periodic):
    errors = []
    for n in (32, 64) if periodic else (33, 65):  # h halves exactly
        x, y = _grid(n, periodic)
        if periodic:
            v = torch.sin(2 * math.pi * x) * torch.cos(4 * math.pi * y)
            exact = (
                2 * math.pi * torch.cos(2 * math.pi * x) * torch.cos(4 * math.pi * y),
                -4 * math.pi * torch.sin(2 * math.pi * x) * torch.sin(4 * math.pi * y),
            )
        else:
            v = torch.exp(x) * torch.sin(3 * y + 1)
            exact = (torch.exp(x) * torch.sin(3 * y + 1), 3 * torch.exp(x) * torch.cos(3 * y + 1))
        grads = finite_difference_gradient(_field(v), periodic=periodic)
        errors.append([float((g[0, ..., 0] - e).abs().max()) for g, e in zip(grads, exact)])
    for coarse, fine in zip(*errors):
        assert 3.6 < coarse / fine < 4.4


def test_periodic_and_non_periodic_differ_at_the_edges_only():
    x, y = _grid(20, periodic=False)
    v = _field(torch.exp(x) * torch.cos(2 * y))
    h = 1 / 19
    plain = finite_difference_gradient(v, periodic=False)
    wrapped = finite_difference_gradient(v, periodic=True, spacing=h)
    for axis, (a, b) in enumerate(zip(plain, wrapped), start=1):
        inner = [slice(None)] * 4
        inner[axis] = slice(1, -1)
        torch.testing.assert_close(a[tuple(inner)], b[tuple(inner)])
        for edge in (0, -1):
            assert (a.select(axis, edge) - b.select(axis, edge)).abs().min() > 0.1
    other = torch.zeros_like(v)
    assert float(relative_h1(other, v)) == pytest.approx(1.0)
    assert float(relative_h1(v * 1.1, v, periodic=True)) == pytest.approx(0.1)
    assert relative_h1(v + x[None, ..., None], v) != relative_h1(v + x[None, ..., None], v, periodic=True)


def test_h1_spacing_and_errors():
    v = torch.randn(2, 8, 6, 1, dtype=torch.float64)
    w = v + 0.1 * torch.randn_like(v)
    torch.testing.assert_close(relative_h1(w, v), relative_h1(w, v, spacing=(1 / 7, 1 / 5)))
    torch.testing.assert_close(
        relative_h1(w, v, periodic=True), relative_h1(w, v, periodic=True, spacing=(1 / 8, 1 / 6))
    )
    with pytest.raises(ValueError, match="same shape"):
        relative_h1(w, v[:1])
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        relative_h1(w[..., 0], v[..., 0])
    with pytest.raises(ValueError, match="positive"):
        relative_h1(w, v, spacing=0.0)
    with pytest.raises(ValueError, match="pair"):
        relative_h1(w, v, spacing=(0.1, 0.1, 0.1))
    with pytest.raises(ValueError, match="at least 3"):
        relative_h1(w[:, :2], v[:, :2])
