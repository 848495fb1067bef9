"""DeepONet and MultiONet (operators/deeponet.py): MultiONet with one shared layer pair and weight 1
is DeepONet, it starts as the constant b0 (weights at 0), every output is one inner product of its
feature group, shapes on 1D and 2D grids, gradients reach every parameter, and a supervised case
trains with it."""

from __future__ import annotations

import pytest
import torch

from operators.deeponet import MultiONet, grid_coordinates


def test_multionet_with_one_pair_and_weight_one_is_deeponet():
    torch.manual_seed(0)
    multi = MultiONet((9, 7), 2, 1, width=12, depth=3, n_shared=1)
    deep = MultiONet((9, 7), 2, 1, width=12, depth=3, deeponet=True)
    deep.load_state_dict({k: v for k, v in multi.state_dict().items() if k != "w"})
    a = torch.randn(4, 9, 7, 2)
    with torch.no_grad():
        multi.w.fill_(1.0)
        multi.b0.fill_(0.3)
        deep.b0.fill_(0.3)
    torch.testing.assert_close(multi(a), deep(a))
    # DeepONet by its formula: <b_K(a), t_K(x)> + b0 at every grid node
    h = a.reshape(4, -1)
    for layer in deep.branch:
        h = layer(h)
    t = deep.coords
    for layer in deep.trunk:
        t = layer(t)
    torch.testing.assert_close(deep(a).reshape(4, -1), h @ t.T + 0.3)


def test_multionet_starts_constant_and_sums_weighted_pairs():
    torch.manual_seed(1)
    net = MultiONet((16,), 1, 2, width=8, depth=4, n_shared=3)
    a = torch.randn(5, 16, 1)
    out = net(a)
    assert out.shape == (5, 16, 2)
    torch.testing.assert_close(out, net.b0.expand(5, 16, 2).detach())  # w = 0: the constant b0
    with torch.no_grad():
        net.w.copy_(torch.tensor([0.5, -1.0, 2.0]))
    # by the formula: (1/3) Σ_k w_k b_k ⊙ t_k, the two outputs summing features 0-3 and 4-7
    hb, ht, feats = a.reshape(5, -1), net.coords, []
    for lb, lt in zip(net.branch, net.trunk):
        hb, ht = lb(hb), lt(ht)
        feats.append((hb, ht))
    z = sum(w * torch.einsum("bp,np->bnp", b, t) for w, (b, t) in zip(net.w, feats[1:])) / 3
    want = torch.stack([z[..., :4].sum(-1), z[..., 4:].sum(-1)], -1) + net.b0
    torch.testing.assert_close(net(a), want)
    net(a).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_grid_coordinates_and_bad_options():
    c = grid_coordinates((3, 2))
    torch.testing.assert_close(
        c, torch.tensor([[0.0, 0.0], [0.0, 1.0], [0.5, 0.0], [0.5, 1.0], [1.0, 0.0], [1.0, 1.0]])
    )
    with pytest.raises(ValueError, match=r"^n_shared \(5\) cannot exceed depth \(4\)"):
        MultiONet((8,), 1, 1, width=8, depth=4, n_shared=5)
    with pytest.raises(ValueError, match=r"^width \(10\) must be a multiple of the output channels \(3\)"):
        MultiONet((8,), 1, 3, width=10)
    with pytest.raises(ValueError, match=r"^input must be \(batch, 8, 1\), got \(2, 9, 1\)"):
        MultiONet((8,), 1, 1, width=8)(torch.zeros(2, 9, 1))
