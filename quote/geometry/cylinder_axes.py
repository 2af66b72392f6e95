"""Cylinder axis candidates of a triangle mesh: the directions curved mesh edges bend around.

Every smoothly curved edge's unit ``n1 x n2`` is parallel to the axis of the cylinder it lies
on; the densest ~3 degree cells of those directions off the box axes are the extra candidate
axes ``cylinders.candidate_axes`` returns (numba kernels; see ``cylinders`` for the front).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quote.geometry.vec3 import canonical3, cross3

FloatArray = np.ndarray

# Mesh edges bending less than this are tessellated curvature, more are real edges (an octagon's
# 45 degree corners are edges; a 12-sided hole's 30 degree steps are still a hole).
MAX_CURVED_ANGLE = float(np.radians(40.0))
MIN_CURVED_ANGLE = 1e-4
# n1 x n2 parallel to the axis within 3 degrees.
AXIS_COS = float(np.cos(np.radians(3.0)))
# An accepted axis absorbs the curved edges within 6 degrees.
_ABSORB_COS = float(np.cos(np.radians(6.0)))
_MAX_EXTRA_AXES = 8
_MIN_AXIS_SUPPORT = 6


@njit(cache=True, nogil=True)
def curved_pairs(
    adjacency: np.ndarray, angles: FloatArray, normals: FloatArray
) -> tuple[np.ndarray, FloatArray]:
    """Triangle pairs meeting at a smoothly curved edge, (m, 2), and each one's unit
    ``n1 x n2`` (the axis the surface bends around), (m, 3)."""
    m = 0
    for e in range(len(angles)):
        if MIN_CURVED_ANGLE < angles[e] < MAX_CURVED_ANGLE:
            m += 1
    pairs = np.empty((m, 2), dtype=np.int64)
    c = np.empty((m, 3))
    i = 0
    for e in range(len(angles)):
        if not MIN_CURVED_ANGLE < angles[e] < MAX_CURVED_ANGLE:
            continue
        a, b = adjacency[e, 0], adjacency[e, 1]
        pairs[i, 0], pairs[i, 1] = a, b
        x, y, z = cross3(normals[a], normals[b])
        norm = np.sqrt(x * x + y * y + z * z)
        c[i, 0], c[i, 1], c[i, 2] = x / norm, y / norm, z / norm
        i += 1
    return pairs, c


@njit(cache=True, nogil=True)
def axes_with_dominant(base_axes: FloatArray, c: FloatArray) -> FloatArray:
    """The canonical (n, 3) ``base_axes`` followed by the dominant axes of the curved edges'
    (m, 3) unit ``n1 x n2`` ``c``."""
    base = canonical_rows(base_axes)
    if len(c) == 0:
        return base
    extra = _dominant_axes(c, base)
    if len(extra) == 0:
        return base
    return np.vstack((base, extra))


@njit(cache=True, nogil=True)
def canonical_rows(axes: FloatArray) -> FloatArray:
    """``meshdata.canonical_axes`` of an (n, 3) array."""
    out = np.empty((len(axes), 3))
    for i in range(len(axes)):
        out[i, 0], out[i, 1], out[i, 2] = canonical3(axes[i, 0], axes[i, 1], axes[i, 2])
    return out


@njit(cache=True, nogil=True)
def _dominant_axes(cross_dirs: FloatArray, base: FloatArray) -> FloatArray:
    """Cylinder axes, (<= _MAX_EXTRA_AXES, 3), from the (m, 3) unit ``n1 x n2`` of curved
    edges: the densest ~3 degree cells of directions off the ``base`` axes."""
    folded = np.empty((len(cross_dirs), 3))
    m = 0
    for i in range(len(cross_dirs)):
        x, y, z = canonical3(cross_dirs[i, 0], cross_dirs[i, 1], cross_dirs[i, 2])
        off_base = True
        for j in range(len(base)):
            if abs(x * base[j, 0] + y * base[j, 1] + z * base[j, 2]) > AXIS_COS:
                off_base = False
        if off_base:
            folded[m, 0], folded[m, 1], folded[m, 2] = x, y, z
            m += 1
    c = folded
    if m < _MIN_AXIS_SUPPORT:
        return np.empty((0, 3))
    # Densest ~3 degree cells first; each accepted axis absorbs the edges within 6 degrees.
    keys = np.empty(m, dtype=np.int64)
    for i in range(m):
        q0 = np.int64(np.rint(c[i, 0] * 20.0)) + 20
        q1 = np.int64(np.rint(c[i, 1] * 20.0)) + 20
        q2 = np.int64(np.rint(c[i, 2] * 20.0)) + 20
        keys[i] = (q0 * 41 + q1) * 41 + q2
    by_key = np.argsort(keys, kind="mergesort")
    cell = np.empty(m, dtype=np.int64)
    counts = np.zeros(m, dtype=np.int64)
    n_cells = 0
    for j in range(m):
        i = by_key[j]
        if j == 0 or keys[i] != keys[by_key[j - 1]]:
            n_cells += 1
        cell[i] = n_cells - 1
        counts[n_cells - 1] += 1
    # Cells by count, largest first, equal counts in key order (np.argsort(-counts, "stable")):
    # only the cells with enough support can be taken.
    cell_order = np.flatnonzero(counts[:n_cells] >= _MIN_AXIS_SUPPORT)
    for j in range(1, len(cell_order)):
        g = cell_order[j]
        i = j
        while i > 0 and counts[cell_order[i - 1]] < counts[g]:
            cell_order[i] = cell_order[i - 1]
            i -= 1
        cell_order[i] = g
    free = np.ones(m, dtype=np.bool_)
    extra = np.empty((_MAX_EXTRA_AXES, 3))
    n_extra = 0
    for g in cell_order:
        if n_extra >= _MAX_EXTRA_AXES:
            break
        sx, sy, sz, ns = 0.0, 0.0, 0.0, 0
        for i in range(m):
            if free[i] and cell[i] == g:
                sx += c[i, 0]
                sy += c[i, 1]
                sz += c[i, 2]
                ns += 1
        if ns < _MIN_AXIS_SUPPORT:
            continue
        sx, sy, sz = sx / ns, sy / ns, sz / ns
        norm = np.sqrt(sx * sx + sy * sy + sz * sz)
        sx, sy, sz = sx / norm, sy / norm, sz / norm
        ax, ay, az, na = 0.0, 0.0, 0.0, 0
        for i in range(m):
            if free[i] and abs(c[i, 0] * sx + c[i, 1] * sy + c[i, 2] * sz) > _ABSORB_COS:
                ax += c[i, 0]
                ay += c[i, 1]
                az += c[i, 2]
                na += 1
                free[i] = False
        ax, ay, az = ax / na, ay / na, az / na
        norm = np.sqrt(ax * ax + ay * ay + az * az)
        extra[n_extra, 0], extra[n_extra, 1], extra[n_extra, 2] = ax / norm, ay / norm, az / norm
        n_extra += 1
    return extra[:n_extra].copy()
