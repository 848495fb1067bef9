"""The declarative Problem: domain, named fields, parameters, equations, conditions, reference.

A Problem knows nothing about training. Equations and conditions are plain functions
``residual(du, params) -> Tensor`` of a :class:`sciml.ops.Derivatives` accessor
(``du()`` = u, ``du("x")`` = ∂u/∂x, ``du("x", "x")``, ``du.coord("x")``...), so they read like
the math and the method chooses how derivatives are computed (autograd, or Taylor-mode jets
for MLPs). A PINN turns each into a named loss term; an operator method ignores them and uses
the problem's dataset generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import OptionError
from ..fields import Field

Residual = Callable[..., Any]  # (du: sciml.ops.Derivatives, params) -> Tensor


@dataclass(frozen=True)
class IOSpec:
    """What a model must map: named inputs to named outputs (channel counts flow from here)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    ndim: int  # spatial(-temporal) dimension of the support
    bounds: tuple[tuple[float, float], ...] | None = None  # input ranges (point-wise problems), for input scaling
    shape: tuple[int, ...] | None = None  # the shared support's shape (a grid's), for models with fixed sensors

    @property
    def n_in(self) -> int:
        return len(self.inputs)

    @property
    def n_out(self) -> int:
        return len(self.outputs)


@dataclass(frozen=True)
class Condition:
    """A condition imposed on part of the domain.

    ``where`` is ``"initial"``, ``"boundary"`` (all of it) or ``"boundary:<name>"`` (a named
    boundary or internal segment of the domain); ``residual(du, params)`` vanishes where the
    condition holds. On a problem with :attr:`Problem.subdomains`, ``subdomain`` names the
    subdomain whose network is evaluated (e.g. one face of a crack), and a pair ``(a, b)`` makes
    an interface condition ``residual(du_a, du_b, params)`` between two subdomains' networks.
    ``pointwise=False`` marks a residual that couples points (periodic pairs), which point
    selection must leave alone. ``normals=True`` (boundary conditions only) gives the residual
    the outward unit normals at its points: ``du.normals`` and the normal derivative
    ``du.dn("u")``, for Neumann (``du.dn() - g``) and Robin (``du.dn() + a * du() - g``) conditions;
    collocation data then keep the normals with the condition's points. ``weight`` is the loss
    term's default weight (a method's ``weights`` option overrides it), e.g. the weight of an
    interface term chosen for a multi-domain problem (:mod:`sciml.problems.interfaces`).
    ``phases`` (phase name -> weight) makes the weight depend on the training stage's phase: a
    phase not listed weighs 0, and a PINN does not compute the term in a stage where it weighs 0
    (METALIC's two-stage variant: one interface set for the Adam phase, another for L-BFGS).
    """

    where: str
    residual: Residual
    subdomain: str | tuple[str, str] | None = None
    pointwise: bool = True
    normals: bool = False
    weight: float = 1.0
    phases: dict[str, float] | None = None

    def __post_init__(self):
        if self.normals and not self.where.startswith("boundary"):
            raise ValueError(
                f"a condition on {self.where!r} has no outward normals: normals=True needs a "
                "boundary condition ('boundary' or 'boundary:<name>')"
            )

    @property
    def is_interface(self) -> bool:
        return isinstance(self.subdomain, tuple)

    @property
    def boundary_tag(self) -> str | None:
        return self.where.split(":", 1)[1] if self.where.startswith("boundary:") else None

    def normals_at(self, domain, x: np.ndarray) -> np.ndarray:
        """Unit normals at the condition's points ``x``: on an interface of a cut domain, the
        interface's space-time normal (n, ndim), from its first subdomain to its second (also where
        the cut meets the outer boundary; on a cut in time it is +e_t, so ``du.dn()`` is the jump's
        ``u_t``); elsewhere the domain's outward spatial normals (n, dim)."""
        tag = self.boundary_tag
        faces = getattr(domain, "interfaces", {})
        if tag is not None and tag in faces:
            return np.tile(np.asarray(faces[tag].normal, dtype=np.float64), (len(x), 1))
        return domain.normals(x)


@dataclass(frozen=True)
class Param:
    """A physical parameter with its default and admissible range ``[lo, hi]``."""

    default: float
    lo: float = -np.inf
    hi: float = np.inf
    doc: str = ""


