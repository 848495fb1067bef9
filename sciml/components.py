"""sciml's own components (problems, data, networks, writers, the study policy ``metalic``):
importing this module registers them. It is the ``sciml`` entry point of the ``sciml.plugins``
group, loaded like any plugin on the first registry lookup (:mod:`sciml.plugins`); the method
packages ``pinns`` and ``operators`` are entry points of their own, so the core imports no method
package."""

from . import bandit, nn, output, problems  # noqa: F401
from .data import collocation, composite, operator, quadrature, samples, trajectory  # noqa: F401
from .plugins import load_plugins as _load_plugins

_load_plugins()  # old code imports this module to fill every registry: it still does
