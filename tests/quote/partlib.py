"""Parts whose features are known by construction, built with build123d.

Each builder returns the build123d solid; ``KNOWN`` holds what the features must say about it
(volumes computed from the dimensions, not measured). ``write_part`` exports one as STEP or STL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trimesh
from build123d import (
    Axis,
    Box,
    Cylinder,
    Part,
    Pos,
    export_step,
    export_stl,
    fillet,
)


def cube() -> Part:
    """50 mm cube centred on the origin."""
    return Box(50, 50, 50)


PLATE_HOLES = [(x, y) for x in (-40.0, 0.0, 40.0) for y in (-20.0, 20.0)]


def plate_with_holes() -> Part:
    """100 x 60 x 10 plate with 6 through holes of 6.6 mm (M6 clearance)."""
    part = Box(100, 60, 10)
    for x, y in PLATE_HOLES:
        part -= Pos(x, y, 0) * Cylinder(3.3, 10)
    return part


def block_with_blind_holes() -> Part:
    """60 x 40 x 20 block with 4 blind holes of 6.8 mm (M8 tap drill), 12 mm deep from the top."""
    part = Box(60, 40, 20)
    for x, y in [(-20.0, -10.0), (-20.0, 10.0), (20.0, -10.0), (20.0, 10.0)]:
        # Top face at z = 10; the hole's flat floor at z = -2.
        part -= Pos(x, y, 4) * Cylinder(3.4, 12)
    return part


SHAFT_STEPS = [(30.0, 40.0), (20.0, 30.0), (12.0, 20.0)]  # (diameter, length) along +Z


def stepped_shaft() -> Part:
    """Turned shaft along Z: diameters 30, 20, 12 mm over 40, 30, 20 mm."""
    z = 0.0
    part: Part | None = None
    for d, length in SHAFT_STEPS:
        seg = Pos(0, 0, z + length / 2) * Cylinder(d / 2, length)
        part = seg if part is None else part + seg
        z += length
    assert part is not None
    return part


FLANGE_PCD = 75.0
FLANGE_BOLT_D = 9.0


def flange() -> Part:
    """Flange: disk 100 x 12 with a hub 50 x 20 on top, a 30 mm bore through both, and 6 holes
    of 9 mm on a 75 mm bolt circle through the disk."""
    part = Pos(0, 0, 6) * Cylinder(50, 12) + Pos(0, 0, 22) * Cylinder(25, 20)
    part -= Pos(0, 0, 16) * Cylinder(15, 32)
    for k in range(6):
        a = 2 * math.pi * k / 6
        part -= Pos(FLANGE_PCD / 2 * math.cos(a), FLANGE_PCD / 2 * math.sin(a), 6) * Cylinder(
            FLANGE_BOLT_D / 2, 12
        )
    return part


HOUSING_OUTER = (80.0, 60.0, 40.0)
HOUSING_WALL = 3.0
HOUSING_FLOOR = 3.0
HOUSING_CORNER_R = 5.0


def housing() -> Part:
    """Open-top box 80 x 60 x 40 with 3 mm walls and floor; the cavity's vertical inner corners
    are rounded to 5 mm."""
    ox, oy, oz = HOUSING_OUTER
    w, f = HOUSING_WALL, HOUSING_FLOOR
    # The cavity pokes 1 mm above the top so the box is open.
    cavity = Pos(0, 0, f / 2 + 0.5) * Box(ox - 2 * w, oy - 2 * w, oz - f + 1)
    cavity = fillet(cavity.edges().filter_by(Axis.Z), HOUSING_CORNER_R)
    return Pos(0, 0, oz / 2) * Box(ox, oy, oz) - Pos(0, 0, oz / 2) * cavity


@dataclass(frozen=True)
class Known:
    """What the features of a constructed part must be.

    volume_mm3: exact volume. obb_mm: box extents, largest first. process: expected process.
    holes: (count, diameter_mm, through) groups. min_wall_mm: (low, high) bounds of the
    thinnest wall, mm, or None when not checked.
    pocket_depth_mm: deepest pocket, 0 when none. min_radius_mm: smallest internal corner
    radius (None when the part has no internal vertical corner).
    """

    builder: Callable[[], Part]
    volume_mm3: float
    obb_mm: tuple[float, float, float]
    process: str
    holes: tuple[tuple[int, float, bool], ...] = ()
    min_wall_mm: tuple[float, float] | None = None
    pocket_depth_mm: float = 0.0
    min_radius_mm: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


def _shaft_volume() -> float:
    return sum(math.pi * d * d / 4 * length for d, length in SHAFT_STEPS)


def _flange_volume() -> float:
    disk = math.pi * 50**2 * 12 + math.pi * 25**2 * 20
    return disk - math.pi * 15**2 * 32 - 6 * math.pi * (FLANGE_BOLT_D / 2) ** 2 * 12


def _housing_volume() -> float:
    ox, oy, oz = HOUSING_OUTER
    w, f, r = HOUSING_WALL, HOUSING_FLOOR, HOUSING_CORNER_R
    cavity_area = (ox - 2 * w) * (oy - 2 * w) - (4 - math.pi) * r * r
    return ox * oy * oz - cavity_area * (oz - f)


KNOWN: dict[str, Known] = {
    "cube": Known(cube, 50.0**3, (50.0, 50.0, 50.0), "mill", min_wall_mm=(49.9, 50.1)),
    "plate_with_holes": Known(
        plate_with_holes,
        100 * 60 * 10 - 6 * math.pi * 3.3**2 * 10,
        (100.0, 60.0, 10.0),
        "mill",
        holes=((6, 6.6, True),),
        min_wall_mm=(6.65, 7.2),  # hole edge to plate edge: 10 - 3.3
    ),
    "block_with_blind_holes": Known(
        block_with_blind_holes,
        60 * 40 * 20 - 4 * math.pi * 3.4**2 * 12,
        (60.0, 40.0, 20.0),
        "mill",
        holes=((4, 6.8, False),),
        min_wall_mm=(6.55, 7.2),  # hole edge to block edge: 10 - 3.4
    ),
    "stepped_shaft": Known(stepped_shaft, _shaft_volume(), (90.0, 30.0, 30.0), "lathe"),
    "flange": Known(
        flange,
        _flange_volume(),
        (100.0, 100.0, 32.0),
        "mill-turn",
        holes=((6, FLANGE_BOLT_D, True), (1, 30.0, True)),
    ),
    "housing": Known(
        housing,
        _housing_volume(),
        (80.0, 60.0, 40.0),
        "mill",
        min_wall_mm=(2.8, 3.2),
        pocket_depth_mm=37.0,
        min_radius_mm=5.0,
        extra={"pocket_width_mm": 54.0},
    ),
}


def write_part(name: str, directory: Path, fmt: str) -> Path:
    """Export the known part ``name`` to ``directory`` as "step" or "stl"; returns the path."""
    part = KNOWN[name].builder()
    if fmt == "step":
        path = directory / f"{name}.step"
        export_step(part, str(path))
    elif fmt == "stl":
        path = directory / f"{name}.stl"
        # Fine tessellation so the fitted hole diameters are within +-0.05 mm.
        export_stl(part, str(path), tolerance=0.005, angular_tolerance=0.1)
    else:
        raise ValueError(fmt)
    return path


# A turn about an oblique axis: no face of a rotated copy is parallel to a coordinate plane.
OBLIQUE_TURN = ((1.0, 2.0, 3.0), 0.5)


def known_meshes(directory: Path) -> dict[str, trimesh.Trimesh]:
    """Every known part as the mesh loader hands it on, and a copy of each turned by
    ``OBLIQUE_TURN`` (named ``<name>_rotated``): features must not depend on the pose."""
    from quote.geometry.loading import load_part

    axis, angle = OBLIQUE_TURN
    turn = trimesh.transformations.rotation_matrix(angle, axis)
    out: dict[str, trimesh.Trimesh] = {}
    for name in KNOWN:
        mesh = load_part(write_part(name, directory, "stl")).bodies[0].mesh
        out[name] = mesh
        out[name + "_rotated"] = mesh.copy().apply_transform(turn)
    return out
