"""Setups and access directions: from which of the six box directions a tool reaches the surface.

A surface point is reachable from direction d (the tool comes from the d side, pointing along -d)
when its normal does not face away from d (walls, n.d = 0, are cut by the side of an end mill)
and a ray from the point towards d leaves the part without hitting it. The setups are the
fewest directions that together reach (nearly) all reachable area and every hole's entry; what
no direction reaches is reported as unreachable area (it needs a 4th/5th axis or EDM).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from quote.geometry.extents import DIRECTION_LABELS, Frame
from quote.geometry.meshdata import MeshData
from quote.types import Hole

# Preference among equally good setups: machine from the top first, then the bottom, then sides.
_PREFERENCE = (4, 5, 0, 1, 2, 3)  # +Z, -Z, +X, -X, +Y, -Y
# A face tilted away from d by less than this (as n.d, ~6 degrees) still counts as a wall: the
# facets of a tessellated vertical wall lean a few degrees either way.
_FACING_TOL = -0.1
_GRAZE_COS = 0.1
# Share of the reachable area a set of directions may leave uncovered (sampling noise).
_COVER_SLACK = 0.001
_PARALLEL_COS = np.cos(np.radians(2.0))
# Rays passing this share of the part's diagonal outside its box miss it for sure (embree's
# float32 rounding is ~1e-7 of the diagonal; samples sit 1e-4 of it off their face).
_ESCAPE_MARGIN = 1e-5
# The 64 sets of directions as bit masks (bit k = direction k of DIRECTION_LABELS): their
# size, whether two sets share a direction, and their rank in preference order (smaller sets,
# then sets of preferred directions).
_MASKS = np.arange(64)
_SIZE = np.array([bin(m).count("1") for m in range(64)])
_MEETS = ((_MASKS[:, None] & _MASKS[None, :]) != 0).astype(np.float64)
_RANK = np.zeros(64, dtype=np.int64)
for _i, _m in enumerate(
    sum(1 << k for k in combo) for size in range(1, 7) for combo in combinations(_PREFERENCE, size)
):
    _RANK[_m] = _i


@dataclass(frozen=True)
class Access:
    """directions: labels of the chosen setup directions, in preference order.
    vectors: (k, 3) their unit vectors in file coordinates.
    unreachable_area_mm2: sampled area no box direction reaches, mm^2.
    reach: (n, 6) bool reachability of each sample from +X, -X, +Y, -Y, +Z, -Z."""

    directions: tuple[str, ...]
    vectors: np.ndarray
    unreachable_area_mm2: float
    reach: np.ndarray

    @property
    def setups(self) -> int:
        return max(1, len(self.directions))


def find_access(
    md: MeshData,
    frame: Frame,
    points: np.ndarray,
    normals: np.ndarray,
    weights: np.ndarray,
    holes: tuple[Hole, ...] = (),
) -> Access:
    """Choose setup directions from surface samples.

    Parameters
    ----------
    md : MeshData
    frame : Frame
        The box frame whose six axis directions are the candidates.
    points, normals, weights : (n, 3), (n, 3), (n,)
        Surface samples (mm), their outward normals and the area each stands for (mm^2).
    holes : tuple of Hole
        Each hole along a frame axis must be drillable from a chosen direction.
    """
    dirs = frame.directions()
    cos = normals @ dirs.T  # (n, 6)
    cand = cos > _FACING_TOL
    eps = 1e-4 * md.scale
    origins = points + normals * eps
    # Only rays that may meet the part are cast; the others reach by construction.
    si, di = np.nonzero(cand & _may_meet(frame, origins, _ESCAPE_MARGIN * md.scale))
    hit = _blocked(md, origins[si], dirs[di], eps)
    reach = cand.copy()
    reach[si[hit], di[hit]] = False
    bits = reach @ (1 << np.arange(6))
    unreachable = float(weights[bits == 0].sum())
    reachable = float(weights.sum()) - unreachable
    need = _hole_requirements(holes, dirs)
    # Area per reachability pattern (6 bits), then the area every set of directions covers.
    pattern_area = np.bincount(bits, weights=weights, minlength=64)
    covered = _MEETS @ pattern_area
    allowed = _MASKS > 0
    if len(need):
        allowed &= ((_MASKS[:, None] & np.array(need)[None, :]) != 0).all(axis=1)
    ok = allowed & (covered >= reachable * (1.0 - _COVER_SLACK))
    best: tuple[int, ...] = (_PREFERENCE[0],)
    if ok.any():
        pool = np.flatnonzero(ok & (_SIZE == _SIZE[ok].min()))
        # Most area first (to sampling precision); on ties the preferred directions.
        share = np.round(covered[pool] / max(float(weights.sum()), 1e-300), 6)
        m = int(pool[np.lexsort((_RANK[pool], -share))[0]])
        best = tuple(k for k in range(6) if (m >> k) & 1)
    best = tuple(k for k in _PREFERENCE if k in best)
    return Access(
        directions=tuple(DIRECTION_LABELS[k] for k in best),
        vectors=dirs[list(best)],
        unreachable_area_mm2=unreachable,
        reach=reach,
    )


def _may_meet(frame: Frame, origins: np.ndarray, margin: float) -> np.ndarray:
    """(n, 6) bool: False where the ray from a sample along a box direction (+X, -X, ... -Z
    of the frame) certainly misses the part, so need not be cast.

    A ray along a frame axis that starts outside the part's frame box across its direction,
    or already past the box along it, never enters the box: a sample on the top face of a
    plate looking up or sideways, on an outer wall looking out or along it. The margin (far
    above embree's float32 rounding) keeps rays that graze the box on the safe side: they are
    cast.
    """
    local = origins @ frame.rotation.T  # (n, 3) frame coordinates, mm
    box = frame.outer_points @ frame.rotation.T
    lo, hi = box.min(axis=0) - margin, box.max(axis=0) + margin
    below, above = local < lo, local > hi
    inside = ~(below | above)
    meets = np.empty((len(origins), 6), dtype=bool)
    for j in range(3):
        # Across the ray's direction the coordinate is fixed: it must lie within the box.
        across = inside[:, (j + 1) % 3] & inside[:, (j + 2) % 3]
        # Along it the coordinate grows: the ray must not start past the far side.
        meets[:, 2 * j] = across & ~above[:, j]
        meets[:, 2 * j + 1] = across & ~below[:, j]
    return meets


def _blocked(md: MeshData, origins: np.ndarray, directions: np.ndarray, step: float) -> np.ndarray:
    """(n,) bool: does each ray meet material that stops a tool coming along it?

    Only a surface the ray enters head-on (n.d < -0.1) blocks it. Exporters zig-zag vertical
    B-spline walls by a few degrees, so a ray running up such a wall grazes a facet (|n.d| <
    0.1), slips a hair into the material and leaves it again (n.d > 0) at the wall's top: both
    are passed (up to 4 surfaces per ray).
    """
    blocked = np.zeros(len(origins), dtype=bool)
    live = np.arange(len(origins))
    o = origins.copy()
    for step_no in range(4):
        if len(live) == 0:
            break
        # Every ray is live in the first pass: cast them without gathering copies.
        tri, dist = md.first_hit(
            o if step_no == 0 else o[live], directions if step_no == 0 else directions[live]
        )
        hit = tri >= 0
        facing = np.zeros(len(live))
        facing[hit] = np.einsum("ij,ij->i", md.normals[tri[hit]], directions[live[hit]])
        enters = hit & (facing < -_GRAZE_COS)
        blocked[live[enters]] = True
        go_on = hit & ~enters
        nxt = live[go_on]
        o[nxt] += directions[nxt] * (dist[go_on] + step)[:, None]
        live = nxt
    return blocked


def _hole_requirements(holes: tuple[Hole, ...], dirs: np.ndarray) -> list[int]:
    """One bit mask per hole along a frame axis: the directions it can be drilled from."""
    if not holes:
        return []
    axes = np.array([h.axis for h in holes], dtype=np.float64)
    entry = dirs @ -axes.T > _PARALLEL_COS  # (6, k): tool comes from the side opposite to drilling
    need = []
    for k in np.flatnonzero(entry.any(axis=0)).tolist():  # angled holes need an indexed setup
        first = int(np.argmax(entry[:, k]))
        bits = 1 << first
        if holes[k].through:
            bits |= 1 << (
                first ^ 1
            )  # +X <-> -X etc.: a through hole can be drilled from either end
        need.append(bits)
    return need
