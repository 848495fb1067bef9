"""Importing this module fills every registry (problems, data, models, methods, writers)."""
from . import nn, output  # noqa: F401
from . import problems  # noqa: F401
from .data import collocation, operator, quadrature, trajectory  # noqa: F401

import pinns  # noqa: F401,E402
import operators  # noqa: F401,E402
