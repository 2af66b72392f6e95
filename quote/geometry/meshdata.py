"""The arrays every feature module reads, computed once per body, and the shared ray queries.

Feature extraction must cost a small multiple of parsing the file, so the normals, areas,
adjacency and the ray-casting acceleration structure are derived here once and handed to each
concern (holes, walls, setups, ...) instead of each of them asking trimesh again (every trimesh
cached property re-hashes the mesh on access).

On meshes of a few thousand triangles numpy's per-call overhead (1-3 us a call, dozens of calls)
costs more than the arithmetic, so the per-triangle and per-edge arrays come out of a few
compiled passes (numba). They are plain loops, so their results do not depend on the BLAS
build (only numpy's own vectorised calls may differ by an ulp between machines). Ray queries go
to Embree 4 directly (``embree``); the edge pairing is ``topology``, boxes and volume
``measures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import trimesh
from numba import njit

from quote.geometry.embree import EmbreeScene, load_embree
from quote.geometry.measures import signed_volume, vertex_box_kernel
from quote.geometry.topology import face_adjacency

FloatArray = np.ndarray
IntArray = np.ndarray


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
        if load_embree() is not None:
            return EmbreeScene(self.vertices, self.faces)
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


@njit(cache=True, nogil=True)
def _triangle_arrays(
    vertices: FloatArray, faces: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Corners (F, 3, 3), unit normals (F, 3), doubled areas (F,), centroids (F, 3) and the
    box corners lo, hi (3,) of all vertices, with the bits of ``MeshData``'s numpy original
    (row-wise cross products and norms, ``(v0 + v1 + v2) / 3``)."""
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
    lo, hi = vertex_box_kernel(vertices)
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
