"""Turned-part detection: is the part (mostly) a solid of revolution, and about which axis?

For a candidate axis (each box axis, and the axis of each large outer cylinder) the surface is
scored by the share of its area that is rotationally symmetric about it: a triangle whose normal
has no tangential component around the axis (cylinders, cones, tori and spheres on the axis,
and planes across it), and which lies within the largest circle that fits in the part's outline
seen along the axis (so the corners of a square plate's faces do not count). The outline must
also be round (its narrowest width >= 95 % of its widest; a hexagon has 87 %):

* "lathe": round outline, >= 95 % symmetric area, no hole off the axis;
* "mill-turn": round outline, >= 60 % symmetric area (flats, cross holes, bolt circles ...);
* "mill": everything else.

The symmetric share is computed on the tessellation for every format; the exact B-rep feeds it
the axes of its outer cylinders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from quote.geometry.cylinders import Cylinders
from quote.geometry.extents import Frame
from quote.geometry.meshdata import MeshData
from quote.types import Hole

LATHE_SHARE = 0.95
MILL_TURN_SHARE = 0.6
ROUNDNESS = 0.95
_TANGENTIAL_TOL = 0.1
_COAXIAL_COS = np.cos(np.radians(3.0))
_MAX_CYLINDER_AXES = 3


@dataclass(frozen=True)
class Turning:
    """process: "lathe", "mill-turn" or "mill". axisymmetry: symmetric area share (0..1) about
    ``axis`` through ``center`` (mm). roundness: narrowest / widest width of the outline.
    diameter_mm, length_mm: largest diameter about the axis and length along it, mm."""

    process: str
    axisymmetry: float
    axis: np.ndarray
    center: np.ndarray
    roundness: float
    diameter_mm: float
    length_mm: float

    @property
    def turned(self) -> bool:
        return self.process != "mill"


def detect_turning(
    md: MeshData, frame: Frame, cylinders: Cylinders, holes: tuple[Hole, ...]
) -> Turning:
    """Best turning axis, its symmetric area share and the process it implies."""
    axes, centers = frame.rotation, np.zeros((3, 3))
    if len(cylinders):
        outer = np.flatnonzero(~cylinders.concave & cylinders.full)
        chosen = outer[np.argsort(-cylinders.area[outer])][:_MAX_CYLINDER_AXES]
        axes = np.concatenate((axes, cylinders.axis[chosen]))
        centers = np.concatenate((centers, cylinders.origin[chosen]))
    pts = np.ascontiguousarray(frame.outer_points, dtype=np.float64)
    # The support function from at most ~2000 points (a rim of many thousand vertices moves
    # it by far less than the tessellation's own chord error); r_out uses all of them.
    step = max(1, len(pts) // _SUPPORT_POINTS)
    frames, center3, numbers = _outlines(pts, axes, centers, step, _E, _CIRCLE_FIT)
    r_out, r_in, roundness, length = numbers.T.tolist()
    valid = [k for k in range(len(axes)) if r_out[k] > 0]
    if not valid:
        return Turning("mill", 0.0, frame.rotation[2], frame.center, 0.0, 0.0, 0.0)
    # Scoring every triangle is the costly part: do it for the round outlines only (or, when
    # none is round, for the roundest, so the part still gets an axisymmetry figure).
    round_ones = [k for k in valid if roundness[k] >= ROUNDNESS]
    pick = round_ones or [max(valid, key=roundness.__getitem__)]
    pick = _distinct(frames[:, 2], center3, np.array(pick), 1e-3 * md.scale).tolist()
    symmetric = _symmetric_faces(
        md.centroids,
        md.normals,
        frames[pick, 2],
        center3[pick],
        np.array([r_in[k] + 0.02 * r_out[k] for k in pick]),
        1e-6 * md.scale,
    )
    best, best_share = pick[0], -1.0
    for k, sym in zip(pick, symmetric, strict=True):
        share = round(float(md.areas[sym].sum() / md.total_area), 4)
        if share > best_share:
            best, best_share = k, share
    axis, center = frames[best, 2].copy(), center3[best].copy()
    process = "mill"
    if roundness[best] >= ROUNDNESS and best_share >= MILL_TURN_SHARE:
        diameter = 2.0 * r_out[best]
        off_axis = any(not _coaxial(h, axis, center, diameter) for h in holes)
        lathe = best_share >= LATHE_SHARE and not off_axis
        process = "lathe" if lathe else "mill-turn"
    return Turning(
        process, best_share, axis, center, roundness[best], 2.0 * r_out[best], length[best]
    )


def _coaxial(hole: Hole, axis: np.ndarray, center: np.ndarray, diameter: float) -> bool:
    """Whether a hole lies on the turning axis (through ``center``, mm) of a part of
    ``diameter`` mm."""
    a = np.asarray(hole.axis)
    if abs(float(a @ axis)) < _COAXIAL_COS:
        return False
    rel = np.asarray(hole.position_mm) - center
    off = np.linalg.norm(rel - (rel @ axis) * axis)
    return bool(off <= max(0.02 * diameter / 2.0, 0.05))


# Directions in the plane across a candidate axis at which the outline's support is sampled.
_ANGLES = np.linspace(0.0, 2.0 * np.pi, 128, endpoint=False)
_E = np.stack((np.cos(_ANGLES), np.sin(_ANGLES)))  # (2, 128)
_SUPPORT_POINTS = 2048
# Least squares of h(theta) = c.e(theta) + R: the rows give (cx, cy, R) from the 128 h values.
_CIRCLE_FIT = np.linalg.pinv(np.column_stack((_E.T, np.ones(len(_ANGLES)))))  # (3, 128)


@njit(cache=True, nogil=True)
def _outlines(
    pts: np.ndarray,
    axes: np.ndarray,
    centers: np.ndarray,
    step: int,
    e: np.ndarray,
    fit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outline of ``pts`` (mm) seen along each of ``axes`` (k, 3), from its support
    function.

    h(theta) = max p.e(theta) over the directions ``e`` (2, 128), from every ``step``-th
    point. A circle of centre c and radius R has h = c.e + R, so a least-squares fit
    (``fit``) gives the centre, except for the axes after the first three, which are
    cylinder axes through ``centers``; the outline's widths h(theta) + h(theta + pi) are all
    equal only for a round outline (min / max width is cos(30 deg) = 0.87 for a hexagon,
    0.71 for a square, >= 0.99 for a tessellated circle).

    Returns
    -------
    frames : (k, 3, 3) float
        Per axis the rows u, v (across it) and the axis, flipped so its largest component is
        positive.
    center3 : (k, 3) float
        The outline's centre on the axis, at the points' mean height along it, mm.
    numbers : (k, 4) float
        r_out (largest distance of a point from the axis, mm), r_in (radius of the largest
        circle about the centre inside the outline, mm), roundness (narrowest / widest
        width) and length (extent along the axis, mm).
    """
    n_axes, n = axes.shape[0], pts.shape[0]
    n_dirs = e.shape[1]
    frames = np.empty((n_axes, 3, 3))
    center3 = np.empty((n_axes, 3))
    numbers = np.empty((n_axes, 4))
    flat = np.empty((n, 2))
    h = np.empty(n_dirs)
    supports = np.empty((n_axes, n_dirs))
    for k in range(n_axes):
        a0, a1, a2 = axes[k, 0], axes[k, 1], axes[k, 2]
        # canonical_axes: the first largest component made positive.
        b0, b1, b2 = abs(a0), abs(a1), abs(a2)
        largest = a0 if b0 >= b1 and b0 >= b2 else (a1 if b1 >= b2 else a2)
        if largest < 0:
            a0, a1, a2 = -a0, -a1, -a2
        # u = axis x (X, or Y when the axis is near X), normalised; v = axis x u.
        if abs(a0) < 0.9:
            u0, u1, u2 = 0.0, a2, -a1
        else:
            u0, u1, u2 = -a2, 0.0, a0
        norm = np.sqrt(u0 * u0 + u1 * u1 + u2 * u2)
        u0, u1, u2 = u0 / norm, u1 / norm, u2 / norm
        v0, v1, v2 = a1 * u2 - a2 * u1, a2 * u0 - a0 * u2, a0 * u1 - a1 * u0
        frames[k, 0, 0], frames[k, 0, 1], frames[k, 0, 2] = u0, u1, u2
        frames[k, 1, 0], frames[k, 1, 1], frames[k, 1, 2] = v0, v1, v2
        frames[k, 2, 0], frames[k, 2, 1], frames[k, 2, 2] = a0, a1, a2
        lo, hi, total = np.inf, -np.inf, 0.0
        for i in range(n):
            x, y, z = pts[i, 0], pts[i, 1], pts[i, 2]
            flat[i, 0] = x * u0 + y * u1 + z * u2
            flat[i, 1] = x * v0 + y * v1 + z * v2
            t = x * a0 + y * a1 + z * a2
            lo, hi, total = min(lo, t), max(hi, t), total + t
        # A cylinder axis is most often a frame axis: the same outline, seen from the same
        # (u, v), so the same support function.
        seen = -1
        for j in range(k):
            if frames[j, 2, 0] == a0 and frames[j, 2, 1] == a1 and frames[j, 2, 2] == a2:
                seen = j
                break
        if seen >= 0:
            h[:] = supports[seen]
        else:
            _support(flat, step, e, h)
        supports[k] = h
        if k >= 3:
            cx = centers[k, 0] * u0 + centers[k, 1] * u1 + centers[k, 2] * u2
            cy = centers[k, 0] * v0 + centers[k, 1] * v1 + centers[k, 2] * v2
        else:
            cx, cy = 0.0, 0.0
            for d in range(n_dirs):
                cx += fit[0, d] * h[d]
                cy += fit[1, d] * h[d]
        r_out = 0.0
        for i in range(n):
            dx, dy = flat[i, 0] - cx, flat[i, 1] - cy
            r_out = max(r_out, np.sqrt(dx * dx + dy * dy))
        half = n_dirs // 2
        w_lo, w_hi, r_in = np.inf, -np.inf, np.inf
        for d in range(n_dirs):
            w = h[d] + h[(d + half) % n_dirs]
            w_lo, w_hi = min(w_lo, w), max(w_hi, w)
            r_in = min(r_in, h[d] - (cx * e[0, d] + cy * e[1, d]))
        mid = total / n
        for c in range(3):
            center3[k, c] = cx * frames[k, 0, c] + cy * frames[k, 1, c] + mid * frames[k, 2, c]
        numbers[k, 0] = r_out
        numbers[k, 1] = max(r_in, 0.0)
        numbers[k, 2] = w_lo / w_hi
        numbers[k, 3] = hi - lo
    return frames, center3, numbers


