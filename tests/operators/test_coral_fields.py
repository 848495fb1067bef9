"""CORAL's neural fields (operators/coral.py): the SIREN initialization keeps every hidden layer's
activations arcsine distributed, the inner loop lowers each sample's reconstruction error at every
step, decoding and encoding do not depend on the order of the points, padded points do not count,
and after meta-learning, codes of one function encoded from two disjoint halves of its points agree."""

from __future__ import annotations

import math

import pytest
import torch

from operators.coral import CodeResNet, ModulatedSiren, NeuralField, masked_mse


def test_siren_initialization_statistics():
    torch.manual_seed(0)
    net = ModulatedSiren(2, 1, width=256, depth=5, latent_dim=16, w0=30.0)
    first, hidden = net.layers[0].weight, net.layers[1].weight
    # U(±b) has std b/√3: b = 1/fan_in on the first layer, √(6/fan_in)/ω0 on the others
    assert first.abs().max() <= 1 / 2 and math.isclose(first.std().item(), (1 / 2) / math.sqrt(3), rel_tol=0.1)
    b = math.sqrt(6 / 256) / 30
    assert hidden.abs().max() <= b and math.isclose(hidden.std().item(), b / math.sqrt(3), rel_tol=0.02)
    # SIREN's property: the activations keep their distribution through depth. The first layer's
    # argument spans many periods (std 7 rad), so its output is arcsine distributed (E h² = 1/2);
    # after it, each argument ω0 (W h + b) is near normal with variance 2 E[h²] + 2/fan_in, so
    # E[h'²] = (1 - exp(-2 var)) / 2 (the mean of sin² of a centred normal): 0.43, 0.41, 0.40...,
    # a fixed point near 0.40, neither growing nor collapsing (sampling error ~0.005)
    x = torch.rand(1, 4096, 2) * 2 - 1
    acts: list[torch.Tensor] = []
    net(x, torch.zeros(1, 16), hidden=acts)
    m2 = [h.square().mean().item() for h in acts]
    assert abs(m2[0] - 0.5) < 0.02, m2
    for k in range(1, len(acts)):
        want = (1 - math.exp(-2 * (2 * m2[k - 1] + 2 / 256))) / 2
        assert abs(m2[k] - want) < 0.02, (k, m2[k], want)
    assert min(m2) > 0.38, m2
    # biases drawn as the weights are (CORAL's SIREN): U(±1/fan_in) first, U(±√(6/fan_in)/ω0) after
    assert net.layers[0].bias.abs().max() <= 1 / 2 and net.layers[1].bias.abs().max() <= b
    assert net.layers[1].bias.abs().max() > 0.5 * b
    # the zero code is the plain SIREN: the hypernetwork adds no shift
    assert all(s.abs().max() == 0 for s in net.shifts(torch.zeros(3, 16)))


