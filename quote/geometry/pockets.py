"""Pockets: regions sunk below their surroundings as seen from a setup direction.

From each setup direction that has floors below the top, a grid of rays (about 2000) looks down
on the part and gives a height map. A pocket is a connected region lower than a rim level that
is enclosed by higher material on every side: a region that reaches the part's outline is a step
or shoulder, not a pocket. Its depth is the rim level minus its lowest floor and its width is the
diameter of the largest circle that fits in its opening (the narrow dimension: 54 mm for a
54 x 74 mm pocket). Holes along the direction are masked out (they have their own checks), so
a blind hole does not read as a deep narrow pocket. Walls thinner than a grid cell (about
2 % of the part's size) may not separate a pocket from the outside.

The grid work after the rays (labelling, rim levels, hole filling, the distance transform) runs
in numba kernels: on grids of ~2000 cells scipy.ndimage's per-call set-up cost more than the
work, and the rim loop called it up to four times per direction. The kernels give the labels,
in the same order, and the distances of ``scipy.ndimage.label`` (4-neighbour cross),
``binary_fill_holes`` and ``distance_transform_edt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

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
    hole_axes = np.array([h.axis for h in holes], dtype=np.float64).reshape(-1, 3)
    for d in np.asarray(setup_vectors).reshape(-1, 3):
        heights = sample_points @ d
        top = float((frame.outer_points @ d).max())
        floors = (sample_normals @ d > _PARALLEL_COS) & (heights < top - 10 * tol)
        if np.count_nonzero(floors) < _MIN_FLOOR_SAMPLES:
            continue  # nothing faces up below the top: no pocket from this side
        along = np.abs(hole_axes @ d) >= _PARALLEL_COS
        found = _pocket_along(
            md, frame, d, [h for h, a in zip(holes, along, strict=True) if a], top, tol
        )
        if found.depth_mm > best.depth_mm:
            best = found
    return best


def _pocket_along(
    md: MeshData, frame: Frame, d: np.ndarray, holes: list[Hole], top: float, tol: float
) -> Pocket:
    """The deepest pocket seen from ``d`` (holes: those along ``d``)."""
    # Grid axes: the two frame axes across d.
    across = np.abs(frame.rotation @ d) < 0.5
    u, v = frame.rotation[across]
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
    tri, dist = md.first_hit(_grid_origins(gu, gv, u, v, start, d), -d[None, :])
    if holes:
        pos = np.array([h.position_mm for h in holes])
        rr = np.array([h.diameter_mm / 2.0 for h in holes]) + cell
        ignore = _hole_mask(gu, gv, pos @ u, pos @ v, rr**2)
    else:
        ignore = np.zeros((nu, nv), dtype=bool)
    found = _deepest_region(tri, dist, start, ignore, tol)
    if found is None:
        return NO_POCKET
    depth, radius, i, j, floor_h = found
    # The transform counts to the centre of the first cell outside: one cell more than the width.
    width = max(2.0 * radius - 1.0, 1.0) * cell
    loc = gu[i] * u + gv[j] * v + floor_h * d
    return Pocket(depth, round(width, 4), (float(loc[0]), float(loc[1]), float(loc[2])))


def _deepest_region(
    tri: np.ndarray, dist: np.ndarray, start: float, ignore: np.ndarray, tol: float
) -> tuple[float, float, int, int, float] | None:
    """The deepest pocket of one height map, in grid terms.

    Parameters
    ----------
    tri, dist : ((nu - 2) * (nv - 2),) int, float
        Triangle hit (-1 for a miss) and distance (mm) of the ray of each inner grid cell,
        row-major, cast down from height ``start`` (mm).
    ignore : (nu, nv) bool
        Cells of holes along the direction.
    tol : float
        Length tolerance, mm.

    Returns
    -------
    (depth_mm, radius_cells, row, column, floor_mm) or None
        Depth (rounded to 0.1 um), radius of the largest inscribed circle of its opening (in
        cells, to the centre of the first cell outside), the grid cell of its lowest floor and
        that floor's height; None when no region is enclosed.
    """
    n_rims, rim_depth, rim_label, rim_lowest, labels, floor_heights = _rim_regions(
        tri, dist, start, ignore, tol, _MAX_LEVELS
    )
    # The deepest enclosed region over the rim levels; depths compare against the previous
    # best as reported (rounded to 0.1 um), so equal depths keep the first rim's region.
    best_depth, chosen = 0.0, -1
    for r in range(n_rims):
        if rim_label[r] > 0 and rim_depth[r] > best_depth:
            best_depth, chosen = round(float(rim_depth[r]), 4), r
    if chosen < 0:
        return None
    # Width: the largest inscribed circle of the opening (holes in the floor filled).
    radius, i, j = _opening_radius(labels[chosen], rim_label[chosen], floor_heights)
    return best_depth, radius, i, j, float(rim_lowest[chosen])


@njit(cache=True, nogil=True)
def _grid_origins(
    gu: np.ndarray, gv: np.ndarray, u: np.ndarray, v: np.ndarray, start: float, d: np.ndarray
) -> np.ndarray:
    """((nu - 2) * (nv - 2), 3) ray origins over the inner grid cells, mm, row-major, at
    ``start`` along ``d`` (the products and sums in numpy's broadcast order)."""
    nu, nv = len(gu) - 2, len(gv) - 2
    out = np.empty((nu * nv, 3))
    for a in range(nu):
        for b in range(nv):
            row = a * nv + b
            for c in range(3):
                out[row, c] = (gu[a + 1] * u[c] + gv[b + 1] * v[c]) + start * d[c]
    return out


@njit(cache=True, nogil=True)
def _hole_mask(
    gu: np.ndarray, gv: np.ndarray, hu: np.ndarray, hv: np.ndarray, r2: np.ndarray
) -> np.ndarray:
    """(nu, nv) bool: grid cells (centres gu x gv, mm) within a hole's circle (centres hu, hv,
    squared radii r2 including one cell of margin, mm^2)."""
    inside = np.zeros((len(gu), len(gv)), dtype=np.bool_)
    for h in range(len(hu)):
        for a in range(len(gu)):
            du = gu[a] - hu[h]
            du2 = du * du
            for b in range(len(gv)):
                dv = gv[b] - hv[h]
                if du2 + dv * dv <= r2[h]:
                    inside[a, b] = True
    return inside


@njit(cache=True, nogil=True)
def _label(mask: np.ndarray, labels: np.ndarray, parent: np.ndarray) -> int:
    """4-connected components of ``mask`` (nu, nv) into ``labels`` (0 outside the mask),
    numbered 1..n in raster order of their first cell, as ``scipy.ndimage.label``; returns
    n. ``parent``: (nu * nv // 2 + 2,) int scratch space.

    Two raster passes with union-find: provisional labels grow in raster order and every
    union keeps the smaller root, so a component's root is the provisional label of its first
    cell, and numbering the roots in order gives scipy's numbering.
    """
    nu, nv = mask.shape
    count = 0
    for a in range(nu):
        for b in range(nv):
            if not mask[a, b]:
                labels[a, b] = 0
                continue
            up = labels[a - 1, b] if a > 0 else 0
            left = labels[a, b - 1] if b > 0 else 0
            if up == 0 and left == 0:
                count += 1
                parent[count] = count
                labels[a, b] = count
            elif up == 0 or left == 0 or up == left:
                labels[a, b] = max(up, left)
            else:
                # Join the two components: the larger root points to the smaller.
                ru, rl = up, left
                while parent[ru] != ru:
                    ru = parent[ru]
                while parent[rl] != rl:
                    rl = parent[rl]
                lo, hi = min(ru, rl), max(ru, rl)
                parent[hi] = lo
                parent[up] = lo
                parent[left] = lo
                labels[a, b] = lo
    # Final numbers: roots in increasing order (their first cells' raster order).
    n = 0
    for p in range(1, count + 1):
        if parent[p] == p:
            n += 1
            parent[p] = -n
        else:
            # parent[p] < p: already resolved to a final number (stored negated).
            q = parent[p]
            while q > 0:
                q = parent[q]
            parent[p] = q
    for a in range(nu):
        for b in range(nv):
            if labels[a, b] > 0:
                labels[a, b] = -parent[labels[a, b]]
    return n


@njit(cache=True, nogil=True)
def _reaches_border(mask: np.ndarray, labels: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """(nu, nv) bool: cells of ``mask`` 4-connected within it to a cell on the grid's border
    (``labels``, ``parent``: scratch space as ``_label`` takes)."""
    nu, nv = mask.shape
    n = _label(mask, labels, parent)
    border = np.zeros(n + 1, dtype=np.bool_)
    for a in range(nu):
        border[labels[a, 0]] = True
        border[labels[a, nv - 1]] = True
    for b in range(nv):
        border[labels[0, b]] = True
        border[labels[nu - 1, b]] = True
    border[0] = False
    out = np.empty((nu, nv), dtype=np.bool_)
    for a in range(nu):
        for b in range(nv):
            out[a, b] = border[labels[a, b]]
    return out


@njit(cache=True, nogil=True)
def _rim_regions(
    tri: np.ndarray,
    dist: np.ndarray,
    start: float,
    ignore: np.ndarray,
    tol: float,
    max_levels: int,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The deepest enclosed region below each rim level of a height map.

    Parameters
    ----------
    tri, dist : ((nu - 2) * (nv - 2),) int, float
        Triangle hit (-1 for a miss) and distance (mm) of the ray of each inner grid cell,
        row-major, cast along -d from height ``start`` (mm).
    ignore : (nu, nv) bool
        Cells of holes along d.
    tol : float
        Length tolerance, mm.
    max_levels : int
        Most rim levels tried.

    Returns
    -------
    n_rims : int
        Rim levels tried (-1: no solid cell).
    depth, label, lowest : (max_levels,) float, int, float
        Per rim: depth (mm) of its deepest region enclosed by higher material (-inf if none),
        that region's label in ``labels`` (0: the rim has no cell below it, or no region below
        it can be deeper by 0.1 um than one an earlier rim found) and its lowest floor height
        (mm).
    labels : (max_levels, nu, nv) int
        Per rim: the regions below it (``scipy.ndimage.label`` numbering).
    floor_heights : (nu, nv) float
        Height (mm) of each solid cell, inf elsewhere.
    """
    nu, nv = ignore.shape
    hit = np.zeros((nu, nv), dtype=np.bool_)
    height = np.full((nu, nv), -np.inf)
    for a in range(nu - 2):
        for b in range(nv - 2):
            k = a * (nv - 2) + b
            if tri[k] >= 0:
                hit[a + 1, b + 1] = True
                height[a + 1, b + 1] = start - dist[k]
    # Solid: hit and not a hole; its height, inf elsewhere (for the lowest floors).
    solid = np.empty((nu, nv), dtype=np.bool_)
    miss = np.empty((nu, nv), dtype=np.bool_)
    floor_heights = np.empty((nu, nv))
    n_solid = 0
    for a in range(nu):
        for b in range(nv):
            solid[a, b] = hit[a, b] and not ignore[a, b]
            miss[a, b] = not hit[a, b] and not ignore[a, b]
            floor_heights[a, b] = height[a, b] if solid[a, b] else np.inf
            n_solid += solid[a, b]
    # Empty cells connected to the grid's border are outside the part.
    parent = np.empty(nu * nv // 2 + 2, dtype=np.int64)
    outside = _reaches_border(miss, np.empty((nu, nv), dtype=np.int64), parent)
    depth = np.full(max_levels, -np.inf)
    label = np.zeros(max_levels, dtype=np.int64)
    lowest_of = np.full(max_levels, np.inf)
    # Written by the rims that have cells below them (the others report label 0).
    labels = np.empty((max_levels, nu, nv), dtype=np.int64)
    if n_solid == 0:
        return -1, depth, label, lowest_of, labels, floor_heights
    hs = np.empty(n_solid)
    q = 0
    for a in range(nu):
        for b in range(nv):
            if solid[a, b]:
                hs[q] = height[a, b]
                q += 1
    # Rim candidates: the highest few height levels (5 tol bins) that cover enough of the map
    # to be a real face; each rim is the highest height in its bin. The bins are counted in an
    # array over the key range (heights lie within the part: ~200 bins), sorted keys serve a
    # degenerate map whose heights spread further.
    keys = np.rint(hs / (5 * tol))
    need = max(3, int(0.002 * len(hs)))
    rims = np.empty(max_levels)
    n_rims = 0
    k_lo, k_hi = keys.min(), keys.max()
    if k_hi - k_lo < 4 * len(hs) + 1024:
        n_bins = int(k_hi - k_lo) + 1
        count = np.zeros(n_bins, dtype=np.int64)
        bin_top = np.full(n_bins, -np.inf)
        for c in range(len(hs)):
            q = int(keys[c] - k_lo)
            count[q] += 1
            bin_top[q] = max(bin_top[q], hs[c])
        for q in range(n_bins - 1, -1, -1):
            if n_rims == max_levels:
                break
            if count[q] >= need:
                rims[n_rims] = bin_top[q]
                n_rims += 1
    else:
        order = np.argsort(keys)
        end = len(hs)
        while end > 0 and n_rims < max_levels:
            first = end - 1
            top_h = hs[order[first]]
            while first > 0 and keys[order[first - 1]] == keys[order[end - 1]]:
                first -= 1
                top_h = max(top_h, hs[order[first]])
            if end - first >= need:
                rims[n_rims] = top_h
                n_rims += 1
            end = first
    # Cells next to the outside (4-neighbour dilation, nothing beyond the border), and the
    # cells that join the region they lie in: holes and enclosed empty cells.
    near_outside = np.empty((nu, nv), dtype=np.bool_)
    joins = np.empty((nu, nv), dtype=np.bool_)
    for a in range(nu):
        for b in range(nv):
            near_outside[a, b] = (
                outside[a, b]
                or (a > 0 and outside[a - 1, b])
                or (a < nu - 1 and outside[a + 1, b])
                or (b > 0 and outside[a, b - 1])
                or (b < nv - 1 and outside[a, b + 1])
            )
            joins[a, b] = (ignore[a, b] and hit[a, b]) or (miss[a, b] and not outside[a, b])
    mask = np.empty((nu, nv), dtype=np.bool_)
    floor = hs.min()
    deepest = -np.inf
    for r in range(n_rims):
        # No region below this rim can be deeper than the lowest floor allows: when that is
        # short of a deeper region already found by more than the reported rounding (0.1 um),
        # the caller would not take it, and the rim is not labelled (label 0).
        if rims[r] - floor <= deepest - 1e-4:
            continue
        level = rims[r] - 10 * tol
        any_low = False
        for a in range(nu):
            for b in range(nv):
                low = solid[a, b] and height[a, b] < level
                any_low |= low
                mask[a, b] = low or joins[a, b]
        if not any_low:
            continue
        lab = labels[r]
        n = _label(mask, lab, parent)
        touching = np.zeros(n + 1, dtype=np.bool_)
        lowest = np.full(n + 1, np.inf)
        for a in range(nu):
            for b in range(nv):
                m = lab[a, b]
                if near_outside[a, b]:
                    touching[m] = True
                if floor_heights[a, b] < lowest[m]:
                    lowest[m] = floor_heights[a, b]
        # Regions touching the outside (or the grid border) are steps, not pockets; the
        # first deepest one (in label order) is kept, as np.argmax keeps it.
        best, k = -np.inf, 1
        for m in range(1, n + 1):
            dm = rims[r] - lowest[m] if not touching[m] and np.isfinite(lowest[m]) else -np.inf
            if dm > best:
                best, k = dm, m
        depth[r], label[r], lowest_of[r] = best, k, lowest[k]
        deepest = max(deepest, best)
    return n_rims, depth, label, lowest_of, labels, floor_heights


@njit(cache=True, nogil=True)
def _opening_radius(
    labels: np.ndarray, region: int, floor_heights: np.ndarray
) -> tuple[float, int, int]:
    """Inscribed radius (cells) of a region with its holes filled, and its lowest cell.

    The radius is ``distance_transform_edt(binary_fill_holes(labels == region)).max()``
    (exact Euclidean distance, in cells, to the nearest cell outside); the lowest cell is the
    first (row-major) of the region's least floor height.
    """
    nu, nv = labels.shape
    inside = labels == region
    # Holes: cells outside the region not connected to the grid's border through such cells.
    scratch = np.empty((nu, nv), dtype=np.int64)
    parent = np.empty(nu * nv // 2 + 2, dtype=np.int64)
    filled = ~_reaches_border(~inside, scratch, parent)
    # Exact squared distance transform (Felzenszwalb & Huttenlocher): along columns, then
    # the lower envelope of parabolas along rows, over the cells with a finite distance.
    big = np.int64(nu * nu + nv * nv + 1)
    col = np.full((nu, nv), big, dtype=np.int64)
    for b in range(nv):
        last = -1
        for a in range(nu):
            if not filled[a, b]:
                last = a
                col[a, b] = 0
            elif last >= 0:
                col[a, b] = (a - last) * (a - last)
        last = -1
        for a in range(nu - 1, -1, -1):
            if not filled[a, b]:
                last = a
            elif last >= 0:
                col[a, b] = min(col[a, b], (last - a) * (last - a))
    best = np.int64(0)
    sites = np.empty(nv, dtype=np.int64)
    bounds = np.empty(nv + 1)
    for a in range(nu):
        f = col[a]
        n = 0
        for q in range(nv):
            if f[q] >= big:
                continue
            s = -np.inf
            while n > 0:
                p = sites[n - 1]
                s = ((f[q] + q * q) - (f[p] + p * p)) / (2.0 * (q - p))
                if s <= bounds[n - 1]:
                    n -= 1
                else:
                    break
            if n == 0:
                s = -np.inf
            sites[n] = q
            bounds[n] = s
            n += 1
        if n == 0:
            continue
        j = 0
        for q in range(nv):
            if not filled[a, q]:
                continue
            while j + 1 < n and bounds[j + 1] <= q:
                j += 1
            p = sites[j]
            dsq = (q - p) * (q - p) + f[p]
            if dsq > best:
                best = dsq
    lowest, li, lj = np.inf, 0, 0
    for a in range(nu):
        for b in range(nv):
            if inside[a, b] and floor_heights[a, b] < lowest:
                lowest, li, lj = floor_heights[a, b], a, b
    return np.sqrt(float(best)), li, lj
