"""The arrays every feature module reads, computed once per body, and the shared ray queries.

Feature extraction must cost a small multiple of parsing the file, so the normals, areas,
adjacency and the ray-casting acceleration structure are derived here once and handed to each
concern (holes, walls, setups, ...) instead of each of them asking trimesh again (every trimesh
cached property re-hashes the mesh on access).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import trimesh

FloatArray = np.ndarray
IntArray = np.ndarray

# Graphs up to this many nodes are labelled by numpy union-find, larger ones by scipy; a graph
# that has not settled after this many rounds goes to scipy as well.
_UNION_FIND_MAX_NODES = 20_000
_UNION_FIND_MAX_ROUNDS = 12


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

    The same bits as ``np.linalg.norm(a, axis=1)`` (the squares are summed in the same
    order) at a third of the cost: numpy reductions along a length-3 axis are slow.
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


def connected_labels(n: int, a: IntArray, b: IntArray) -> tuple[int, IntArray]:
    """Connected components of the graph on nodes 0..n-1 with edges (a[i], b[i]).

    The same labels as scipy's ``connected_components(..., directed=False)`` (components
    numbered by their smallest node), by union-find with pointer jumping in numpy: on the
    small graphs of one part (a few thousand edges) scipy's sparse-matrix checks cost more
    than the search itself. Every round joins each root to the smallest root it shares an
    edge with; mesh graphs need 2-5 rounds, and large or stubborn graphs go to scipy.

    Returns
    -------
    count : int
        Number of components.
    labels : (n,) int
        Component of each node.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if n > _UNION_FIND_MAX_NODES:
        return _scipy_components(n, a, b)
    parent = np.arange(n)
    live_a, live_b = a, b
    for _ in range(_UNION_FIND_MAX_ROUNDS):
        ra, rb = parent[live_a], parent[live_b]
        differ = ra != rb
        if not differ.any():
            return _root_labels(parent)
        live_a, live_b, ra, rb = live_a[differ], live_b[differ], ra[differ], rb[differ]
        # Roots only ever point to smaller nodes, so there are no cycles and each final root
        # is the smallest node of its component.
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return _scipy_components(n, a, b)


def _root_labels(parent: IntArray) -> tuple[int, IntArray]:
    root = parent == np.arange(len(parent))
    label_of = np.cumsum(root) - 1
    return int(root.sum()), label_of[parent]


