"""Axis-aligned and minimum oriented bounding boxes, from the tessellation.

OpenCASCADE's "optimal" box is inflated for some real files (the NIST CTC 1 geometry-only STEP
gives 1170 x 650 mm for an 800 x 450 mm part), so both boxes are computed from the triangle mesh.

The oriented box is a heuristic: on machined parts the minimum box lies flush with one of the
part's large flat faces (the exact minimum needs O'Rourke's cubic-time search). So the candidate
directions are the dominant directions of the mesh's own face normals (by area, merged within
~0.5 degrees); in each, the minimum-area rectangle of the projected outline (rotating calipers,
vectorised) completes the box; the smallest volume wins. No 3D convex hull is built (qhull on
the cospherical rims of turned parts costs more than loading the file); interior points are
first discarded by the Akl-Toussaint test. When every dominant direction is a file axis the
axis-aligned box is kept, and a rotated box must be 0.5 % smaller to replace it (CAD parts are
modelled square to the file's axes, and keeping them keeps "+Z" meaning the user's +Z).
trimesh's ``oriented_bounds`` tries every hull direction and costs 5-20 ms on parts whose
loading costs 2 ms.

The passes over vertices and faces are numba kernels (on parts of a few thousand triangles
numpy's per-call overhead cost more than the arithmetic); they round as the numpy code they
replaced (``numpy_dots``), so the boxes are unchanged to the bit. The hull of the 26 extreme
points of the prefilter is built here too (qhull took 40-60 us on these often coplanar sets; it
keeps the same points, see ``tests/quote/test_extents.py``), but qhull still outlines the
rotated candidates (the order of its hull vertices breaks ties between equal rectangles) and
numpy's arctan2 gives their edge angles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.spatial import ConvexHull, QhullError

FloatArray = np.ndarray

_AXIS_ALIGNED_PREFERENCE = 0.995
# Normal directions (merged on a ~0.5 degree grid) holding at least this share of the area are
# tried as one side of the box, at most _CANDIDATES of them.
_MAJOR_SHARE = 0.03
_CANDIDATES = 6


@dataclass(frozen=True)
class Frame:
    """The part's box frame.

    rotation : (3, 3) float
        Rows are the frame's X, Y, Z axes in file coordinates (orthonormal, right-handed).
    center : (3,) float
        Centre of the box, mm, file coordinates.
    extents : (3,) float
        Box size along the frame's X, Y, Z, mm.
    aligned : bool
        True when the frame is the file's own axes (the axis-aligned box is the minimum).
    outer_points : (H, 3) float
        A subset of the vertices holding every convex hull vertex, mm (extents and outlines
        along any direction are exact from it).
    bbox : (3,) float
        Size of the axis-aligned box along the file's X, Y, Z, mm (``np.ptp(vertices, 0)``).
    """

    rotation: FloatArray
    center: FloatArray
    extents: FloatArray
    aligned: bool
    outer_points: FloatArray
    bbox: FloatArray

    @property
    def sorted_extents(self) -> tuple[float, float, float]:
        """Extents largest first, mm."""
        e = sorted((float(x) for x in self.extents), reverse=True)
        return (e[0], e[1], e[2])

    def directions(self) -> FloatArray:
        """(6, 3) unit vectors +X, -X, +Y, -Y, +Z, -Z of the frame in file coordinates."""
        r = self.rotation
        return np.array([r[0], -r[0], r[1], -r[1], r[2], -r[2]])


DIRECTION_LABELS = ("+X", "-X", "+Y", "-Y", "+Z", "-Z")

_PREFILTER_DIRS = np.array(
    [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, -1, 0],
        [1, 0, 1],
        [1, 0, -1],
        [0, 1, 1],
        [0, 1, -1],
        [1, 1, 1],
        [1, 1, -1],
        [1, -1, 1],
        [-1, 1, 1],
    ],
    dtype=np.float64,
)


def outer_points(vertices: FloatArray) -> FloatArray:
    """Drop points strictly inside the polytope of the extreme points along 13 directions.

    The Akl-Toussaint heuristic: such points cannot be hull vertices, and on machined parts
    (holes, pockets, bosses inside the outline) they are most of the mesh.
    """
    return _outer_points(vertices, *_extreme_points(vertices))


def _outer_points(
    vertices: FloatArray, extreme: np.ndarray, lo: FloatArray, hi: FloatArray
) -> FloatArray:
    if len(vertices) < 64:
        return vertices
    size = float((hi - lo).max())
    # The hull of the few extreme points is built here (qhull costs 40-60 us a call on these
    # often coplanar sets); qhull settles the flat and doubtful cases.
    planes = _hull_planes(vertices[extreme], size)
    if len(planes) == 0:
        try:
            planes = ConvexHull(vertices[extreme]).equations
        except (QhullError, ValueError):
            return vertices
    return _outside(vertices, planes, 1e-9 * size)


@njit(cache=True, nogil=True)
def _extreme_points(vertices: FloatArray) -> tuple[np.ndarray, FloatArray, FloatArray]:
    """Sorted distinct indices of the first vertex of least and of greatest projection on
    each of the 13 ``_PREFILTER_DIRS`` (their components are 0 and +-1, so each projection
    is exact whatever the summation order), and the (3,) least and greatest coordinates (the
    projections on the first three)."""
    picked = np.zeros(len(vertices), dtype=np.bool_)
    lo = np.empty(3)
    hi = np.empty(3)
    for d in range(len(_PREFILTER_DIRS)):
        a, b, c = _PREFILTER_DIRS[d, 0], _PREFILTER_DIRS[d, 1], _PREFILTER_DIRS[d, 2]
        i_min = i_max = 0
        p_min = p_max = vertices[0, 0] * a + vertices[0, 1] * b + vertices[0, 2] * c
        for i in range(1, len(vertices)):
            p = vertices[i, 0] * a + vertices[i, 1] * b + vertices[i, 2] * c
            if p < p_min:
                p_min, i_min = p, i
            if p > p_max:
                p_max, i_max = p, i
        picked[i_min] = True
        picked[i_max] = True
        if d < 3:
            lo[d], hi[d] = vertices[i_min, d], vertices[i_max, d]
    return np.flatnonzero(picked), lo, hi


@njit(cache=True, nogil=True)
def _hull_planes(p: FloatArray, size: float) -> FloatArray:
    """Facet planes ``n.x + c = 0`` (unit n pointing out), (F, 4), of the convex hull of a few
    points (p: (n, 3), the extreme points), by incremental construction; (0, 4) when the points
    are (nearly) flat or the construction is doubtful, for qhull to decide.

    A point within 1e-11 ``size`` of the hull so far is taken as on it (box corners are
    coplanar), so each plane is within that of qhull's: far inside the 1e-9 ``size`` margin
    of the outside test. The result is checked (closed surface, every point on the inner
    side of every facet) before it is used.
    """
    fail = np.empty((0, 4))
    n = len(p)
    eps = 1e-11 * size
    if n < 4 or not size > 0:
        return fail
    # Initial tetrahedron: the lowest point in x, the farthest from it, the farthest from
    # their line, the farthest from their plane.
    i0 = 0
    for i in range(n):
        if p[i, 0] < p[i0, 0]:
            i0 = i
    i1, best = i0, 0.0
    for i in range(n):
        d = (p[i, 0] - p[i0, 0]) ** 2 + (p[i, 1] - p[i0, 1]) ** 2 + (p[i, 2] - p[i0, 2]) ** 2
        if d > best:
            i1, best = i, d
    if np.sqrt(best) < 1e-6 * size:
        return fail
    e0, e1, e2 = p[i1, 0] - p[i0, 0], p[i1, 1] - p[i0, 1], p[i1, 2] - p[i0, 2]
    i2, best = i0, 0.0
    for i in range(n):
        w0, w1, w2 = p[i, 0] - p[i0, 0], p[i, 1] - p[i0, 1], p[i, 2] - p[i0, 2]
        c0, c1, c2 = e1 * w2 - e2 * w1, e2 * w0 - e0 * w2, e0 * w1 - e1 * w0
        d = c0 * c0 + c1 * c1 + c2 * c2
        if d > best:
            i2, best = i, d
    if np.sqrt(best) < 1e-6 * size * size:
        return fail
    capacity = 8 + 4 * n * n
    face = np.empty((capacity, 3), dtype=np.int64)
    plane = np.empty((capacity, 4))
    alive = np.zeros(capacity, dtype=np.bool_)
    owner = np.full((n, n), -1, dtype=np.int64)
    nf = _add_facet(p, face, plane, alive, owner, 0, i0, i1, i2)
    if nf < 0:
        return fail
    i3, best = i0, 0.0
    for i in range(n):
        d = abs(plane[0, 0] * p[i, 0] + plane[0, 1] * p[i, 1] + plane[0, 2] * p[i, 2] + plane[0, 3])
        if d > best:
            i3, best = i, d
    if best < 1e-6 * size:
        return fail
    if plane[0, 0] * p[i3, 0] + plane[0, 1] * p[i3, 1] + plane[0, 2] * p[i3, 2] + plane[0, 3] > 0:
        # The apex is on the outer side: turn the base over.
        owner[:, :] = -1
        nf = _add_facet(p, face, plane, alive, owner, 0, i0, i2, i1)
        i1, i2 = i2, i1
    nf = _add_facet(p, face, plane, alive, owner, 1, i0, i3, i1)
    nf = min(nf, _add_facet(p, face, plane, alive, owner, 2, i1, i3, i2))
    nf = min(nf, _add_facet(p, face, plane, alive, owner, 3, i2, i3, i0))
    if nf < 0:
        return fail
    count = 4
    visible = np.zeros(capacity, dtype=np.bool_)
    horizon = np.empty((capacity, 2), dtype=np.int64)
    for q in range(n):
        if q == i0 or q == i1 or q == i2 or q == i3:
            continue
        any_visible = False
        for f in range(count):
            visible[f] = alive[f] and (
                plane[f, 0] * p[q, 0] + plane[f, 1] * p[q, 1] + plane[f, 2] * p[q, 2] + plane[f, 3]
                > eps
            )
            any_visible = any_visible or visible[f]
        if not any_visible:
            continue
        nh = 0
        for f in range(count):
            if not visible[f]:
                continue
            for j in range(3):
                x, y = face[f, j], face[f, (j + 1) % 3]
                g = owner[y, x]
                if g < 0:
                    return fail
                if not visible[g]:
                    horizon[nh, 0], horizon[nh, 1] = x, y
                    nh += 1
        for f in range(count):
            if visible[f]:
                alive[f] = False
                for j in range(3):
                    x, y = face[f, j], face[f, (j + 1) % 3]
                    if owner[x, y] == f:
                        owner[x, y] = -1
        if count + nh > capacity:
            return fail
        for h in range(nh):
            if _add_facet(p, face, plane, alive, owner, count, horizon[h, 0], horizon[h, 1], q) < 0:
                return fail
            count += 1
    # Check: a closed oriented surface of a sphere's topology (each edge once each way,
    # V - E + F = 2) with every point on the inner side of every facet.
    n_alive = 0
    used = np.zeros(n, dtype=np.bool_)
    for f in range(count):
        if not alive[f]:
            continue
        n_alive += 1
        for j in range(3):
            x, y = face[f, j], face[f, (j + 1) % 3]
            used[x] = True
            g = owner[y, x]
            if owner[x, y] != f or g < 0 or not alive[g]:
                return fail
        for i in range(n):
            d = plane[f, 0] * p[i, 0] + plane[f, 1] * p[i, 1] + plane[f, 2] * p[i, 2] + plane[f, 3]
            if d > 10.0 * eps:
                return fail
    if 2 * (used.sum() - 2) != n_alive:
        return fail
    out = np.empty((n_alive, 4))
    k = 0
    for f in range(count):
        if alive[f]:
            out[k] = plane[f]
            k += 1
    return out


@njit(cache=True, nogil=True)
def _add_facet(
    p: FloatArray,
    face: np.ndarray,
    plane: FloatArray,
    alive: np.ndarray,
    owner: np.ndarray,
    f: int,
    a: int,
    b: int,
    c: int,
) -> int:
    """Store facet f = (a, b, c) (counter-clockwise seen from outside); -1 if degenerate."""
    u0, u1, u2 = p[b, 0] - p[a, 0], p[b, 1] - p[a, 1], p[b, 2] - p[a, 2]
    w0, w1, w2 = p[c, 0] - p[a, 0], p[c, 1] - p[a, 1], p[c, 2] - p[a, 2]
    n0, n1, n2 = u1 * w2 - u2 * w1, u2 * w0 - u0 * w2, u0 * w1 - u1 * w0
    norm = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    if not norm > 0:
        return -1
    n0, n1, n2 = n0 / norm, n1 / norm, n2 / norm
    face[f, 0], face[f, 1], face[f, 2] = a, b, c
    plane[f, 0], plane[f, 1], plane[f, 2] = n0, n1, n2
    plane[f, 3] = -(n0 * p[a, 0] + n1 * p[a, 1] + n2 * p[a, 2])
    alive[f] = True
    owner[a, b] = f
    owner[b, c] = f
    owner[c, a] = f
    return f


@njit(cache=True, nogil=True)
def _outside(vertices: FloatArray, equations: FloatArray, tol: float) -> FloatArray:
    """The vertices on or outside (within ``tol``) any facet plane ``n.x + c = 0``."""
    keep = np.zeros(len(vertices), dtype=np.bool_)
    for i in range(len(vertices)):
        x, y, z = vertices[i, 0], vertices[i, 1], vertices[i, 2]
        for f in range(len(equations)):
            e = equations[f]
            if (x * e[0] + y * e[1] + z * e[2]) + e[3] > -tol:
                keep[i] = True
                break
    return vertices[keep]


def oriented_frame(vertices: FloatArray, normals: FloatArray, areas: FloatArray) -> Frame:
    """Minimum oriented box of a mesh (mm), preferring the file axes on near ties.

    Parameters
    ----------
    vertices : (n, 3) float
        Mesh vertices, mm.
    normals, areas : (F, 3) float, (F,) float
        Unit face normals and face areas (mm^2): their dominant directions are the candidates.
    """
    extreme, lo, hi = _extreme_points(vertices)
    pts = _outer_points(vertices, extreme, lo, hi)
    bbox = hi - lo
    aligned = Frame(np.eye(3), (lo + hi) / 2.0, bbox, True, pts, bbox)
    directions = _dominant_directions(normals, areas)
    if directions is None:
        return aligned
    best = _best_rotation(pts, directions)
    if best is None:
        return aligned
    rot, vol = best
    if float(np.prod(hi - lo)) <= vol / _AXIS_ALIGNED_PREFERENCE:
        return aligned
    # Largest extent on X, smallest on Z: a plate lies flat with +Z up.
    order = np.argsort(-np.ptp(pts @ rot.T, axis=0), kind="stable")
    rot = rot[order]
    if np.linalg.det(rot) < 0:
        rot[2] = -rot[2]
    local = pts @ rot.T
    llo, lhi = local.min(axis=0), local.max(axis=0)
    return Frame(rot, ((llo + lhi) / 2.0) @ rot, lhi - llo, False, pts, bbox)


def _dominant_directions(normals: FloatArray, areas: FloatArray) -> FloatArray | None:
    """Dominant face-normal directions (one hemisphere), largest area first; None when they
    are all file axes (the axis-aligned box is then the minimum one)."""
    dirs = _major_normals(normals, areas)
    if (np.abs(dirs).max(axis=1) > 1.0 - 1e-6).all():
        return None
    return dirs


@njit(cache=True, nogil=True)
def _major_normals(normals: FloatArray, areas: FloatArray) -> FloatArray:
    """(<= _CANDIDATES, 3) area-weighted mean normals of the largest ~0.5 degree cells of
    sign-folded normals holding >= _MAJOR_SHARE of the area (at least the largest one)."""
    nf = len(normals)
    folded = np.empty((nf, 3))
    keys = np.empty(nf, dtype=np.int64)
    for i in range(nf):
        # Flip so the first largest component is positive (``meshdata.canonical_axes``).
        x, y, z = normals[i, 0], normals[i, 1], normals[i, 2]
        ax, ay, az = abs(x), abs(y), abs(z)
        largest = x if (ax >= ay and ax >= az) else (y if ay >= az else z)
        sign = -1.0 if largest < 0 else 1.0
        x, y, z = x * sign, y * sign, z * sign
        folded[i, 0], folded[i, 1], folded[i, 2] = x, y, z
        q0 = np.int64(np.rint(x * 100.0)) + 100
        q1 = np.int64(np.rint(y * 100.0)) + 100
        q2 = np.int64(np.rint(z * 100.0)) + 100
        keys[i] = (q0 * 201 + q1) * 201 + q2
    # Cells numbered in key order (np.unique), their areas summed in face order (np.bincount).
    by_key = np.argsort(keys, kind="mergesort")
    cell = np.empty(nf, dtype=np.int64)
    n_cells = 0
    for j in range(nf):
        i = by_key[j]
        if j == 0 or keys[i] != keys[by_key[j - 1]]:
            n_cells += 1
        cell[i] = n_cells - 1
    cell_area = np.zeros(n_cells)
    for i in range(nf):
        cell_area[cell[i]] += areas[i]
    total = 0.0
    for g in range(n_cells):
        total += cell_area[g]
    # The _CANDIDATES largest cells, equal areas in key order (np.argsort(-area, "stable")).
    top = np.empty(_CANDIDATES, dtype=np.int64)
    n_top = 0
    for g in range(n_cells):
        if n_top == _CANDIDATES and cell_area[g] <= cell_area[top[n_top - 1]]:
            continue
        j = min(n_top, _CANDIDATES - 1)
        while j > 0 and cell_area[top[j - 1]] < cell_area[g]:
            top[j] = top[j - 1]
            j -= 1
        top[j] = g
        n_top = min(n_top + 1, _CANDIDATES)
    n_major = 0
    for j in range(n_top):
        if cell_area[top[j]] >= _MAJOR_SHARE * total:
            n_major += 1
    n_major = max(n_major, 1)
    dirs = np.zeros((n_major, 3))
    for j in range(n_major):
        g = top[j]
        # Area-weighted mean direction of the cell.
        sx, sy, sz = 0.0, 0.0, 0.0
        for i in range(nf):
            if cell[i] == g:
                sx += folded[i, 0] * areas[i]
                sy += folded[i, 1] * areas[i]
                sz += folded[i, 2] * areas[i]
        norm = max(np.sqrt(sx * sx + sy * sy + sz * sz), 1e-300)
        dirs[j, 0], dirs[j, 1], dirs[j, 2] = sx / norm, sy / norm, sz / norm
    return dirs


def _best_rotation(pts: FloatArray, directions: FloatArray) -> tuple[FloatArray, float] | None:
    """Rotation (rows = axes) and volume of the smallest box with a side across a direction."""
    best: tuple[FloatArray, float] | None = None
    for n in directions:
        nx, ny, nz = float(n[0]), float(n[1]), float(n[2])
        # u = n x helper, v = n x u.
        hx, hy, hz = (1.0, 0.0, 0.0) if abs(nx) < 0.9 else (0.0, 1.0, 0.0)
        ux, uy, uz = ny * hz - nz * hy, nz * hx - nx * hz, nx * hy - ny * hx
        norm = math.sqrt(ux * ux + uy * uy + uz * uz)
        ux, uy, uz = ux / norm, uy / norm, uz / norm
        vx, vy, vz = ny * uz - nz * uy, nz * ux - nx * uz, nx * uy - ny * ux
        flat, height = _project(pts, ux, uy, uz, vx, vy, vz, nx, ny, nz)
        rect = _min_area_rectangle(flat)
        if rect is None:
            continue
        angle, area = rect
        vol = area * height
        if best is None or vol < best[1]:
            c, s = np.cos(angle), np.sin(angle)
            u, v = np.array([ux, uy, uz]), np.array([vx, vy, vz])
            best = (np.array([c * u + s * v, -s * u + c * v, n]), vol)
    return best


@njit(cache=True, nogil=True)
def _project(
    pts: FloatArray,
    ux: float,
    uy: float,
    uz: float,
    vx: float,
    vy: float,
    vz: float,
    nx: float,
    ny: float,
    nz: float,
) -> tuple[FloatArray, float]:
    """The points' (H, 2) coordinates on (u, v) and their extent along n (``pts @ u`` ...)."""
    flat = np.empty((len(pts), 2))
    lo, hi = np.inf, -np.inf
    for i in range(len(pts)):
        x, y, z = pts[i, 0], pts[i, 1], pts[i, 2]
        flat[i, 0] = x * ux + y * uy + z * uz
        flat[i, 1] = x * vx + y * vy + z * vz
        h = x * nx + y * ny + z * nz
        lo, hi = min(lo, h), max(hi, h)
    return flat, hi - lo


