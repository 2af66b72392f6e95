"""One pass over the faces of an exact B-rep (STEP): surface types and cylinder geometry.

Only the cheap per-face queries are used (surface type, its parameters, the face's parameter
bounds, one derivative): exact areas and volumes through ``BRepGProp`` cost as much as reading
the file again, so areas and volumes come from the tessellation instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from OCP.gp import gp_Pnt, gp_Vec

# OpenCASCADE is imported when a B-rep is surveyed, not with this module: importing OCP costs
# ~0.6 s, which a mesh quote from the command line should not pay.

FACE_TYPES = ("plane", "cylinder", "cone", "torus", "sphere", "bspline", "other")


@cache
def _type_names() -> dict[Any, str]:
    from OCP.GeomAbs import GeomAbs_SurfaceType as T

    return {
        T.GeomAbs_Plane: "plane",
        T.GeomAbs_Cylinder: "cylinder",
        T.GeomAbs_Cone: "cone",
        T.GeomAbs_Torus: "torus",
        T.GeomAbs_Sphere: "sphere",
        # Free-form and swept surfaces are all "bspline" for costing: they need 3D surfacing.
        T.GeomAbs_BSplineSurface: "bspline",
        T.GeomAbs_BezierSurface: "bspline",
        T.GeomAbs_SurfaceOfRevolution: "bspline",
        T.GeomAbs_SurfaceOfExtrusion: "bspline",
        T.GeomAbs_OffsetSurface: "bspline",
        T.GeomAbs_OtherSurface: "other",
    }


@dataclass(frozen=True)
class CylinderFaces:
    """The cylindrical faces of a B-rep, one row per face.

    axis : (K, 3) unit axis direction, sign-normalised (largest component positive).
    origin : (K, 3) the point of the axis line nearest the file origin, mm.
    radius : (K,) mm.
    t0, t1 : (K,) the face's extent along ``axis`` measured from ``origin``, mm.
    span : (K,) angle the face covers around the axis, radians.
    concave : (K,) True when the material is outside the cylinder (a hole or inner fillet).
    """

    axis: np.ndarray
    origin: np.ndarray
    radius: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    span: np.ndarray
    concave: np.ndarray


@dataclass(frozen=True)
class BrepSurvey:
    """face_counts: faces by surface type (keys FACE_TYPES). cylinders: per-face cylinder data."""

    face_counts: dict[str, int]
    cylinders: CylinderFaces


def survey_faces(shape: Any) -> BrepSurvey:
    """Count the faces of ``shape`` (an OCP TopoDS_Shape in mm) by type and read its cylinders."""
    from OCP.BRepAdaptor import BRepAdaptor_Surface
    from OCP.gp import gp_Pnt, gp_Vec
    from OCP.TopAbs import TopAbs_FACE
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    type_names = _type_names()
    counts = dict.fromkeys(FACE_TYPES, 0)
    rows: list[tuple[float, ...]] = []
    explorer = TopExp_Explorer(shape, TopAbs_FACE)
    p, du, dv = gp_Pnt(), gp_Vec(), gp_Vec()
    while explorer.More():
        face = TopoDS.Face(explorer.Current())
        explorer.Next()
        # Unrestricted adaptor: restricting it to the face computes parameter bounds of every
        # face (most of the cost); only cylinders need theirs.
        surf = BRepAdaptor_Surface(face, False)
        kind = type_names.get(surf.GetType(), "other")
        counts[kind] += 1
        if kind == "cylinder":
            row = _cylinder_row(face, surf, p, du, dv)
            if row is not None:
                rows.append(row)
    arr = np.array(rows, dtype=np.float64).reshape(-1, 11)
    cyls = CylinderFaces(
        axis=arr[:, 0:3],
        origin=arr[:, 3:6],
        radius=arr[:, 6],
        t0=arr[:, 7],
        t1=arr[:, 8],
        span=arr[:, 9],
        concave=arr[:, 10] > 0.5,
    )
    return BrepSurvey(face_counts=counts, cylinders=cyls)


def _cylinder_row(
    face: Any, surf: Any, p: gp_Pnt, du: gp_Vec, dv: gp_Vec
) -> tuple[float, ...] | None:
    """(axis xyz, origin xyz, radius, t0, t1, span, concave) of one cylindrical face.

    Plain float arithmetic: numpy's per-call overhead would dominate on a few hundred faces.
    """
    from OCP.BRepTools import BRepTools
    from OCP.TopAbs import TopAbs_REVERSED

    u0, u1, v0, v1 = BRepTools.UVBounds_s(face)
    if not all(math.isfinite(x) for x in (u0, u1, v0, v1)):
        return None
    cyl = surf.Cylinder()
    ax = cyl.Axis()
    loc, d = ax.Location(), ax.Direction()
    lx, ly, lz = loc.X(), loc.Y(), loc.Z()
    dx, dy, dz = d.X(), d.Y(), d.Z()
    surf.D1((u0 + u1) / 2.0, (v0 + v1) / 2.0, p, du, dv)
    # Outward normal of the face: dU x dV, flipped for a reversed face.
    nx = du.Y() * dv.Z() - du.Z() * dv.Y()
    ny = du.Z() * dv.X() - du.X() * dv.Z()
    nz = du.X() * dv.Y() - du.Y() * dv.X()
    if face.Orientation() == TopAbs_REVERSED:
        nx, ny, nz = -nx, -ny, -nz
    # Radial direction at the face's mid point; concave when the normal points at the axis.
    rx, ry, rz = p.X() - lx, p.Y() - ly, p.Z() - lz
    along = rx * dx + ry * dy + rz * dz
    rx, ry, rz = rx - along * dx, ry - along * dy, rz - along * dz
    concave = nx * rx + ny * ry + nz * rz < 0.0
    # v is the axial coordinate from the cylinder's own location along its own direction;
    # re-express it on the sign-normalised axis from the line's foot nearest the file origin.
    big = max((abs(dx), 0, dx), (abs(dy), 1, dy), (abs(dz), 2, dz))
    sign = 1.0 if big[2] > 0 else -1.0
    ax_x, ax_y, ax_z = dx * sign, dy * sign, dz * sign
    base = lx * ax_x + ly * ax_y + lz * ax_z
    ta, tb = base + sign * v0, base + sign * v1
    return (
        ax_x,
        ax_y,
        ax_z,
        lx - base * ax_x,
        ly - base * ax_y,
        lz - base * ax_z,
        cyl.Radius(),
        min(ta, tb),
        max(ta, tb),
        min(u1 - u0, 2.0 * math.pi),
        1.0 if concave else 0.0,
    )