@dataclass
class DatasetSpec:
    """How a problem generates operator-learning samples with its classical solver.

    ``generate(n_samples, rng, **settings)`` returns ``(fields, support)`` where fields maps a
    name to an ``(N, *space, C)`` array; ``roles`` says which fields are inputs and outputs.
    A time-dependent problem (trajectories for autoregressive methods) returns
    ``(fields, support, {"times": (T,), "params": {name: (N,)}})`` with trajectory fields of shape
    ``(N, T, *space, C)`` (role ``"output"``) and per-sample PDE parameters that the model sees.
    """

    generate: Callable[..., tuple[dict[str, np.ndarray], Any]]
    roles: dict[str, str]
    channels: dict[str, list[str]]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HardConstraint:
    """Essential conditions imposed exactly: the trial function is u = g(x) + φ(x) · N(x).

    Attributes
    ----------
    distance : ``φ(x) -> (n,)`` or ``(n, c)`` (one per output), zero where the conditions hold
    lift : ``g(x) -> (n,)`` or ``(n, c)``, equal to the prescribed values there
    covers : names of the problem's conditions that the constraint satisfies exactly (a method
        using the constraint drops their loss terms)
    sided : ``lift`` and ``distance`` take a second argument, the subdomain whose network is
        evaluated (``None``: the owner of each point), for data that differ on the two sides of
        an internal boundary (the faces of a crack)
    """

    distance: Callable[..., Any]
    lift: Callable[..., Any]
    covers: tuple[str, ...] = ()
    sided: bool = False


@dataclass(frozen=True)
class EnergyForm:
    """The energy description of a steady problem, for energy-form methods (deep energy method).

    The method minimizes Π[u] = ∫_Ω ψ dΩ + Σ_Γ ∫_Γ ψ_Γ ds by quadrature, over trial functions
    that satisfy :attr:`Problem.constraint` exactly.

    Attributes
    ----------
    density : ``ψ(u, grad_u, x, params) -> (n,)``; ``u`` is (n,) and ``grad_u`` (n, d) for one
        output, (n, c) and (n, c, d) for c outputs
    boundary : boundary tag -> ``ψ_Γ(u, x, params) -> (n,)``, e.g. −t·u for a traction t
    penalties : condition name -> default weight, for conditions an exact constraint cannot
        carry (interface continuity, data with no finite-energy lift); each becomes a loss
        term mean(residual²) next to ``energy``
    """

    density: Callable[..., Any]
    boundary: dict[str, Callable[..., Any]] = field(default_factory=dict)
    penalties: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CharacteristicForm:
    r"""The characteristic (Lagrangian) form of a 1D transport problem, for Lagrangian methods (LPINN).

    The PDE :math:`u_t + a(u)\,u_x = \nu u_{xx}` is written along characteristics
    :math:`dX/dt = a(u)`, :math:`du/dt = \nu u_{xx}`.

    Attributes
    ----------
    speed : ``a(u, params) -> Tensor``, the characteristic speed
    nu : the diffusion coefficient: the name of one of the problem's parameters (so a trainable
        coefficient reaches the form), a number, or ``nu(params)``
    """

    speed: Callable[..., Any]
    nu: str | float | Callable[..., Any] = 0.0

    def diffusion(self, params: dict) -> Any:
        """ν at ``params`` (a float, or a tensor when the coefficient is trained)."""
        if isinstance(self.nu, str):
            return params[self.nu]
        return self.nu(params) if callable(self.nu) else float(self.nu)


@dataclass(frozen=True)
class FluxForm:
    """The conservation form :math:`\\nabla\\cdot F(u) = s` in space(-time) coordinates, for flux
    conditions (the ``flux`` interface term of multi-domain PINNs, cPINN).

    Attributes
    ----------
    flux : ``F(du, params) -> (n, ndim)`` (one output) or ``(n, c, ndim)``: the flux in every
        coordinate, time included (Burgers: :math:`(u^2/2 - \\nu u_x,\\ u)` in ``(x, t)``), from a
        :class:`~sciml.ops.Derivatives` accessor
    """

    flux: Callable[..., Any]


# The forms a problem may offer besides its strong form (``equations`` and ``conditions``), with the
# class each one must be. A method asks ``problem.form(kind)``; a new kind (the weak form of a
# weak-residual method, a flux form) is one entry here and one class.
@dataclass(frozen=True)
class WeakForm:
    r"""The weak form of a steady second-order problem :math:`-\nabla\cdot F(u, \nabla u, x) = s(x)`:
    for every test function φ that vanishes on the boundary,
    :math:`\int F\cdot\nabla\varphi\,dx - \int s\,\varphi\,dx = 0`, with no second derivative of u.
    What weak-form methods (DGNO's virtual observables) take: :func:`sciml.problems.weak.weak_residuals`.

    Attributes
    ----------
    flux : ``F(u, grad_u, x, params, inputs) -> (n, d)``; ``u`` is (n,), ``grad_u`` (n, d); ``inputs``
        the problem's input fields at ``x`` (e.g. a coefficient), or None
    source : ``s(x, params, inputs) -> (n,)``
    """

    flux: Callable[..., Any]
    source: Callable[..., Any]


