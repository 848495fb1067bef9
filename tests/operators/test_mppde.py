"""MP-PDE: graph construction, permutation equivariance, temporal-bundling decoder, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from operators.mppde import MPPDE, GridStepper, build_graph
from sciml.mesh import Grid, Mesh


def _degrees(e: torch.Tensor, n: int) -> np.ndarray:
    return np.bincount(e[1].numpy(), minlength=n)


def test_periodic_grid_graph_wraps_and_is_symmetric():
    g = Grid((10,), ((0.0, 16.0),), periodic=(True,))
    e = build_graph(g, period=(16.0,), neighbors=2)
    assert np.all(_degrees(e, 10) == 4)  # two neighbours on each side, also at the ends
    pairs = set(map(tuple, e.T.tolist()))
    assert (9, 0) in pairs and (8, 0) in pairs and (0, 9) in pairs  # the wrap
    assert all((j, i) in pairs for i, j in pairs)  # symmetric
    assert all(i != j for i, j in pairs)  # no self loops
    open_ = build_graph(Grid((10,), ((0.0, 16.0),)), period=None, neighbors=2)
    deg = _degrees(open_, 10)
    assert deg[0] == 2 and deg[1] == 3 and deg[5] == 4  # without the period the ends have fewer


def test_mesh_graph_is_the_cell_edges():
    # two triangles sharing the diagonal 0–2 of the unit square: 5 undirected edges
    m = Mesh(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float), [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))])
    e = build_graph(m)
    assert e.shape == (2, 10)
    assert _degrees(e, 4).tolist() == [3, 2, 3, 2]
    knn = build_graph(m, k=1)
    assert knn.shape[1] >= 4 and set(_degrees(knn, 4)) <= {1, 2, 3}


def _model(pos, e, bundle=3, seed=0, **kw):
    torch.manual_seed(seed)
    return MPPDE(pos, e, window=4, bundle=bundle, n_fields=2, n_params=1, dt=0.1, t_max=2.0, hidden=32, layers=2, **kw)


def test_message_passing_is_equivariant_to_node_permutation():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 1, (20, 2))
    e = build_graph(pos, k=4)
    m1 = _model(pos, e)
    perm = rng.permutation(20)  # new node i is old node perm[i]
    inv = np.argsort(perm)
    e2 = torch.as_tensor(inv)[e]
    m2 = _model(pos[perm], e2, seed=1)
    params = dict(m1.named_parameters())
    m2.load_state_dict({k: v for k, v in m1.state_dict().items() if k in params}, strict=False)
    u = torch.randn(3, 4, 20, 2)
    t, th = torch.tensor([0.1, 0.5, 1.0]), torch.randn(3, 1)
    out1, out2 = m1(u, t, th), m2(u[:, :, perm], t, th)
    assert out1.shape == (3, 3, 20, 2)
    assert torch.allclose(out2, out1[:, :, perm], atol=1e-5)
    # ... and a different graph gives a different answer (the test can fail)
    m3 = _model(pos[perm], torch.as_tensor(rng.permutation(20))[e2], seed=1)
    m3.load_state_dict({k: v for k, v in m1.state_dict().items() if k in params}, strict=False)
    assert not torch.allclose(m3(u[:, :, perm], t, th), out1[:, :, perm], atol=1e-3)


def test_bundled_decoder_is_forward_euler_in_the_step():
    pos = np.linspace(0, 1, 8, endpoint=False)[:, None]
    m = _model(pos, build_graph(pos, k=2, period=(1.0,)), period=(1.0,))
    last = m.decoder[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([2.0, -1.0]))  # d^ℓ = (2, −1) for every ℓ
    u = torch.randn(2, 4, 8, 2)
    out = m(u, torch.zeros(2), torch.zeros(2, 1))
    ell = torch.arange(1, 4).float()[None, :, None, None]
    expect = u[:, -1:] + ell * 0.1 * torch.tensor([2.0, -1.0])
    assert torch.allclose(out, expect, atol=1e-6)


def test_periodic_differences_use_the_minimum_image():
    pos = np.linspace(0, 16, 10, endpoint=False)[:, None]
    e = build_graph(Grid((10,), ((0.0, 16.0),), periodic=(True,)), period=(16.0,), neighbors=1)
    m = _model(pos, e, period=(16.0,))
    assert float(m.dx.abs().max()) == pytest.approx(1.6 / 16.0)  # one spacing over the period, also across the wrap


def test_errors_name_the_problem():
    pos = np.linspace(0, 1, 6)[:, None]
    e = build_graph(pos, k=2)
    with pytest.raises(ValueError, match="too small to decode"):
        MPPDE(pos, e, window=25, bundle=25, hidden=64)
    with pytest.raises(ValueError, match="outside"):
        MPPDE(pos, torch.tensor([[0, 7], [1, 0]]), window=2, bundle=2, hidden=32)
    with pytest.raises(ValueError, match="receive no edge"):
        MPPDE(pos, torch.tensor([[0, 1], [1, 0]]), window=2, bundle=2, hidden=32)
    m = MPPDE(pos, e, window=2, bundle=2, hidden=32)
    with pytest.raises(ValueError, match="expects u of shape"):
        m(torch.zeros(1, 3, 6, 1), torch.zeros(1))


def test_grid_stepper_shapes_and_increment_form():
    class Zero(torch.nn.Module):
        def __init__(self, n_out):
            super().__init__()
            self.n_out = n_out

        def forward(self, x):
            assert x.shape[-1] == 3 * 2 + 1 + 2  # K·C + t + P
            return x.new_zeros(*x.shape[:-1], self.n_out)

    s = GridStepper(Zero(2 * 2), window=3, bundle=2, n_fields=2)
    u = torch.randn(4, 3, 5, 6, 2)
    out = s(u, torch.ones(4), torch.ones(4, 2))
    assert out.shape == (4, 2, 5, 6, 2) and torch.equal(out, u[:, -1:].expand_as(out))


def test_node_factored_messages_equal_the_edge_concatenation():
    rng = np.random.default_rng(1)
    pos = rng.uniform(0, 1, (15, 2))
    m = _model(pos, build_graph(pos, k=3))
    layer = m.processor[0]
    f, u, th = torch.randn(2, 15, 32), torch.randn(2, 15, 8), torch.randn(2, 1)
    args = (f, u, m.dx, th, m.src, m.dst, m.inv_degree)
    assert torch.allclose(layer(*args), layer.reference(*args), atol=1e-5)
