"""Run directories and field output, every write atomic (temp file + ``os.replace``).

A :class:`RunDir` is ``runs/<case>/<YYYYmmdd-HHMMSS>[-N]/`` holding ``case.yaml``,
``metrics.jsonl``, ``summary.json``, ``report.md``, ``checkpoints/``, ``plots/`` and
``fields/``. Field writers (``vtu``, ``pvd``, ``xdmf``, ``png``) are registered in
:data:`sciml.registry.WRITERS` and produce files ParaView opens directly.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .fields import Field
from .registry import WRITERS

_UMASK = os.umask(0)
os.umask(_UMASK)


# ---- atomic writes ------------------------------------------------------------------
def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # platforms without directory fds
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _finish(tmp: Path) -> None:
    """fsync a finished temporary file and give it normal permissions (mkstemp makes 0600)."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o666 & ~_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    The temporary name keeps the suffix (``.name.tmpXXXX.vtu``) so writers that choose a
    format by extension work. On an exception the temporary file is removed and an
    existing ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _finish(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_plain(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays (recursively) to JSON/YAML-safe Python types."""
    if isinstance(obj, np.generic):  # before float: np.float64 subclasses float
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and hasattr(obj, "ndim"):  # numpy arrays, torch tensors
        if hasattr(obj, "detach"):
            obj = obj.detach().cpu()
        return obj.item() if obj.ndim == 0 else to_plain(obj.tolist())
    raise TypeError(f"cannot convert {type(obj).__name__} to a plain JSON/YAML value")


# ---- run directory -------------------------------------------------------------------
class RunDir:
    """One run's output directory; construct with :meth:`create` or :meth:`open`.

    Attributes
    ----------
    path : the run directory
    checkpoints, plots, fields : its sub-directories
    """

    CASE, METRICS, SUMMARY, REPORT = "case.yaml", "metrics.jsonl", "summary.json", "report.md"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.plots = self.path / "plots"
        self.fields = self.path / "fields"

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @classmethod
    def create(cls, root: str | os.PathLike, case_name: str) -> "RunDir":
        """Make a new, unique ``root/case_name/<YYYYmmdd-HHMMSS>[-N]/`` with its sub-directories."""
        if not case_name or "/" in case_name or case_name in (".", ".."):
            raise ValueError(f"invalid case name {case_name!r}")
        parent = Path(root) / case_name
        parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(10_000):
            candidate = parent / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                candidate.mkdir()  # atomic claim: fails if another run took the name
            except FileExistsError:
                continue
            run = cls(candidate)
            for d in (run.checkpoints, run.plots, run.fields):
                d.mkdir()
            return run
        raise RuntimeError(f"could not find a free run directory under {parent}")

    @classmethod
    def open(cls, path: str | os.PathLike) -> "RunDir":
        """Open an existing run directory (one that holds ``case.yaml``)."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"run directory not found: {path}")
        if not (path / cls.CASE).is_file():
            raise ValueError(f"{path} is not a run directory (no {cls.CASE})")
        run = cls(path)
        for d in (run.checkpoints, run.plots, run.fields):
            d.mkdir(exist_ok=True)
        return run

    # ---- case -------------------------------------------------------------------------
    def save_case(self, case_dict: dict) -> Path:
        import yaml

        text = yaml.safe_dump(to_plain(case_dict), sort_keys=False)
        return atomic_write_text(self.path / self.CASE, text)

    def load_case_dict(self) -> dict:
        import yaml

        with open(self.path / self.CASE, encoding="utf-8") as fh:
            return yaml.safe_load(fh) or {}

    # ---- metrics ----------------------------------------------------------------------
    def log_metrics(self, record: dict) -> None:
        """Append ``record`` as one JSON line to ``metrics.jsonl`` (flushed and fsynced)."""
        line = json.dumps(to_plain(record)) + "\n"
        with open(self.path / self.METRICS, "a+b") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:  # a killed writer may have left a partial line without newline
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    line = "\n" + line
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[dict]:
        """All complete records of ``metrics.jsonl``; truncated or corrupt lines are skipped."""
        p = self.path / self.METRICS
        if not p.exists():
            return []
        out = []
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def truncate_metrics(self, after_step: int) -> None:
        """Keep only records with ``step <= after_step`` (records without a step are kept)."""
        kept = [r for r in self.read_metrics() if "step" not in r or r["step"] <= after_step]
        atomic_write_text(self.path / self.METRICS, "".join(json.dumps(r) + "\n" for r in kept))

    # ---- summary and report -----------------------------------------------------------
    def save_summary(self, summary: dict) -> Path:
        return atomic_write_text(self.path / self.SUMMARY, json.dumps(to_plain(summary), indent=2) + "\n")

    def load_summary(self) -> dict:
        return json.loads((self.path / self.SUMMARY).read_text(encoding="utf-8"))

    def write_report(self, text: str) -> Path:
        return atomic_write_text(self.path / self.REPORT, text if text.endswith("\n") else text + "\n")

    def write_fields(self, field: Field, stem: str, formats: list[str] | tuple[str, ...]) -> list[Path]:
        """:func:`write_fields` into this run's ``fields/`` directory."""
        return write_fields(field, self.fields, stem, formats)


# ---- field writers -------------------------------------------------------------------
def _point_data(field: Field, step: int | None) -> dict[str, np.ndarray]:
    vals = field.point_values()
    if step is not None:
        vals = vals[step]
    if np.iscomplexobj(vals):
        raise ValueError("complex fields cannot be written; split them into real channels first")
    return {name: np.ascontiguousarray(vals[:, i]) for i, name in enumerate(field.names)}


def _write_vtu_file(field: Field, path: Path, step: int | None) -> Path:
    import meshio

    m = field.mesh().to_meshio(_point_data(field, step))
    with atomic_path(path) as tmp:
        meshio.write(tmp, m, file_format="vtu")
    return path


@WRITERS.register("vtu")
def write_vtu(field: Field, path: str | os.PathLike) -> list[Path]:
    """Write a steady field to one ``.vtu`` file; each channel is a point-data array."""
    if field.times is not None:
        raise ValueError(
            f"write_vtu writes one step but the field is a time series of {len(field.times)} steps; "
            "use the 'pvd' or 'xdmf' format"
        )
    return [_write_vtu_file(field, Path(path), None)]


@WRITERS.register("pvd")
def write_pvd(field: Field, path: str | os.PathLike) -> list[Path]:
    """Write ``path`` (``.pvd``) plus ``<stem>/<stem>_NNNN.vtu``, one per time step."""
    path = Path(path)
    stem = path.stem
    step_dir = path.parent / stem
    step_dir.mkdir(parents=True, exist_ok=True)
    times = [0.0] if field.times is None else [float(t) for t in field.times]
    written, entries = [], []
    for k, t in enumerate(times):
        f = _write_vtu_file(field, step_dir / f"{stem}_{k:04d}.vtu", None if field.times is None else k)
        written.append(f)
        rel = f"{stem}/{f.name}"
        entries.append(f'    <DataSet timestep="{t!r}" group="" part="0" file="{rel}"/>')
    # remove steps left over from an earlier, longer series with the same stem
    pat = re.compile(rf"{re.escape(stem)}_(\d+)\.vtu")
    for old in step_dir.iterdir():
        m = pat.fullmatch(old.name)
        if m and int(m.group(1)) >= len(times):
            old.unlink()
    xml = (
        '<?xml version="1.0"?>\n'
        '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">\n'
        "  <Collection>\n" + "\n".join(entries) + "\n  </Collection>\n</VTKFile>\n"
    )
    atomic_write_text(path, xml)
    return [path, *written]


def _xdmf_writer_class():
    from meshio.xdmf import TimeSeriesWriter

    class _Writer(TimeSeriesWriter):
        # meshio opens "<stem>.h5" relative to the *working directory*; put it next to the .xdmf
        def __enter__(self):
            import h5py

            self.h5_filename = str(self.filename.with_suffix(".h5"))
            self.h5_file = h5py.File(self.h5_filename, "w")
            return self

    return _Writer


@WRITERS.register("xdmf")
def write_xdmf(field: Field, path: str | os.PathLike) -> list[Path]:
    """Write ``path`` (``.xdmf``) and ``path.with_suffix('.h5')`` (meshio time series)."""
    path = Path(path).with_suffix(".xdmf")
    h5 = path.with_suffix(".h5")
    path.parent.mkdir(parents=True, exist_ok=True)
    mesh = field.mesh().to_meshio()
    times = [0.0] if field.times is None else [float(t) for t in field.times]
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.tmp", dir=path.parent) as tmpdir:
        tmp_xdmf = Path(tmpdir) / path.name
        with _xdmf_writer_class()(tmp_xdmf) as w:
            w.write_points_cells(mesh.points, mesh.cells)
            for k, t in enumerate(times):
                w.write_data(t, point_data=_point_data(field, None if field.times is None else k))
        _finish(tmp_xdmf.with_suffix(".h5"))
        _finish(tmp_xdmf)
        os.replace(tmp_xdmf.with_suffix(".h5"), h5)
        os.replace(tmp_xdmf, path)
    _fsync_dir(path.parent)
    return [path, h5]


@WRITERS.register("png")
def write_png(field: Field, path: str | os.PathLike) -> list[Path]:
    """Quick-look PNG of every channel (see :func:`sciml.plots.plot_field`)."""
    from .plots import plot_field

    return [plot_field(field, path)]


def write_fields(
    field: Field, directory: str | os.PathLike, stem: str, formats: list[str] | tuple[str, ...] | str
) -> list[Path]:
    """Write ``field`` as ``directory/stem.<fmt>`` for each format; returns all files written."""
    if isinstance(formats, str):
        formats = [formats]
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"unknown output format(s) {unknown}; valid formats: {', '.join(WRITERS.names())}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for fmt in formats:
        out.extend(WRITERS.get(fmt)(field, directory / f"{stem}.{fmt}"))
    return out
