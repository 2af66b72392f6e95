"""The arrays every feature module reads, computed once per body, and the shared ray queries.

Feature extraction must cost a small multiple of parsing the file, so the normals, areas,
adjacency and the ray-casting acceleration structure are derived here once and handed to each
concern (holes, walls, setups, ...) instead of each of them asking trimesh again (every trimesh
cached property re-hashes the mesh on access).

On meshes of a few thousand triangles numpy's per-call overhead (1-3 us a call, dozens of calls)
costs more than the arithmetic, so the per-triangle and per-edge arrays come out of a few
compiled passes (numba). They are plain loops, so their results do not depend on the BLAS
build (only numpy's own vectorised calls may differ by an ulp between machines). Ray queries go
to Embree 4 (the library the ``embreex`` wheel ships) directly: the scene is handed our arrays
through Embree's C API and the rays are cast from a compiled loop.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import threading
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from numba import njit, types

FloatArray = np.ndarray
IntArray = np.ndarray


def cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise cross product of (n, 3) arrays (or a (3,) with an (n, 3)).

    ``np.cross`` spends ~40 us per call on axis bookkeeping; it is called a dozen times per
    part on small arrays, which adds up next to a 2 ms file parse.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack((ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx), axis=-1)


def row_norm(a: FloatArray) -> FloatArray:
    """(n,) Euclidean norms of the rows of an (n, 3) array.

    ``np.linalg.norm(a, axis=1)`` at a third of the cost: numpy reductions along a length-3
    axis are slow.
    """
    x, y, z = a[:, 0], a[:, 1], a[:, 2]
    return np.sqrt(x * x + y * y + z * z)


def canonical_axes(axes: FloatArray) -> FloatArray:
    """Flip each (n, 3) unit vector so its largest component is positive."""
    axes = np.asarray(axes, dtype=np.float64).reshape(-1, 3)
    x, y, z = axes[:, 0], axes[:, 1], axes[:, 2]
    ax, ay, az = np.abs(x), np.abs(y), np.abs(z)
    # The first largest component, as np.argmax would pick it (column-wise: argmax along a
    # length-3 axis is slow).
    largest = np.where((ax >= ay) & (ax >= az), x, np.where(ay >= az, y, z))
    sign = np.where(largest < 0, -1.0, 1.0)
    return axes * sign[:, None]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D array (``np.unique`` without its slow hash path)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


@dataclass
class MeshData:
    """A closed triangle mesh in mm with the derived arrays the features need.

    Attributes
    ----------
    vertices : (V, 3) float
        Vertex positions, mm.
    faces : (F, 3) int
        Triangle vertex indices.
    normals : (F, 3) float
        Outward unit normals.
    areas : (F,) float
        Triangle areas, mm^2.
    centroids : (F, 3) float
        Triangle centroids, mm.
    adjacency : (E, 2) int
        Pairs of triangles sharing an edge.
    adjacency_edges : (E, 2) int
        The vertex indices of the shared edge of each pair.
    adjacency_angles : (E,) float
        Angle between the two normals, radians (0 = coplanar).
    adjacency_convex : (E,) bool
        True where the shared edge is convex (an outside edge), False where concave.
    scale : float
        Diagonal of the axis-aligned box, mm: the length tolerances are relative to.
    triangles : (F, 3, 3) float
        Vertex positions of each triangle, mm.
    cache : dict
        Further derived arrays that several feature modules share, by name (filled on first
        use by the module that defines them).
    """

    vertices: FloatArray
    faces: IntArray
    normals: FloatArray
    areas: FloatArray
    centroids: FloatArray
    adjacency: IntArray
    adjacency_edges: IntArray
    adjacency_angles: FloatArray
    adjacency_convex: np.ndarray
    scale: float
    triangles: FloatArray = field(repr=False)
    mesh: trimesh.Trimesh = field(repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_trimesh(
        cls, mesh: trimesh.Trimesh, *, adjacency: tuple[IntArray, IntArray] | None = None
    ) -> MeshData:
        """Read the arrays of ``mesh`` once (closed, outward normals, mm).

        Parameters
        ----------
        mesh : trimesh.Trimesh
            The body's mesh.
        adjacency : ((E, 2) int, (E, 2) int), optional
            ``face_adjacency(mesh.faces, len(mesh.vertices))`` when the caller has it already
            (the loader computes it while checking the mesh; ``Body.face_adjacency``).
        """
        vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
        faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
        tri, normals, dbl_area, centroids, lo, hi = _triangle_arrays(vertices, faces)
        if adjacency is None:
            adjacency = face_adjacency(faces, len(vertices))
        pairs, edges = adjacency
        cos, convex = _adjacency_arrays(vertices, faces, normals, pairs, edges)
        return cls(
            vertices=vertices,
            faces=faces,
            normals=normals,
            areas=dbl_area / 2.0,
            centroids=centroids,
            adjacency=pairs,
            adjacency_edges=edges,
            adjacency_angles=np.arccos(np.clip(cos, -1.0, 1.0)),
            adjacency_convex=convex,
            scale=float(np.linalg.norm(hi - lo)),
            triangles=tri,
            mesh=mesh,
        )

    @cached_property
    def total_area(self) -> float:
        """Surface area, mm^2."""
        return float(self.areas.sum())

    @cached_property
    def volume(self) -> float:
        """Enclosed volume, mm^3 (divergence theorem over the triangles; outward normals)."""
        return signed_volume(self.vertices, self.faces)

    @cached_property
    def _ray_scene(self) -> Any:
        """A callable ``(origins, unit_directions) -> (n,) first triangle index or -1``.

        Embree when the ``embreex`` wheel (and so its Embree library) is installed (a few
        hundred ns per ray), else trimesh's pure numpy intersector. The Embree scene is built
        the way trimesh's wrapper builds it (the mesh shifted to its box corner and scaled to a
        diagonal of 100, in float32, for precision at any size), so the same rays hit the same
        triangles, without its per-call copies and without trimesh's cache hashing.
        """
        if _embree() is not None:
            return _EmbreeScene(self.vertices, self.faces)
        from trimesh.ray.ray_triangle import RayMeshIntersector as Slow

        slow = Slow(self.mesh)
        return lambda o, d: slow.intersects_first(o, np.broadcast_to(d, o.shape))

    def first_hit(self, origins: FloatArray, directions: FloatArray) -> tuple[IntArray, FloatArray]:
        """First triangle each ray hits and the distance to it.

        Parameters
        ----------
        origins : (n, 3) float
            Ray origins, mm.
        directions : (n, 3) or (1, 3) float
            Unit directions (one row: the same for every ray).

        Returns
        -------
        tri : (n,) int
            Index of the triangle hit, -1 for a miss.
        dist : (n,) float
            Distance along the ray to the hit, mm (inf for a miss).
        """
        if len(origins) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        tri = np.asarray(self._ray_scene(origins, directions), dtype=np.int64)
        dist = np.full(len(origins), np.inf)
        hit = np.flatnonzero(tri >= 0)
        if len(hit):
            # The plane of the hit triangle gives the distance in float64 (embree runs in float32).
            t = tri[hit]
            n = self.normals[t]
            d = directions[hit] if len(directions) > 1 else np.broadcast_to(directions, n.shape)
            denom = np.einsum("ij,ij->i", n, d)
            num = np.einsum("ij,ij->i", n, self.triangles[t, 0] - origins[hit])
            safe = np.abs(denom) > 1e-12
            dist[hit] = np.where(safe, num / np.where(safe, denom, 1.0), 0.0).clip(min=0.0)
        return tri, dist

    def any_hit(self, origins: FloatArray, directions: FloatArray) -> np.ndarray:
        """(n,) bool: whether each ray (origins mm, unit directions) hits the surface."""
        if len(origins) == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(self._ray_scene(origins, directions)) >= 0


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


@njit(cache=True, nogil=True)
def _triangle_arrays(
    vertices: FloatArray, faces: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Corners (F, 3, 3), unit normals (F, 3), doubled areas (F,), centroids (F, 3) and the
    box corners lo, hi (3,) of all vertices, with the bits of ``MeshData``'s numpy original
    (``cross``, ``row_norm``, ``(v0 + v1 + v2) / 3``)."""
    nf = faces.shape[0]
    tri = np.empty((nf, 3, 3))
    normals = np.empty((nf, 3))
    dbl_area = np.empty(nf)
    centroids = np.empty((nf, 3))
    for f in range(nf):
        for c in range(3):
            v = faces[f, c]
            for d in range(3):
                tri[f, c, d] = vertices[v, d]
        ax = tri[f, 1, 0] - tri[f, 0, 0]
        ay = tri[f, 1, 1] - tri[f, 0, 1]
        az = tri[f, 1, 2] - tri[f, 0, 2]
        bx = tri[f, 2, 0] - tri[f, 0, 0]
        by = tri[f, 2, 1] - tri[f, 0, 1]
        bz = tri[f, 2, 2] - tri[f, 0, 2]
        cx = ay * bz - az * by
        cy = az * bx - ax * bz
        cz = ax * by - ay * bx
        d2 = np.sqrt(cx * cx + cy * cy + cz * cz)
        dbl_area[f] = d2
        div = d2 if d2 > 0 else 1.0
        normals[f, 0] = cx / div
        normals[f, 1] = cy / div
        normals[f, 2] = cz / div
        for d in range(3):
            centroids[f, d] = (tri[f, 0, d] + tri[f, 1, d] + tri[f, 2, d]) / 3.0
    lo, hi = _vertex_box(vertices)
    return tri, normals, dbl_area, centroids, lo, hi


