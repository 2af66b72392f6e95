"""Pockets: regions sunk below their surroundings as seen from a setup direction.

From each setup direction that has floors below the top, a grid of rays (about 2000) looks down
on the part and gives a height map. A pocket is a connected region lower than a rim level that
is enclosed by higher material on every side: a region that reaches the part's outline is a step
or shoulder, not a pocket. Its depth is the rim level minus its lowest floor and its width is the
diameter of the largest circle that fits in its opening (the narrow dimension: 54 mm for a
54 x 74 mm pocket). Holes along the direction are masked out (they have their own checks), so
a blind hole does not read as a deep narrow pocket. Walls thinner than a grid cell (about
2 % of the part's size) may not separate a pocket from the outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from quote.geometry.extents import Frame
from quote.geometry.meshdata import MeshData
from quote.types import Hole

_RAYS = 2048
_MAX_LEVELS = 4
# A direction is rastered when at least this many samples are floors below its top.
_MIN_FLOOR_SAMPLES = 3
_PARALLEL_COS = np.cos(np.radians(2.0))


@dataclass(frozen=True)
class Pocket:
    """depth_mm, width_mm: of the deepest pocket, mm. location_mm: its deepest floor point."""

    depth_mm: float
    width_mm: float
    location_mm: tuple[float, float, float] | None


NO_POCKET = Pocket(0.0, 0.0, None)


def deepest_pocket(
    md: MeshData,
    frame: Frame,
    setup_vectors: np.ndarray,
    holes: tuple[Hole, ...],
    sample_points: np.ndarray,
    sample_normals: np.ndarray,
) -> Pocket:
    """The deepest pocket over the setup directions.

    Parameters
    ----------
    md : MeshData
    frame : Frame
    setup_vectors : (k, 3) float
        Unit setup directions (the tool comes from that side).
    holes : tuple of Hole
        Masked out of the height maps.
    sample_points, sample_normals : (n, 3) float
        Surface samples: a direction is only rastered when some sample is a floor below the top.
    """
    best = NO_POCKET
    tol = 1e-3 * md.scale
    for d in np.asarray(setup_vectors).reshape(-1, 3):
        heights = sample_points @ d
        top = float((frame.outer_points @ d).max())
        floors = (sample_normals @ d > _PARALLEL_COS) & (heights < top - 10 * tol)
        if floors.sum() < _MIN_FLOOR_SAMPLES:
            continue  # nothing faces up below the top: no pocket from this side
        found = _pocket_along(md, frame, d, holes, top, tol)
        if found.depth_mm > best.depth_mm:
            best = found
    return best


def _pocket_along(
    md: MeshData, frame: Frame, d: np.ndarray, holes: tuple[Hole, ...], top: float, tol: float
) -> Pocket:
    # Grid axes: the two frame axes across d.
    axes = [r for r in frame.rotation if abs(float(r @ d)) < 0.5]
    u, v = axes[0], axes[1]
    pu, pv = frame.outer_points @ u, frame.outer_points @ v
    lo_u, hi_u, lo_v, hi_v = pu.min(), pu.max(), pv.min(), pv.max()
    # About _RAYS cells; never more than 512 along a side (very slender parts).
    cell = max(
        np.sqrt((hi_u - lo_u) * (hi_v - lo_v) / _RAYS), (hi_u - lo_u) / 512, (hi_v - lo_v) / 512
    )
    # One empty cell of margin all round so the outside is connected.
    nu = int(np.ceil((hi_u - lo_u) / cell)) + 2
    nv = int(np.ceil((hi_v - lo_v) / cell)) + 2
    gu = lo_u + (np.arange(nu) - 0.5) * cell
    gv = lo_v + (np.arange(nv) - 0.5) * cell
    start = top + 10 * tol
    # The margin cells lie outside the part's box: their rays miss, only the inner ones are
    # cast, all along one direction (embree reads it once, no (n, 3) copy).
    origins = (gu[1:-1, None, None] * u + gv[None, 1:-1, None] * v + start * d).reshape(-1, 3)
    tri, dist = md.first_hit(origins, -d[None, :])
    inner = (tri >= 0).reshape(nu - 2, nv - 2)
    hit = np.zeros((nu, nv), dtype=bool)
    hit[1:-1, 1:-1] = inner
    height = np.full((nu, nv), -np.inf)
    height[1:-1, 1:-1] = np.where(inner, start - dist.reshape(nu - 2, nv - 2), -np.inf)
    ignore = _hole_mask(holes, d, u, v, gu, gv, cell)
    miss = ~hit & ~ignore
    outside_lbl, n_out = ndimage.label(miss)
    # Empty cells connected to the grid's border are outside the part.
    on_border = np.zeros(n_out + 1, dtype=bool)
    for edge in (outside_lbl[0], outside_lbl[-1], outside_lbl[:, 0], outside_lbl[:, -1]):
        on_border[edge] = True
    on_border[0] = False
    outside = on_border[outside_lbl]
    solid = hit & ~ignore
    if not solid.any():
        return NO_POCKET
    # Rim candidates: the highest few height levels (5 tol bins) that cover enough of the map
    # to be a real face; each rim is the highest height in its bin.
    hs = height[solid]
    _, inv, counts = np.unique(np.round(hs / (5 * tol)), return_inverse=True, return_counts=True)
    bin_top = np.full(len(counts), -np.inf)
    np.maximum.at(bin_top, inv.ravel(), hs)
    rims = bin_top[counts >= max(3, int(0.002 * solid.sum()))][::-1][:_MAX_LEVELS]
    dilated_outside = _dilate(outside)
    floor_heights = np.where(solid, height, np.inf)
    best = NO_POCKET
    best_region: tuple[np.ndarray, float] | None = None
    for rim in rims:
        low = solid & (height < rim - 10 * tol)
        if not low.any():
            continue
        lbl, n = ndimage.label(low | (ignore & hit) | (~hit & ~outside & ~ignore))
        if n == 0:
            continue
        index = np.arange(1, n + 1)
        # Regions touching the outside (or the grid border) are steps, not pockets.
        touching = np.zeros(n + 1, dtype=bool)
        touching[lbl[dilated_outside]] = True
        lowest = np.full(n + 1, np.inf)
        np.minimum.at(lowest, lbl.ravel(), floor_heights.ravel())
        lowest = lowest[index]
        depth = np.where(~touching[1:] & np.isfinite(lowest), rim - lowest, -np.inf)
        k = int(np.argmax(depth))
        if depth[k] > best.depth_mm:
            best = Pocket(round(float(depth[k]), 4), 0.0, None)
            best_region = (lbl == k + 1, float(lowest[k]))
    if best_region is None:
        return NO_POCKET
    region, floor_h = best_region
    # Width: the largest inscribed circle of the opening (holes in the floor filled).
    filled = ndimage.binary_fill_holes(region)
    # The transform counts to the centre of the first cell outside: one cell more than the width.
    width = max(2.0 * float(ndimage.distance_transform_edt(filled).max()) - 1.0, 1.0) * cell
    i, j = np.unravel_index(np.argmin(np.where(region, floor_heights, np.inf)), region.shape)
    loc = gu[i] * u + gv[j] * v + floor_h * d
    return Pocket(best.depth_mm, round(width, 4), (float(loc[0]), float(loc[1]), float(loc[2])))


def _hole_mask(
    holes: tuple[Hole, ...],
    d: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    gu: np.ndarray,
    gv: np.ndarray,
    cell: float,
) -> np.ndarray:
    """Grid cells inside a hole whose axis is along ``d`` (plus one cell of margin)."""
    along = [h for h in holes if abs(float(np.dot(h.axis, d))) >= _PARALLEL_COS]
    if not along:
        return np.zeros((len(gu), len(gv)), dtype=bool)
    pos = np.array([h.position_mm for h in along])
    rr = np.array([h.diameter_mm / 2.0 for h in along]) + cell
    du = gu[:, None] - (pos @ u)[None, :]  # (nu, k)
    dv = gv[:, None] - (pos @ v)[None, :]  # (nv, k)
    du2, dv2, rr2 = du**2, dv**2, rr**2
    inside = np.zeros((len(gu), len(gv)), dtype=bool)
    for j in range(len(along)):  # one grid pass per hole along d (a few, or a few hundred)
        inside |= du2[:, None, j] + dv2[None, :, j] <= rr2[j]
    return inside


def _dilate(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_dilation(mask)`` (4-neighbour cross, nothing beyond the border) by
    shifted copies: scipy's generic morphology costs ~0.1 ms on a 50 x 50 grid."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out