FORMS: dict[str, type] = {
    "energy": EnergyForm,
    "characteristic": CharacteristicForm,
    "flux": FluxForm,
    "weak": WeakForm,
}


@dataclass
class Problem:
    """A PDE benchmark, declared once and shared by every method that can solve it."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[str, float]
    domain: Any = None  # Domain | MeshDomain, for point-wise methods
    equations: dict[str, Residual] = field(default_factory=dict)
    conditions: dict[str, Condition] = field(default_factory=dict)
    # reference solution on an evaluation support: reference() or reference(params)
    reference: Callable[..., Field] | None = None
    # u where a closed form exists: exact(x) or exact(x, params) -> (n,) or (n, c) on (n, ndim) points; with
    # no ``reference`` it gives the reference field on ``domain.to_mesh(eval_h)`` (× ``eval_times``)
    exact: Callable[..., np.ndarray] | None = None
    dataset: DatasetSpec | None = None  # operator-learning data from the classical solver
    periodic: dict[str, float] = field(default_factory=dict)  # coordinate name -> period
    # the forms offered besides the strong one, by kind (:data:`FORMS`): {"energy": EnergyForm(...),
    # "characteristic": CharacteristicForm(...)}; every form's functions receive the parameters
    forms: dict[str, Any] = field(default_factory=dict)
    constraint: HardConstraint | None = None  # exact essential conditions u = g + φ·N
    # name -> predicate(x) -> bool mask (numpy or torch): one network per subdomain, first match owns a point
    subdomains: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # quantities derived from the solution, written and evaluated next to the outputs (e.g. stresses):
    # derived(u (n, c), grad_u (n, c, d), x (n, d), params) -> {name: (n,)}, names as in ``derived_names``
    derived: Callable[..., dict[str, Any]] | None = None
    derived_names: tuple[str, ...] = ()
    primary: tuple[str, ...] = ()  # outputs scored as ``rel_l2`` (default all); others get rel_l2_<name>
    eval_h: float | None = None  # mesh spacing of the reference built from ``exact`` (default diameter / 64)
    eval_times: Any = None  # its time levels: a count (default 21, evenly over the interval) or the times

    def __post_init__(self):
        if not isinstance(self.forms, dict):
            raise ValueError(
                f"problem {self.name!r}: forms must map kinds to forms, e.g. {{'energy': EnergyForm(...)}}, "
                f"got {type(self.forms).__name__}"
            )
        for kind, form in self.forms.items():
            if kind not in FORMS:
                raise ValueError(
                    f"problem {self.name!r}: no form kind {kind!r}; the kinds are: strong (the equations), "
                    + ", ".join(FORMS)
                )
            if not isinstance(form, FORMS[kind]):
                raise ValueError(
                    f"problem {self.name!r}: its {kind} form must be an instance of {FORMS[kind].__name__}, got {type(form).__name__}"
                )

    @property
    def offers(self) -> tuple[str, ...]:
        """The kinds of form the problem offers: ``strong`` when it has equations, then ``forms``."""
        return (("strong",) if self.equations else ()) + tuple(self.forms)

    def form(self, kind: str, method: str | None = None) -> Any:
        """The problem's form of ``kind``, or a ValueError naming what it offers (and who asked)."""
        if kind == "strong":
            raise ValueError(f"the strong form of {self.name!r} is its equations and conditions, not a forms entry")
        if kind not in self.forms:
            a = "an" if kind[0] in "aeiou" else "a"
            offers = ", ".join(self.offers) or "(none)"
            if method:
                raise ValueError(f"{method} needs a problem with {a} {kind} form; {self.name!r} offers: {offers}")
            raise ValueError(f"problem {self.name!r} has no {kind} form; it offers: {offers}")
        return self.forms[kind]

    def reference_field(self) -> Field:
        """The reference solution (computed once, then cached on the problem): ``reference()``, or,
        without one, ``exact`` on a mesh of the domain (:meth:`exact_field`)."""
        if self.reference is None and (self.exact is None or self.domain is None):
            raise ValueError(f"problem {self.name!r} has no reference solution to evaluate against")
        if "_reference_cache" not in self.__dict__:
            ref = self.exact_field() if self.reference is None else _call_with_params(self.reference, (), self.params)
            self.__dict__["_reference_cache"] = ref
        return self.__dict__["_reference_cache"]

    def exact_field(self) -> Field:
        """``exact`` on ``domain.to_mesh(h)`` (``h = eval_h``, default the spatial diameter / 64): a
        mesh Field for a steady problem, a time series on the mesh at ``eval_times`` otherwise."""
        if self.exact is None or self.domain is None:
            raise ValueError(f"problem {self.name!r} has no exact solution and domain to build a reference from")
        b = np.asarray(self.domain.bounds, dtype=np.float64)[: self.domain.dim]
        h = self.eval_h if self.eval_h is not None else float(np.linalg.norm(b[:, 1] - b[:, 0])) / 64
        mesh = self.domain.to_mesh(h)
        times = None
        x = mesh.points
        if self.domain.time:
            t = self.eval_times if self.eval_times is not None else 21
            t0, t1 = self.domain.time
            times = np.linspace(t0, t1, int(t)) if np.ndim(t) == 0 else np.asarray(t, dtype=np.float64)
            x = np.hstack([np.tile(x, (len(times), 1)), np.repeat(times, len(x))[:, None]])
        u = np.asarray(_call_with_params(self.exact, (x,), self.params), dtype=np.float64)
        u = u.reshape(len(x), -1)
        if u.shape[1] != len(self.outputs):
            raise ValueError(f"problem {self.name!r}: exact gave {u.shape[1]} channels for outputs {self.outputs}")
        if times is not None:
            u = u.reshape(len(times), mesh.n_points, -1)
        return Field(u, mesh, self.outputs, times)

    def io_spec(self) -> IOSpec:
        if self.dataset is not None:
            ins = tuple(c for f, r in self.dataset.roles.items() if r == "input" for c in self.dataset.channels[f])
            outs = tuple(c for f, r in self.dataset.roles.items() if r == "output" for c in self.dataset.channels[f])
            shape = self.dataset.settings.get("shape")  # None: samples on supports of their own (format v2)
            ndim = int(self.dataset.settings.get("ndim", len(shape) if shape else 0))
            return IOSpec(ins, outs, ndim, shape=tuple(int(n) for n in shape) if shape else None)
        bounds = None
        if self.domain is not None and len(self.domain.bounds) == len(self.inputs):
            bounds = tuple((float(lo), float(hi)) for lo, hi in self.domain.bounds)
        return IOSpec(self.inputs, self.outputs, len(self.inputs), bounds)


