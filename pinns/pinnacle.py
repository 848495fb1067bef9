r"""PINNACLE: joint selection of collocation and experimental points from the empirical NTK.

Lau, Hemachandra, Ng, Low, *PINNACLE: PINN Adaptive ColLocation and Experimental points
selection*, ICLR 2024. Every point type — ``interior`` (the equations), each condition, and
``observations`` when the data carry them — is one block of an augmented candidate set
z = (x, type). Its operator output is the type's residual (or the network output for
observations, whose residual is the misfit u − y). A round:

1. the Jacobian :math:`J_X` of all current training points (every type stacked; subsampled to
   ``n_train_max`` rows), its top-``k`` eigenpairs (randomized or Lanczos, never a dense eigh);
2. a fresh candidate pool per type (``pool`` pseudo-random points; the whole observation pool);
3. each candidate's convergence degree :math:`\alpha(z) = \lVert P_{:,z}\rVert^2`,
   :math:`P_{iz} = \lambda_i^{-1/2} v_i^\top K_{X,z} r(z)` (:func:`pinns.ntk.convergence_degree`);
4. ``n_select`` points from the pooled candidates — **PINNACLE-S** samples ∝ α without
   replacement, **PINNACLE-K** runs k-means++ seeding in the embedding space P (first seed the
   highest-scoring point, then ∝ squared distance to the nearest seed), which favours
   high-α points that move different eigen-directions;
5. memory: the earlier points of each type are randomly thinned so that old plus new stay
   within ``budget``; per-type minimums are topped up with the type's best candidates.

Type proportions are not fixed: they follow from where the selected points come from.
Rounds run every ``every`` steps and also when the eNTK drifts: every ``check_every`` steps the
eNTK on ``n_check`` fixed points is compared with its value at the last round, and a relative
Frobenius change above ``drift`` triggers a round.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.func import functional_call

from sciml.registry import SAMPLERS

from . import ntk
from .selection import PointSelector, candidates


class Pinnacle(PointSelector):
    """PINNACLE-K (``variant="k"``) or PINNACLE-S (``variant="s"``) point selection.

    Parameters
    ----------
    variant : ``"k"`` (k-means++ in eNTK space) or ``"s"`` (sampling ∝ convergence degree)
    n_select : new points per round (default budget // 5)
    pool : candidates per type and round
    k : eNTK eigenpairs
    n_train_max : training rows used for the eigenpairs (random subsample beyond that)
    memory : keep (thinned) earlier points; without it a round replaces everything by
        ``budget`` selected points
    drift, check_every, n_check : re-select when the eNTK on ``n_check`` fixed points changed by
        more than ``drift`` (relative Frobenius norm), checked every ``check_every`` steps (0 = off)
    eig_method : ``"randomized"`` or ``"lanczos"``
    """

    def __init__(
        self,
        variant: str = "k",
        n_select: int | None = None,
        pool: int = 500,
        k: int = 50,
        n_train_max: int = 1000,
        memory: bool = True,
        drift: float = 0.5,
        check_every: int = 100,
        n_check: int = 64,
        eig_method: str = "randomized",
        **kw,
    ):
        super().__init__(**kw)
        if variant not in ("k", "s"):
            raise ValueError(f"pinnacle variant must be 'k' or 's', got {variant!r}")
        for name, v in (("pool", pool), ("k", k), ("n_train_max", n_train_max), ("n_check", n_check)):
            if v < 1:
                raise ValueError(f"pinnacle {name} must be >= 1, got {v}")
        if n_select is not None and n_select < 1:
            raise ValueError(f"pinnacle n_select must be >= 1, got {n_select}")
        self.variant, self.n_select, self.pool, self.k = variant, n_select, int(pool), int(k)
        self.n_train_max, self.memory, self.drift = int(n_train_max), bool(memory), float(drift)
        self.check_every, self.n_check, self.eig_method = int(check_every), int(n_check), eig_method
        self._fns: dict = {}
        self._check_x: dict[str, np.ndarray] | None = None
        self._K_last: torch.Tensor | None = None
        self.triggers = {"periodic": 0, "drift": 0}
        self.counts: list[dict[str, int]] = []  # points per type after each round

    def bind(self, method, data) -> None:
        if method.problem.subdomains:
            raise NotImplementedError(
                "pinnacle scores one network's eNTK; problems with subdomains "
                f"({', '.join(method.problem.subdomains)}) are not supported"
            )
        super().bind(method, data)

    # --- the operator of each type, as pure functions of the network's parameters ---
    def _fn(self, method, name: str):
        if name not in self._fns:
            model = method.net()
            if not isinstance(model, torch.nn.Module):
                raise NotImplementedError("pinnacle needs a plain network (no hard constraint wrapper)")
            if name == "observations":  # the network's outputs at the observation points (rows (x, y))
                d = len(method.problem.inputs)
                fns = [lambda p, x: functional_call(model, p, (x[:, :d],))]
            else:
                terms = list(method.groups[name])
                fns = [ntk.residual_fn(method.problem, model, t, coefficients=method.params()) for t in terms]

            def F(p, x, fns=fns):
                return torch.cat([f(p, x).reshape(len(x), -1) for f in fns], 1).reshape(-1)

            self._fns[name] = F
        return self._fns[name]

    def _jacobian(self, method, name: str, x: np.ndarray, values: bool = False):
        p = next(method.parameters())
        xt = torch.as_tensor(x, dtype=p.dtype, device=p.device)
        params = ntk.parameters_of(method.model)
        J, v = ntk.jacobian(self._fn(method, name), params, xt, return_values=True)
        if name == "observations" and values:  # residual = u − y
            d = len(method.problem.inputs)
            v = v - xt[:, d:].reshape(-1)
        return (J, v) if values else J

    # --- when ---
    def __call__(self, method, data, step: int) -> None:
        if not self.active(step):
            return
        periodic = self.due(step)
        drifted = False
        check = self.check_every and step > 0 and step % self.check_every == 0
        if not periodic and check and self._K_last is not None:
            t0 = time.perf_counter()
            drifted = self._drift(method) > self.drift
            self.overhead_s += time.perf_counter() - t0
        if periodic or drifted:
            self.triggers["periodic" if periodic else "drift"] += 1
            self.round(method, data, step)

    def after_round(self, method, data) -> None:
        self.counts.append({t: len(data.points[t]) for t in self.types})
        self._K_last = self._check_kernel(method, data)

    def _check_kernel(self, method, data=None) -> torch.Tensor:
        """The eNTK on the fixed check points (drawn from ``data`` on the first call)."""
        if self._check_x is None:
            per = max(1, self.n_check // len(self.types))
            self._check_x = {
                t: data.points[t][data.rng.choice(len(data.points[t]), min(per, len(data.points[t])), replace=False)]
                for t in self.types
            }
        J = torch.cat([self._jacobian(method, t, x) for t, x in self._check_x.items()])
        return ntk.entk(J).detach()

    def _drift(self, method) -> float:
        K = self._check_kernel(method)
        return float((K - self._K_last).norm() / self._K_last.norm().clamp_min(1e-300))

    # --- what ---
    def select(self, method, data, step: int) -> dict[str, np.ndarray]:
        self._fns = {}  # rebuilt each round: trainable coefficients may have moved
        n_sel = self.n_select or max(1, self.budget // 5)
        if not self.memory:
            n_sel = self.budget
        rng = data.rng
        # training Jacobian over every type, subsampled in proportion
        total = sum(len(data.points[t]) for t in self.types)
        frac = min(1.0, self.n_train_max / total)
        J_train = []
        for t in self.types:
            x = data.points[t]
            m = max(1, int(round(frac * len(x))))
            J_train.append(self._jacobian(method, t, x[rng.choice(len(x), m, replace=False)]))
        J_train = torch.cat(J_train).detach()
        eig = ntk.top_eigenpairs(
            J_train, min(self.k, min(J_train.shape) - 1), method=self.eig_method, seed=int(rng.integers(2**31))
        )
        # candidates of every type, scored jointly
        pools, scores, embs = {}, [], []
        for t in self.types:
            pools[t] = candidates(data, t, self.pool)
            J, r = self._jacobian(method, t, pools[t], values=True)
            c = len(r) // len(pools[t])
            s, emb = ntk.convergence_degree(J_train, J.detach(), r.detach().reshape(len(pools[t]), c), self.k, eig=eig)
            scores.append(s.double().cpu().numpy())
            embs.append(emb.T.double().cpu().numpy())
        owner = np.concatenate([np.full(len(pools[t]), i) for i, t in enumerate(self.types)])
        local = np.concatenate([np.arange(len(pools[t])) for t in self.types])
        score, emb = np.concatenate(scores), np.concatenate(embs)
        n_sel = min(n_sel, len(score))
        chosen = self._choose(score, emb, n_sel, rng)
        new = {t: pools[t][local[chosen[owner[chosen] == i]]] for i, t in enumerate(self.types)}
        for t in self.types:  # over a type's cap: its best-ranked new points first
            cap = self.maximum(t)
            if cap is not None:
                new[t] = new[t][:cap]
        # per-type minimums: top up from the type's best remaining candidates, or (with memory) its old points
        old = {t: data.points[t] if self.memory else data.points[t][:0] for t in self.types}
        for i, t in enumerate(self.types):
            need = self.minimum(t) - len(new[t]) - len(old[t])
            if need > 0:
                taken = set(local[chosen[owner[chosen] == i]].tolist())
                extra = [j for j in np.argsort(-scores[i]) if j not in taken][:need]
                new[t] = np.concatenate([new[t], pools[t][extra]])

        # then drop new points (lowest-ranked last) while new points plus the old ones that must stay
        # for the minimums exceed the budget; a type is cut only down to its minimum (below it, old
        # points would replace the cut ones one for one). bind() checked that the minimums fit.
        def shortfall(t):
            return max(0, min(self.minimum(t), len(new[t]) + len(old[t])) - len(new[t]))

        over = sum(len(new[t]) + shortfall(t) for t in self.types) - self.budget
        for t in sorted(self.types, key=lambda t: -len(new[t])):
            cut = min(max(over, 0), max(0, len(new[t]) - self.minimum(t)))
            if cut > 0:
                new[t], over = new[t][: len(new[t]) - cut], over - cut
        # memory: keep exactly as many old points as fit, each type's deficit to its minimum first,
        # the rest uniformly at random over all types (old + new = budget)
        room = self.budget - sum(len(v) for v in new.values())
        keep = {}
        for t in self.types:
            cap = self.maximum(t)
            limit = len(old[t]) if cap is None else max(0, min(len(old[t]), cap - len(new[t])))
            must = min(limit, max(0, self.minimum(t) - len(new[t])))
            order = rng.permutation(len(old[t]))
            keep[t], room = list(order[:must]), room - must
            keep[t + "/rest"] = list(order[must:limit])
        rest = [(t, j) for t in self.types for j in keep.pop(t + "/rest")]
        for k in rng.permutation(len(rest))[: max(room, 0)]:
            keep[rest[k][0]].append(rest[k][1])
        return {t: np.concatenate([old[t][np.sort(np.asarray(keep[t], dtype=np.int64))], new[t]]) for t in self.types}

    def _choose(self, score: np.ndarray, emb: np.ndarray, n: int, rng) -> np.ndarray:
        if self.variant == "s":
            p = score / score.sum() if score.sum() > 0 else np.full(len(score), 1 / len(score))
            nz = int((p > 0).sum())
            if nz >= n:
                return rng.choice(len(score), size=n, replace=False, p=p)
            rest = np.setdiff1d(np.arange(len(score)), np.flatnonzero(p > 0))
            return np.concatenate([np.flatnonzero(p > 0), rng.choice(rest, n - nz, replace=False)])
        # k-means++ seeding in the embedding space, the first seed the highest-scoring point
        chosen = [int(np.argmax(score))]
        d2 = ((emb - emb[chosen[0]]) ** 2).sum(1)
        for _ in range(n - 1):
            if d2.sum() <= 0:
                rest = np.setdiff1d(np.arange(len(score)), chosen)
                chosen += rng.choice(rest, n - len(chosen), replace=False).tolist()
                break
            j = int(rng.choice(len(d2), p=d2 / d2.sum()))
            chosen.append(j)
            d2 = np.minimum(d2, ((emb - emb[j]) ** 2).sum(1))
        return np.asarray(chosen)

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "triggers": dict(self.triggers),
            "counts": list(self.counts),
            "check_x": self._check_x,
            "K_last": self._K_last,
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.triggers, self.counts = dict(state["triggers"]), list(state["counts"])
        self._check_x, self._K_last = state["check_x"], state["K_last"]


def _build(variant: str, every, budget, min_points, types, **kw) -> Pinnacle:
    return Pinnacle(variant=variant, every=every, budget=budget, min_points=min_points, types=types, **kw)


@SAMPLERS.register("pinnacle_k")
def pinnacle_k(
    *,
    every: int = 1000,
    budget: int | None = None,
    min_points: int | dict = 1,
    types: list | None = None,
    max_points: dict | None = None,
    n_select: int | None = None,
    pool: int = 500,
    k: int = 50,
    n_train_max: int = 1000,
    memory: bool = True,
    drift: float = 0.5,
    check_every: int = 100,
    n_check: int = 64,
    eig_method: str = "randomized",
) -> Pinnacle:
    """PINNACLE-K: joint selection of every point type by k-means++ in eNTK space (Lau et al. 2024)."""
    return _build(
        "k",
        every,
        budget,
        min_points,
        types,
        max_points=max_points,
        n_select=n_select,
        pool=pool,
        k=k,
        n_train_max=n_train_max,
        memory=memory,
        drift=drift,
        check_every=check_every,
        n_check=n_check,
        eig_method=eig_method,
    )


@SAMPLERS.register("pinnacle_s")
def pinnacle_s(
    *,
    every: int = 1000,
    budget: int | None = None,
    min_points: int | dict = 1,
    types: list | None = None,
    max_points: dict | None = None,
    n_select: int | None = None,
    pool: int = 500,
    k: int = 50,
    n_train_max: int = 1000,
    memory: bool = True,
    drift: float = 0.5,
    check_every: int = 100,
    n_check: int = 64,
    eig_method: str = "randomized",
) -> Pinnacle:
    """PINNACLE-S: joint selection of every point type by sampling ∝ convergence degree (Lau et al. 2024)."""
    return _build(
        "s",
        every,
        budget,
        min_points,
        types,
        max_points=max_points,
        n_select=n_select,
        pool=pool,
        k=k,
        n_train_max=n_train_max,
        memory=memory,
        drift=drift,
        check_every=check_every,
        n_check=n_check,
        eig_method=eig_method,
    )
