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

from quote.geometry.cylinders import Cylinders
from quote.geometry.extents import Frame
from quote.geometry.meshdata import MeshData, canonical_axes
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
    candidates: list[tuple[np.ndarray, np.ndarray | None]] = [(a, None) for a in frame.rotation]
    if len(cylinders):
        outer = np.flatnonzero(~cylinders.concave & cylinders.full)
        for i in outer[np.argsort(-cylinders.area[outer])][:_MAX_CYLINDER_AXES]:
            candidates.append((cylinders.axis[i], cylinders.origin[i]))
    outlines = [_outline(frame.outer_points, canonical_axes(a)[0], c) for a, c in candidates]
    valid = [o for o in outlines if o is not None]
    if not valid:
        return Turning("mill", 0.0, frame.rotation[2], frame.center, 0.0, 0.0, 0.0)
    # Scoring every triangle is the costly part: do it for the round outlines only (or, when
    # none is round, for the roundest, so the part still gets an axisymmetry figure).
    round_ones = [o for o in valid if o.roundness >= ROUNDNESS]
    to_score = round_ones or [max(valid, key=lambda o: o.roundness)]
    best: Turning | None = None
    for o in _distinct(to_score, md.scale):
        t = _score(md, o)
        if best is None or t.axisymmetry > best.axisymmetry:
            best = t
    assert best is not None
    process = "mill"
    if best.roundness >= ROUNDNESS and best.axisymmetry >= MILL_TURN_SHARE:
        off_axis = any(not _coaxial(h, best) for h in holes)
        lathe = best.axisymmetry >= LATHE_SHARE and not off_axis
        process = "lathe" if lathe else "mill-turn"
    return Turning(
        process,
        best.axisymmetry,
        best.axis,
        best.center,
        best.roundness,
        best.diameter_mm,
        best.length_mm,
    )


@dataclass(frozen=True)
class _Outline:
    """The part seen along ``axis``: centre (3D, on the axis), outer and inscribed radius."""

    axis: np.ndarray
    center: np.ndarray
    r_out: float
    r_in: float
    roundness: float
    length: float


def _distinct(outlines: list[_Outline], scale: float) -> list[_Outline]:
    """Drop outlines whose axis line repeats an earlier one (a frame axis = a cylinder axis)."""
    kept: list[_Outline] = []
    for o in outlines:
        same = False
        for k in kept:
            if abs(float(o.axis @ k.axis)) > _COAXIAL_COS:
                rel = o.center - k.center
                if np.linalg.norm(rel - (rel @ k.axis) * k.axis) < 1e-3 * scale:
                    same = True
                    break
        if not same:
            kept.append(o)
    return kept


def _coaxial(hole: Hole, t: Turning) -> bool:
    a = np.asarray(hole.axis)
    if abs(float(a @ t.axis)) < _COAXIAL_COS:
        return False
    rel = np.asarray(hole.position_mm) - t.center
    off = np.linalg.norm(rel - (rel @ t.axis) * t.axis)
    return bool(off <= max(0.02 * t.diameter_mm / 2.0, 0.05))


# Directions in the plane across a candidate axis at which the outline's support is sampled.
_ANGLES = np.linspace(0.0, 2.0 * np.pi, 128, endpoint=False)
_E = np.stack((np.cos(_ANGLES), np.sin(_ANGLES)))  # (2, 128)
_SUPPORT_POINTS = 2048
# Least squares of h(theta) = c.e(theta) + R: the columns for (cx, cy, R).
_CIRCLE_FIT = np.column_stack((_E.T, np.ones(len(_ANGLES))))


def _cross3(a: np.ndarray, b: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Cross product of two 3-vectors (``np.cross`` costs ~20 us of checks per call)."""
    a0, a1, a2 = float(a[0]), float(a[1]), float(a[2])
    b0, b1, b2 = float(b[0]), float(b[1]), float(b[2])
    return np.array((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0))


def _outline(pts: np.ndarray, axis: np.ndarray, center: np.ndarray | None) -> _Outline | None:
    """The outline of ``pts`` seen along ``axis``, from its support function.

    h(theta) = max p.e(theta) over 128 directions. A circle of centre c and radius R has
    h = c.e + R, so a least-squares fit gives the centre; the outline's widths
    h(theta) + h(theta + pi) are all equal only for a round outline (min / max width is
    cos(30 deg) = 0.87 for a hexagon, 0.71 for a square, >= 0.99 for a tessellated circle).
    """
    u = _cross3(axis, (1.0, 0.0, 0.0) if abs(axis[0]) < 0.9 else (0.0, 1.0, 0.0))
    u /= np.linalg.norm(u)
    v = _cross3(axis, u)
    flat = np.column_stack((pts @ u, pts @ v))
    # The support function from at most ~2000 points (a rim of many thousand vertices moves
    # it by far less than the tessellation's own chord error); r_out below uses all of them.
    step = max(1, len(flat) // _SUPPORT_POINTS)
    h = (flat[::step] @ _E).max(axis=0)
    if center is None:
        sol, *_ = np.linalg.lstsq(_CIRCLE_FIT, h, rcond=None)
        c2 = sol[:2]
    else:
        c2 = np.array([center @ u, center @ v])
    dx, dy = flat[:, 0] - c2[0], flat[:, 1] - c2[1]
    r_out = float(np.sqrt(dx * dx + dy * dy).max())
    if r_out <= 0:
        return None
    half = len(h) // 2
    width = h + np.concatenate((h[half:], h[:half]))
    along = pts @ axis
    c3 = c2[0] * u + c2[1] * v + float(along.mean()) * axis
    return _Outline(
        axis=axis,
        center=c3,
        r_out=r_out,
        r_in=max(float((h - c2 @ _E).min()), 0.0),
        roundness=float(width.min() / width.max()),
        length=float(np.ptp(along)),
    )


def _score(md: MeshData, o: _Outline) -> Turning:
    """Share of the area rotationally symmetric about the outline's axis (see module doc)."""
    axis = o.axis
    rel = md.centroids - o.center
    radial = rel - (rel @ axis)[:, None] * axis
    rho = np.sqrt(np.einsum("ij,ij->i", radial, radial))
    on_axis = rho < 1e-6 * md.scale
    # Tangential component of the normal: (a x r/|r|).n = r.(n x a) / |r|.
    n = md.normals
    nxa = np.column_stack(
        (
            n[:, 1] * axis[2] - n[:, 2] * axis[1],
            n[:, 2] * axis[0] - n[:, 0] * axis[2],
            n[:, 0] * axis[1] - n[:, 1] * axis[0],
        )
    )
    tang = np.abs(np.einsum("ij,ij->i", radial, nxa)) / np.where(on_axis, 1.0, rho)
    sym = np.where(on_axis, np.abs(n @ axis) > 0.99, tang < _TANGENTIAL_TOL)
    sym &= rho <= o.r_in + 0.02 * o.r_out
    share = float(md.areas[sym].sum() / md.total_area)
    return Turning("mill", round(share, 4), axis, o.center, o.roundness, 2.0 * o.r_out, o.length)