def smooth_batch(n_samples: int, n_points: int, seed: int):
    """Random smooth 2D functions (a few low-frequency modes) at random points of [-1, 1]²."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_samples, n_points, 2, generator=g) * 2 - 1
    c = torch.randn(n_samples, 4, generator=g)
    v = (
        c[:, 0, None] * torch.sin(math.pi * x[..., 0])
        + c[:, 1, None] * torch.cos(math.pi * x[..., 1])
        + c[:, 2, None] * x[..., 0] * x[..., 1]
        + 0.5 * c[:, 3, None]
    )
    return x, v[..., None]


def test_inner_loop_lowers_each_samples_error_at_every_step():
    torch.manual_seed(1)
    field = NeuralField(ModulatedSiren(2, 1, width=64, depth=3, latent_dim=32, w0=10.0), steps=6, lr_code=0.01)
    x, v = smooth_batch(8, 200, seed=2)
    trace: list[torch.Tensor] = []
    field.encode(x, v, trace=trace)
    errs = torch.stack(trace)  # (steps + 1, B)
    assert errs.shape == (7, 8)
    assert (errs[1:] < errs[:-1]).all(), errs  # every step, every sample


def test_order_of_points_and_padding_do_not_matter():
    torch.manual_seed(3)
    field = NeuralField(ModulatedSiren(2, 1, width=32, depth=3, latent_dim=8, w0=10.0))
    x, v = smooth_batch(2, 100, seed=4)
    perm = torch.randperm(100)
    z = torch.randn(2, 8)
    # decoding is pointwise: permuting the queries permutes the values
    torch.testing.assert_close(field(x[:, perm], z), field(x, z)[:, perm])
    # encoding averages over points: the same codes up to the order of a float sum
    za, zb = field.encode(x, v), field.encode(x[:, perm], v[:, perm])
    torch.testing.assert_close(za, zb, rtol=1e-5, atol=1e-6)
    # padded points (mask False) do not count, whatever their values
    xp = torch.cat([x, torch.randn(2, 30, 2)], 1)
    vp = torch.cat([v, 100 * torch.randn(2, 30, 1)], 1)
    mask = torch.cat([torch.ones(2, 100, dtype=torch.bool), torch.zeros(2, 30, dtype=torch.bool)], 1)
    torch.testing.assert_close(field.encode(xp, vp, mask), za, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(masked_mse(field(xp, za), vp, mask), masked_mse(field(x, za), v))


def test_codes_from_two_halves_of_the_points_agree_after_meta_learning():
    """A short meta-learning run (second order through 3 inner steps, the step size learned) on
    random smooth functions; then a new function's codes from two disjoint halves of its 400 points
    agree far better than codes of two different functions do, and the reconstruction is good."""
    torch.manual_seed(5)
    field = NeuralField(ModulatedSiren(2, 1, width=64, depth=3, latent_dim=16, w0=10.0), steps=3, lr_code=0.01)
    opt = torch.optim.Adam(field.parameters(), lr=1e-3)
    first = None
    for step in range(300):
        x, v = smooth_batch(16, 256, seed=100 + step)
        loss = field.reconstruction_loss(x, v)
        if first is None:
            first = loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert field.alpha.grad is not None and field.alpha.item() != pytest.approx(0.01)  # the step size learned
    # second order: the outer gradient goes through the inner steps; with the steps' gradients
    # detached (first order) the hypernetwork's gradient differs (measured: by 140% of its norm)
    xg, vg = smooth_batch(4, 128, seed=11)
    field.zero_grad()
    field.reconstruction_loss(xg, vg).backward()
    g2 = field.siren.hyper[0].weight.grad.clone()
    field.zero_grad()
    zg = field.encode(xg, vg)  # detached codes: the decoding's gradient only
    masked_mse(field(xg, zg), vg).mean().backward()
    g1 = field.siren.hyper[0].weight.grad.clone()
    field.zero_grad()
    assert (g2 - g1).norm() > 0.02 * g2.norm(), ((g2 - g1).norm(), g2.norm())
    x, v = smooth_batch(8, 400, seed=7)
    za, zb = field.encode(x[:, :200], v[:, :200]), field.encode(x[:, 200:], v[:, 200:])
    same = (za - zb).norm(dim=1)
    other = (za - za.roll(1, 0)).norm(dim=1)
    assert (same < 0.25 * other).all(), (same, other)  # measured: 0.02-0.13 of the distance between functions
    rel = (masked_mse(field(x, za), v) / v.square().mean((1, 2))).sqrt()  # decoded on all 400 points
    assert rel.mean() < 0.2 and loss.item() < 0.2 * first, (rel, loss.item(), first)  # measured: 0.043, 0.0017x


def test_code_resnet_and_bad_options():
    net = CodeResNet(16, 8, width=32, depth=2)
    assert net(torch.randn(5, 16)).shape == (5, 8)
    with pytest.raises(ValueError, match=r"^w0 must be a number > 0"):
        ModulatedSiren(2, 1, w0=0)
    with pytest.raises(ValueError, match=r"^points must be \(batch, n, 2\), got \(3, 2\)"):
        ModulatedSiren(2, 1, latent_dim=4)(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"^steps \(inner gradient steps\) must be an integer >= 1"):
        NeuralField(ModulatedSiren(2, 1), steps=0)
