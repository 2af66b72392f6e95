"""Edge topology of a triangle mesh: which triangles share each edge, and the open or
non-manifold edges (one compiled pass of counting sorts; trimesh's order and arrays)."""

from __future__ import annotations

import numpy as np
from numba import njit

IntArray = np.ndarray


def face_adjacency(faces: IntArray, n_vertices: int) -> tuple[IntArray, IntArray]:
    """Pairs of triangles sharing an edge, and the shared edges.

    The same arrays, in the same order, as trimesh's ``face_adjacency`` and
    ``face_adjacency_edges`` (edges used by exactly two triangles, ordered by their larger
    then smaller vertex index; each pair sorted); see ``edge_topology``.

    Parameters
    ----------
    faces : (F, 3) int
        Triangle vertex indices.
    n_vertices : int
        Number of vertices.

    Returns
    -------
    adjacency : (E, 2) int
        Triangle pairs, smaller index first.
    edges : (E, 2) int
        The shared edge of each pair, smaller vertex index first.
    """
    _, _, adjacency, edges = edge_topology(faces, n_vertices)
    return adjacency, edges


def edge_topology(
    faces: IntArray, n_vertices: int
) -> tuple[tuple[int, int, int], np.ndarray, IntArray, IntArray]:
    """Every undirected edge of a triangle mesh, counted and paired in one compiled pass.

    The directed edges are put in order of (larger vertex, smaller vertex) by two counting
    sorts (no comparison sort), then each run of equal edges is read once: how many triangles
    use it, in which directions, and which two triangles it joins.

    Parameters
    ----------
    faces : (F, 3) int
        Triangle vertex indices (each below ``n_vertices``).
    n_vertices : int
        Number of vertices.

    Returns
    -------
    counts : (int, int, int)
        Open edges (used by one triangle), non-manifold edges (more than two) and
        inconsistent edges (two triangles running along it the same way).
    open_mask : (3F,) bool
        True for the directed face edges (face-major order, edges 01, 12, 20) on an open edge.
    adjacency : (E, 2) int
        Pairs of distinct triangles sharing an edge used by exactly two, smaller index first,
        ordered by the shared edge's (larger, smaller) vertex index (trimesh's order).
    edges : (E, 2) int
        The shared edge of each pair, smaller vertex index first.
    """
    faces = np.ascontiguousarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) and (faces.min() < 0 or faces.max() >= n_vertices):
        raise IndexError(f"a triangle uses a vertex outside the {n_vertices} vertices")
    counts, open_mask, adjacency, edges = _edge_runs(faces, max(int(n_vertices), 1))
    return (int(counts[0]), int(counts[1]), int(counts[2])), open_mask, adjacency, edges


@njit(cache=True, nogil=True)
def _edge_runs(faces: IntArray, n_vertices: int) -> tuple[IntArray, np.ndarray, IntArray, IntArray]:
    """See ``edge_topology``; faces are valid (checked by the caller)."""
    nf = faces.shape[0]
    m = 3 * nf
    # Directed edge k = corner * F + triangle runs from that corner to the next one.
    lo = np.empty(m, dtype=np.int64)
    hi = np.empty(m, dtype=np.int64)
    forward = np.empty(m, dtype=np.bool_)
    face_of = np.empty(m, dtype=np.int64)  # (integer division is slow in the loops below)
    by_lo = np.zeros(n_vertices + 1, dtype=np.int64)
    by_hi = np.zeros(n_vertices + 1, dtype=np.int64)
    for c in range(3):
        d = c + 1 if c < 2 else 0
        for f in range(nf):
            a, b = faces[f, c], faces[f, d]
            k = c * nf + f
            lo[k], hi[k] = min(a, b), max(a, b)
            forward[k] = a < b
            face_of[k] = f
            by_lo[lo[k] + 1] += 1
            by_hi[hi[k] + 1] += 1
    # Two stable counting sorts, by the smaller vertex then by the larger: edges in order of
    # (larger, smaller), equal edges together.
    for v in range(n_vertices):
        by_lo[v + 1] += by_lo[v]
        by_hi[v + 1] += by_hi[v]
    step = np.empty(m, dtype=np.int64)
    for k in range(m):
        step[by_lo[lo[k]]] = k
        by_lo[lo[k]] += 1
    order = np.empty(m, dtype=np.int64)
    for i in range(m):
        k = step[i]
        order[by_hi[hi[k]]] = k
        by_hi[hi[k]] += 1
    counts = np.zeros(3, dtype=np.int64)
    open_mask = np.zeros(m, dtype=np.bool_)
    adjacency = np.empty((m // 2, 2), dtype=np.int64)
    edges = np.empty((m // 2, 2), dtype=np.int64)
    n_pairs = 0
    i = 0
    while i < m:
        k = order[i]
        j = i + 1
        n_forward = int(forward[k])
        while j < m and hi[order[j]] == hi[k] and lo[order[j]] == lo[k]:
            n_forward += forward[order[j]]
            j += 1
        run = j - i
        if run == 1:
            counts[0] += 1
            f = face_of[k]
            open_mask[3 * f + (k - f) // nf] = True
        elif run > 2:
            counts[1] += 1
        else:
            # Two triangles on one edge must run along it in opposite directions.
            if n_forward != 1:
                counts[2] += 1
            fa, fb = face_of[k], face_of[order[i + 1]]
            if fa != fb:
                adjacency[n_pairs, 0] = min(fa, fb)
                adjacency[n_pairs, 1] = max(fa, fb)
                edges[n_pairs, 0] = lo[k]
                edges[n_pairs, 1] = hi[k]
                n_pairs += 1
        i = j
    return counts, open_mask, adjacency[:n_pairs].copy(), edges[:n_pairs].copy()
