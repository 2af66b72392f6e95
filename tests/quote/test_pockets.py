"""Pocket kernels against scipy.ndimage, and the whole height-map analysis against the
scipy implementation it replaced, on random terraced height maps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from quote.geometry import pockets


def _random_masks(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(count):
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
        masks.append(rng.random(shape) < rng.random())
    return masks


def test_label_numbers_components_like_scipy() -> None:
    for mask in _random_masks(400, seed=1):
        labels = np.empty(mask.shape, dtype=np.int64)
        parent = np.empty(mask.size // 2 + 2, dtype=np.int64)
        n = pockets._label(mask, labels, parent)
        expected, n_expected = ndimage.label(mask)
        assert n == n_expected
        assert np.array_equal(labels, expected)


def test_reaches_border_is_the_border_components() -> None:
    for mask in _random_masks(200, seed=2):
        scratch = np.empty(mask.shape, dtype=np.int64)
        got = pockets._reaches_border(mask, scratch, np.empty(mask.size // 2 + 2, dtype=np.int64))
        lbl, _ = ndimage.label(mask)
        border = np.unique(np.concatenate((lbl[0], lbl[-1], lbl[:, 0], lbl[:, -1])))
        assert np.array_equal(got, np.isin(lbl, border[border > 0]))


def test_opening_radius_is_scipy_fill_and_distance_transform() -> None:
    rng = np.random.default_rng(3)
    for mask in _random_masks(300, seed=4):
        # As on the pocket grids, an empty margin all round (scipy measures a region on the
        # array's border to a zero it imagines beyond it).
        mask = np.pad(mask, 1)
        labels, n = ndimage.label(mask)
        if n == 0:
            continue
        region = int(rng.integers(1, n + 1))
        heights = rng.integers(0, 5, size=mask.shape).astype(np.float64)
        radius, i, j = pockets._opening_radius(labels, region, heights)
        inside = labels == region
        filled = ndimage.binary_fill_holes(inside)
        assert radius == float(ndimage.distance_transform_edt(filled).max())
        expected = np.unravel_index(np.argmin(np.where(inside, heights, np.inf)), mask.shape)
        assert (i, j) == expected


def _scipy_deepest_region(
    tri: np.ndarray, dist: np.ndarray, start: float, ignore: np.ndarray, tol: float
) -> tuple[float, float, int, int, float] | None:
    """The analysis ``_deepest_region`` replaced, with scipy.ndimage (numpy's argmax order)."""
    nu, nv = ignore.shape
    inner = (tri >= 0).reshape(nu - 2, nv - 2)
    hit = np.zeros((nu, nv), dtype=bool)
    hit[1:-1, 1:-1] = inner
    height = np.full((nu, nv), -np.inf)
    height[1:-1, 1:-1] = np.where(inner, start - dist.reshape(nu - 2, nv - 2), -np.inf)
    miss = ~hit & ~ignore
    outside_lbl, n_out = ndimage.label(miss)
    on_border = np.zeros(n_out + 1, dtype=bool)
    for edge in (outside_lbl[0], outside_lbl[-1], outside_lbl[:, 0], outside_lbl[:, -1]):
        on_border[edge] = True
    on_border[0] = False
    outside = on_border[outside_lbl]
    solid = hit & ~ignore
    if not solid.any():
        return None
    hs = height[solid]
    _, inv, counts = np.unique(np.round(hs / (5 * tol)), return_inverse=True, return_counts=True)
    bin_top = np.full(len(counts), -np.inf)
    np.maximum.at(bin_top, inv.ravel(), hs)
    rims = bin_top[counts >= max(3, int(0.002 * solid.sum()))][::-1][: pockets._MAX_LEVELS]
    dilated_outside = ndimage.binary_dilation(outside)
    floor_heights = np.where(solid, height, np.inf)
    best_depth, best_region = 0.0, None
    for rim in rims:
        low = solid & (height < rim - 10 * tol)
        if not low.any():
            continue
        lbl, n = ndimage.label(low | (ignore & hit) | (~hit & ~outside & ~ignore))
        touching = np.zeros(n + 1, dtype=bool)
        touching[lbl[dilated_outside]] = True
        lowest = np.full(n + 1, np.inf)
        np.minimum.at(lowest, lbl.ravel(), floor_heights.ravel())
        lowest = lowest[1:]
        depth = np.where(~touching[1:] & np.isfinite(lowest), rim - lowest, -np.inf)
        k = int(np.argmax(depth))
        if depth[k] > best_depth:
            best_depth = round(float(depth[k]), 4)
            best_region = (lbl == k + 1, float(lowest[k]))
    if best_region is None:
        return None
    region, floor_h = best_region
    radius = float(ndimage.distance_transform_edt(ndimage.binary_fill_holes(region)).max())
    i, j = np.unravel_index(np.argmin(np.where(region, floor_heights, np.inf)), region.shape)
    return best_depth, radius, int(i), int(j), floor_h


def _terraced_map(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
    """A random height map of a machined part seen from above: a plate (some cells past its
    outline), steps, pockets (some with through holes), and hole cells to ignore."""
    nu, nv = int(rng.integers(6, 45)), int(rng.integers(6, 45))
    top = 20.0
    height = np.full((nu, nv), top)
    for _ in range(int(rng.integers(0, 7))):
        # Mostly inside the outline (pockets), sometimes reaching it (steps).
        a0, b0 = int(rng.integers(0, nu - 2)), int(rng.integers(0, nv - 2))
        a1 = a0 + int(rng.integers(1, nu // 2 + 1))
        b1 = b0 + int(rng.integers(1, nv // 2 + 1))
        # Depths on a 0.5 mm raster: many regions tie, as on real parts.
        height[a0:a1, b0:b1] = top - 0.5 * int(rng.integers(1, 30))
    if rng.random() < 0.3:
        height += rng.normal(0.0, 0.004, size=height.shape)
    present = np.ones((nu, nv), dtype=bool)
    present[0], present[-1], present[:, 0], present[:, -1] = False, False, False, False
    for _ in range(int(rng.integers(0, 4))):  # notches in the outline and through holes
        a, b = int(rng.integers(0, nu)), int(rng.integers(0, nv))
        present[a : a + int(rng.integers(1, 5)), b : b + int(rng.integers(1, 5))] = False
    ignore = np.zeros((nu, nv), dtype=bool)
    for _ in range(int(rng.integers(0, 3))):  # holes along the direction (masked)
        a, b = int(rng.integers(0, nu)), int(rng.integers(0, nv))
        ignore[max(a - 1, 0) : a + 2, max(b - 1, 0) : b + 2] = True
    start = top + 0.1
    inner = present[1:-1, 1:-1]
    tri = np.where(inner, 7, -1).reshape(-1).astype(np.int64)
    dist = np.where(inner, start - height[1:-1, 1:-1], np.inf).reshape(-1)
    return tri, dist, start, ignore, 0.01


@pytest.mark.parametrize("seed", range(6))
def test_deepest_region_matches_the_scipy_analysis(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    found = 0
    for _ in range(120):
        tri, dist, start, ignore, tol = _terraced_map(rng)
        expected = _scipy_deepest_region(tri, dist, start, ignore, tol)
        assert pockets._deepest_region(tri, dist, start, ignore, tol) == expected
        found += expected is not None
    assert found > 30  # the maps do have pockets


def test_spread_heights_take_the_sorted_rim_path() -> None:
    # A hit far below the part (a degenerate distance) spreads the height keys beyond the
    # binned range: the rims then come from sorted keys, with the same answer.
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(200):
        tri, dist, start, ignore, tol = _terraced_map(rng)
        hit = np.flatnonzero(tri >= 0)
        if len(hit) < 2:
            continue
        dist = dist.copy()
        dist[hit[0]] = 1e9
        expected = _scipy_deepest_region(tri, dist, start, ignore, tol)
        assert pockets._deepest_region(tri, dist, start, ignore, tol) == expected
        checked += expected is not None
    assert checked > 10


def test_hole_mask_and_grid_origins_match_numpy() -> None:
    rng = np.random.default_rng(8)
    gu, gv = np.sort(rng.normal(0, 30, 23)), np.sort(rng.normal(0, 30, 17))
    hu, hv, r2 = rng.normal(0, 30, 5), rng.normal(0, 30, 5), rng.uniform(4, 300, 5)
    expected = np.zeros((23, 17), dtype=bool)
    for h in range(5):
        expected |= (gu[:, None] - hu[h]) ** 2 + (gv[None, :] - hv[h]) ** 2 <= r2[h]
    assert np.array_equal(pockets._hole_mask(gu, gv, hu, hv, r2), expected)
    u, v, d = np.eye(3)[0], np.eye(3)[1], np.array([0.6, 0.0, 0.8])
    origins = pockets._grid_origins(gu, gv, u, v, 12.5, d)
    numpy_origins = gu[1:-1, None, None] * u + gv[None, 1:-1, None] * v + 12.5 * d
    assert np.array_equal(origins, numpy_origins.reshape(-1, 3))