@njit(cache=True, nogil=True)
def _adjacency_arrays(
    vertices: FloatArray,
    faces: IntArray,
    normals: FloatArray,
    adjacency: IntArray,
    edges: IntArray,
) -> tuple[FloatArray, np.ndarray]:
    """Per shared edge: cosine between the two normals, and whether the edge is convex.

    Convex where the far vertex of the second triangle lies on or below the first one's plane
    (the vertex not on the shared edge; a degenerate triangle gives one of the edge's own
    vertices). Dot products in ``np.einsum``'s order, as before.
    """
    ne = adjacency.shape[0]
    cos = np.empty(ne)
    convex = np.empty(ne, dtype=np.bool_)
    for e in range(ne):
        a, b = adjacency[e, 0], adjacency[e, 1]
        cos[e] = (
            normals[a, 0] * normals[b, 0]
            + normals[a, 1] * normals[b, 1]
            + normals[a, 2] * normals[b, 2]
        )
        far = faces[b, 0] + faces[b, 1] + faces[b, 2] - edges[e, 0] - edges[e, 1]
        p = edges[e, 0]
        height = (
            (vertices[far, 0] - vertices[p, 0]) * normals[a, 0]
            + (vertices[far, 1] - vertices[p, 1]) * normals[a, 1]
            + (vertices[far, 2] - vertices[p, 2]) * normals[a, 2]
        )
        convex[e] = height <= 0.0
    return cos, convex


