"""The shared mesh arrays and ray queries: the compiled passes give numpy's (and trimesh's) results.

``MeshData``'s arrays, the edge topology and the Embree scene are checked against the plain
numpy expressions and trimesh's own implementations they replace (floats within named
tolerances, integer topology exactly) on generated parts, real files and small hand-made meshes
with holes, duplicated and flipped triangles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh

from quote.geometry.loading import load_part
from quote.geometry.measures import signed_volume
from quote.geometry.meshdata import MeshData, sample_surface
from quote.geometry.topology import edge_topology, face_adjacency
from tests.conftest import SHARED_PARTS
from tests.quote.partlib import write_part

# Real STL files and the units they are in (idler_riser is an inch part).
REAL_MESHES = {"plate_holes.STL": None, "idler_riser.STL": "inch", "round.stl": None}
# Float arrays agree with numpy's to a few ulps (numpy's einsum and BLAS round in their own
# order, which differs between CPUs): relative, and absolute in units of the part's size.
FLOAT_RTOL = 1e-12
FLOAT_ATOL_PER_MM = 1e-12
# arccos near 0 turns an ulp of the cosine into ~1e-8 rad: dihedral angles within this.
ANGLE_ATOL_RAD = 1e-7


def _real(name: str) -> Path:
    found = sorted(SHARED_PARTS.rglob(name))
    if not found:
        pytest.fail(f"reference part {name} missing under {SHARED_PARTS}")
    return found[0]


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    """Body meshes as the loader hands them on: generated parts and real STL files."""
    tmp = tmp_path_factory.mktemp("meshdata")
    out = {}
    for name in ("flange", "housing", "plate_with_holes"):
        out[name] = load_part(write_part(name, tmp, "stl")).bodies[0].mesh
    for name, units in REAL_MESHES.items():
        out[name] = load_part(_real(name), units=units).bodies[0].mesh
    return out


def _numpy_arrays(mesh: trimesh.Trimesh) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The arrays as MeshData computed them with numpy before its compiled passes, and the
    height of each adjacent pair's far vertex over the first face (the convexity test)."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    tri = vertices[faces]
    v0, v1, v2 = tri[:, 0], tri[:, 1], tri[:, 2]
    a, b = v1 - v0, v2 - v0
    c = np.stack(
        (
            a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
        ),
        axis=-1,
    )
    d = np.sqrt(c[:, 0] * c[:, 0] + c[:, 1] * c[:, 1] + c[:, 2] * c[:, 2])
    normals = c / np.where(d > 0, d, 1.0)[:, None]
    adj, edges = mesh.face_adjacency, mesh.face_adjacency_edges
    cos = np.einsum("ij,ij->i", normals[adj[:, 0]], normals[adj[:, 1]])
    fb = faces[adj[:, 1]]
    far = vertices[fb.sum(axis=1) - edges[:, 0] - edges[:, 1]]
    height = np.einsum("ij,ij->i", far - vertices[edges[:, 0]], normals[adj[:, 0]])
    v1c, v2c = tri[:, 1], tri[:, 2]
    cross12 = np.stack(
        (
            v1c[:, 1] * v2c[:, 2] - v1c[:, 2] * v2c[:, 1],
            v1c[:, 2] * v2c[:, 0] - v1c[:, 0] * v2c[:, 2],
            v1c[:, 0] * v2c[:, 1] - v1c[:, 1] * v2c[:, 0],
        ),
        axis=-1,
    )
    arrays = {
        "triangles": tri,
        "normals": normals,
        "areas": d / 2.0,
        "centroids": (v0 + v1 + v2) / 3.0,
        "adjacency": adj,
        "adjacency_edges": edges,
        "adjacency_angles": np.arccos(np.clip(cos, -1.0, 1.0)),
        "adjacency_convex": height <= 0.0,
        "scale": np.float64(np.linalg.norm(vertices.max(axis=0) - vertices.min(axis=0))),
        "volume": np.float64(np.einsum("ij,ij->i", tri[:, 0], cross12).sum() / 6.0),
    }
    return arrays, height


def test_meshdata_arrays_are_numpys(meshes: dict[str, trimesh.Trimesh]) -> None:
    for name, mesh in meshes.items():
        md = MeshData.from_trimesh(mesh)
        expected, height = _numpy_arrays(mesh)
        atol = FLOAT_ATOL_PER_MM * float(expected["scale"])
        for key, want in expected.items():
            got = np.asarray(getattr(md, key))
            assert got.shape == np.shape(want), (name, key)
            if key == "adjacency_convex":
                # A flat edge (height ~ 0) may fall either side on another CPU.
                clear = np.abs(height) > atol * 1e3
                assert np.array_equal(got[clear], want[clear]), (name, key)
            elif key == "adjacency_angles":
                np.testing.assert_allclose(got, want, rtol=0, atol=ANGLE_ATOL_RAD, err_msg=name)
            elif np.issubdtype(got.dtype, np.floating):
                np.testing.assert_allclose(
                    got, want, rtol=FLOAT_RTOL, atol=atol, err_msg=f"{name}: {key}"
                )
            else:
                assert np.array_equal(got, want), (name, key)


def test_adjacency_handed_on_by_the_loader_is_the_meshs(
    meshes: dict[str, trimesh.Trimesh], tmp_path: Path
) -> None:
    inside_out = trimesh.creation.box((20, 30, 40))
    inside_out.invert()
    inside_out.export(tmp_path / "inside_out.stl")
    parts = [load_part(tmp_path / "inside_out.stl"), load_part(_real("plate_holes.STL"))]
    parts.append(load_part(write_part("flange", tmp_path, "step")))
    for part in parts:
        body = part.bodies[0]
        assert body.face_adjacency is not None
        pairs, edges = face_adjacency(body.mesh.faces, len(body.mesh.vertices))
        assert np.array_equal(body.face_adjacency[0], pairs)
        assert np.array_equal(body.face_adjacency[1], edges)
        handed = MeshData.from_trimesh(body.mesh, adjacency=body.face_adjacency)
        fresh = MeshData.from_trimesh(body.mesh)
        assert np.array_equal(handed.adjacency_angles, fresh.adjacency_angles)
        assert np.array_equal(handed.adjacency_convex, fresh.adjacency_convex)
    assert "inside out" in " ".join(w.message for w in parts[0].warnings)


def _open_box() -> trimesh.Trimesh:
    box = trimesh.creation.box((1.0, 2.0, 3.0))
    return trimesh.Trimesh(box.vertices, box.faces[1:], process=False)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("closed", (0, 0, 0)),
        ("open", (3, 0, 0)),
        ("flipped", (0, 0, 3)),
        ("duplicated", (0, 3, 0)),
    ],
)
def test_edge_topology_counts_and_pairs_like_trimesh(
    case: str, expected: tuple[int, int, int]
) -> None:
    box = trimesh.creation.box((1.0, 2.0, 3.0))
    faces = np.array(box.faces)
    if case == "open":
        faces = np.array(_open_box().faces)
    elif case == "flipped":
        faces[4] = faces[4, ::-1]
    elif case == "duplicated":
        faces = np.vstack([faces, faces[:1]])
    counts, open_mask, pairs, edges = edge_topology(faces, len(box.vertices))
    assert counts == expected
    reference = trimesh.Trimesh(box.vertices, faces, process=False)
    assert np.array_equal(pairs, reference.face_adjacency)
    assert np.array_equal(edges, reference.face_adjacency_edges)
    assert int(open_mask.sum()) == expected[0]
    if case == "open":
        # The open directed edges are those of the triangles around the missing one.
        directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)[open_mask]
        missing = box.faces[0]
        assert {frozenset(e) for e in directed.tolist()} == {
            frozenset((missing[i], missing[(i + 1) % 3])) for i in range(3)
        }


def test_edge_topology_refuses_vertices_out_of_range() -> None:
    with pytest.raises(IndexError):
        edge_topology(np.array([[0, 1, 5]]), 3)


def test_face_adjacency_with_a_large_fan_matches_trimesh() -> None:
    # A cone with 200 sides: its apex has more edges than the insertion sort takes.
    cone = trimesh.creation.cone(radius=5.0, height=10.0, sections=200)
    pairs, edges = face_adjacency(cone.faces, len(cone.vertices))
    assert np.array_equal(pairs, cone.face_adjacency)
    assert np.array_equal(edges, cone.face_adjacency_edges)


def test_signed_volume_matches_trimesh(meshes: dict[str, trimesh.Trimesh]) -> None:
    for mesh in meshes.values():
        assert signed_volume(mesh.vertices, mesh.faces) == pytest.approx(mesh.volume, rel=1e-12)
        flipped = np.array(mesh.faces)[:, ::-1]
        assert signed_volume(mesh.vertices, flipped) == pytest.approx(-mesh.volume, rel=1e-12)
    assert signed_volume(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)) == 0.0


class _EmbreexScene:
    """The reference: an embreex scene over the mesh in the frame ``MeshData`` uses (shifted
    to the vertices' box corner and scaled, in float32), as trimesh's embree wrapper builds it.
    """

    def __init__(self, md: MeshData) -> None:
        self.origin = md.vertices.min(axis=0)
        self.scale = md._ray_scene.scale
        self.scene = rtcore_scene.EmbreeScene()
        scaled = ((md.vertices - self.origin) * self.scale).astype(np.float32)
        TriangleMesh(scene=self.scene, vertices=scaled, indices=md.faces.astype(np.int32))

    def __call__(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        scaled = ((origins - self.origin) * self.scale).astype(np.float32)
        return self.scene.run(scaled, directions.astype(np.float32))


def test_rays_hit_the_triangles_embreex_finds(meshes: dict[str, trimesh.Trimesh]) -> None:
    """Rays from surface points (both ways along the normal: the robust-mode case), from
    random points in and around the box, and one direction for every ray."""
    rng = np.random.default_rng(11)
    for name, mesh in meshes.items():
        md = MeshData.from_trimesh(mesh)
        points, normals, _, _ = sample_surface(md, 1500, seed=3)
        lo, hi = md.vertices.min(axis=0), md.vertices.max(axis=0)
        inside = rng.uniform(lo - 2.0, hi + 2.0, size=(1500, 3))
        scatter = rng.normal(size=(1500, 3))
        scatter /= np.linalg.norm(scatter, axis=1)[:, None]
        origins = np.vstack([points, points, inside])
        directions = np.vstack([normals, -normals, scatter])
        reference = _EmbreexScene(md)
        want = reference(origins, directions)
        tri, dist = md.first_hit(origins, directions)
        assert np.array_equal(tri, want), name
        assert np.array_equal(md.any_hit(origins, directions), want >= 0), name
        assert np.all(np.isinf(dist[tri < 0])) and np.all(dist[tri >= 0] >= 0.0)
        up = np.array([[0.0, 0.0, 1.0]])
        assert np.array_equal(md.first_hit(origins, up)[0], reference(origins, up)), name
        assert (want >= 0).sum() > len(points)  # the rays do meet the part
        # A ray from a point on the surface into the part finds the triangle under it.
        assert (tri[len(points) : 2 * len(points)] >= 0).mean() > 0.99


def test_ray_distance_is_along_the_ray() -> None:
    md = MeshData.from_trimesh(trimesh.creation.box((10.0, 10.0, 10.0)))
    tri, dist = md.first_hit(
        np.array([[0.0, 0.0, -20.0], [0.0, 0.0, 0.0]]), np.array([[0, 0, 1.0]])
    )
    assert (tri >= 0).all() and dist == pytest.approx([15.0, 5.0])
    tri, dist = md.first_hit(np.array([[30.0, 0.0, 0.0]]), np.array([[0, 0, 1.0]]))
    assert tri[0] == -1 and np.isinf(dist[0])
    assert md.first_hit(np.zeros((0, 3)), np.array([[0, 0, 1.0]]))[0].shape == (0,)
