"""Tests for SpectralConv and FNO: shapes, parameter counts and the Fourier numerics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from operators import FNO, SpectralConv, fno_param_count


def _identity_(conv: SpectralConv) -> SpectralConv:
    """Set every kept mode's weight to the identity matrix (needs C_in == C_out)."""
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(conv.in_channels):
            conv.weight[:, c, c, ..., 0] = 1.0
    return conv


def _points(n: int) -> torch.Tensor:
    """Periodic grid on [0, 1) with n points."""
    return torch.arange(n, dtype=torch.float32) / n


# --------------------------------------------------------------------- FNO


@pytest.mark.parametrize("n_modes, space", [((6,), (32,)), ((5, 4), (16, 12)), ((3, 3, 2), (8, 8, 6))])
def test_fno_shapes_and_all_params_used(n_modes, space):
    model = FNO(3, 2, n_modes, hidden_channels=8, n_layers=2, projection_channels=16)
    x = torch.randn(2, *space, 3)
    out = model(x)
    assert out.shape == (2, *space, 2)
    out.square().mean().backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None]
    assert not unused, f"parameters without gradient: {unused}"


def test_fno_any_resolution_and_coarser_than_modes():
    model = FNO(1, 1, (8, 8), hidden_channels=8, n_layers=2, projection_channels=16)
    for n in (32, 64, 10):  # 10 < 2 * 8: modes are clipped
        assert model(torch.randn(1, n, n, 1)).shape == (1, n, n, 1)


@pytest.mark.parametrize("n_modes", [(16,), (12, 12), (8, 8, 8)])
@pytest.mark.parametrize("embed", [True, False])
def test_fno_param_count_formula(n_modes, embed):
    model = FNO(2, 3, n_modes, hidden_channels=6, n_layers=3, projection_channels=10, positional_embedding=embed)
    expected = fno_param_count(2, 3, n_modes, 6, 3, 10, ndim_embed=embed)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_fno_legacy_param_counts():
    # Legacy fourier_2d.py Darcy (modes 12, width 32), complex = 2 reals:
    #   fc0  Linear(1 + 2 grid -> 32)          3*32 + 32             =       128
    #   4 x SpectralConv: 2 corners x 32*32*12*12 complex x 2 reals  = 2,359,296
    #   4 x Conv2d(32, 32, 1) with bias         4 * (32*32 + 32)     =     4,224
    #   fc1  Linear(32 -> 128)                  32*128 + 128         =     4,224
    #   fc2  Linear(128 -> 1)                   128 + 1              =       129
    #   total                                                          2,368,001
    darcy = FNO(1, 1, (12, 12), hidden_channels=32, n_layers=4, projection_channels=128)
    assert sum(p.numel() for p in darcy.parameters()) == 2_368_001
    assert fno_param_count(1, 1, (12, 12), 32, 4, 128) == 2_368_001
    # Legacy fourier_1d.py Burgers (modes 16, width 64):
    #   2*64+64 + 4*(64*64*16*2) + 4*(64*64+64) + 64*128+128 + 129 = 549,569
    burgers = FNO(1, 1, (16,), hidden_channels=64, n_layers=4, projection_channels=128)
    assert sum(p.numel() for p in burgers.parameters()) == 549_569


@pytest.mark.parametrize("padding", [5, 0.1])
def test_fno_padding_keeps_shape(padding):
    model = FNO(1, 1, (6, 6), hidden_channels=8, n_layers=2, projection_channels=16, padding=padding)
    x = torch.randn(2, 20, 24, 1)
    assert model(x).shape == (2, 20, 24, 1)
    unpadded = FNO(1, 1, (6, 6), hidden_channels=8, n_layers=2, projection_channels=16)
    unpadded.load_state_dict(model.state_dict())
    assert not torch.allclose(model(x), unpadded(x))  # the padding did something


@pytest.mark.parametrize("padding", [-1, 1.5, True])
def test_fno_rejects_bad_padding(padding):
    with pytest.raises((ValueError, TypeError)):
        FNO(1, 1, (4,), padding=padding)


# ------------------------------------------------------------ SpectralConv


def test_spectral_conv_matches_explicit_dft_1d():
    n, m, c_in, c_out = 20, 6, 2, 3
    conv = SpectralConv(c_in, c_out, (m,))
    x = torch.randn(4, c_in, n)
    out = conv(x).detach().numpy()

    w = conv.weight.detach().numpy()[0]
    w = w[..., 0] + 1j * w[..., 1]  # (c_in, c_out, m)
    k = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    fwd = np.exp(-2j * np.pi * k * j / n) / n  # (m, n): coefficients, norm="forward"
    weight_k = np.where(np.arange(m) == 0, 1.0, 2.0)  # +k and -k (conjugate) terms
    inv = np.exp(2j * np.pi * j.T * k.T / n) * weight_k  # (n, m)
    # kernel[o, i, x, y] = Re sum_k inv[x, k] w[i, o, k] fwd[k, y]
    kernel = np.real(np.einsum("xk,iok,ky->oixy", inv, w, fwd))
    expected = np.einsum("oixy,biy->box", kernel, x.numpy().astype(np.float64))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_identity_weights_pass_kept_modes_and_remove_the_rest_1d():
    n, m = 64, 8
    conv = _identity_(SpectralConv(2, 2, (m,)))
    x = _points(n)
    kept = torch.stack([torch.sin(2 * math.pi * 3 * x), torch.cos(2 * math.pi * (m - 1) * x)])
    removed = torch.stack([torch.sin(2 * math.pi * m * x), torch.cos(2 * math.pi * 20 * x)])
    torch.testing.assert_close(conv(kept[None]), kept[None], atol=1e-5, rtol=0)
    assert conv(removed[None]).abs().max() < 1e-5


