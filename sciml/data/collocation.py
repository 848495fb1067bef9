"""Collocation points for point-wise methods (PINNs): one named point set per loss term.

The batch is a dict: ``"interior"`` for the equations and one entry per condition name
(``"initial"``, ``"boundary"``, ``"boundary:left"`` ...), each an ``(n, ndim)`` tensor. A boundary
condition declared with ``normals=True`` also gets ``"normals:<name>"``, the outward unit normals
``(n, d_space)`` at its points: a deterministic function of the points (``domain.normals``),
recomputed whenever the points change (resampling, point selection, loading a checkpoint).
Points come from the problem's domain with a seeded generator; the generator state and the
points are part of the checkpoint, so a resumed run resamples exactly as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import OptionError
from ..geometry import SAMPLERS
from ..registry import DATA
from .base import Data

# defaults of the collocation options that a case file (the builder) and CollocationData share
N_INITIAL, SAMPLER = 100, "hammersley"


class CollocationData(Data):
    """Point sets sampled in the problem's domain.

    Parameters
    ----------
    problem : a Problem with a ``domain``
    n_interior, n_boundary, n_initial : points for the equations, each boundary condition, the initial
        condition (a steady problem has none: ``n_initial`` is ignored there and may be 0)
    sampler : interior/initial sampler (``uniform, pseudo, hammersley, halton, sobol, lhs``)
    boundary_sampler : the sampler of the boundary conditions' points, along the boundary's arc
        length (jointly with time): ``pseudo`` by default (as before it existed), any of the above
    resample_every : redraw the interior points (pseudo-random) every this many steps (0 = never)
    seed : seed of the point generator
    n_observations : size of a pool of experimental observations (values of the exact solution at
        pseudo-random interior points, plus noise); 0 = none. The active set is the point set
        ``"observations"``, rows ``(x, y)`` with the outputs' values after the coordinates
    observation_noise : Gaussian noise, standard deviation relative to the pool's RMS value
    n_observations_active : observations trained on at the start (a selector may change them);
        None = all of the pool
    interior_per_subdomain : on a cut domain, ``n_interior`` points in each subdomain (a thin
        piece, such as Burgers' strip |x| < 0.1, gets as many as the others, as METALIC draws
        them) instead of ``n_interior`` over the whole domain
    """

    def __init__(
        self,
        problem,
        n_interior: int,
        n_boundary: int,
        n_initial: int = N_INITIAL,
        sampler: str = SAMPLER,
        resample_every: int = 0,
        seed: int = 0,
        n_observations: int = 0,
        observation_noise: float = 0.0,
        n_observations_active: int | None = None,
        boundary_sampler: str = "pseudo",
        interior_per_subdomain: bool = False,
    ):
        check_collocation(
            problem=problem,
            n_interior=n_interior,
            n_boundary=n_boundary,
            n_initial=n_initial,
            sampler=sampler,
            resample_every=resample_every,
            n_observations=n_observations,
            observation_noise=observation_noise,
            n_observations_active=n_observations_active,
            boundary_sampler=boundary_sampler,
            interior_per_subdomain=interior_per_subdomain,
        )
        self.problem, self.domain = problem, problem.domain
        self.per_subdomain = bool(interior_per_subdomain)
        self.sizes = {"interior": n_interior, "boundary": n_boundary, "initial": n_initial}
        self.sampler, self.resample_every = sampler, resample_every
        self.rng = np.random.default_rng(seed)
        self.dtype, self.device = torch.float32, torch.device("cpu")
        self.shard_of = (0, 1)
        for name, cond in problem.conditions.items():
            if cond.where != "initial" and not cond.where.startswith("boundary"):
                raise ValueError(f"condition {name!r}: unknown location {cond.where!r}")
        self.points: dict[str, np.ndarray] = {"interior": self.sample("interior", n_interior, sampler)}
        for name, cond in problem.conditions.items():
            size = n_initial if cond.where == "initial" else n_boundary
            self.points[name] = self.sample(name, size, sampler if cond.where == "initial" else boundary_sampler)
        self.observation_pool = None
        if n_observations:
            self.observation_pool = self._observe(n_observations, observation_noise)
            active = n_observations if n_observations_active is None else n_observations_active
            self.points["observations"] = self.sample("observations", active)
        self.normals: dict[str, np.ndarray] = {}  # condition name -> outward normals at its points
        self._update_normals()
        self._batch: dict[str, torch.Tensor] | None = None

    def _update_normals(self, *names: str) -> None:
        """Recompute the normals of the point sets ``names`` (default all) whose condition wants them."""
        for name in names or tuple(self.points):
            cond = self.problem.conditions.get(name)
            if cond is None or not cond.normals:
                continue
            n = np.asarray(cond.normals_at(self.domain, self.points[name]), dtype=np.float64)
            bad = int(np.count_nonzero(np.linalg.norm(n, axis=1) < 0.5))
            if bad:
                raise ValueError(
                    f"condition {name!r} declares normals=True, but {bad} of its {len(n)} points have "
                    f"no outward normal (internal segments have none; points must lie on the boundary)"
                )
            self.normals[name] = n

    def _observe(self, n: int, noise: float) -> np.ndarray:
        if self.problem.exact is None:
            raise ValueError(f"problem {self.problem.name!r} has no exact solution to draw observations from")
        x = self.domain.sample_interior(n, "pseudo", self.rng)
        y = np.asarray(self.problem.exact(x), dtype=np.float64).reshape(n, -1)
        y = y + noise * np.sqrt(np.mean(y**2)) * self.rng.standard_normal(y.shape)
        return np.hstack([x, y])

    def sample(self, name: str, n: int, method: str = "pseudo") -> np.ndarray:
        """``n`` fresh points for point set ``name`` (``"interior"`` or a condition), from the data's generator."""
        if name == "interior":
            if self.per_subdomain:
                pieces = self.domain.subdomains
                return np.concatenate([self.domain.sample_subdomain(n, s, method, self.rng) for s in pieces])
            return self.domain.sample_interior(n, method, self.rng)
        if name == "observations":
            if self.observation_pool is None:
                raise KeyError("no observations: set collocation n_observations")
            if n > len(self.observation_pool):
                raise ValueError(f"asked for {n} observations from a pool of {len(self.observation_pool)}")
            return self.observation_pool[self.rng.choice(len(self.observation_pool), size=n, replace=False)]
        if name not in self.problem.conditions:
            raise KeyError(f"no point set {name!r}; point sets: interior, {', '.join(self.problem.conditions)}")
        cond = self.problem.conditions[name]
        if cond.where == "initial":
            return self.domain.sample_initial(n, method, self.rng)
        return self.domain.sample_boundary(n, cond.boundary_tag, method, self.rng)

    def set_points(self, name: str, x: np.ndarray) -> None:
        """Replace point set ``name`` (point selection between steps); checkpointed with the data."""
        if name not in self.points:
            raise KeyError(f"no point set {name!r}; point sets: {', '.join(self.points)}")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.points[name].shape[1] or not len(x):
            raise ValueError(
                f"point set {name!r} needs a non-empty (n, {self.points[name].shape[1]}) array, got {x.shape}"
            )
        self.points[name] = x
        self._update_normals(name)
        self._batch = None

    # --- Trainer interface ---
    def to(self, device=None, dtype=None):
        self.device = torch.device(device) if device is not None else self.device
        self.dtype = dtype or self.dtype
        self._batch = None
        return self

    def shard(self, rank: int, world: int) -> None:
        """Keep every ``world``-th point starting at ``rank`` (data-parallel training)."""
        self.shard_of = (rank, world)
        self._batch = None

    def steps_per_epoch(self, batch_size: int = 0) -> int:
        return 1  # full batch

    def next_batch(self, batch_size: int = 0) -> dict[str, torch.Tensor]:
        if self._batch is None:
            r, w = self.shard_of
            self._batch = {
                k: torch.as_tensor(v[r::w], dtype=self.dtype, device=self.device) for k, v in self.points.items()
            }
            for k, v in self.normals.items():
                self._batch[f"normals:{k}"] = torch.as_tensor(v[r::w], dtype=self.dtype, device=self.device)
        return self._batch

    def after_step(self, state) -> None:
        if self.resample_every and state.step % self.resample_every == 0:
            self.points["interior"] = self.sample("interior", len(self.points["interior"]), "pseudo")
            self._batch = None

    def state_dict(self) -> dict:
        return {
            "rng": self.rng.bit_generator.state,
            "points": {k: v.copy() for k, v in self.points.items()},
            "observation_pool": self.observation_pool,
        }

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.points = {k: np.asarray(v) for k, v in state["points"].items()}
        self.observation_pool = state.get("observation_pool")
        self.normals = {}
        self._update_normals()  # a function of the points: the same as before the checkpoint
        self._batch = None


