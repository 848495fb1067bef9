r"""Interface conditions between the subdomains of a cut domain, as named problem conditions.

A problem whose domain is split by cuts (:class:`sciml.geometry.Domain` ``cuts=``) is solved by one
network per subdomain (a multi-domain PINN: XPINN, cPINN, METALIC). What ties the networks together
on an interface is a choice: continuity of the solution, of its derivatives, of the flux, of the
residual... :func:`attach_interfaces` turns a mapping ``term -> weight`` into one
:class:`~sciml.problems.base.Condition` per interface and active term, so the PINN's loss gains a
named term for each and the data sample points on each interface.

The terms, on an interface between sides :math:`a` and :math:`b` with unit normal :math:`n` (from
:math:`a` to :math:`b`), for equations :math:`R_e` (each of the problem's equations):

- ``u``: solution continuity :math:`u_a - u_b`;
- ``uavg``: average solution, each side against :math:`\bar u = (u_a + u_b)/2` (XPINN);
- ``res``: each side's residual :math:`R_e(u_a)`, :math:`R_e(u_b)`;
- ``res_continuity``: :math:`R_e(u_a) - R_e(u_b)` (XPINN);
- ``flux``: normal flux continuity :math:`(F(u_a) - F(u_b))\cdot n` with the problem's flux form
  (:class:`FluxForm`, cPINN); without one, the normal derivative :math:`\partial_n u_a - \partial_n u_b`;
- ``gres``: the gradient of each side's residual, :math:`\nabla R_e(u_a)`, :math:`\nabla R_e(u_b)` (gPINN);
- ``u_<coords>``: continuity of a derivative, e.g. ``u_x`` (:math:`\partial_x u_a - \partial_x u_b`),
  ``u_xx``, ``u_tt`` (coordinates by name; ``u_x0,x0`` where names are longer than a letter).

Every term's loss is the sum, over its residual's components, of their mean squares over the
interface points: over both sides for ``uavg``, ``res`` and ``gres`` (as METALIC's reference
implementation adds one mean per side, and per derivative for ``gres``), over the outputs for a
problem with several, over the equations for ``res`` and ``res_continuity``. (The residual is
returned as ``(n, m)`` columns scaled by √m, so the PINN's mean of its square is that sum.)
``gres`` differentiates the whole residual, source terms included (the gPINN residual; METALIC's
code holds the source fixed). :func:`metalic_terms` lists METALIC's nine terms for a problem's
coordinates.

Reference: Li, Penwarden, Xu, Tillinghast, Narayan, Kirby, Zhe, *Meta learning of interface
conditions for multi-domain physics-informed neural networks*, ICML 2023.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from .base import Condition, Problem

PLAIN = ("u", "uavg", "res", "res_continuity", "flux", "gres")


def metalic_terms(inputs: tuple[str, ...]) -> tuple[str, ...]:
    """METALIC's nine interface terms for coordinates ``inputs`` (first two), in the reference's
    order: u, uavg, res, res_continuity, flux, the second coordinate's second derivative, gres, the
    first coordinate's first and second derivatives."""
    c0, c1 = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    sep = "" if len(c0) == len(c1) == 1 else ","
    return ("u", "uavg", "res", "res_continuity", "flux", f"u_{c1}{sep}{c1}", "gres", f"u_{c0}", f"u_{c0}{sep}{c0}")


def derivative_coords(term: str, inputs: tuple[str, ...]) -> tuple[str, ...] | None:
    """The coordinates of a derivative term ``u_<coords>`` (``None`` if ``term`` is not one)."""
    if not term.startswith("u_") or len(term) == 2:
        return None
    body = term[2:]
    coords = tuple(body.split(",")) if "," in body else tuple(body) if all(len(c) == 1 for c in inputs) else (body,)
    return coords if all(c in inputs for c in coords) else None


def _summed(r: torch.Tensor) -> torch.Tensor:
    """``r`` as (n, m) columns scaled by √m: the mean of its square is the sum of the columns' mean squares."""
    r = r.reshape(len(r), -1)
    return r * math.sqrt(r.shape[1])


def _sides(ra: torch.Tensor, rb: torch.Tensor) -> torch.Tensor:
    """Both sides' (n, k) residuals, so that mean(r²) is the sum of every column's mean square on both sides."""
    return _summed(torch.cat([ra, rb], dim=1))


def _outputs(du, *coords: str) -> torch.Tensor:
    """(n, c): a derivative (or the value, with no ``coords``) of every output."""
    return torch.stack([du(*coords, out=o) for o in range(len(du.outputs))], dim=1)


def _equations(problem: Problem, du, p) -> torch.Tensor:
    return torch.cat([eq(du, p).reshape(len(du.x), -1) for eq in problem.equations.values()], dim=1)