@njit(cache=True, nogil=True)
def _distinct(axes: np.ndarray, centers: np.ndarray, pick: np.ndarray, tol: float) -> np.ndarray:
    """The entries of ``pick`` whose axis line (unit ``axes`` through ``centers``, mm) does
    not repeat an earlier one's (within 3 degrees and ``tol`` mm): a frame axis that is also
    a cylinder axis is scored once."""
    kept = np.empty(len(pick), dtype=np.int64)
    n = 0
    for i in pick:
        same = False
        for j in kept[:n]:
            dot = axes[i, 0] * axes[j, 0] + axes[i, 1] * axes[j, 1] + axes[i, 2] * axes[j, 2]
            if abs(dot) > _COAXIAL_COS:
                r0 = centers[i, 0] - centers[j, 0]
                r1 = centers[i, 1] - centers[j, 1]
                r2 = centers[i, 2] - centers[j, 2]
                t = r0 * axes[j, 0] + r1 * axes[j, 1] + r2 * axes[j, 2]
                r0, r1, r2 = r0 - t * axes[j, 0], r1 - t * axes[j, 1], r2 - t * axes[j, 2]
                if np.sqrt(r0 * r0 + r1 * r1 + r2 * r2) < tol:
                    same = True
                    break
        if not same:
            kept[n] = i
            n += 1
    return kept[:n].copy()


