"""Cylindrical surfaces of a part: holes, inner fillets, turned diameters.

Two sources give the same table:

* exact B-rep (STEP): cylindrical faces, merged when they lie on the same axis line with the same
  radius and touching axial ranges (CAD kernels split a hole into two half-cylinders);
* triangle meshes (STL, OBJ, ...): facets whose normals are perpendicular to a candidate axis
  and that bend around it are grouped into connected patches, and a circle is fitted through
  the patch's vertices projected along the axis (exporters place vertices on the true surface,
  so the fit recovers the exact radius). Candidate axes are the box frame's axes plus the
  dominant directions of ``n1 x n2`` over smoothly curved edges (the axis of any cylinder).

The loops over edges, patches and vertices are numba kernels (numpy's per-call overhead on
arrays of a few thousand rows cost ten times the arithmetic). Their results are compared with
answers known by construction within named tolerances (``tests/quote/test_cylinders.py``),
never bit for bit: another CPU or BLAS may round a product differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from quote.geometry.brep import CylinderFaces
from quote.geometry.meshdata import MeshData
from quote.geometry.union_find import component_labels

FloatArray = np.ndarray

TWO_PI = 2.0 * np.pi
# A cylinder covering at least this angle is a hole (or a full turned diameter); less is an arc
# (a fillet, a slot end).
FULL_COVERAGE = TWO_PI - np.pi / 3.0
# Mesh edges bending less than this are tessellated curvature, more are real edges (an octagon's
# 45 degree corners are edges; a 12-sided hole's 30 degree steps are still a hole).
_MAX_CURVED_ANGLE = float(np.radians(40.0))
_MIN_CURVED_ANGLE = 1e-4
# Facet normal perpendicular to the axis within ~1.7 degrees (float32 STL normals).
_PERP_TOL = 0.03
# n1 x n2 parallel to the axis within 3 degrees.
_AXIS_COS = float(np.cos(np.radians(3.0)))
# An accepted axis absorbs the curved edges within 6 degrees.
_ABSORB_COS = float(np.cos(np.radians(6.0)))
# Neighbouring facets of one cylinder have similar widths across the axis; a wall tangent to a
# fillet is far wider than the fillet's facets and must not join it.
_WIDTH_RATIO = 3.0
_MAX_EXTRA_AXES = 8
_MIN_AXIS_SUPPORT = 6


@dataclass(frozen=True)
class Cylinders:
    """Cylindrical features, one row each.

    axis : (K, 3) unit axis, sign-normalised (largest component positive).
    origin : (K, 3) a point of the axis line, mm; axial coordinates are measured from it.
    radius : (K,) mm.
    t0, t1 : (K,) axial extent along ``axis`` from ``origin``, mm.
    coverage : (K,) angle covered around the axis, radians (2 pi for a full hole).
    concave : (K,) True when the material is outside (holes, inner fillets), False for bosses.
    area : (K,) lateral area, mm^2 (from the fitted radius and coverage).
    """

    axis: FloatArray
    origin: FloatArray
    radius: FloatArray
    t0: FloatArray
    t1: FloatArray
    coverage: FloatArray
    concave: np.ndarray
    area: FloatArray

    def __len__(self) -> int:
        return len(self.radius)

    @property
    def full(self) -> np.ndarray:
        """(K,) bool: covers (nearly) the whole circle."""
        return self.coverage >= FULL_COVERAGE

    @property
    def length(self) -> FloatArray:
        return self.t1 - self.t0

    def point(self, t: FloatArray) -> FloatArray:
        """(K, 3) points of each axis at axial coordinates ``t`` (K,), mm."""
        return self.origin + self.axis * np.asarray(t)[:, None]

    def subset(self, mask: np.ndarray) -> Cylinders:
        return Cylinders(
            self.axis[mask],
            self.origin[mask],
            self.radius[mask],
            self.t0[mask],
            self.t1[mask],
            self.coverage[mask],
            self.concave[mask],
            self.area[mask],
        )

    @classmethod
    def empty(cls) -> Cylinders:
        z = np.zeros(0)
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), z, z, z, z, np.zeros(0, bool), z)


def from_brep(faces: CylinderFaces, *, tol: float = 1e-3) -> Cylinders:
    """Merge B-rep cylinder faces on one axis line, one radius and touching ranges (tol mm)."""
    if len(faces.radius) == 0:
        return Cylinders.empty()
    first, lo, hi, span = _merge_ranges(
        np.asarray(faces.axis, dtype=np.float64),
        np.asarray(faces.origin, dtype=np.float64),
        np.asarray(faces.radius, dtype=np.float64),
        np.asarray(faces.t0, dtype=np.float64),
        np.asarray(faces.t1, dtype=np.float64),
        np.asarray(faces.span, dtype=np.float64),
        np.asarray(faces.concave, dtype=np.bool_),
        float(tol),
    )
    radius = faces.radius[first]
    return Cylinders(
        axis=faces.axis[first],
        origin=faces.origin[first],
        radius=radius,
        t0=lo,
        t1=hi,
        coverage=span,
        concave=faces.concave[first],
        area=radius * span * (hi - lo),
    )


@njit(cache=True, nogil=True)
def _merge_ranges(
    axis: FloatArray,
    origin: FloatArray,
    radius: FloatArray,
    t0: FloatArray,
    t1: FloatArray,
    span: FloatArray,
    concave: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, FloatArray, FloatArray, FloatArray]:
    """Features of ``from_brep``: the first face of each (sorted by axis line, radius and
    start), its axial range and its coverage (capped at a full turn), (k,) each."""
    n = len(radius)
    # One integer key per face: axis (1e-3), axis point and radius (tol), concavity.
    key = np.empty((n, 8), dtype=np.int64)
    for i in range(n):
        for j in range(3):
            key[i, j] = np.int64(np.rint(axis[i, j] * 1e3))
            key[i, 3 + j] = np.int64(np.rint(origin[i, j] / tol))
        key[i, 6] = np.int64(np.rint(radius[i] / tol))
        key[i, 7] = 1 if concave[i] else 0
    # Sort by key (lexicographic), then start, then index: stable sorts from the last criterion.
    order = np.argsort(t0, kind="mergesort")
    column = np.empty(n, dtype=np.int64)
    for j in range(7, -1, -1):
        for i in range(n):
            column[i] = key[order[i], j]
        order = order[np.argsort(column, kind="mergesort")]
    # A new feature starts with a new key or where the range does not touch the last one.
    feature = np.empty(n, dtype=np.int64)
    current = -1
    running_end = 0.0
    for i in range(n):
        o = order[i]
        new = i == 0 or t0[o] > running_end + tol
        if not new:
            p = order[i - 1]
            for j in range(8):
                if key[o, j] != key[p, j]:
                    new = True
                    break
        if new:
            current += 1
            running_end = t1[o]
        else:
            running_end = max(running_end, t1[o])
        feature[i] = current
    k = current + 1
    first = np.full(k, -1, dtype=np.int64)
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    covered = np.zeros(k)
    for i in range(n):
        o, f = order[i], feature[i]
        if first[f] < 0:
            first[f] = o
        lo[f] = min(lo[f], t0[o])
        hi[f] = max(hi[f], t1[o])
        covered[f] += span[o]
    for f in range(k):
        covered[f] = min(covered[f], TWO_PI)
    return first, lo, hi, covered


def merge_coaxial(cyl: Cylinders, *, tol: float) -> Cylinders:
    """Merge mesh patches on one axis line with one radius and touching ranges (tol mm).

    A hole whose facets the fit split in two (a sliver facet, a seam) becomes one again;
    coaxial holes in opposite walls stay two. Coverages add up (capped at a full turn).
    """
    if len(cyl) < 2:
        return cyl
    as_faces = CylinderFaces(
        axis=cyl.axis,
        origin=cyl.origin,
        radius=cyl.radius,
        t0=cyl.t0,
        t1=cyl.t1,
        span=cyl.coverage,
        concave=cyl.concave,
    )
    return from_brep(as_faces, tol=tol)


def _curved_edges(md: MeshData) -> tuple[np.ndarray, FloatArray]:
    """Triangle pairs meeting at a smoothly curved edge, (m, 2), and the unit ``n1 x n2`` of
    each (the axis the surface bends around), (m, 3); computed once per mesh."""
    found = md.cache.get("curved_edges")
    if found is None:
        found = md.cache["curved_edges"] = _curved_pairs(
            md.adjacency, md.adjacency_angles, md.normals
        )
    return found


@njit(cache=True, nogil=True)
def _curved_pairs(
    adjacency: np.ndarray, angles: FloatArray, normals: FloatArray
) -> tuple[np.ndarray, FloatArray]:
    m = 0
    for e in range(len(angles)):
        if _MIN_CURVED_ANGLE < angles[e] < _MAX_CURVED_ANGLE:
            m += 1
    pairs = np.empty((m, 2), dtype=np.int64)
    c = np.empty((m, 3))
    i = 0
    for e in range(len(angles)):
        if not _MIN_CURVED_ANGLE < angles[e] < _MAX_CURVED_ANGLE:
            continue
        a, b = adjacency[e, 0], adjacency[e, 1]
        pairs[i, 0], pairs[i, 1] = a, b
        x, y, z = _cross(normals[a], normals[b])
        norm = np.sqrt(x * x + y * y + z * z)
        c[i, 0], c[i, 1], c[i, 2] = x / norm, y / norm, z / norm
        i += 1
    return pairs, c


def candidate_axes(md: MeshData, base_axes: FloatArray) -> FloatArray:
    """The box axes plus dominant cylinder axes found from curved mesh edges, (A, 3)."""
    _, c = _curved_edges(md)
    return _candidate_axes(np.asarray(base_axes, dtype=np.float64).reshape(-1, 3), c)


@njit(cache=True, nogil=True)
def _candidate_axes(base_axes: FloatArray, c: FloatArray) -> FloatArray:
    base = _canonical_rows(base_axes)
    if len(c) == 0:
        return base
    extra = _dominant_axes(c, base)
    if len(extra) == 0:
        return base
    return np.vstack((base, extra))


@njit(cache=True, nogil=True)
def _canonical_rows(axes: FloatArray) -> FloatArray:
    """``meshdata.canonical_axes`` of an (n, 3) array."""
    out = np.empty((len(axes), 3))
    for i in range(len(axes)):
        out[i, 0], out[i, 1], out[i, 2] = _canonical(axes[i, 0], axes[i, 1], axes[i, 2])
    return out


@njit(cache=True, nogil=True)
def _dominant_axes(cross_dirs: FloatArray, base: FloatArray) -> FloatArray:
    """Cylinder axes, (<= _MAX_EXTRA_AXES, 3), from the (m, 3) unit ``n1 x n2`` of curved
    edges: the densest ~3 degree cells of directions off the ``base`` axes."""
    folded = np.empty((len(cross_dirs), 3))
    m = 0
    for i in range(len(cross_dirs)):
        x, y, z = _canonical(cross_dirs[i, 0], cross_dirs[i, 1], cross_dirs[i, 2])
        off_base = True
        for j in range(len(base)):
            if abs(x * base[j, 0] + y * base[j, 1] + z * base[j, 2]) > _AXIS_COS:
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


def from_mesh(md: MeshData, axes: FloatArray) -> tuple[Cylinders, np.ndarray]:
    """Fit cylinders to the mesh around the candidate axes, all axes in one pass.

    Each smoothly curved edge is given to the candidate axis its ``n1 x n2`` is parallel to;
    the graph nodes are (triangle, axis) so one triangle can border cylinders of two axes.

    Parameters
    ----------
    md : MeshData
    axes : (A, 3) float
        Candidate axis directions (see ``candidate_axes``).

    Returns
    -------
    cylinders : Cylinders
    face_label : (F,) int
        Index of the cylinder each triangle belongs to, -1 for none.
    """
    axes = _canonical_rows(np.asarray(axes, dtype=np.float64).reshape(-1, 3))
    cp, c = _curved_edges(md)
    if len(cp) == 0 or len(axes) == 0:
        return Cylinders.empty(), np.full(len(md.faces), -1, dtype=np.int64)
    return _fit_patches(md, axes, cp, c)


@njit(cache=True, nogil=True)
def _patches(
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
            best > _AXIS_COS
            and abs(n0[0] * a[0] + n0[1] * a[1] + n0[2] * a[2]) < _PERP_TOL
            and abs(n1[0] * a[0] + n1[1] * a[1] + n1[2] * a[2]) < _PERP_TOL
        )
        # Width of each facet across the axis (along its tangent a x n): neighbours on one
        # cylinder are alike, a wall tangent to a fillet is much wider than the fillet's facets.
        w0[i] = _width(triangles[f0], _cross(a, n0))
        w1[i] = _width(triangles[f1], _cross(a, n1))
        similar[i] = max(w0[i], w1[i]) <= _WIDTH_RATIO * max(min(w0[i], w1[i]), 1e-12)
        if ok[i] and similar[i]:
            established[f0] = True
            established[f1] = True
    # A narrow facet may still join a neighbour already on a cylinder (exporters often end a
    # fillet with a sliver facet), and so may the coplanar twin of such a facet (a facet is
    # usually two triangles), but a wide one never joins a narrow one.
    flat = np.flatnonzero(angles <= _MIN_CURVED_ANGLE)
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


@njit(cache=True, nogil=True, inline="always")
def _cross(a: FloatArray, b: FloatArray) -> tuple[float, float, float]:
    """a x b of two (3,) vectors (as ``meshdata.cross`` rounds it)."""
    return (
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    )


@njit(cache=True, nogil=True, inline="always")
def _canonical(x: float, y: float, z: float) -> tuple[float, float, float]:
    """(x, y, z) flipped so its first largest component is positive (``canonical_axes``)."""
    ax, ay, az = abs(x), abs(y), abs(z)
    largest = x if (ax >= ay and ax >= az) else (y if ay >= az else z)
    sign = -1.0 if largest < 0 else 1.0
    return x * sign, y * sign, z * sign


@njit(cache=True, nogil=True, inline="always")
def _width(tri: FloatArray, d: tuple[float, float, float]) -> float:
    """Extent of a (3, 3) triangle along direction d (max - min of its corners' d . p)."""
    p0 = tri[0, 0] * d[0] + tri[0, 1] * d[1] + tri[0, 2] * d[2]
    p1 = tri[1, 0] * d[0] + tri[1, 1] * d[1] + tri[1, 2] * d[2]
    p2 = tri[2, 0] * d[0] + tri[2, 1] * d[1] + tri[2, 2] * d[2]
    return max(max(p0, p1), p2) - min(min(p0, p1), p2)


def _fit_patches(
    md: MeshData, axes: FloatArray, cp: np.ndarray, c: FloatArray
) -> tuple[Cylinders, np.ndarray]:
    """A circle fit per patch of curved facets (``_patches``) around its axis.

    Returns the Cylinders of the good patches and each triangle's cylinder (-1 for none).
    """
    faces_idx, comp, comp_axes, lab, t, cnt, good, r, origin, dx, dy, dist = _patch_circles(
        md.normals,
        md.triangles,
        md.adjacency,
        md.adjacency_angles,
        cp,
        c,
        axes,
        md.vertices,
        md.faces,
    )
    if len(faces_idx) == 0:
        return Cylinders.empty(), np.full(len(md.faces), -1, dtype=np.int64)
    theta = np.arctan2(dy, dx) % TWO_PI
    face_label, axis, origin, radius, t0, t1, coverage, concave, area = _circle_features(
        lab,
        dist,
        theta,
        t,
        cnt,
        good,
        r,
        origin,
        comp_axes,
        faces_idx,
        comp,
        md.centroids,
        md.normals,
        md.areas,
        md.scale,
    )
    if len(radius) == 0:
        return Cylinders.empty(), face_label
    return Cylinders(axis, origin, radius, t0, t1, coverage, concave, area), face_label


@njit(cache=True, nogil=True)
def _patch_circles(
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
    """``_patches`` then ``_fit_circles`` in one call: the patch nodes (N,) and patches (N,),
    each patch's axis (K, 3), then the fits (see ``_fit_circles``)."""
    faces_idx, comp, comp_axis_id = _patches(normals, triangles, adjacency, angles, cp, c, axes)
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
        wx, wy, wz = _cross(a, helper)
        norm = np.sqrt(wx * wx + wy * wy + wz * wz)
        u[g, 0], u[g, 1], u[g, 2] = wx / norm, wy / norm, wz / norm
        v[g, 0], v[g, 1], v[g, 2] = _cross(a, u[g])
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
def _circle_features(
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