def _grad(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(n, k·d): the gradient in all coordinates of each column of a residual ``r`` (n, k)."""
    cols = [torch.autograd.grad(r[:, j].sum(), x, create_graph=True)[0] for j in range(r.shape[1])]
    return torch.cat(cols, dim=1)


def interface_residual(problem: Problem, term: str) -> Callable[..., Any]:
    """``residual(du_a, du_b, params)`` of one interface term (see the module's list)."""
    if term == "u":
        return lambda a, b, p: _summed(_outputs(a) - _outputs(b))
    if term == "uavg":

        def uavg(a, b, p):
            ua, ub = _outputs(a), _outputs(b)
            avg = (ua + ub) / 2
            return _sides(ua - avg, ub - avg)

        return uavg
    if term in ("res", "res_continuity", "gres") and not problem.equations:
        raise ValueError(f"interface term {term!r} needs the problem's equations; {problem.name!r} has none")
    if term == "res":
        return lambda a, b, p: _sides(_equations(problem, a, p), _equations(problem, b, p))
    if term == "res_continuity":
        return lambda a, b, p: _summed(_equations(problem, a, p) - _equations(problem, b, p))
    if term == "gres":
        return lambda a, b, p: _sides(_grad(_equations(problem, a, p), a.x), _grad(_equations(problem, b, p), b.x))
    if term == "flux":
        form = problem.forms.get("flux")
        if form is None:  # the diffusive flux: the normal derivative, as the METALIC reference does
            outs = range(len(problem.outputs))
            return lambda a, b, p: _summed(torch.stack([a.dn(o) - b.dn(o) for o in outs], dim=1))

        def flux(a, b, p):
            fa, fb = form.flux(a, p), form.flux(b, p)  # (n, ndim) or (n, c, ndim)
            n = a.normals if fa.ndim == 2 else a.normals[:, None, :]
            return _summed(((fa - fb) * n).sum(-1))

        return flux
    coords = derivative_coords(term, problem.inputs)
    if coords is None:
        raise ValueError(unknown_term(problem, term))
    return lambda a, b, p: _summed(_outputs(a, *coords) - _outputs(b, *coords))


def unknown_term(problem: Problem, term: str) -> str:
    return (
        f"interface: unknown term {term!r}; the terms are {', '.join(PLAIN)} and derivatives u_<coords> "
        f"of coordinates {', '.join(problem.inputs)} (e.g. {', '.join(metalic_terms(problem.inputs)[-3:])})"
    )


PARAM_KEY, TERM_KEY = "problem.params.", "problem.interface."


def split_problem(problem: Problem, cuts: dict | None = None, interface: dict[str, Any] | None = None) -> Problem:
    """``problem`` on its domain split by ``cuts`` (one network per piece: its ``subdomains``), joined
    by the ``interface`` terms (:func:`attach_interfaces`). What the ``cuts`` and ``interface``
    options of any problem do; the problem's own builder knows nothing of them.

    The domain is a :class:`~sciml.geometry.Domain` (or a wrapper of one, such as convection's paired
    periodic domain, rewrapped around the cut domain); a problem that already has subdomains of its
    own (a crack's faces) or a mesh domain cannot be cut (one line)."""
    if cuts is not None and cuts != {}:
        from ..geometry import Domain

        dom = problem.domain
        inner = getattr(dom, "domain", None) if not isinstance(dom, Domain) else None
        base = dom if isinstance(dom, Domain) else inner if isinstance(inner, Domain) else None
        if base is None:
            what = "no domain" if dom is None else f"a {type(dom).__name__}, which cuts cannot split"
            raise ValueError(f"cuts: problem {problem.name!r} has {what}; cuts split a Domain (a deepxde geometry)")
        if problem.subdomains:
            raise ValueError(
                f"cuts: problem {problem.name!r} has subdomains of its own ({', '.join(problem.subdomains)})"
            )
        try:
            new = base.cut(cuts)
        except ValueError as exc:  # named after the option, so a case's error points at problem.cuts
            raise ValueError(str(exc) if str(exc).startswith("cuts") else f"cuts: {exc}") from None
        domain = new if base is dom else type(dom)(new)
        problem = replace(problem, domain=domain, subdomains=dict(new.subdomains))
    return attach_interfaces(problem, interface)


def chosen_interface(problem: Problem, interface: dict[str, Any]) -> dict[str, Any]:
    """The terms (term -> weight) that the METALIC policy file ``interface["policy"]`` chooses for
    ``problem``: the arm of highest posterior mean reward at the problem's parameters. The policy's
    contexts must be parameters (``problem.params.<name>``) and its arms interface terms
    (``problem.interface.<term>``), as in a METALIC study of a multi-domain case."""
    from ..bandit import load_policy

    extra = sorted(set(interface) - {"policy"})
    if extra:
        raise ValueError(f"interface: give a policy or terms, not both (got policy and {extra[0]!r})")
    path = interface["policy"]
    if not isinstance(path, str) or not path:
        raise ValueError(f"interface.policy must be the path of a policy file (policy.json), got {path!r}")
    try:
        policy = load_policy(path)
    except ValueError as exc:
        raise ValueError(f"interface.policy: {exc}") from None
    if policy.stages is not None:
        raise ValueError(
            f"interface.policy {path}: a two-stage policy chooses its second arm from the error after the "
            f"first stage, which only a study measures; play it with sciml study (policy: {{type: metalic, "
            f"learned: {path}}}) or give a one-stage policy"
        )
    context = {}
    for scale in policy.contexts:
        name = scale.key[len(PARAM_KEY) :] if scale.key.startswith(PARAM_KEY) else None
        if name not in problem.params:
            raise ValueError(
                f"interface.policy {path}: its context {scale.key!r} is not a parameter of {problem.name!r} "
                f"({', '.join(PARAM_KEY + k for k in problem.params) or 'none'})"
            )
        context[scale.key] = problem.params[name]
        seen = policy.x_context[:, policy.contexts.index(scale)]
        value = float(problem.params[name])
        if not seen.min() <= value <= seen.max():
            warnings.warn(
                f"interface.policy {path}: {name} = {value:g} is outside the values the policy learned from "
                f"[{seen.min():g}, {seen.max():g}]; its choice there is an extrapolation",
                stacklevel=2,
            )
    bad = [k for k in policy.arm_keys if not k.startswith(TERM_KEY)]
    if bad:
        raise ValueError(f"interface.policy {path}: its arm {bad[0]!r} is not an interface term ({TERM_KEY}<term>)")
    return {k[len(TERM_KEY) :]: v for k, v in policy.choose(context).items()}


def phase_weight(term: str, value: Any) -> tuple[float, dict[str, float] | None]:
    """An interface term's weight: a number (every phase), or a mapping phase -> number (phases not
    listed weigh 0): ``(weight, phases)``; bad values are one ValueError line naming the term."""

    def number(v, where):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"interface.{where}: the weight must be a finite number >= 0, got {v!r}")
        return float(v)

    if isinstance(value, dict):
        if not value or not all(isinstance(k, str) and k for k in value):
            raise ValueError(
                f"interface.{term}: a weight per phase maps the stages' phase names to weights, "
                f"e.g. {{fit: 5, refine: 0}}, got {value!r}"
            )
        phases = {k: number(v, f"{term}.{k}") for k, v in value.items()}
        return max(phases.values()), phases
    return number(value, term), None


def attach_interfaces(problem: Problem, interface: dict[str, Any] | None) -> Problem:
    """``problem`` with one condition ``<term>@<interface>`` per interface of its cut domain and per
    term of ``interface`` (term -> weight; 0 leaves a term out, so only active terms are computed).

    A weight may also be given per phase of the training stages (``{fit: 5, refine: 0}``; phases not
    listed weigh 0): the term is then attached (its interface points sampled) whatever the weights,
    and computed only in the stages whose phase weighs it above 0. So a policy may change the
    weights of a phase before its stage starts (the PINN's ``set_phase_weights``) with the data
    unchanged (METALIC's two-stage variant).

    The conditions join the interface's two subdomains (``subdomain=(a, b)``) at points sampled on the
    interface, carry their weight as the loss term's default weight, and ``flux`` gets the interface's
    normals. ``problem.subdomains`` becomes the domain's subdomains if the problem had none.
    ``interface = {"policy": PATH}`` takes the terms a learned METALIC policy (a study's
    ``policy.json``) chooses for the problem's parameters (:func:`chosen_interface`).
    Bad input (no cuts, an unknown term, a negative weight, a bad policy file) is one ValueError line.
    """
    if interface is None:
        return problem
    if not isinstance(interface, dict):
        raise ValueError(f"interface must map terms to weights, e.g. {{u: 5, res_continuity: 5}}, got {interface!r}")
    faces = getattr(problem.domain, "interfaces", None) or {}
    if not faces:
        raise ValueError(
            f"interface terms join the subdomains of a cut domain; {problem.name!r} has no cuts (give cuts, "
            "e.g. cuts: {t: 0.5})"
        )
    if "policy" in interface:
        interface = chosen_interface(problem, interface)
    conditions = dict(problem.conditions)
    for term, value in interface.items():
        weight, phases = phase_weight(str(term), value)
        residual = interface_residual(problem, str(term))  # checks the term even when its weight is 0
        if weight == 0 and phases is None:
            continue
        for name, face in faces.items():
            key = f"{term}@{name}"
            if key in conditions:
                raise ValueError(f"interface: problem {problem.name!r} already has a condition {key!r}")
            conditions[key] = Condition(
                f"boundary:{name}", residual, tuple(face.sides), normals=term == "flux", weight=weight, phases=phases
            )
    subdomains = problem.subdomains or dict(problem.domain.subdomains)
    return replace(problem, conditions=conditions, subdomains=subdomains)


def interface_summary(problem: Problem, phase_weights: dict[str, dict] | None = None) -> dict[str, Any]:
    """The interface terms ``problem`` is solved with: term -> weight, or -> {phase: weight} for a
    term weighted per phase (what a run records in its summary, e.g. the terms a policy chose);
    ``phase_weights`` (condition -> {phase: weight}): the weights a method trained with, if a policy
    set them between stages (the PINN's ``phase_weights``)."""
    out: dict[str, Any] = {}
    for key, cond in problem.conditions.items():
        if cond.is_interface and "@" in key:
            phases = (phase_weights or {}).get(key, cond.phases)
            out.setdefault(key.split("@", 1)[0], dict(phases) if phases is not None else cond.weight)
    return out
