"""Square plate with a circular hole: the gmsh script behind ``meshes/plate_hole.msh``.

Geometry: the full square plate [0, 1]^2 minus the disk of radius 0.2 centred at
(0.5, 0.5) (the full plate, not a quarter, so no symmetry conditions are implied).
Mesh: linear triangles (Frontal-Delaunay), size ``h`` at the outer corners and ``h / 2``
on the hole, interpolated in between. Physical groups: curves ``left`` (x = 0),
``right`` (x = 1), ``bottom`` (y = 0), ``top`` (y = 1), ``hole`` (the circle) and the
surface ``plate``. Output: MSH 4.1 ASCII, deterministic for a given gmsh version.

Usage::

    python meshes/plate_hole.py [--h 0.05] [--out meshes/plate_hole.msh]
"""

from __future__ import annotations

import argparse
from pathlib import Path

CENTRE = (0.5, 0.5)
RADIUS = 0.2
DEFAULT_OUT = Path(__file__).with_name("plate_hole.msh")


def _classify(gmsh, dim_tag: tuple[int, int], tol: float = 1e-6) -> str:
    """Name of the boundary curve ``dim_tag`` from its centre of mass.

    (OCC bounding boxes are padded by the geometric tolerance, so they are not used.)
    """
    x, y, _ = gmsh.model.occ.getCenterOfMass(*dim_tag)
    if abs(x) < tol:
        return "left"
    if abs(x - 1) < tol:
        return "right"
    if abs(y) < tol:
        return "bottom"
    if abs(y - 1) < tol:
        return "top"
    return "hole"


def build(h: float = 0.05, out: str | Path = DEFAULT_OUT) -> Path:
    """Mesh the plate with hole at size ``h`` (``h / 2`` on the hole) and write MSH 4.1 to ``out``."""
    import gmsh

    if not h > 0:
        raise ValueError(f"mesh size h must be positive, got {h}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    gmsh.initialize(["", "-nopopup"])
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.option.setNumber("Mesh.RandomSeed", 1)
        gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay
        gmsh.option.setNumber("Mesh.ElementOrder", 1)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 1)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 1)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.Binary", 0)
        gmsh.option.setNumber("Mesh.SaveAll", 0)  # only elements of physical groups
        gmsh.model.add("plate_hole")

        occ = gmsh.model.occ
        square = occ.addRectangle(0.0, 0.0, 0.0, 1.0, 1.0)
        disk = occ.addDisk(CENTRE[0], CENTRE[1], 0.0, RADIUS, RADIUS)
        (plate,), _ = occ.cut([(2, square)], [(2, disk)])
        occ.synchronize()

        # mesh sizes: h at the plate corners, h/2 on the hole's point(s)
        for dim_tag in gmsh.model.getBoundary([plate], combined=False, oriented=False, recursive=True):
            x, y, _ = gmsh.model.getValue(0, dim_tag[1], [])
            on_hole = abs((x - CENTRE[0]) ** 2 + (y - CENTRE[1]) ** 2 - RADIUS**2) < 1e-9
            gmsh.model.mesh.setSize([dim_tag], h / 2 if on_hole else h)

        groups: dict[str, list[int]] = {}
        for dim_tag in gmsh.model.getBoundary([plate], combined=False, oriented=False):
            groups.setdefault(_classify(gmsh, dim_tag), []).append(dim_tag[1])
        for name in ("left", "right", "bottom", "top", "hole"):
            if name not in groups:
                raise RuntimeError(f"plate_hole: no boundary curve classified as {name!r}")
            gmsh.model.addPhysicalGroup(1, sorted(groups[name]), name=name)
        gmsh.model.addPhysicalGroup(2, [plate[1]], name="plate")

        gmsh.model.mesh.generate(2)
        gmsh.write(str(out))
    finally:
        gmsh.finalize()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--h", type=float, default=0.05, help="characteristic length (h/2 on the hole)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .msh path")
    args = ap.parse_args(argv)
    print(build(args.h, args.out))


if __name__ == "__main__":
    main()