def vertex_box(vertices: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Corners lo, hi (3,) of the axis-aligned box of (n, 3) points, n >= 1.

    The same values as ``vertices.min(axis=0)``, ``vertices.max(axis=0)`` (for finite
    points): numpy's reductions along the long axis of an (n, 3) array cost ~25 us at
    n = 600, the compiled loop ~1 us.
    """
    return _vertex_box(np.ascontiguousarray(vertices, dtype=np.float64))


@njit(cache=True, nogil=True)
def _vertex_box(vertices: FloatArray) -> tuple[FloatArray, FloatArray]:
    """See ``vertex_box``; NaN for no points."""
    if vertices.shape[0] == 0:
        return np.full(3, np.nan), np.full(3, np.nan)
    lx = hx = vertices[0, 0]
    ly = hy = vertices[0, 1]
    lz = hz = vertices[0, 2]
    for v in range(1, vertices.shape[0]):
        x, y, z = vertices[v, 0], vertices[v, 1], vertices[v, 2]
        lx, hx = min(lx, x), max(hx, x)
        ly, hy = min(ly, y), max(hy, y)
        lz, hz = min(lz, z), max(hz, z)
    return np.array([lx, ly, lz]), np.array([hx, hy, hz])


@njit(cache=True, nogil=True)
def used_box(vertices: FloatArray, faces: IntArray) -> tuple[FloatArray, FloatArray]:
    """Corners lo, hi (3,) of the box of the vertices the triangles use (zeros for none)."""
    if faces.shape[0] == 0:
        return np.zeros(3), np.zeros(3)
    v = faces[0, 0]
    lx = hx = vertices[v, 0]
    ly = hy = vertices[v, 1]
    lz = hz = vertices[v, 2]
    for f in range(faces.shape[0]):
        for c in range(3):
            v = faces[f, c]
            x, y, z = vertices[v, 0], vertices[v, 1], vertices[v, 2]
            lx, hx = min(lx, x), max(hx, x)
            ly, hy = min(ly, y), max(hy, y)
            lz, hz = min(lz, z), max(hz, z)
    return np.array([lx, ly, lz]), np.array([hx, hy, hz])


def signed_volume(vertices: FloatArray, faces: IntArray) -> float:
    """Signed volume enclosed by a closed mesh, mm^3 (positive when normals point outward).

    The divergence theorem over the triangles, ``sum(v0 . (v1 x v2)) / 6``; the terms are
    rounded as ``np.einsum`` rounds them and summed by numpy (pairwise), as before.
    """
    if len(faces) == 0:
        return 0.0
    terms = _volume_terms(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
    )
    return float(terms.sum() / 6.0)


@njit(cache=True, nogil=True)
def _volume_terms(vertices: FloatArray, faces: IntArray) -> FloatArray:
    """(F,) ``v0 . (v1 x v2)`` per triangle, as
    ``np.einsum("ij,ij->i", v0, cross(v1, v2))`` rounds it."""
    out = np.empty(faces.shape[0])
    for f in range(faces.shape[0]):
        p, q, r = faces[f, 0], faces[f, 1], faces[f, 2]
        ax, ay, az = vertices[q, 0], vertices[q, 1], vertices[q, 2]
        bx, by, bz = vertices[r, 0], vertices[r, 1], vertices[r, 2]
        out[f] = (
            vertices[p, 0] * (ay * bz - az * by)
            + vertices[p, 1] * (az * bx - ax * bz)
            + vertices[p, 2] * (ax * by - ay * bx)
        )
    return out


# --------------------------------------------------------------------------- Embree

# Embree 4 C API constants (rtcore_common.h, rtcore_buffer.h, rtcore_geometry.h,
# rtcore_scene.h, rtcore_device.h).
_RTC_GEOMETRY_TYPE_TRIANGLE = 0
_RTC_BUFFER_TYPE_INDEX = 0
_RTC_BUFFER_TYPE_VERTEX = 1
_RTC_FORMAT_UINT3 = 0x5003
_RTC_FORMAT_FLOAT3 = 0x9003
# embreex builds its scenes robust (watertight, no culling of hits at the ray origin); a ray
# from a point on the surface finds the triangle under it only so.
_RTC_SCENE_FLAG_ROBUST = 1 << 2
_RTC_DEVICE_PROPERTY_VERSION_MAJOR = 1
_RTC_INVALID_GEOMETRY_ID = np.uint32(0xFFFFFFFF)
# embreex's rays reach this far (the scene is scaled to a diagonal of 100).
_RAY_TFAR = np.float32(1e37)


class _Embree:
    """The Embree 4 library of the ``embreex`` wheel, opened through ctypes, and one device."""

    def __init__(self, path: Path) -> None:
        import llvmlite.binding

        lib = ctypes.CDLL(str(path))
        vp, uint, size = ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t
        for name, restype, argtypes in (
            ("rtcNewDevice", vp, [ctypes.c_char_p]),
            ("rtcGetDeviceProperty", ctypes.c_ssize_t, [vp, ctypes.c_int]),
            ("rtcGetDeviceError", ctypes.c_int, [vp]),
            ("rtcNewScene", vp, [vp]),
            ("rtcSetSceneFlags", None, [vp, ctypes.c_int]),
            ("rtcNewGeometry", vp, [vp, ctypes.c_int]),
            (
                "rtcSetSharedGeometryBuffer",
                None,
                [vp, ctypes.c_int, uint, ctypes.c_int, vp, size, size, size],
            ),
            ("rtcCommitGeometry", None, [vp]),
            ("rtcAttachGeometry", uint, [vp, vp]),
            ("rtcReleaseGeometry", None, [vp]),
            ("rtcCommitScene", None, [vp]),
            ("rtcReleaseScene", None, [vp]),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        self.lib = lib
        self.device = lib.rtcNewDevice(None)
        if not self.device:
            raise OSError(f"Embree ({path.name}) could not create a device")
        major = lib.rtcGetDeviceProperty(self.device, _RTC_DEVICE_PROPERTY_VERSION_MAJOR)
        if major != 4:
            raise OSError(f"{path.name} is Embree {major}, not Embree 4")
        # The compiled ray loop (``_cast_rays``) links ``rtcIntersect1`` by name.
        llvmlite.binding.load_library_permanently(str(path))


_LOG = logging.getLogger(__name__)
_EMBREE_LOCK = threading.Lock()
_EMBREE: list[_Embree | None] = []


def _embree() -> _Embree | None:
    """The Embree library that ``embreex`` ships (opened once), or None without embreex (or
    when it cannot be opened: the rays then take trimesh's slower numpy intersector)."""
    if not _EMBREE:
        with _EMBREE_LOCK:
            if not _EMBREE:
                path = _embree_library_path()
                embree = None
                if path is not None:
                    try:
                        embree = _Embree(path)
                    except OSError as exc:
                        _LOG.warning("Embree unusable, ray casting falls back to numpy: %s", exc)
                _EMBREE.append(embree)
    return _EMBREE[0]


def _embree_library_path() -> Path | None:
    """The Embree 4 shared library inside the ``embreex`` installation, or None."""
    spec = importlib.util.find_spec("embreex")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    # Where the wheel tools put bundled libraries: auditwheel and delvewheel (embreex.libs
    # beside the package), delocate (.dylibs inside it), or the package folder itself.
    for folder in (package.parent / "embreex.libs", package / ".dylibs", package):
        found = sorted(folder.glob("*embree4*"))
        if found:
            return found[0]
    return None


class _EmbreeScene:
    """One Embree scene over a mesh, queried for the first triangle each ray hits.

    Built like trimesh's ``ray_pyembree._EmbreeWrap`` over embreex (the same shift, scale,
    float32 rounding and robust scene, so the same rays hit the same triangles), but through
    Embree's C API: embreex copies the arrays into Embree element by element through Python
    indexing (~0.3 ms for 1.3k triangles), while here Embree reads our arrays where they are.
    The scene is committed (its BVH built) on construction.
    """

    def __init__(self, vertices: FloatArray, faces: IntArray) -> None:
        embree = _embree()
        if embree is None:
            raise RuntimeError("Embree is not installed (pip install embreex)")
        lib, device = embree.lib, embree.device
        vertices = np.ascontiguousarray(vertices, dtype=np.float64)
        faces = np.ascontiguousarray(faces, dtype=np.int64)
        origin, squared_diagonal = _scene_frame(vertices, faces)
        # trimesh's ``scale``: the box diagonal of the referenced vertices (1.0 when
        # degenerate), rounded as ``(np.ptp(used, axis=0) ** 2).sum() ** 0.5`` rounds it.
        diagonal = float(np.float64(squared_diagonal) ** 0.5)
        self.scale = 100.0 / (diagonal if diagonal >= trimesh.tol.zero else 1.0)
        self.origin = origin
        points, corners = _scene_arrays(vertices, faces, origin, self.scale)
        scene = lib.rtcNewScene(device)
        lib.rtcSetSceneFlags(scene, _RTC_SCENE_FLAG_ROBUST)
        geometry = lib.rtcNewGeometry(device, _RTC_GEOMETRY_TYPE_TRIANGLE)
        lib.rtcSetSharedGeometryBuffer(
            geometry,
            _RTC_BUFFER_TYPE_VERTEX,
            0,
            _RTC_FORMAT_FLOAT3,
            points.ctypes.data,
            0,
            16,
            len(points),
        )
        lib.rtcSetSharedGeometryBuffer(
            geometry,
            _RTC_BUFFER_TYPE_INDEX,
            0,
            _RTC_FORMAT_UINT3,
            corners.ctypes.data,
            0,
            12,
            len(corners),
        )
        lib.rtcCommitGeometry(geometry)
        lib.rtcAttachGeometry(scene, geometry)
        lib.rtcReleaseGeometry(geometry)
        lib.rtcCommitScene(scene)
        error = lib.rtcGetDeviceError(device)
        # The scene reads the arrays in place: they live until it is released.
        self._release = weakref.finalize(self, _release_scene, lib, scene, (points, corners))
        self._release.atexit = False
        if error:
            raise RuntimeError(f"Embree could not build the scene (error {error})")
        self.scene: int = scene

    def __call__(self, origins: FloatArray, directions: FloatArray) -> IntArray:
        origins = np.ascontiguousarray(origins, dtype=np.float64).reshape(-1, 3)
        directions = np.ascontiguousarray(directions, dtype=np.float64).reshape(-1, 3)
        if len(directions) not in (1, len(origins)):
            raise ValueError(f"{len(directions)} directions for {len(origins)} rays")
        return _cast_rays(self.scene, origins, directions, self.origin, self.scale)


@njit(cache=True, nogil=True)
def _scene_frame(vertices: FloatArray, faces: IntArray) -> tuple[FloatArray, float]:
    """The corner (3,) of the box of all vertices, and the squared diagonal of the box of the
    vertices the triangles use (0 for none), summed like numpy's ``(ptp ** 2).sum()``."""
    origin, _ = _vertex_box(vertices)
    if faces.shape[0] == 0:
        return origin, 0.0
    lo, hi = used_box(vertices, faces)
    dx, dy, dz = hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]
    return origin, (dx * dx + dy * dy) + dz * dz


@njit(cache=True, nogil=True)
def _scene_arrays(
    vertices: FloatArray, faces: IntArray, origin: FloatArray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Embree's vertex buffer ((V, 4) float32: the vertices shifted by ``origin`` and scaled,
    then rounded, and a zero pad) and index buffer ((F, 3) uint32).

    Embree loads a vertex as 16 bytes; with the pad no load reaches past the array's end.
    """
    points = np.zeros((vertices.shape[0], 4), dtype=np.float32)
    for v in range(vertices.shape[0]):
        for d in range(3):
            points[v, d] = np.float32((vertices[v, d] - origin[d]) * scale)
    corners = np.empty((faces.shape[0], 3), dtype=np.uint32)
    for f in range(faces.shape[0]):
        for c in range(3):
            corners[f, c] = np.uint32(faces[f, c])
    return points, corners


def _release_scene(lib: ctypes.CDLL, scene: int, buffers: tuple[np.ndarray, ...]) -> None:
    """Release an Embree scene; ``buffers`` (the arrays it read in place) die after it."""
    lib.rtcReleaseScene(scene)


# ``void rtcIntersect1(RTCScene, RTCRayHit*, RTCIntersectArguments*)``, pointers as integers
# (resolved in the library loaded by ``_Embree``).
_rtc_intersect1 = types.ExternalFunction(
    "rtcIntersect1", types.void(types.uintp, types.uintp, types.uintp)
)


@njit(cache=True, nogil=True)
def _cast_rays(
    scene: int, origins: FloatArray, directions: FloatArray, shift: FloatArray, scale: float
) -> IntArray:
    """(n,) int: first triangle hit by each ray, -1 for a miss.

    Rays are shifted and scaled into the scene's frame and rounded to float32 as embreex's
    caller (trimesh) does, and set up as embreex sets them (t from 0 to 1e37, every mask bit).
    ``directions`` is (n, 3), or (1, 3) for one direction for all.
    """
    n = origins.shape[0]
    out = np.empty(n, dtype=np.int64)
    # One RTCRayHit (ray: org, tnear, dir, time, tfar, mask, id, flags; hit: Ng, u, v,
    # primID, geomID, instID...: 96 bytes, 16-byte aligned) in a 4-byte-word buffer.
    words = np.zeros(40, dtype=np.float32)
    address = words.ctypes.data
    skip = ((16 - address % 16) % 16) // 4
    ray = words[skip : skip + 32]
    bits = ray.view(np.uint32)
    pointer = address + 4 * skip
    step = 1 if directions.shape[0] > 1 else 0
    for i in range(n):
        j = i * step
        for d in range(3):
            ray[d] = np.float32((origins[i, d] - shift[d]) * scale)
            ray[4 + d] = np.float32(directions[j, d])
        ray[3] = 0.0  # tnear
        ray[7] = 0.0  # time
        ray[8] = _RAY_TFAR
        bits[9] = _RTC_INVALID_GEOMETRY_ID  # mask: every bit
        bits[10] = 0  # id
        bits[11] = 0  # flags
        bits[17] = _RTC_INVALID_GEOMETRY_ID  # primID
        bits[18] = _RTC_INVALID_GEOMETRY_ID  # geomID
        bits[19] = _RTC_INVALID_GEOMETRY_ID  # instID
        # numba types the external C function; mypy sees only numba's Type object.
        _rtc_intersect1(scene, pointer, 0)  # type: ignore[call-overload]
        out[i] = -1 if bits[18] == _RTC_INVALID_GEOMETRY_ID else np.int64(bits[17])
    return out


def sample_surface(
    md: MeshData, count: int, *, seed: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """Deterministic area-weighted random points on the surface.

    Parameters
    ----------
    md : MeshData
    count : int
        Number of points.
    seed : int
        Seed of the generator, so the same part always gives the same features.

    Returns
    -------
    points : (count, 3) float
        Points on the surface, mm.
    normals : (count, 3) float
        Outward normal of the triangle under each point.
    weights : (count,) float
        Surface area each point stands for, mm^2 (they sum to the total area).
    tri : (count,) int
        Triangle index of each point.
    """
    rng = np.random.default_rng(seed)
    total = md.total_area
    cdf = np.cumsum(md.areas)
    tri = np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right")
    tri = np.minimum(tri, len(md.faces) - 1)
    r1 = np.sqrt(rng.random(count))
    r2 = rng.random(count)
    corners = md.triangles[tri]
    points = (
        (1.0 - r1)[:, None] * corners[:, 0]
        + (r1 * (1.0 - r2))[:, None] * corners[:, 1]
        + (r1 * r2)[:, None] * corners[:, 2]
    )
    weights = np.full(count, total / max(count, 1))
    return points, md.normals[tri], weights, tri