@njit(cache=True, nogil=True)
def _support(flat: np.ndarray, step: int, e: np.ndarray, h: np.ndarray) -> None:
    """h[d] = max over every ``step``-th point of flat (n, 2) of p.e[:, d] (e: (2, m) unit
    directions, m a multiple of 8, by increasing angle).

    Points deep inside the polygon of the extreme points along 8 of the directions
    (Akl-Toussaint) are never the maximum and are skipped: on machined parts most outer points
    are rims of holes inside the outline. "Deep" is 1e-9 of the outline's size, far above the
    rounding of p.e, so the maxima are those of all points, bit for bit.
    """
    n, m = flat.shape[0], e.shape[1]
    # The extreme point along every (m / 8)-th direction, counter-clockwise.
    ext = np.empty(8, dtype=np.int64)
    for t in range(8):
        d = t * (m // 8)
        best = -np.inf
        for i in range(0, n, step):
            s = flat[i, 0] * e[0, d] + flat[i, 1] * e[1, d]
            if s > best:
                best, ext[t] = s, i
    span = 0.0
    for t in range(8):
        for c in range(2):
            span = max(span, abs(flat[ext[t], c] - flat[ext[0], c]))
    # The polygon's edges (the degenerate ones between repeated extreme points dropped),
    # each with the least left offset (cross product) of a point inside by the margin.
    ox, oy = np.empty(8), np.empty(8)
    ex, ey = np.empty(8), np.empty(8)
    need = np.empty(8)
    n_edges = 0
    for t in range(8):
        p, q = ext[t], ext[(t + 1) % 8]
        dx, dy = flat[q, 0] - flat[p, 0], flat[q, 1] - flat[p, 1]
        length = np.sqrt(dx * dx + dy * dy)
        if length > 0.0:
            ox[n_edges], oy[n_edges] = flat[p, 0], flat[p, 1]
            ex[n_edges], ey[n_edges] = dx, dy
            need[n_edges] = 1e-9 * span * length
            n_edges += 1
    h[:] = -np.inf
    for i in range(0, n, step):
        x, y = flat[i, 0], flat[i, 1]
        inside = n_edges > 0
        for t in range(n_edges):
            if ex[t] * (y - oy[t]) - ey[t] * (x - ox[t]) <= need[t]:
                inside = False
                break
        if inside:
            continue
        for d in range(m):
            s = x * e[0, d] + y * e[1, d]
            if s > h[d]:
                h[d] = s


@njit(cache=True, nogil=True)
def _symmetric_faces(
    centroids: np.ndarray,
    normals: np.ndarray,
    axes: np.ndarray,
    centers: np.ndarray,
    reach: np.ndarray,
    on_axis_tol: float,
) -> np.ndarray:
    """(k, F) bool: the triangles rotationally symmetric about each axis (see module doc).

    Parameters
    ----------
    centroids, normals : (F, 3) float
        Triangle centroids (mm) and unit normals.
    axes, centers : (k, 3) float
        Unit axis directions and a point on each axis, mm.
    reach : (k,) float
        Largest distance from the axis a symmetric triangle's centroid may have, mm.
    on_axis_tol : float
        Centroids closer than this to the axis are on it, mm.
    """
    n_axes, n = axes.shape[0], centroids.shape[0]
    out = np.zeros((n_axes, n), dtype=np.bool_)
    for k in range(n_axes):
        a0, a1, a2 = axes[k, 0], axes[k, 1], axes[k, 2]
        for f in range(n):
            r0 = centroids[f, 0] - centers[k, 0]
            r1 = centroids[f, 1] - centers[k, 1]
            r2 = centroids[f, 2] - centers[k, 2]
            t = r0 * a0 + r1 * a1 + r2 * a2
            r0, r1, r2 = r0 - t * a0, r1 - t * a1, r2 - t * a2
            rho = np.sqrt(r0 * r0 + r1 * r1 + r2 * r2)
            if rho > reach[k]:
                continue
            n0, n1, n2 = normals[f, 0], normals[f, 1], normals[f, 2]
            if rho < on_axis_tol:
                # On the axis: symmetric when the face lies across it.
                out[k, f] = abs(n0 * a0 + n1 * a1 + n2 * a2) > 0.99
            else:
                # Tangential component of the normal: (a x r/|r|).n = r.(n x a) / |r|.
                c0, c1, c2 = n1 * a2 - n2 * a1, n2 * a0 - n0 * a2, n0 * a1 - n1 * a0
                out[k, f] = abs(r0 * c0 + r1 * c1 + r2 * c2) / rho < _TANGENTIAL_TOL
    return out