def _scipy_components(n: int, a: IntArray, b: IntArray) -> tuple[int, IntArray]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    k, labels = connected_components(graph, directed=False)
    return int(k), labels


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
    def from_trimesh(cls, mesh: trimesh.Trimesh) -> MeshData:
        """Read the arrays of ``mesh`` once (closed, outward normals, mm)."""
        vertices = np.asarray(mesh.vertices, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64)
        tri = vertices[faces]
        v0, v1, v2 = tri[:, 0], tri[:, 1], tri[:, 2]
        cross_ = cross(v1 - v0, v2 - v0)
        dbl_area = row_norm(cross_)
        normals = cross_ / np.where(dbl_area > 0, dbl_area, 1.0)[:, None]
        adjacency, edges = face_adjacency(faces, len(vertices))
        cos = np.einsum("ij,ij->i", normals[adjacency[:, 0]], normals[adjacency[:, 1]])
        angles = np.arccos(np.clip(cos, -1.0, 1.0))
        convex = _convex_edges(vertices, faces, normals, adjacency, edges)
        lo, hi = vertices.min(axis=0), vertices.max(axis=0)
        return cls(
            vertices=vertices,
            faces=faces,
            normals=normals,
            areas=dbl_area / 2.0,
            centroids=(v0 + v1 + v2) / 3.0,
            adjacency=adjacency,
            adjacency_edges=edges,
            adjacency_angles=angles,
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
        tri = self.triangles
        return float(np.einsum("ij,ij->i", tri[:, 0], cross(tri[:, 1], tri[:, 2])).sum() / 6.0)

    @cached_property
    def _ray_scene(self) -> Any:
        """A callable ``(origins, unit_directions) -> (n,) first triangle index or -1``.

        embree when installed (a few hundred ns per ray), else trimesh's pure numpy
        intersector. The embree scene is built the way trimesh's wrapper builds it (the mesh
        shifted to its box corner and scaled to a diagonal of 100, in float32, for precision
        at any size), but without its per-call copies and without trimesh's cache hashing.
        """
        if trimesh.ray.has_embree:
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
    then smaller vertex index; each pair sorted), from one argsort of packed edge keys instead
    of trimesh's row hashing and cache bookkeeping.

    Parameters
    ----------
    faces : (F, 3) int
        Triangle vertex indices.
    n_vertices : int
        Number of vertices (to pack an edge into one int64 key).

    Returns
    -------
    adjacency : (E, 2) int
        Triangle pairs, smaller index first.
    edges : (E, 2) int
        The shared edge of each pair, smaller vertex index first.
    """
    nf = len(faces)
    # Edge-major: directed edge k runs from corner k // F to the next corner of triangle k % F.
    start_v = faces.T.reshape(-1)
    end_v = faces[:, [1, 2, 0]].T.reshape(-1)
    lo = np.minimum(start_v, end_v)
    hi = np.maximum(start_v, end_v)
    key = hi * np.int64(max(n_vertices, 1)) + lo
    order = np.argsort(key)
    ordered = key[order]
    new_run = np.empty(len(ordered) + 1, dtype=bool)
    new_run[0] = new_run[-1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_run[1:-1])
    bounds = np.flatnonzero(new_run)
    first = bounds[:-1][np.diff(bounds) == 2]
    a, b = order[first], order[first + 1]
    fa, fb = a % nf, b % nf
    keep = fa != fb
    fa, fb, a = fa[keep], fb[keep], a[keep]
    adjacency = np.column_stack((np.minimum(fa, fb), np.maximum(fa, fb)))
    return adjacency, np.column_stack((lo[a], hi[a]))


_THREAD = threading.local()


def _embree_device() -> Any:
    """This thread's embree device, created once: a new device per scene costs ~0.1 ms, and
    embree objects are not shared between threads."""
    device = getattr(_THREAD, "embree_device", None)
    if device is None:
        from embreex import rtcore

        device = _THREAD.embree_device = rtcore.EmbreeDevice()
    return device


class _EmbreeScene:
    """One embree scene over a mesh, queried for the first triangle each ray hits.

    Built like trimesh's ``ray_pyembree._EmbreeWrap`` (same shift, scale and float32 rounding,
    so the same rays hit the same triangles), minus its overheads. embreex copies the arrays
    into embree element by element through Python indexing (``indices[i][0]``,
    ``vertices[i, 0]``), which costs ~0.5 us per triangle from numeric arrays: handed an object
    array of Python floats and a 1-D object array of index tuples instead, each step is a plain
    Python lookup, and the copy takes half the time (0.35 instead of 0.65 ms for 1.3k
    triangles).
    """

    def __init__(self, vertices: FloatArray, faces: IntArray) -> None:
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh

        referenced = np.zeros(len(vertices), dtype=bool)
        referenced[faces] = True
        used = vertices[referenced]
        diagonal = float((np.ptp(used, axis=0) ** 2).sum() ** 0.5) if len(used) else 0.0
        # trimesh's ``scale`` (the box diagonal of the referenced vertices, 1.0 when degenerate)
        self.scale = 100.0 / (diagonal if diagonal >= trimesh.tol.zero else 1.0)
        self.origin = vertices.min(axis=0)
        scaled = ((vertices - self.origin) * self.scale).astype(np.float32)
        self.scene = rtcore_scene.EmbreeScene(_embree_device())
        corners = zip(*faces.T.tolist(), strict=True)
        TriangleMesh(
            scene=self.scene,
            vertices=scaled.astype(object),
            indices=np.fromiter(corners, dtype=object, count=len(faces)),
        )

    def __call__(self, origins: FloatArray, directions: FloatArray) -> IntArray:
        scaled = ((origins - self.origin) * self.scale).astype(np.float32)
        return self.scene.run(scaled, directions.astype(np.float32))


def _convex_edges(
    vertices: FloatArray,
    faces: IntArray,
    normals: FloatArray,
    adjacency: IntArray,
    edges: IntArray,
) -> np.ndarray:
    """(E,) bool: convex where the far vertex of one triangle lies below the other's plane."""
    if len(adjacency) == 0:
        return np.zeros(0, dtype=bool)
    fb = faces[adjacency[:, 1]]
    # The vertex of triangle b that is not on the shared edge (the shared edge holds the
    # other two; a degenerate triangle gives one of the edge's own vertices, as before).
    far_index = fb[:, 0] + fb[:, 1] + fb[:, 2] - edges[:, 0] - edges[:, 1]
    far = vertices[far_index]
    height = np.einsum("ij,ij->i", far - vertices[edges[:, 0]], normals[adjacency[:, 0]])
    return height <= 0.0


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