def _has_initial(problem) -> bool:
    """Whether the problem has an initial condition (what ``n_initial`` counts points for)."""
    return any(c.where == "initial" for c in problem.conditions.values())


def check_collocation(
    *,
    problem,
    n_interior,
    n_boundary,
    n_initial,
    sampler,
    resample_every,
    n_observations,
    observation_noise,
    n_observations_active,
    boundary_sampler="pseudo",
    interior_per_subdomain=False,
    **_,
) -> None:
    """The ``collocation`` options, checked by CollocationData before any point is drawn (and by
    ``sciml.config.validate``)."""
    if problem.domain is None:
        raise ValueError(
            f"problem {problem.name!r} has no domain; collocation data needs a point-wise problem "
            f"(use data type hdf5 or trajectories for {problem.name!r})"
        )
    initial = _has_initial(problem)
    for k, v, lo in (
        ("n_interior", n_interior, 1),
        ("n_boundary", n_boundary, 1),
        ("n_initial", n_initial, 1 if initial else 0),  # steady: ignored
        ("resample_every", resample_every, 0),
        ("n_observations", n_observations, 0),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            if k == "n_initial" and initial:
                raise OptionError(
                    k,
                    f"collocation n_initial must be >= 1 for problem {problem.name!r} (an integer: "
                    f"the points of its initial condition; only a steady problem may have 0), "
                    f"got {v!r}",
                )
            raise OptionError(k, f"collocation {k} must be an integer >= {lo}, got {v!r}")
    if not isinstance(interior_per_subdomain, bool):
        raise OptionError(
            "interior_per_subdomain", f"interior_per_subdomain must be true or false, got {interior_per_subdomain!r}"
        )
    if interior_per_subdomain and not getattr(problem.domain, "subdomains", None):
        raise OptionError(
            "interior_per_subdomain",
            f"interior_per_subdomain draws points in each subdomain of a cut domain; {problem.name!r} has no cuts",
        )
    if sampler not in SAMPLERS:
        raise OptionError("sampler", f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if boundary_sampler not in SAMPLERS:
        raise OptionError(
            "boundary_sampler", f"unknown boundary_sampler {boundary_sampler!r}; choose one of {', '.join(SAMPLERS)}"
        )
    if (
        isinstance(observation_noise, bool)
        or not isinstance(observation_noise, (int, float))
        or not np.isfinite(observation_noise)
        or observation_noise < 0
    ):
        raise OptionError(
            "observation_noise", f"observation_noise must be a finite number >= 0, got {observation_noise!r}"
        )
    if n_observations_active is not None and (
        isinstance(n_observations_active, bool)
        or not isinstance(n_observations_active, int)
        or not 1 <= n_observations_active <= max(n_observations, 1)
    ):
        raise OptionError(
            "n_observations_active",
            f"collocation n_observations_active must be an integer in [1, n_observations = "
            f"{n_observations}], got {n_observations_active!r}",
        )


@DATA.register("collocation")
def collocation(
    *,
    problem,
    seed: int = 0,
    n_interior: int = 2000,
    n_boundary: int = 100,
    n_initial: int = N_INITIAL,
    sampler: str = SAMPLER,
    resample_every: int = 0,
    n_observations: int = 0,
    observation_noise: float = 0.0,
    n_observations_active: int | None = None,
    boundary_sampler: str = "pseudo",
    interior_per_subdomain: bool = False,
) -> CollocationData:
    """Collocation points in the problem's domain (interior, each boundary condition, initial, observations)."""
    return CollocationData(
        problem,
        n_interior,
        n_boundary,
        n_initial,
        sampler,
        resample_every,
        seed,
        n_observations,
        observation_noise,
        n_observations_active,
        boundary_sampler,
        interior_per_subdomain,
    )  # checked there first


collocation.check = check_collocation  # type: ignore[attr-defined]  # run by sciml.config.validate, before any work