def test_identity_weights_pass_every_corner_2d():
    n, m = 32, 5
    conv = _identity_(SpectralConv(1, 1, (m, m)))
    x, y = torch.meshgrid(_points(n), _points(n), indexing="ij")
    # On axis 0 the kept frequencies are -m..m-1 (legacy corners [:m], [-m:]),
    # so (-m, 2) passes while (m, 2) is removed; a real wave (k1, k2) with
    # k2 > 0 is stored only at (k1, k2) in the rfft half-spectrum.
    for k1, k2 in [(2, 3), (-4, 1), (3, -4), (-1, -2), (-m, 2)]:
        wave = torch.sin(2 * math.pi * (k1 * x + k2 * y))[None, None]
        torch.testing.assert_close(conv(wave), wave, atol=1e-5, rtol=0)
    for k1, k2 in [(m, 2), (-m - 1, 2), (1, m), (m + 3, m + 3)]:
        wave = torch.cos(2 * math.pi * (k1 * x + k2 * y))[None, None]
        assert conv(wave).abs().max() < 1e-5


def _band_limited_2d(n: int) -> torch.Tensor:
    x, y = torch.meshgrid(_points(n), _points(n), indexing="ij")
    tau = 2 * math.pi
    return torch.stack(
        [
            torch.sin(tau * (x + 2 * y)) + 0.5 * torch.cos(tau * (3 * x - 4 * y)),
            torch.cos(tau * (-5 * x + y)) + 0.3 + 0.2 * torch.sin(tau * 5 * y),
        ]
    )[None]


def test_discretisation_invariance_identity_1d():
    conv = _identity_(SpectralConv(1, 1, (10,)))

    def f(n):
        x = _points(n)
        return (torch.sin(2 * math.pi * x) + 0.4 * torch.cos(2 * math.pi * 7 * x))[None, None]

    coarse, fine = conv(f(32)), conv(f(64))
    torch.testing.assert_close(coarse, fine[..., ::2], atol=1e-5, rtol=0)
    torch.testing.assert_close(coarse, f(32), atol=1e-5, rtol=0)


def test_discretisation_invariance_random_weights_2d():
    conv = SpectralConv(2, 3, (8, 8))
    coarse, fine = conv(_band_limited_2d(32)), conv(_band_limited_2d(64))
    torch.testing.assert_close(coarse, fine[..., ::2, ::2], atol=1e-5, rtol=0)


def test_clipped_modes_use_the_right_weights():
    # 12 x 12 grid: the (8, 8) modes clip to (6, 7); negative frequencies must
    # still meet the weights they were trained with.
    conv = SpectralConv(2, 3, (8, 8))
    assert conv.kept_modes((12, 12)) == (6, 7)
    coarse, fine = conv(_band_limited_2d(12)), conv(_band_limited_2d(48))
    torch.testing.assert_close(coarse, fine[..., ::4, ::4], atol=1e-5, rtol=0)


def test_translation_equivariance_2d():
    conv = SpectralConv(2, 2, (6, 5))
    x = torch.randn(3, 2, 24, 20)
    shift = (5, -7)
    rolled_out = conv(torch.roll(x, shift, dims=(-2, -1)))
    torch.testing.assert_close(rolled_out, torch.roll(conv(x), shift, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_spectral_conv_3d_param_layout():
    conv = SpectralConv(2, 3, (4, 3, 2))
    assert conv.weight.shape == (4, 2, 3, 4, 3, 2, 2)
    assert conv(torch.randn(1, 2, 9, 8, 7)).shape == (1, 3, 9, 8, 7)


@pytest.mark.parametrize("n_modes, space", [((4, 3), (12, 10)), ((3, 2, 2), (8, 7, 6))])
def test_vectorised_corners_match_a_loop_over_corners(n_modes, space):
    # Reference: legacy-style loop, corner c negative on axis i iff bit d-2-i is set.
    conv = SpectralConv(2, 3, n_modes)
    x = torch.randn(2, 2, *space)
    d = len(n_modes)
    w = torch.view_as_complex(conv.weight.detach())
    x_ft = torch.fft.rfftn(x, dim=tuple(range(-d, 0)), norm="forward")
    out_ft = torch.zeros(2, 3, *space[:-1], space[-1] // 2 + 1, dtype=x_ft.dtype)
    for c in range(2 ** (d - 1)):
        idx = [slice(None), slice(None)]
        for i, m in enumerate(n_modes[:-1]):
            idx.append(slice(-m, None) if (c >> (d - 2 - i)) & 1 else slice(0, m))
        idx.append(slice(0, n_modes[-1]))
        out_ft[tuple(idx)] = torch.einsum("bi...,io...->bo...", x_ft[tuple(idx)], w[c])
    expected = torch.fft.irfftn(out_ft, s=space, dim=tuple(range(-d, 0)), norm="forward")
    torch.testing.assert_close(conv(x), expected, atol=1e-6, rtol=0)
