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

from torch import nn

from sciml.nn import SubdomainNet


def point_network(models, problem) -> nn.Module:
    """The point-wise network of a PINN-type method: ``models()`` for a problem without
    subdomains, else a SubdomainNet with one network per subdomain (built in the subdomains' order,
    each from the section of that name if the case names its networks, else from the one section)."""
    if not problem.subdomains:
        return models()
    nets = {name: models(name if models.named else None) for name in problem.subdomains}
    return SubdomainNet(nets, problem.subdomains)
