"""Circle fits of curved-facet patches: radius, axis point, axial range, coverage, concavity.

Kasa fits of each patch's vertices projected along its axis (exporters place vertices on the
true surface, so the fit recovers the exact radius), then the round, covering patches become
the rows of ``cylinders.Cylinders`` (numba kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quote.geometry.cylinder_patches import curved_patches
from quote.geometry.vec3 import cross3

FloatArray = np.ndarray

TWO_PI = 2.0 * np.pi


@njit(cache=True, nogil=True)
def _sort_range(a: np.ndarray, lo: int, hi: int) -> None:
    """Sort a[lo:hi] in place: insertion sort for the short runs of one patch (numba's
    np.sort allocates and costs ~0.5 us even for a few elements), np.sort for long ones."""
    if hi - lo > 32:
        a[lo:hi] = np.sort(a[lo:hi])
        return
    for i in range(lo + 1, hi):
        value = a[i]
        j = i
        while j > lo and a[j - 1] > value:
            a[j] = a[j - 1]
            j -= 1
        a[j] = value


@njit(cache=True, nogil=True)
def patch_circles(
    normals: FloatArray,
    triangles: FloatArray,
    adjacency: np.ndarray,
    angles: FloatArray,
    cp: np.ndarray,
    c: FloatArray,
    axes: FloatArray,
    vertices: FloatArray,
    faces: np.ndarray,
) -> tuple[
    np.ndarray,
    np.ndarray,
    FloatArray,
    np.ndarray,
    FloatArray,
    FloatArray,
    np.ndarray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
]:
    """``curved_patches`` then ``_fit_circles`` in one call: the patch nodes (N,) and patches (N,),
    each patch's axis (K, 3), then the fits (see ``_fit_circles``)."""
    faces_idx, comp, comp_axis_id = curved_patches(
        normals, triangles, adjacency, angles, cp, c, axes
    )
    comp_axes = np.empty((len(comp_axis_id), 3))
    for g in range(len(comp_axis_id)):
        comp_axes[g] = axes[comp_axis_id[g]]
    lab, t, cnt, good, r, origin, dx, dy, dist = _fit_circles(
        vertices, faces, faces_idx, comp, comp_axes
    )
    return faces_idx, comp, comp_axes, lab, t, cnt, good, r, origin, dx, dy, dist


