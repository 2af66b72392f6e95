"""Holes: full concave cylinders, through or blind, matched to standard drill and tap sizes.

Whether each end of a hole is open is decided by casting rays from inside the hole along its
axis, on a ring at 0.7 x the radius: at a blind end they stop at the floor (or on the cone of a
drill point, which at 0.7 r lies within 0.2 r of the end of the cylinder); at an open end they
leave into the air or a far feature. The ring (not the axis) makes a counterbore read as blind,
since its floor is annular. The same test serves exact (STEP) and fitted (mesh) cylinders.

The rays are laid out and read back by numba kernels and the holes assembled from Python floats:
a part has a handful of holes, and numpy's per-call overhead on such small arrays cost more than
the arithmetic. The arithmetic is numpy's (the same roundings), so the holes are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from quote.geometry.cylinders import FULL_COVERAGE, Cylinders
from quote.geometry.extents import Frame
from quote.geometry.meshdata import MeshData
from quote.types import Hole

DrillMatcher = Callable[[float], tuple[str | None, str | None]]

_RING = 0.7
# Beyond the end of the cylinder, a drill point (118 deg) at 0.7 r is 0.18 r deep.
_END_SLACK = 0.3
_RAYS_PER_END = 4


def hole_cylinders(cyl: Cylinders) -> Cylinders:
    """The cylinders that are holes: concave and (nearly) full circles."""
    return cyl.subset(np.flatnonzero(cyl.concave & (cyl.coverage >= FULL_COVERAGE)))


def open_ends(cyl: Cylinders, md: MeshData) -> tuple[np.ndarray, np.ndarray]:
    """(K,) bool pairs: is each hole open at its low (t0) end, at its high (t1) end."""
    if len(cyl) == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    origins, directions = _end_rays(cyl.axis, cyl.origin, cyl.radius, cyl.t0, cyl.t1)
    _, dist = md.first_hit(origins, directions)
    return _open_ends(dist, cyl.radius, cyl.t0, cyl.t1, md.scale)


@njit(cache=True, nogil=True)
def _end_rays(
    axis: np.ndarray, origin: np.ndarray, radius: np.ndarray, t0: np.ndarray, t1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ray origins and unit directions, (2 K R, 3) each: for each end (+axis first, then
    -axis), each hole, R = _RAYS_PER_END points at +u, -u, +v, -v on the ring of _RING x the
    radius around the middle of the axis."""
    k = len(radius)
    origins = np.empty((2 * k * _RAYS_PER_END, 3))
    directions = np.empty((2 * k * _RAYS_PER_END, 3))
    for i in range(k):
        ax, ay, az = axis[i, 0], axis[i, 1], axis[i, 2]
        # u = axis x helper, v = axis x u (row-wise ``a x b``), u normalised.
        hx, hy, hz = (1.0, 0.0, 0.0) if abs(ax) < 0.9 else (0.0, 1.0, 0.0)
        ux, uy, uz = ay * hz - az * hy, az * hx - ax * hz, ax * hy - ay * hx
        norm = np.sqrt(ux * ux + uy * uy + uz * uz)
        ux, uy, uz = ux / norm, uy / norm, uz / norm
        vx, vy, vz = ay * uz - az * uy, az * ux - ax * uz, ax * uy - ay * ux
        mid_t = (t0[i] + t1[i]) / 2.0
        mx, my, mz = origin[i, 0] + ax * mid_t, origin[i, 1] + ay * mid_t, origin[i, 2] + az * mid_t
        s = _RING * radius[i]
        ring = ((ux, uy, uz), (-ux, -uy, -uz), (vx, vy, vz), (-vx, -vy, -vz))
        for j in range(_RAYS_PER_END):
            dx, dy, dz = ring[j]
            row = i * _RAYS_PER_END + j
            for end in range(2):
                at = row + end * k * _RAYS_PER_END
                origins[at, 0] = mx + dx * s
                origins[at, 1] = my + dy * s
                origins[at, 2] = mz + dz * s
                sign = 1.0 if end == 0 else -1.0
                directions[at, 0] = ax * sign
                directions[at, 1] = ay * sign
                directions[at, 2] = az * sign
    return origins, directions


@njit(cache=True, nogil=True)
def _open_ends(
    dist: np.ndarray, radius: np.ndarray, t0: np.ndarray, t1: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(open at t0, open at t1), (K,) each, from the distances of the ``_end_rays``: an end
    is closed where all its rays but one stop within the half length plus the drill point."""
    k = len(radius)
    open_lo = np.empty(k, dtype=np.bool_)
    open_hi = np.empty(k, dtype=np.bool_)
    for i in range(k):
        reach = (t1[i] - t0[i]) / 2.0 + _END_SLACK * radius[i] + 1e-4 * scale
        for end in range(2):
            stopped = 0
            for j in range(_RAYS_PER_END):
                if dist[end * k * _RAYS_PER_END + i * _RAYS_PER_END + j] <= reach:
                    stopped += 1
            closed = stopped >= _RAYS_PER_END - 1
            if end == 0:
                open_hi[i] = not closed
            else:
                open_lo[i] = not closed
    return open_lo, open_hi


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
    # Through holes: drill from the side the axis points to in the frame (its first largest
    # frame component positive), so a vertical hole is drilled from the top.
    in_frame = (holes.axis @ frame.rotation.T).tolist()
    # One Python step per hole (a handful), on Python floats: numpy scalars cost more.
    rows = zip(
        holes.axis.tolist(),
        holes.origin.tolist(),
        holes.radius.tolist(),
        holes.t0.tolist(),
        holes.t1.tolist(),
        open_lo.tolist(),
        open_hi.tolist(),
        in_frame,
        strict=True,
    )
    out: list[Hole] = []
    for (ax, ay, az), (ox, oy, oz), radius, t0, t1, lo_open, hi_open, (fx, fy, fz) in rows:
        through = lo_open and hi_open
        if through:
            # The first largest frame component, as np.argmax picks it.
            big = (
                fx
                if abs(fx) >= abs(fy) and abs(fx) >= abs(fz)
                else fy
                if abs(fy) >= abs(fz)
                else fz
            )
            from_hi = not big < 0
        else:
            from_hi = hi_open or not lo_open
        entry_t = t1 if from_hi else t0
        drill = (-ax, -ay, -az) if from_hi else (ax, ay, az)
        entry = (ox + ax * entry_t, oy + ay * entry_t, oz + az * entry_t)
        diameter = round(2.0 * radius, 4)
        standard, tap = match_drill(diameter) if match_drill is not None else (None, None)
        out.append(
            Hole(
                diameter_mm=diameter,
                depth_mm=round(t1 - t0, 4),
                through=through,
                axis=_vec(drill),
                position_mm=_vec(entry),
                standard=standard,
                tap=tap,
            )
        )
    out.sort(key=lambda h: (h.diameter_mm, h.position_mm))
    return tuple(out)


def _vec(a: tuple[float, float, float]) -> tuple[float, float, float]:
    return (_round6(a[0]), _round6(a[1]), _round6(a[2]))


def _round6(x: float) -> float:
    # round() is correctly rounded but slow (~0.4 us); it returns whole numbers (an axis
    # component of 0 or 1) unchanged. + 0.0 turns -0.0 into 0.0 so the JSON reads cleanly.
    return (x if x.is_integer() else round(x, 6)) + 0.0