def _min_area_rectangle(flat: FloatArray) -> tuple[float, float] | None:
    """(angle, area) of the minimum-area rectangle of 2D points; a side is on a hull edge."""
    try:
        h2 = ConvexHull(flat)
    except (QhullError, ValueError):
        return None
    ring, edges = _hull_edges(flat, h2.vertices.astype(np.int64))
    angles = np.arctan2(edges[:, 1], edges[:, 0])
    i, area = _smallest_rectangle(ring, np.cos(angles), np.sin(angles))
    return float(angles[i]), area


@njit(cache=True, nogil=True)
def _hull_edges(flat: FloatArray, hull: np.ndarray) -> tuple[FloatArray, FloatArray]:
    """The (H, 2) hull ring and its (E, 2) edge vectors of non-zero length, in ring order."""
    h = len(hull)
    ring = np.empty((h, 2))
    for i in range(h):
        ring[i, 0], ring[i, 1] = flat[hull[i], 0], flat[hull[i], 1]
    edges = np.empty((h, 2))
    n = 0
    for i in range(h):
        j = i + 1 if i + 1 < h else 0
        ex, ey = ring[j, 0] - ring[i, 0], ring[j, 1] - ring[i, 1]
        if np.sqrt(ex * ex + ey * ey) > 0:
            edges[n, 0], edges[n, 1] = ex, ey
            n += 1
    return ring, edges[:n]


@njit(cache=True, nogil=True)
def _smallest_rectangle(ring: FloatArray, c: FloatArray, s: FloatArray) -> tuple[int, float]:
    """Index and area of the smallest rectangle with a side along one of the edge directions
    (cos, sin) around the (H, 2) ring (the first on ties, as np.argmin)."""
    best_i, best_area = 0, np.inf
    for e in range(len(c)):
        x_lo, x_hi, y_lo, y_hi = np.inf, -np.inf, np.inf, -np.inf
        for i in range(len(ring)):
            # ring @ [[c], [s]] and ring @ [[-s], [c]]: numpy's gemm, one fused chain each.
            x = ring[i, 1] * s[e] + ring[i, 0] * c[e]
            y = ring[i, 1] * c[e] - ring[i, 0] * s[e]
            x_lo, x_hi = min(x_lo, x), max(x_hi, x)
            y_lo, y_hi = min(y_lo, y), max(y_hi, y)
        area = (x_hi - x_lo) * (y_hi - y_lo)
        if area < best_area or e == 0:
            best_i, best_area = e, area
    return best_i, best_area