@njit(cache=True, nogil=True)
def _fit_circles(
    vertices: FloatArray,
    faces: np.ndarray,
    faces_idx: np.ndarray,
    comp: np.ndarray,
    comp_axes: FloatArray,
) -> tuple[
    np.ndarray,
    FloatArray,
    FloatArray,
    np.ndarray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
]:
    """Kasa circle fits of the patches' vertices projected along their axes.

    Returns, over the distinct (patch, vertex) pairs sorted by patch then vertex (P,): the
    patch and the axial coordinate t; per patch (K,): the vertex count, whether the fit is a
    circle (enough points, not collinear, real radius), the radius and the (K, 3) axis point
    at t = 0; then per pair (P,) the offset (dx, dy) from the centre and its length.
    """
    k, nv = len(comp_axes), len(vertices)
    u = np.empty((k, 3))
    v = np.empty((k, 3))
    for g in range(k):
        a = comp_axes[g]
        helper = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        wx, wy, wz = cross3(a, helper)
        norm = np.sqrt(wx * wx + wy * wy + wz * wz)
        u[g, 0], u[g, 1], u[g, 2] = wx / norm, wy / norm, wz / norm
        v[g, 0], v[g, 1], v[g, 2] = cross3(a, u[g])
    # Distinct (patch, vertex) pairs, sorted by patch then vertex: shared vertices counted
    # once per patch. The nodes are bucketed by patch, then each patch's vertices sorted.
    first_node = np.zeros(k + 1, dtype=np.int64)
    for i in range(len(comp)):
        first_node[comp[i] + 1] += 1
    for g in range(k):
        first_node[g + 1] += first_node[g]
    by_patch = np.empty(len(comp), dtype=np.int64)
    fill = first_node[:k].copy()
    for i in range(len(comp)):
        by_patch[fill[comp[i]]] = i
        fill[comp[i]] += 1
    stamp = np.full(nv, -1, dtype=np.int64)
    lab = np.empty(3 * len(comp), dtype=np.int64)
    vert = np.empty(3 * len(comp), dtype=np.int64)
    n = 0
    for g in range(k):
        start = n
        for j in range(first_node[g], first_node[g + 1]):
            f = faces_idx[by_patch[j]]
            for c in range(3):
                w = faces[f, c]
                if stamp[w] != g:
                    stamp[w] = g
                    vert[n] = w
                    lab[n] = g
                    n += 1
        _sort_range(vert, start, n)
    x = np.empty(n)
    y = np.empty(n)
    t = np.empty(n)
    cnt = np.zeros(k)
    mx = np.zeros(k)
    my = np.zeros(k)
    for i in range(n):
        g, p = lab[i], vertices[vert[i]]
        x[i] = p[0] * u[g, 0] + p[1] * u[g, 1] + p[2] * u[g, 2]
        y[i] = p[0] * v[g, 0] + p[1] * v[g, 1] + p[2] * v[g, 2]
        t[i] = p[0] * comp_axes[g, 0] + p[1] * comp_axes[g, 1] + p[2] * comp_axes[g, 2]
        cnt[g] += 1.0
        mx[g] += x[i]
        my[g] += y[i]
    for g in range(k):
        mx[g] /= cnt[g]
        my[g] /= cnt[g]
    # Kasa fit: x^2 + y^2 + D x + E y + F = 0 on centred coordinates; the normal equations
    # are summed in (patch, vertex) order, as np.bincount sums them.
    m = np.zeros((k, 3, 3))
    rhs = np.zeros((k, 3))
    sz = np.zeros(k)
    for i in range(n):
        g = lab[i]
        a, b = x[i] - mx[g], y[i] - my[g]
        x[i], y[i] = a, b
        z = a * a + b * b
        m[g, 0, 0] += a * a
        m[g, 0, 1] += a * b
        m[g, 0, 2] += a
        m[g, 1, 1] += b * b
        m[g, 1, 2] += b
        rhs[g, 0] += a * z
        rhs[g, 1] += b * z
        sz[g] += z
    good = np.empty(k, dtype=np.bool_)
    r = np.empty(k)
    cx = np.empty(k)
    cy = np.empty(k)
    origin = np.empty((k, 3))
    for g in range(k):
        m[g, 1, 0], m[g, 2, 0], m[g, 2, 1] = m[g, 0, 1], m[g, 0, 2], m[g, 1, 2]
        m[g, 2, 2] = cnt[g]
        rhs[g, 0], rhs[g, 1], rhs[g, 2] = -rhs[g, 0], -rhs[g, 1], -sz[g]
        # Collinear points (a flat strip) make the equations singular.
        mean_z = max(sz[g] / cnt[g], 1e-30)
        scale4 = mean_z * mean_z * (cnt[g] * cnt[g] * cnt[g])
        good[g] = cnt[g] >= 3 and abs(np.linalg.det(m[g])) > 1e-12 * scale4
        d, e, f = 0.0, 0.0, 0.0
        if good[g]:
            d, e, f = np.linalg.solve(m[g], rhs[g])
        cx[g], cy[g] = -d / 2.0, -e / 2.0
        r2 = cx[g] * cx[g] + cy[g] * cy[g] - f
        good[g] = good[g] and r2 > 0
        r[g] = np.sqrt(r2 if good[g] else 1.0)
        ox, oy = mx[g] + cx[g], my[g] + cy[g]
        for j in range(3):
            origin[g, j] = ox * u[g, j] + oy * v[g, j]
    dist = np.empty(n)
    for i in range(n):
        g = lab[i]
        x[i], y[i] = x[i] - cx[g], y[i] - cy[g]
        dist[i] = np.hypot(x[i], y[i])
    return lab[:n], t, cnt, good, r, origin, x, y, dist


