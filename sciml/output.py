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
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _temp_prefix(path: Path) -> str:
    """``.<name>.tmp.<host>.<pid>.``: a temporary file names the process that writes it."""
    return f".{path.name}.tmp.{_host_tag()}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:  # pid out of range for this platform
        return False
    return True


_ANY_TEMP = re.compile(r"\..+\.tmp\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[^/]+")


def _remove_dead_writers_temps(directory: Path, recursive: bool, prefix: str = ".") -> list[Path]:
    """Remove the temporary files of :func:`atomic_path` (names starting with ``prefix``) in
    ``directory`` (and below it if ``recursive``) whose writer ran on this host and is gone; a
    writer still at work (another process, or this one) keeps its file."""
    removed = []
    try:
        walk = os.walk(directory) if recursive else [(directory, None, os.listdir(directory))]
        for root, _dirs, files in walk:
            for name in files:
                m = _ANY_TEMP.fullmatch(name)
                if m and name.startswith(prefix) and m["host"] == _host_tag() and not _pid_alive(int(m["pid"])):
                    with contextlib.suppress(FileNotFoundError):  # another process cleaned it first
                        os.unlink(os.path.join(root, name))
                        removed.append(Path(root) / name)
    except FileNotFoundError:
        pass
    return removed


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove temporary files that :func:`atomic_path` left next to ``path`` in a killed process.

    A temporary file names its writer's host and pid; it is removed only when that host is
    this one and the pid is no longer alive, so a writer still at work (another process
    writing the same file, or this process) keeps its file. Returns the removed paths.
    """
    path = Path(path)
    return _remove_dead_writers_temps(path.parent, False, f".{path.name}.tmp.")


def remove_stale_temps_under(directory: str | os.PathLike) -> list[Path]:
    """:func:`remove_stale_temps` for every file below ``directory``: the temporary files of
    writers killed on this host (a run killed while writing its plots or fields), whatever they
    were writing. A live writer's file is kept."""
    return _remove_dead_writers_temps(Path(directory), True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    The temporary name is ``.<name>.tmp.<host>.<pid>.XXXXXXXX<suffix>``: it keeps the suffix
    so writers that choose a format by extension work, and it names the writing process so
    :func:`remove_stale_temps` can tell a killed writer's leftover from a live one's file.
    On an exception (KeyboardInterrupt included) the temporary file is removed and an
    existing ``path`` is left untouched. The finished file gets the permissions of an
    ordinary new file (``0o666 & ~umask``), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=path.suffix, dir=path.parent)
        tmp = Path(name)
        os.close(fd)
        yield tmp
        _finish(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
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


def strict_json(obj: Any) -> Any:
    """``obj`` (plain JSON types) with every non-finite float replaced by None (JSON ``null``)."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strict_json(v) for v in obj]
    return obj


def check_output_root(root: str | os.PathLike) -> Path:
    """``root`` as a Path if run directories can be made under it, else a ValueError in one line."""
    root = Path(root)
    for p in (root, *root.parents):
        if p.exists():
            if not p.is_dir():
                raise ValueError(f"output directory {root}: {p} is a file, not a directory")
            if not os.access(p, os.W_OK | os.X_OK):
                raise ValueError(f"output directory {root}: {p} is not writable")
            return root
    return root


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
    def create(cls, root: str | os.PathLike, case_name: str) -> RunDir:
        """Make a new, unique ``root/case_name/<YYYYmmdd-HHMMSS>[-N]/`` with its sub-directories."""
        if not case_name or "/" in case_name or case_name in (".", ".."):
            raise ValueError(f"invalid case name {case_name!r}")
        check_output_root(root)
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
    def open(cls, path: str | os.PathLike) -> RunDir:
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
        """The saved case as a dict; a broken file is a CaseError naming it (and the line)."""
        from .config import CaseError, parse_yaml

        p = self.path / self.CASE
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CaseError(f"{p}: not a text file (the run's saved case is damaged)") from None
        raw, _ = parse_yaml(text, str(p))
        if not isinstance(raw, dict):
            raise CaseError(f"{p}: the run's saved case is not a mapping of sections (damaged?)")
        return raw

    # ---- metrics ----------------------------------------------------------------------
    def log_metrics(self, record: dict) -> None:
        """Append ``record`` as one JSON line to ``metrics.jsonl`` (flushed and fsynced)."""
        line = json.dumps(strict_json(to_plain(record)), allow_nan=False) + "\n"
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
        """Keep only records with ``step <= after_step`` (records without a step are kept), less a
        final evaluation (a resumed run logs its own)."""
        kept = [r for r in self.read_metrics() if ("step" not in r or r["step"] <= after_step) and not r.get("final")]
        atomic_write_text(
            self.path / self.METRICS, "".join(json.dumps(strict_json(r), allow_nan=False) + "\n" for r in kept)
        )

    # ---- summary and report -----------------------------------------------------------
    def save_summary(self, summary: dict) -> Path:
        """Write ``summary.json`` as strict JSON: a non-finite number becomes ``null``."""
        text = json.dumps(strict_json(to_plain(summary)), indent=2, allow_nan=False)
        return atomic_write_text(self.path / self.SUMMARY, text + "\n")

    def load_summary(self) -> dict:
        """``summary.json`` ({} when there is none); a corrupt one is a ValueError naming the file."""
        p = self.path / self.SUMMARY
        if not p.exists():
            return {}
        try:
            out = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{p}: not valid JSON ({exc}); repair or remove it, then try again") from None
        if not isinstance(out, dict):
            raise ValueError(f"{p}: expected a JSON object, got {type(out).__name__}; repair or remove it")
        return out

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


def _xdmf_topology(topo, f, mesh) -> np.ndarray:
    """Fill the XDMF ``<Topology>`` element ``topo`` for ``mesh``'s cells; write them to ``f`` (h5py)."""
    from meshio.xdmf.common import meshio_to_xdmf_type, meshio_type_to_xdmf_index

    blocks = [(b.type, np.asarray(b.data, dtype=np.int64)) for b in mesh.cells]
    counts = {"vertex": 1, "line": 2}  # Polyvertex/Polyline give their number of nodes
    if len(blocks) == 1:
        ctype, conn = blocks[0]
        topo.set("TopologyType", meshio_to_xdmf_type[ctype][0])
        if ctype in counts:
            topo.set("NodesPerElement", str(counts[ctype]))
    else:  # "Mixed": per cell its XDMF type id, (for poly cells) its node count, then its nodes
        parts = []
        for ctype, c in blocks:
            head = [meshio_type_to_xdmf_index[ctype]] + ([counts[ctype]] if ctype in counts else [])
            parts.append(np.hstack([np.tile(np.asarray(head, dtype=np.int64), (len(c), 1)), c]).ravel())
        conn = np.concatenate(parts)
        topo.set("TopologyType", "Mixed")
    topo.set("NumberOfElements", str(sum(len(c) for _, c in blocks)))
    f.create_dataset("topology", data=conn)
    return conn


def _xdmf_item(parent, h5_name: str, dataset, shape, dtype) -> None:
    """A ``<DataItem>`` reading HDF5 ``dataset`` of ``h5_name`` (a name relative to the .xdmf)."""
    import xml.etree.ElementTree as ET

    from meshio.xdmf.common import numpy_to_xdmf_dtype

    number, precision = numpy_to_xdmf_dtype[np.dtype(dtype).name]
    item = ET.SubElement(
        parent, "DataItem", Dimensions=" ".join(map(str, shape)), NumberType=number, Precision=precision, Format="HDF"
    )
    item.text = f"{h5_name}:{dataset}"


@WRITERS.register("xdmf")
def write_xdmf(field: Field, path: str | os.PathLike) -> list[Path]:
    """Write ``path`` (``.xdmf``) and ``path.with_suffix('.h5')``: one dataset with time steps.

    The XDMF top level is a single temporal collection, one ``<Grid>`` per time step (a
    steady field is one step at t = 0). Every step's topology and geometry read the same
    HDF5 datasets (``/topology``, ``/geometry``); step ``k`` holds its channels in
    ``/steps/<k>/<j>`` (channel ``j``, its name in the ``name`` attribute), and ``/times``
    lists the times. The .xdmf names the .h5 by its file name, so the pair can be moved
    together. Both are written atomically, the .h5 replaced first.
    """
    import xml.etree.ElementTree as ET

    import h5py

    path = Path(path).with_suffix(".xdmf")
    h5 = path.with_suffix(".h5")
    mesh = field.mesh().to_meshio()
    times = [0.0] if field.times is None else [float(t) for t in field.times]
    points = np.asarray(mesh.points, dtype=np.float64)

    root = ET.Element("Xdmf", Version="3.0")
    series = ET.SubElement(
        ET.SubElement(root, "Domain"), "Grid", Name=path.stem, GridType="Collection", CollectionType="Temporal"
    )
    with atomic_path(path) as tmp_xdmf:
        with atomic_path(h5) as tmp_h5:
            with h5py.File(tmp_h5, "w") as f:
                f.create_dataset("geometry", data=points)
                f.create_dataset("times", data=np.asarray(times, dtype=np.float64))
                topo = ET.Element("Topology")
                conn = _xdmf_topology(topo, f, mesh)
                for k, t in enumerate(times):
                    grid = ET.SubElement(series, "Grid", Name=f"{path.stem}_{k:04d}", GridType="Uniform")
                    ET.SubElement(grid, "Time", Value=repr(t))
                    step_topo = ET.SubElement(grid, "Topology", topo.attrib)
                    _xdmf_item(step_topo, h5.name, "/topology", conn.shape, conn.dtype)
                    geo = ET.SubElement(grid, "Geometry", GeometryType="XYZ")
                    _xdmf_item(geo, h5.name, "/geometry", points.shape, points.dtype)
                    data = _point_data(field, None if field.times is None else k)
                    for j, (name, vals) in enumerate(data.items()):
                        ds = f.create_dataset(f"steps/{k}/{j}", data=vals)
                        ds.attrs["name"] = name
                        att = ET.SubElement(grid, "Attribute", Name=name, AttributeType="Scalar", Center="Node")
                        _xdmf_item(att, h5.name, ds.name, vals.shape, vals.dtype)
            ET.indent(root)
            tmp_xdmf.write_text(
                '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n", encoding="utf-8"
            )
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