def array_module(x: Any) -> Any:
    """``torch`` for a tensor, ``numpy`` otherwise: one formula serves exact solutions (numpy) and
    residuals (torch)."""
    import torch

    return torch if isinstance(x, torch.Tensor) else np


def _call_with_params(fn: Callable[..., Any], args: tuple, params: dict) -> Any:
    """``fn(*args, params)`` when ``fn`` takes one more positional argument than ``args``, else ``fn(*args)``."""
    import inspect

    try:
        sig = inspect.signature(fn).parameters.values()
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        takes = any(p.kind == p.VAR_POSITIONAL for p in sig) or len([p for p in sig if p.kind in kinds]) > len(args)
    except (TypeError, ValueError):
        takes = False
    return fn(*args, params) if takes else fn(*args)


def resolve_params(problem: str, spec: dict[str, Param], given: dict[str, Any] | None) -> dict[str, float]:
    """Defaults overridden by ``given``; unknown names, non-numbers and out-of-range values raise an
    :class:`~sciml.config.OptionError` for option ``params``."""
    if given is not None and not isinstance(given, dict):
        example = ", ".join(f"{k}: {p.default:g}" for k, p in spec.items()) or "..."
        raise OptionError(
            "params",
            f"problem {problem!r}: params must be a mapping of parameter names to values "
            f"(e.g. {{{example}}}), got {type(given).__name__} {given!r}",
        )
    given = dict(given or {})
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise OptionError(
            "params",
            f"problem {problem!r} has no parameter {unknown[0]!r}; its parameters are: {', '.join(spec) or '(none)'}",
        )
    out = {}
    for name, p in spec.items():
        v = given.get(name, p.default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise OptionError("params", f"problem {problem!r}: parameter {name!r} must be a finite number, got {v!r}")
        if not p.lo <= v <= p.hi:
            raise OptionError(
                "params", f"problem {problem!r}: parameter {name!r}={v} is outside its range [{p.lo}, {p.hi}]"
            )
        out[name] = float(v)
    return out


def check_int(problem: str, name: str, v, lo: int) -> int:
    """``v`` if it is an integer >= ``lo`` (not a bool), else an OptionError naming option ``name``."""
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise OptionError(name, f"{problem}: {name} must be an integer >= {lo}, got {v!r}")
    return v


def check_number(problem: str, name: str, v, lo: float = -np.inf, strict: bool = False) -> float:
    """``v`` as a float if it is a finite number >= ``lo`` (> with ``strict``), else an OptionError."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or (v <= lo if strict else v < lo):
        bound = "" if lo == -np.inf else f" {'>' if strict else '>='} {lo:g}"
        raise OptionError(name, f"{problem}: {name} must be a finite number{bound}, got {v!r}")
    return float(v)
