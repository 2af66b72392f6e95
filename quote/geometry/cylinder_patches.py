"""Connected patches of curved mesh facets around each candidate cylinder axis (numba kernel).

A patch is a set of (triangle, axis) nodes joined by curved edges bending around that axis and
by the coplanar twin of a facet; ``circle_fit`` then fits one circle per patch.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quote.geometry.cylinder_axes import AXIS_COS, MIN_CURVED_ANGLE
from quote.geometry.union_find import component_labels
from quote.geometry.vec3 import cross3, extent_along

FloatArray = np.ndarray

# Facet normal perpendicular to the axis within ~1.7 degrees (float32 STL normals).
_PERP_TOL = 0.03
# Neighbouring facets of one cylinder have similar widths across the axis; a wall tangent to a
# fillet is far wider than the fillet's facets and must not join it.
_WIDTH_RATIO = 3.0


@njit(cache=True, nogil=True)
def curved_patches(
    normals: FloatArray,
    triangles: FloatArray,
    adjacency: np.ndarray,
    angles: FloatArray,
    cp: np.ndarray,
    c: FloatArray,
    axes: FloatArray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Connected (triangle, axis) patches of curved facets around each candidate axis.

    Returns the triangle of each patch node (N,), its patch 0..K-1 (N,) (patches numbered in
    the order of their first node, nodes in (triangle, axis) order) and each patch's axis (K,).
    """
    nf, na, m = len(normals), len(axes), len(cp)
    ax = np.empty(m, dtype=np.int64)
    ok = np.empty(m, dtype=np.bool_)
    similar = np.empty(m, dtype=np.bool_)
    w0 = np.empty(m)
    w1 = np.empty(m)
    established = np.zeros(nf, dtype=np.bool_)
    for i in range(m):
        # The candidate axis n1 x n2 is most parallel to (the first on ties, as np.argmax).
        best, k = -1.0, 0
        for j in range(na):
            d = abs(c[i, 0] * axes[j, 0] + c[i, 1] * axes[j, 1] + c[i, 2] * axes[j, 2])
            if d > best:
                best, k = d, j
        ax[i] = k
        a = axes[k]
        f0, f1 = cp[i, 0], cp[i, 1]
        n0, n1 = normals[f0], normals[f1]
        ok[i] = (
            best > AXIS_COS
            and abs(n0[0] * a[0] + n0[1] * a[1] + n0[2] * a[2]) < _PERP_TOL
            and abs(n1[0] * a[0] + n1[1] * a[1] + n1[2] * a[2]) < _PERP_TOL
        )
        # Width of each facet across the axis (along its tangent a x n): neighbours on one
        # cylinder are alike, a wall tangent to a fillet is much wider than the fillet's facets.
        w0[i] = extent_along(triangles[f0], cross3(a, n0))
        w1[i] = extent_along(triangles[f1], cross3(a, n1))
        similar[i] = max(w0[i], w1[i]) <= _WIDTH_RATIO * max(min(w0[i], w1[i]), 1e-12)
        if ok[i] and similar[i]:
            established[f0] = True
            established[f1] = True
    # A narrow facet may still join a neighbour already on a cylinder (exporters often end a
    # fillet with a sliver facet), and so may the coplanar twin of such a facet (a facet is
    # usually two triangles), but a wide one never joins a narrow one.
    flat = np.flatnonzero(angles <= MIN_CURVED_ANGLE)
    twin = established.copy()
    for e in flat:
        a, b = adjacency[e, 0], adjacency[e, 1]
        if established[a] or established[b]:
            twin[a] = True
            twin[b] = True
    in_cyl = np.zeros(nf, dtype=np.bool_)
    on_curve = np.zeros((nf, na), dtype=np.bool_)
    n_curved = 0
    for i in range(m):
        wider_on_cylinder = twin[cp[i, 0]] if w0[i] >= w1[i] else twin[cp[i, 1]]
        ok[i] = ok[i] and (similar[i] or wider_on_cylinder)
        if ok[i]:
            in_cyl[cp[i, 0]] = True
            in_cyl[cp[i, 1]] = True
            on_curve[cp[i, 0], ax[i]] = True
            on_curve[cp[i, 1], ax[i]] = True
            n_curved += 1
    if n_curved == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    # Graph edges between nodes f * na + k: the curved edges, and coplanar neighbours (the two
    # triangles of one facet) on every axis either of them is curved around, also when only
    # one of them has a curved edge (the other's neighbour may be a rejected wall).
    n_flat = 0
    for e in flat:
        if in_cyl[adjacency[e, 0]] or in_cyl[adjacency[e, 1]]:
            n_flat += 1
    node_a = np.empty(n_curved + n_flat * na, dtype=np.int64)
    node_b = np.empty(n_curved + n_flat * na, dtype=np.int64)
    n_edges = 0
    for i in range(m):
        if ok[i]:
            node_a[n_edges] = cp[i, 0] * na + ax[i]
            node_b[n_edges] = cp[i, 1] * na + ax[i]
            n_edges += 1
    for e in flat:
        a, b = adjacency[e, 0], adjacency[e, 1]
        if in_cyl[a] or in_cyl[b]:
            for k in range(na):
                if on_curve[a, k] or on_curve[b, k]:
                    node_a[n_edges] = a * na + k
                    node_b[n_edges] = b * na + k
                    n_edges += 1
    node_a, node_b = node_a[:n_edges], node_b[:n_edges]
    used = np.zeros(nf * na, dtype=np.bool_)
    for i in range(n_edges):
        used[node_a[i]] = True
        used[node_b[i]] = True
    nodes = np.flatnonzero(used)
    index_of = np.empty(nf * na, dtype=np.int64)
    for i in range(len(nodes)):
        index_of[nodes[i]] = i
    ia = np.empty(n_edges, dtype=np.int64)
    ib = np.empty(n_edges, dtype=np.int64)
    for i in range(n_edges):
        ia[i] = index_of[node_a[i]]
        ib[i] = index_of[node_b[i]]
    n_comp, comp = component_labels(len(nodes), ia, ib, np.ones(n_edges, dtype=np.bool_))
    # Patches of one node are dropped; the others are renumbered 0..K-1 in their order.
    sizes = np.zeros(n_comp, dtype=np.int64)
    for i in range(len(nodes)):
        sizes[comp[i]] += 1
    renumber = np.full(n_comp, -1, dtype=np.int64)
    k = 0
    for g in range(n_comp):
        if sizes[g] >= 2:
            renumber[g] = k
            k += 1
    n_kept = 0
    for i in range(len(nodes)):
        if sizes[comp[i]] >= 2:
            n_kept += 1
    faces_idx = np.empty(n_kept, dtype=np.int64)
    patch = np.empty(n_kept, dtype=np.int64)
    patch_axis = np.zeros(k, dtype=np.int64)
    j = 0
    for i in range(len(nodes)):
        g = renumber[comp[i]]
        if g >= 0:
            faces_idx[j] = nodes[i] // na
            patch[j] = g
            patch_axis[g] = nodes[i] % na
            j += 1
    return faces_idx, patch, patch_axis
