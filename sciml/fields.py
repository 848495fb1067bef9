"""A Field is values plus the discretization they live on.

``values`` has shape ``([T,] n_points, C)`` for a Mesh or point cloud and
``([T,] *grid.shape, C)`` for a Grid; ``times`` is given for time series.
Arithmetic between fields on different discretizations raises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh import Grid, Mesh


class InconsistentDiscretizationError(ValueError):
    """Two fields were combined although they live on different discretizations."""


@dataclass
class Field:
    """Named channels on a Grid, a Mesh or a point cloud (``support`` an (n, d) array).

    Parameters
    ----------
    values : array, ``([T,] *space, C)``
    support : Grid | Mesh | (n, d) array of points
    names : one name per channel
    times : (T,) array for a time series, else None
    """

    values: np.ndarray
    support: Grid | Mesh | np.ndarray
    names: tuple[str, ...]
    times: np.ndarray | None = None

    def __post_init__(self):
        self.values = np.asarray(self.values)
        self.names = tuple(self.names)
        if self.values.shape[-1] != len(self.names):
            raise ValueError(f"field has {self.values.shape[-1]} channels but names {self.names}")
        space = self.space_shape
        lead = self.values.shape[: self.values.ndim - 1 - len(space)]
        if self.values.shape[len(lead) : -1] != space:
            raise ValueError(f"field values {self.values.shape} do not fit support with shape {space}")
        if self.times is not None:
            self.times = np.asarray(self.times, dtype=np.float64)
            if lead != (len(self.times),):
                raise ValueError(f"time series of {len(self.times)} steps but values {self.values.shape}")
        elif lead:
            raise ValueError(f"values {self.values.shape} have a leading axis but no times were given")

    @property
    def space_shape(self) -> tuple[int, ...]:
        s = self.support
        if isinstance(s, Grid):
            return s.shape
        if isinstance(s, Mesh):
            return (s.n_points,)
        return (len(s),)

    def points(self) -> np.ndarray:
        s = self.support
        if isinstance(s, Grid):
            return s.points()
        if isinstance(s, Mesh):
            return s.points
        return np.asarray(s)

    def mesh(self) -> Mesh:
        s = self.support
        if isinstance(s, Grid):
            return s.to_mesh()
        if isinstance(s, Mesh):
            return s
        return Mesh(np.asarray(s), [("vertex", np.arange(len(s))[:, None])])

    def point_values(self) -> np.ndarray:
        """Values flattened over space: ``([T,] n_points, C)``."""
        lead = (len(self.times),) if self.times is not None else ()
        return self.values.reshape(*lead, -1, self.values.shape[-1])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[..., self.names.index(name)]

    def _check(self, other: Field):
        same = (
            self.support is other.support
            or (isinstance(self.support, Grid) and self.support == other.support)
            or (
                isinstance(self.support, np.ndarray)
                and isinstance(other.support, np.ndarray)
                and self.support.shape == other.support.shape
                and np.array_equal(self.support, other.support)
            )
        )
        if not same:
            raise InconsistentDiscretizationError("fields live on different discretizations")

    def with_values(self, values: np.ndarray, names=None) -> Field:
        return Field(values, self.support, names or self.names, self.times)

    def __sub__(self, other: Field) -> Field:
        self._check(other)
        return self.with_values(self.values - other.values)

    def __add__(self, other: Field) -> Field:
        self._check(other)
        return self.with_values(self.values + other.values)

    def merge(self, other: Field, suffix: str = "") -> Field:
        """Channels of both fields side by side (``other``'s names get ``suffix``)."""
        self._check(other)
        return self.with_values(
            np.concatenate([self.values, other.values], axis=-1), self.names + tuple(n + suffix for n in other.names)
        )


def error_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """``rel_l2`` = ‖pred − ref‖₂ / ‖ref‖₂ over all entries, and ``max_abs`` = max |pred − ref|."""
    err = np.asarray(pred, dtype=np.float64) - np.asarray(ref, dtype=np.float64)
    return {"rel_l2": float(np.linalg.norm(err) / np.linalg.norm(ref)), "max_abs": float(np.abs(err).max())}


def comparison(pred: np.ndarray, ref: Field) -> Field:
    """A field with the prediction, the reference and their difference as channels
    (``u``, ``u_ref``, ``u_error`` for a reference channel ``u``), on the reference's support."""
    pred = np.asarray(pred, dtype=np.float64).reshape(ref.values.shape)
    names = tuple(ref.names)
    values = np.concatenate([pred, ref.values, pred - ref.values], axis=-1)
    return Field(
        values, ref.support, names + tuple(f"{n}_ref" for n in names) + tuple(f"{n}_error" for n in names), ref.times
    )
