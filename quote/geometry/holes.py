"""Holes: full concave cylinders, through or blind, matched to standard drill and tap sizes.

Whether each end of a hole is open is decided by casting rays from inside the hole along its
axis, on a ring at 0.7 x the radius: at a blind end they stop at the floor (or on the cone of a
drill point, which at 0.7 r lies within 0.2 r of the end of the cylinder); at an open end they
leave into the air or a far feature. The ring (not the axis) makes a counterbore read as blind,
since its floor is annular. The same test serves exact (STEP) and fitted (mesh) cylinders.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from quote.geometry.cylinders import Cylinders
from quote.geometry.extents import Frame
from quote.geometry.meshdata import MeshData, cross, row_norm
from quote.types import Hole

DrillMatcher = Callable[[float], tuple[str | None, str | None]]

_RING = 0.7
# Beyond the end of the cylinder, a drill point (118 deg) at 0.7 r is 0.18 r deep.
_END_SLACK = 0.3
_RAYS_PER_END = 4


def hole_cylinders(cyl: Cylinders) -> Cylinders:
    """The cylinders that are holes: concave and (nearly) full circles."""
    return cyl.subset(cyl.concave & cyl.full)


def open_ends(cyl: Cylinders, md: MeshData) -> tuple[np.ndarray, np.ndarray]:
    """(K,) bool pairs: is each hole open at its low (t0) end, at its high (t1) end."""
    k = len(cyl)
    if k == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    axis = cyl.axis
    helper = np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = cross(axis, helper)
    u /= row_norm(u)[:, None]
    v = cross(axis, u)
    mid_t = (cyl.t0 + cyl.t1) / 2.0
    mid = cyl.point(mid_t)
    r = cyl.radius[:, None]
    ring = np.stack((u, -u, v, -v), axis=1) * (_RING * r)[:, :, None]  # (k, 4, 3)
    origins = (mid[:, None, :] + ring).reshape(-1, 3)
    origins = np.vstack((origins, origins))
    up = np.repeat(axis, _RAYS_PER_END, axis=0)
    directions = np.vstack((up, -up))
    _, dist = md.first_hit(origins, directions)
    dist = dist.reshape(2, k, _RAYS_PER_END)
    reach = (cyl.t1 - cyl.t0) / 2.0 + _END_SLACK * cyl.radius + 1e-4 * md.scale
    closed = (dist <= reach[None, :, None]).sum(axis=2) >= _RAYS_PER_END - 1
    return ~closed[1], ~closed[0]


def find_holes(
    cyl: Cylinders,
    md: MeshData,
    frame: Frame,
    match_drill: DrillMatcher | None = None,
) -> tuple[Hole, ...]:
    """Holes of the part.

    Parameters
    ----------
    cyl : Cylinders
        All cylindrical features (the holes are selected here).
    md : MeshData
        The mesh, for the open-end rays.
    frame : Frame
        The box frame: through holes are drilled from the side their axis points to in it
        (a vertical through hole from +Z, drilling along -Z).
    match_drill : callable, optional
        ``diameter_mm -> (standard_label, tap_thread)``, e.g. ``Catalog.match_drill``.

    Returns
    -------
    tuple of Hole
        Sorted by diameter, then position.
    """
    holes = hole_cylinders(cyl)
    if len(holes) == 0:
        return ()
    open_lo, open_hi = open_ends(holes, md)
    # Through holes: drill from the side the axis points to in the frame (its largest frame
    # component positive), so a vertical hole is drilled from the top.
    in_frame = holes.axis @ frame.rotation.T
    big = np.argmax(np.abs(in_frame), axis=1)
    frame_sign = np.where(in_frame[np.arange(len(holes)), big] < 0, -1.0, 1.0)
    out: list[Hole] = []
    for i in range(len(holes)):  # one Python step per hole, not per triangle
        through = bool(open_lo[i] and open_hi[i])
        if through:
            from_hi = frame_sign[i] > 0
        else:
            from_hi = bool(open_hi[i]) or not bool(open_lo[i])
        entry_t = holes.t1[i] if from_hi else holes.t0[i]
        drill = -holes.axis[i] if from_hi else holes.axis[i]
        entry = holes.origin[i] + holes.axis[i] * entry_t
        diameter = round(2.0 * float(holes.radius[i]), 4)
        standard, tap = match_drill(diameter) if match_drill is not None else (None, None)
        out.append(
            Hole(
                diameter_mm=diameter,
                depth_mm=round(float(holes.t1[i] - holes.t0[i]), 4),
                through=through,
                axis=_vec(drill),
                position_mm=_vec(entry),
                standard=standard,
                tap=tap,
            )
        )
    out.sort(key=lambda h: (h.diameter_mm, h.position_mm))
    return tuple(out)


def _vec(a: np.ndarray) -> tuple[float, float, float]:
    # + 0.0 turns -0.0 into 0.0 so the JSON reads cleanly.
    return (round(float(a[0]), 6) + 0.0, round(float(a[1]), 6) + 0.0, round(float(a[2]), 6) + 0.0)
