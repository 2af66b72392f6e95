"""The arrays every feature module reads, computed once per body, and the shared ray queries.

Feature extraction must cost a small multiple of parsing the file, so the normals, areas,
adjacency and the ray-casting acceleration structure are derived here once and handed to each
concern (holes, walls, setups, ...) instead of each of them asking trimesh again (every trimesh
cached property re-hashes the mesh on access).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import trimesh

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
    mesh: trimesh.Trimesh = field(repr=False)

    @classmethod
    def from_trimesh(cls, mesh: trimesh.Trimesh) -> MeshData:
        """Read the arrays of ``mesh`` once (closed, outward normals, mm)."""
        vertices = np.asarray(mesh.vertices, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64)
        tri = vertices[faces]
        cross_ = cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        dbl_area = np.linalg.norm(cross_, axis=1)
        normals = cross_ / np.where(dbl_area > 0, dbl_area, 1.0)[:, None]
        adjacency = np.asarray(mesh.face_adjacency, dtype=np.int64).reshape(-1, 2)
        edges = np.asarray(mesh.face_adjacency_edges, dtype=np.int64).reshape(-1, 2)
        cos = np.einsum("ij,ij->i", normals[adjacency[:, 0]], normals[adjacency[:, 1]])
        angles = np.arccos(np.clip(cos, -1.0, 1.0))
        convex = _convex_edges(vertices, faces, normals, adjacency, edges)
        lo, hi = vertices.min(axis=0), vertices.max(axis=0)
        return cls(
            vertices=vertices,
            faces=faces,
            normals=normals,
            areas=dbl_area / 2.0,
            centroids=tri.mean(axis=1),
            adjacency=adjacency,
            adjacency_edges=edges,
            adjacency_angles=angles,
            adjacency_convex=convex,
            scale=float(np.linalg.norm(hi - lo)),
            mesh=mesh,
        )

    @property
    def triangles(self) -> FloatArray:
        """(F, 3, 3) vertex positions of each triangle, mm."""
        return self.vertices[self.faces]

    @property
    def total_area(self) -> float:
        return float(self.areas.sum())

    @property
    def volume(self) -> float:
        """Enclosed volume, mm^3 (divergence theorem over the triangles; outward normals)."""
        tri = self.triangles
        return float(np.einsum("ij,ij->i", tri[:, 0], cross(tri[:, 1], tri[:, 2])).sum() / 6.0)

    @cached_property
    def _ray_scene(self) -> Any:
        """A callable ``(origins, unit_directions) -> (n,) first triangle index or -1``.

        embree when installed (a few hundred ns per ray), queried directly: trimesh's wrapper
        re-normalises and copies every batch. trimesh's pure numpy intersector otherwise.
        """
        if trimesh.ray.has_embree:
            from trimesh.ray.ray_pyembree import RayMeshIntersector

            scene = RayMeshIntersector(self.mesh)._scene
            return lambda o, d: scene.run(o, d)
        from trimesh.ray.ray_triangle import RayMeshIntersector as Slow

        slow = Slow(self.mesh)
        return lambda o, d: slow.intersects_first(o, d)

    def first_hit(self, origins: FloatArray, directions: FloatArray) -> tuple[IntArray, FloatArray]:
        """First triangle each ray hits and the distance to it.

        Parameters
        ----------
        origins, directions : (n, 3) float
            Ray origins (mm) and unit directions.

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
            denom = np.einsum("ij,ij->i", n, directions[hit])
            num = np.einsum("ij,ij->i", n, self.vertices[self.faces[t, 0]] - origins[hit])
            safe = np.abs(denom) > 1e-12
            dist[hit] = np.where(safe, num / np.where(safe, denom, 1.0), 0.0).clip(min=0.0)
        return tri, dist

    def any_hit(self, origins: FloatArray, directions: FloatArray) -> np.ndarray:
        """(n,) bool: whether each ray (origins mm, unit directions) hits the surface."""
        if len(origins) == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(self._ray_scene(origins, directions)) >= 0


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
    # The vertex of triangle b that is not on the shared edge.
    not_shared = (fb != edges[:, :1]) & (fb != edges[:, 1:2])
    col = np.argmax(not_shared, axis=1)
    far = vertices[fb[np.arange(len(fb)), col]]
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
    corners = md.vertices[md.faces[tri]]
    points = (
        (1.0 - r1)[:, None] * corners[:, 0]
        + (r1 * (1.0 - r2))[:, None] * corners[:, 1]
        + (r1 * r2)[:, None] * corners[:, 2]
    )
    weights = np.full(count, total / max(count, 1))
    return points, md.normals[tri], weights, tri
