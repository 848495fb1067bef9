"""PINN in strong form: every equation and condition of the problem is a named MSE term.

.. math:: \\mathcal L = \\sum_e w_e \\frac{1}{N_e}\\sum_i r_e(u_\\theta, x_i)^2
          + \\sum_c w_c \\frac{1}{N_c}\\sum_j r_c(u_\\theta, x_j)^2

Reference: Raissi, Perdikaris, Karniadakis, J. Comput. Phys. 378 (2019).
"""

from __future__ import annotations

import numpy as np
import torch

from sciml.fields import Field, comparison, error_metrics
from sciml.method import AbstractMethod, phase_names
from sciml.nn import check_model_fits
from sciml.ops import Derivatives
from sciml.registry import METHODS

from .multidomain import point_network


class PINN(AbstractMethod):
    """Physics-informed network: loss terms named after the problem's equations and conditions.

    Parameters
    ----------
    problem, model : the problem and a point-wise network ``(n, n_in) -> (n, n_out)`` (a
        :class:`~sciml.nn.SubdomainNet` on problems with subdomains)
    weights : loss-term name -> weight (unnamed terms weigh 1)
    derivatives : ``"auto"`` uses Taylor-mode jets when the model has them (MLP with a smooth
        activation) and autograd otherwise; ``"autograd"`` or ``"jet"`` force one.
    hard_constraints : impose the problem's :class:`~sciml.problems.base.HardConstraint`
        exactly (u = g + φ·N) and drop the loss terms of the conditions it covers
    selection : a point selector (:mod:`pinns.selection`) run after every step; it may replace
        or grow the point sets between steps
    trainable_params : parameter name -> initial guess: unknown PDE coefficients learned with the
        network (inverse problems, usually with observations); ``evaluate`` reports each value and
        its error relative to the problem's (true) value

    With observations in the data (point set ``"observations"``, rows (x, y)), the loss gains the
    term ``observations`` = mean |u(x) − y|².
    """

    def __init__(
        self,
        problem,
        model: torch.nn.Module,
        weights: dict[str, float] | None = None,
        derivatives: str = "auto",
        hard_constraints: bool = False,
        selection=None,
        trainable_params: dict[str, float] | None = None,
        grid_update=None,
    ):
        super().__init__()
        check_model_fits(model, problem)  # a wrong network size in one line, not a torch shape error
        self.selection, self._bound = selection, False
        if grid_update is not None and not hasattr(model, "update_grid"):
            raise ValueError(f"method.grid_update moves a KAN's knots; the model is a {type(model).__name__}")
        self.grid_update = grid_update
        self.unknowns = unknown_coefficients(problem, trainable_params)
        self.problem, self.model = problem, model
        if hard_constraints and problem.constraint is None:
            raise ValueError(f"method.hard_constraints: problem {problem.name!r} declares no hard constraint")
        self.constraint = problem.constraint if hard_constraints else None
        covered = set(self.constraint.covers) if self.constraint else set()
        conditions = {k: c for k, c in problem.conditions.items() if k not in covered}
        names = set(problem.equations) | set(conditions) | {"observations"}
        weights = dict(weights or {})
        unknown = sorted(set(weights) - names)
        if unknown:
            raise ValueError(
                f"method.weights: no loss term {unknown[0]!r}; the terms of "
                f"{problem.name!r} are: {', '.join(sorted(names))}"
            )
        if derivatives not in ("auto", "autograd", "jet"):
            raise ValueError(f"method.derivatives must be auto, autograd or jet, got {derivatives!r}")
        has_jet = getattr(model, "supports_jet", lambda: False)() and self.constraint is None
        if derivatives == "jet" and not has_jet:
            raise ValueError(
                f"method.derivatives: jet needs a model with Taylor-mode jets (an MLP with "
                f"tanh/sin/softplus/silu/relu) and no hard constraint; {type(model).__name__} has none"
            )
        self.use_jet = has_jet and derivatives != "autograd"
        defaults = {k: c.weight for k, c in conditions.items() if c.weight != 1.0}  # a condition's own weight
        self.weights = {**defaults, **{k: float(v) for k, v in weights.items()}}
        # conditions weighted per phase (method.weights overrides them in every phase); the terms that
        # weigh 0 in the current stage's phase are not computed
        self.phased = sorted(k for k, c in conditions.items() if c.phases is not None and k not in weights)
        self.phase_weights = {k: dict(conditions[k].phases or {}) for k in self.phased}
        self.off: set[str] = set()
        # point set -> residuals evaluated on it: equations on the interior, each condition on its own
        self.groups: dict[str, dict] = {}
        if problem.equations:
            self.groups["interior"] = dict(problem.equations)
        self.sided: dict[str, object] = {}  # conditions bound to a subdomain's network (or a pair of them)
        for name, cond in conditions.items():
            if cond.subdomain is not None:
                self.sided[name] = cond
            else:
                self.groups[name] = {name: cond.residual}
        self._requests: dict[str, set] = {}
        self.with_normals = {name for name, c in conditions.items() if c.normals}  # du.normals, du.dn there

    def normals(self, group: str, x: torch.Tensor, batch: dict | None = None) -> torch.Tensor | None:
        """Outward normals at the points ``x`` of condition ``group`` if it declares ``normals=True``
        (else None): the data's (batch entry ``normals:<group>``), or ``domain.normals(x)`` for
        points of one's own (a selector's candidates), the same function of the points."""
        if group not in self.with_normals:
            return None
        if batch is not None and f"normals:{group}" in batch:
            return batch[f"normals:{group}"]
        n = self.problem.conditions[group].normals_at(self.problem.domain, x.detach().cpu().numpy())
        return torch.as_tensor(n, dtype=x.dtype, device=x.device)

    def params(self) -> dict:
        """The problem's parameters, with the trainable ones as tensors (in the autograd graph)."""
        return {**self.problem.params, **dict(self.unknowns.items())}

    def net(self, subdomain: str | None = None):
        """The trial function (through the hard constraint if any) of one subdomain, or of all."""
        return trial_function(self.model, self.constraint, subdomain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net()(x)

    def check_phases(self, phases: list[str]) -> None:
        """``selection.phases``, ``grid_update.phases`` and the phases of conditions weighted per phase
        (interface terms) must name phases the case's stages have."""
        super().check_phases(phases)
        for name in self.phased:
            missing = [p for p in self.phase_weights[name] if p not in phases]
            if missing:
                term = name.split("@", 1)[0]
                raise ValueError(
                    f"problem.interface.{term}: no stage has phase {missing[0]!r}; "
                    f"the stages' phases: {', '.join(dict.fromkeys(phases))} (name them in train.stages.N.phase)"
                )
        for option, part in (("selection", self.selection), ("grid_update", self.grid_update)):
            missing = [p for p in (getattr(part, "phases", None) or []) if p not in phases]
            if missing:
                raise ValueError(
                    f"method.{option}.phases: no stage has phase {missing[0]!r}; "
                    f"the stages' phases: {', '.join(dict.fromkeys(phases))}"
                )

    def start_stage(self, phase: str, state, data) -> None:
        """Point selection and KAN grid updates act in the stages whose phase their ``phases`` lists
        (every stage without it)."""
        for part in (self.selection, self.grid_update):
            if part is not None:
                part.in_phase = part.phases is None or phase in part.phases
        self.off = set()
        for name in self.phased:  # a policy may have set the phase's weights since (set_phase_weights)
            self.weights[name] = float(self.phase_weights[name].get(phase, 0.0))
            if self.weights[name] == 0.0:
                self.off.add(name)

    def set_phase_weights(self, terms: dict) -> None:
        """Set the weights per phase of interface terms attached with weights per phase (``terms``:
        term -> {phase: weight}, on every interface), from the next stage on: what a two-stage
        METALIC study does between stages. Other terms are one ValueError line."""
        from sciml.problems.interfaces import phase_weight

        for term, value in terms.items():
            _, phases = phase_weight(str(term), value)
            names = [k for k in self.phased if k.split("@", 1)[0] == term]
            if phases is None or not names:
                raise ValueError(
                    f"interface.{term}: only the weights per phase of a term attached with weights per phase "
                    f"can change after the method is built"
                )
            for k in names:
                self.phase_weights[k] = dict(phases)

    def after_step(self, state, data) -> None:
        if self.grid_update is not None:
            self.grid_update(self.model, data, state.step)
        if self.selection is None:
            return
        if not self._bound:
            self.selection.bind(self, data)
            self._bound = True
        self.selection(self, data, state.step)

    def get_extra_state(self) -> dict:
        out = {"selection": self.selection.state_dict()} if self.selection is not None else {}
        if self.grid_update is not None:
            out["grid_updates"] = (self.grid_update.count, self.grid_update.last_step)
        return out

    def set_extra_state(self, state: dict) -> None:
        if self.selection is not None and "selection" in state:
            self.selection.load_state_dict(state["selection"])
            self._bound = True
        if self.grid_update is not None and "grid_updates" in state:
            self.grid_update.count, self.grid_update.last_step = state["grid_updates"]

    def _learn_requests(self, group: str, x: torch.Tensor, normals: torch.Tensor | None = None) -> None:
        """Find which derivatives the residuals of ``group`` ask for (a probe on 2 points of ``x``).

        Pure: it changes no weights and draws no random numbers, and it runs before the first loss
        of every process (a fresh run and a resumed one alike), so every loss afterwards takes the
        same arithmetic path; a resumed run then repeats the uninterrupted one bit for bit."""
        io = (self.problem.inputs, self.problem.outputs)
        xs = x[:2].detach().requires_grad_(True)
        probe = Derivatives(self.model(xs), xs, *io, normals=None if normals is None else normals[:2])
        for residual in self.groups[group].values():
            residual(probe, self.params())
        if any(len(a) > 2 for _, a in probe.requested):
            self.use_jet = False  # third or higher order: autograd for everything
        else:
            self._requests[group] = {a for _, a in probe.requested}

    def derivatives(self, group: str, x: torch.Tensor, normals: torch.Tensor | None = None) -> Derivatives:
        """The derivative accessor for the residuals of ``group`` at points ``x`` (with the outward
        ``normals`` there, or the domain's, when the group's condition declares ``normals=True``)."""
        if normals is None:
            normals = self.normals(group, x)
        if self.use_jet and group not in self._requests:
            self._learn_requests(group, x, normals)
        if not self.use_jet:
            return autograd_derivatives(self.problem, self.net(), x, normals)
        known = self.model.jet(x, self._requests[group])
        u = torch.stack([known[(o, ())] for o in range(len(self.problem.outputs))], dim=1)
        return Derivatives(u, x, self.problem.inputs, self.problem.outputs, known=known, normals=normals)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        p = self.params()
        terms = {}
        for group, du in self._all_derivatives(batch).items():
            for name, residual in self.groups[group].items():
                terms[name] = residual(du, p).square().mean()
        for name, cond in self.sided.items():
            if name in self.off:  # weighs 0 in this stage's phase
                continue
            terms[name] = (
                sided_residual(self.problem, cond, self.net, batch[name], p, self.normals(name, batch[name], batch))
                .square()
                .mean()
            )
        if "observations" in batch:
            terms["observations"] = self.observation_misfit(batch["observations"]).square().mean()
        return terms

    def observation_misfit(self, xy: torch.Tensor) -> torch.Tensor:
        """u(x) − y at observation rows ``(x, y)``: (n, c)."""
        d = len(self.problem.inputs)
        return self.net()(xy[:, :d]) - xy[:, d:]

    def _all_derivatives(self, batch) -> dict[str, Derivatives]:  # the equation/condition groups only
        for g in self.groups:  # learned up front, so the first loss takes the same path as every later one
            if self.use_jet and g not in self._requests:
                self._learn_requests(g, batch[g], self.normals(g, batch[g], batch))
        if not self.use_jet:
            return {g: self.derivatives(g, batch[g], self.normals(g, batch[g], batch)) for g in self.groups}
        # jets: every point set in one pass through the network (fewer, larger kernels)
        xs = [batch[g] for g in self.groups]
        known = self.model.jet(torch.cat(xs), set().union(*self._requests.values()))
        io = (self.problem.inputs, self.problem.outputs)
        out, start = {}, 0
        for g, x in zip(self.groups, xs):
            sl = slice(start, start + len(x))
            start += len(x)
            kg = {k: v[sl] for k, v in known.items() if k[1] == () or k[1] in self._requests[g]}
            u = torch.stack([kg[(o, ())] for o in range(len(self.problem.outputs))], dim=1)
            out[g] = Derivatives(u, x, *io, known=kg, normals=self.normals(g, x, batch))
        return out

    # --- evaluation against the reference field ---
    def reference(self) -> Field:
        return self.problem.reference_field()

    def _predict_values(self, ref: Field) -> np.ndarray:
        return predict_fields(self, self.problem, ref)

    def evaluate(self, data=None) -> dict[str, float]:
        ref = self.reference()
        out = field_metrics(self._predict_values(ref), ref, self.problem.primary or self.problem.outputs)
        return {**out, **coefficient_metrics(self.problem, self.unknowns)}

    def predict(self, data=None, n_samples: int = 4) -> list[tuple[str, Field]]:
        ref = self.reference()
        return [("solution", comparison(self._predict_values(ref), ref))]


def unknown_coefficients(problem, trainable: dict[str, float] | None) -> torch.nn.ParameterDict:
    """``method.trainable_params`` (parameter name -> initial guess) as trainable scalars; a name the
    problem does not have is refused in one line. Merged over ``problem.params`` they reach every
    form of the problem (equations, conditions, the characteristic form)."""
    if trainable is not None and not isinstance(trainable, dict):
        raise ValueError(f"method.trainable_params must map parameter names to initial guesses, got {trainable!r}")
    unknown = sorted(set(trainable or {}) - set(problem.params))
    if unknown:
        raise ValueError(
            f"method.trainable_params: {problem.name!r} has no parameter {unknown[0]!r}; "
            f"its parameters are: {', '.join(problem.params) or '(none)'}"
        )
    for k, v in (trainable or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"method.trainable_params.{k} must be a number (the initial guess), got {v!r}")
    return torch.nn.ParameterDict({k: torch.nn.Parameter(torch.tensor(float(v))) for k, v in (trainable or {}).items()})


def coefficient_metrics(problem, unknowns: torch.nn.ParameterDict) -> dict[str, float]:
    """Each recovered coefficient (``param/<name>``) and its error relative to the problem's true value."""
    out = {}
    for k, v in unknowns.items():
        true, got = problem.params[k], float(v.detach())
        out[f"param/{k}"] = got
        out[f"param/{k}_rel_error"] = abs(got - true) / abs(true) if true else abs(got)
    return out


def autograd_derivatives(problem, fn, x: torch.Tensor, normals: torch.Tensor | None = None) -> Derivatives:
    """A derivative accessor for ``fn`` at ``x`` by autograd (with outward ``normals`` if given)."""
    x = x.detach().requires_grad_(True)
    return Derivatives(fn(x), x, problem.inputs, problem.outputs, normals=normals)


def sided_residual(
    problem, cond, net_of, x: torch.Tensor, params: dict | None = None, normals: torch.Tensor | None = None
) -> torch.Tensor:
    """Residual of a condition bound to one subdomain's network (``net_of(name)``), or of an
    interface condition ``residual(du_a, du_b, params)`` between two."""
    p = problem.params if params is None else params
    if cond.is_interface:
        a, b = cond.subdomain
        return cond.residual(
            autograd_derivatives(problem, net_of(a), x, normals),
            autograd_derivatives(problem, net_of(b), x, normals),
            p,
        )
    return cond.residual(autograd_derivatives(problem, net_of(cond.subdomain), x, normals), p)


def trial_function(model: torch.nn.Module, constraint=None, subdomain: str | None = None):
    """``model`` (or one subdomain's network of it), through ``constraint`` (u = g + φ·N) if given."""
    base = model if subdomain is None else model.part(subdomain)
    if constraint is None:
        return base
    return lambda x: constrained(constraint, base, x, subdomain)


def constrained(constraint, net, x: torch.Tensor, subdomain: str | None = None) -> torch.Tensor:
    """u = g(x) + φ(x)·N(x): (n, c), satisfying the constraint's conditions for any network N
    (``subdomain``: the side being evaluated, for a sided constraint)."""
    n = net(x)
    side = (subdomain,) if constraint.sided else ()
    g = constraint.lift(x, *side)
    g = g[:, None] if g.ndim == 1 else g
    phi = constraint.distance(x, *side)
    return g + (phi[:, None] if phi.ndim == 1 else phi) * n


def field_metrics(pred: np.ndarray, ref: Field, primary: tuple[str, ...]) -> dict[str, float]:
    """``rel_l2``/``max_abs`` over the ``primary`` channels (the solution), and ``rel_l2_<name>``
    for every other channel (derived quantities such as von Mises stress, auxiliary outputs such
    as the stresses of a mixed formulation), each against its own reference norm; ``n_points``,
    the number of space(-time) points scored."""
    idx = [ref.names.index(n) for n in primary]
    out = error_metrics(pred[..., idx], ref.values[..., idx])
    for k, name in enumerate(ref.names):
        if name not in primary:
            out[f"rel_l2_{name}"] = error_metrics(pred[..., k], ref.values[..., k])["rel_l2"]
    out["n_points"] = int(np.prod(ref.values.shape[:-1]))
    return out


def predict_fields(fn, problem, ref: Field) -> np.ndarray:
    """The network's outputs at the reference points, plus the problem's derived quantities
    (``problem.derived`` from u and ∇u by autograd) when the reference carries them."""
    if ref.values.shape[-1] == len(problem.outputs):
        return predict_on(fn, ref)
    if problem.derived is None or tuple(ref.names[len(problem.outputs) :]) != tuple(problem.derived_names):
        raise ValueError(
            f"reference channels {ref.names} are not the outputs {problem.outputs} followed by "
            f"the derived quantities {problem.derived_names}"
        )
    p = next(fn.parameters())
    x_all = torch.as_tensor(reference_points(ref), dtype=p.dtype, device=p.device)
    chunks = []
    for x in x_all.split(16384):
        x = x.detach().requires_grad_(True)
        u = fn(x)
        g = torch.stack([torch.autograd.grad(u[:, c].sum(), x, retain_graph=True)[0] for c in range(u.shape[1])], dim=1)
        d = problem.derived(u.detach(), g.detach(), x.detach(), problem.params)
        chunks.append(torch.cat([u.detach()] + [d[n].reshape(-1, 1) for n in problem.derived_names], 1))
    v = torch.cat(chunks).cpu().numpy().astype(np.float64)
    return v.reshape(ref.values.shape)


def reference_points(ref: Field) -> np.ndarray:
    """Space(-time) query points in the order of ``ref.point_values()`` (times outermost)."""
    x = ref.points()
    if ref.times is None:
        return x
    nt, nx = len(ref.times), len(x)
    return np.hstack([np.tile(x, (nt, 1)), np.repeat(ref.times, nx)[:, None]])


@torch.no_grad()
def predict_on(fn: torch.nn.Module, ref: Field) -> np.ndarray:
    """A point-wise network's values at the reference's points, shaped like ``ref.values``."""
    p = next(fn.parameters())
    x = torch.as_tensor(reference_points(ref), dtype=p.dtype, device=p.device)
    u = torch.cat([fn(c) for c in x.split(65536)]).cpu().numpy().astype(np.float64)
    return u.reshape(ref.values.shape[:-1] + (u.shape[-1],))


@METHODS.register("pinn")
def pinn(
    *,
    problem,
    models=None,
    model=None,
    data=None,
    weights: dict | None = None,
    derivatives: str = "auto",
    hard_constraints: bool = False,
    selection: dict | None = None,
    trainable_params: dict | None = None,
    grid_update: dict | None = None,
    scale_inputs: bool = False,
) -> PINN:
    """Physics-informed neural network, strong form (named loss terms with weights). ``scale_inputs``:
    the network sees its inputs mapped to [-1, 1] over the domain's box (always so for the
    subdomain networks of a cut domain)."""
    if not isinstance(scale_inputs, bool):
        raise ValueError(f"method.scale_inputs must be true or false, got {scale_inputs!r}")
    if model is None:  # from the case: one network, or one per subdomain (pinns.multidomain)
        model = point_network(models, problem, scale_inputs)
    selector = None
    if selection:
        import pinns.pinnacle  # noqa: F401  (registers the selectors, with pinns.selection)
        from sciml.registry import SAMPLERS

        opts = dict(selection)
        if "type" not in opts:
            raise ValueError(f"method.selection needs a type; one of: {', '.join(SAMPLERS.names())}")
        if "until" in opts:
            raise ValueError(
                "method.selection.until is replaced by phases: name the stages' phases (train.stages.N.phase, "
                "e.g. select then refine) and list those where points are selected (selection.phases: [select])"
            )
        phases = phase_names("selection.phases", opts.pop("phases", None))
        selector = SAMPLERS.build(opts.pop("type"), opts)
        selector.phases = phases
    updates = None
    if grid_update is not None:
        from .kan import GridUpdates

        if not isinstance(grid_update, dict) or "every" not in grid_update:
            raise ValueError(f"method.grid_update needs every (e.g. {{every: 200}}), got {grid_update!r}")
        unknown = sorted(set(grid_update) - {"every", "phases", "margin"})
        if unknown:
            raise ValueError(f"method.grid_update: unknown option {unknown[0]!r}; options: every, phases, margin")
        updates = GridUpdates(**grid_update)
    return PINN(problem, model, weights, derivatives, hard_constraints, selector, trainable_params, updates)