@njit(cache=True, nogil=True)
def circle_features(
    lab: np.ndarray,
    dist: FloatArray,
    theta: FloatArray,
    t: FloatArray,
    cnt: FloatArray,
    good: np.ndarray,
    r: FloatArray,
    origin: FloatArray,
    comp_axes: FloatArray,
    faces_idx: np.ndarray,
    comp: np.ndarray,
    centroids: FloatArray,
    normals: FloatArray,
    areas: FloatArray,
    scale: float,
) -> tuple[
    np.ndarray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    np.ndarray,
    FloatArray,
]:
    """The cylinders of the good patches: round (residual within 1 % of the radius) and
    covering some angle.

    Returns each triangle's cylinder (F,) (-1 for none), then per good patch (G,): axis
    (G, 3), axis point at t = 0 (G, 3), radius, axial range t0 and t1, coverage, concavity
    and lateral area (the ``Cylinders`` fields).
    """
    k, n = len(cnt), len(lab)
    resid = np.zeros(k)
    t0 = np.full(k, np.inf)
    t1 = np.full(k, -np.inf)
    for i in range(n):
        g = lab[i]
        d = dist[i] - r[g]
        resid[g] += d * d
        t0[g] = min(t0[g], t[i])
        t1[g] = max(t1[g], t[i])
    for g in range(k):
        good[g] = good[g] and np.sqrt(resid[g] / cnt[g]) <= 0.01 * r[g] + 1e-4 * scale
    # Coverage: 2 pi minus the largest angular gap between the patch's vertices (each patch's
    # vertices are one run of the sorted (patch, vertex) pairs).
    coverage = np.empty(k)
    sorted_theta = theta.copy()
    start = 0
    while start < n:
        g = lab[start]
        stop = start + 1
        while stop < n and lab[stop] == g:
            stop += 1
        th = sorted_theta[start:stop]
        _sort_range(sorted_theta, start, stop)
        gap = 0.0
        for j in range(1, len(th)):
            gap = max(gap, th[j] - th[j - 1])
        wrap = th[0] + TWO_PI - th[len(th) - 1]
        coverage[g] = TWO_PI - max(gap, wrap)
        good[g] = good[g] and coverage[g] > 0
        start = stop
    # Concavity: facet normals pointing at the axis.
    facing = np.zeros(k)
    for i in range(len(faces_idx)):
        f, g = faces_idx[i], comp[i]
        a = comp_axes[g]
        rx = centroids[f, 0] - origin[g, 0]
        ry = centroids[f, 1] - origin[g, 1]
        rz = centroids[f, 2] - origin[g, 2]
        along = rx * a[0] + ry * a[1] + rz * a[2]
        rx, ry, rz = rx - along * a[0], ry - along * a[1], rz - along * a[2]
        nf = normals[f]
        facing[g] += (nf[0] * rx + nf[1] * ry + nf[2] * rz) * areas[f]
    remap = np.full(k, -1, dtype=np.int64)
    n_good = 0
    for g in range(k):
        if good[g]:
            remap[g] = n_good
            n_good += 1
    # Each triangle's cylinder (the last of its nodes, as a numpy assignment leaves it).
    face_label = np.full(len(normals), -1, dtype=np.int64)
    for i in range(len(comp)):
        if remap[comp[i]] >= 0:
            face_label[faces_idx[i]] = remap[comp[i]]
    axis_out = np.empty((n_good, 3))
    origin_out = np.empty((n_good, 3))
    radius = np.empty(n_good)
    lo = np.empty(n_good)
    hi = np.empty(n_good)
    cover = np.empty(n_good)
    concave = np.empty(n_good, dtype=np.bool_)
    area = np.empty(n_good)
    for g in range(k):
        j = remap[g]
        if j < 0:
            continue
        axis_out[j] = comp_axes[g]
        origin_out[j] = origin[g]
        radius[j], lo[j], hi[j], cover[j] = r[g], t0[g], t1[g], coverage[g]
        concave[j] = facing[g] < 0
        area[j] = r[g] * coverage[g] * (t1[g] - t0[g])
    return face_label, axis_out, origin_out, radius, lo, hi, cover, concave, area
