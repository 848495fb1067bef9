"""Autograd derivatives against analytic ones on batched points."""

import torch

from sciml import ops


def field(x):
    # u = sin(x) * y^2 * exp(t) on (x, y, t) columns
    return torch.sin(x[:, 0]) * x[:, 1] ** 2 * torch.exp(x[:, 2])


def test_grad_partial_laplacian_hessian_match_analytic():
    torch.manual_seed(0)
    x = torch.rand(50, 3, dtype=torch.float64, requires_grad=True)
    u = field(x)[:, None]
    s, c, y, e = torch.sin(x[:, 0]), torch.cos(x[:, 0]), x[:, 1], torch.exp(x[:, 2])
    g = ops.grad(u, x)
    torch.testing.assert_close(g, torch.stack([c * y**2 * e, 2 * s * y * e, s * y**2 * e], 1))
    torch.testing.assert_close(ops.partial(u, x, 0, 0), -s * y**2 * e)
    torch.testing.assert_close(ops.partial(u, x, 0, 1), 2 * c * y * e)
    torch.testing.assert_close(ops.laplacian(u, x, axes=(0, 1)), -s * y**2 * e + 2 * s * e)
    H = ops.hessian(u, x)
    assert H.shape == (50, 3, 3)
    torch.testing.assert_close(H, H.transpose(1, 2))
    torch.testing.assert_close(H[:, 2, 2], s * y**2 * e)


def test_div_and_jacobian_of_vector_field():
    x = torch.rand(20, 2, dtype=torch.float64, requires_grad=True)
    v = torch.stack([x[:, 0] ** 2 * x[:, 1], torch.cos(x[:, 1])], 1)
    torch.testing.assert_close(ops.div(v, x), 2 * x[:, 0] * x[:, 1] - torch.sin(x[:, 1]))
    J = ops.jacobian(v, x)
    torch.testing.assert_close(J[:, 0, 1], x[:, 0] ** 2)
    torch.testing.assert_close(J[:, 1, 0], torch.zeros(20, dtype=torch.float64))


def test_derivatives_are_trainable():
    lin = torch.nn.Linear(2, 1).double()
    x = torch.rand(10, 2, dtype=torch.float64, requires_grad=True)
    r = ops.laplacian(torch.tanh(lin(x)), x).square().mean()
    r.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0
