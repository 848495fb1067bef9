"""Multi-domain PINNs: one network per subdomain of a problem.

A problem with :attr:`~sciml.problems.base.Problem.subdomains` (a crack's two sides, the pieces of a
cut domain) is solved with a :class:`~sciml.nn.SubdomainNet`: each point is evaluated by the
network of the subdomain that owns it, and interface conditions compare the networks of two
sides. The case gives either one ``model:`` section, built once per subdomain, or named
networks, one per subdomain name::

    model: {upper: {type: mlp, width: 32}, lower: {type: kan, widths: [5, 5]}}

METALIC (multi-domain PINNs with interface conditions chosen per PDE parameter) builds on this.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sciml.nn import SubdomainNet


class BoxScaled(nn.Module):
    """``net`` seeing its inputs mapped affinely from the box ``bounds`` (ndim, 2) to [-1, 1]: each
    subdomain network of a cut domain works on its own box, as XPINN and METALIC normalize them."""

    def __init__(self, net: nn.Module, bounds: np.ndarray):
        super().__init__()
        b = torch.as_tensor(
            np.asarray(bounds, dtype=np.float64), dtype=torch.get_default_dtype()
        )  # cast with the model
        self.net = net
        self.register_buffer("box_center", (b[:, 0] + b[:, 1]) / 2)
        self.register_buffer("box_half", (b[:, 1] - b[:, 0]) / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.box_center) / self.box_half)


def point_network(models, problem, scale_inputs: bool = False) -> nn.Module:
    """The point-wise network of a PINN-type method: ``models()`` for a problem without
    subdomains, else a SubdomainNet with one network per subdomain (built in the subdomains' order,
    each from the section of that name if the case names its networks, else from the one section).
    The pieces of a cut domain (:class:`sciml.geometry.Subdomain`, which know their box) get networks
    whose inputs are scaled to [-1, 1] over that box (:class:`BoxScaled`); ``scale_inputs`` does the
    same for the one network of a problem without subdomains, over the domain's box."""
    if not problem.subdomains:
        net = models()
        if scale_inputs:
            if getattr(problem.domain, "bounds", None) is None:
                raise ValueError(f"method.scale_inputs: problem {problem.name!r} has no domain box to scale to")
            return BoxScaled(net, np.asarray(problem.domain.bounds, dtype=np.float64))
        return net
    nets = {}
    for name, piece in problem.subdomains.items():
        net = models(name if models.named else None)
        box = getattr(piece, "bounds", None)
        nets[name] = BoxScaled(net, box) if box is not None else net
    return SubdomainNet(nets, problem.subdomains)
