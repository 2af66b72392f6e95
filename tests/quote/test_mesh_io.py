"""Reading mesh files: our binary STL road gives exactly what ``trimesh.load`` gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from quote.errors import PartTooLarge
from quote.geometry.mesh_io import merge_vertices_like_trimesh, read_mesh
from tests.conftest import SHARED_PARTS
from tests.quote.partlib import write_part


def _trimesh_process(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=True, validate=False)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def _soup(rng: np.random.Generator, n_points: int, n_triangles: int, scale: float) -> np.ndarray:
    """Triangle corners (3T, 3) drawn from a few points, so most corners repeat."""
    points = rng.normal(size=(n_points, 3)) * scale
    return points[rng.integers(0, n_points, size=3 * n_triangles)].copy()


@pytest.mark.parametrize("scale", [1e-3, 1.0, 250.0, 1e6])
def test_vertex_merge_is_trimeshs(scale: float) -> None:
    rng = np.random.default_rng(int(scale * 1000) % 2**32)
    for trial in range(20):
        corners = _soup(rng, 60, 80, scale)
        if trial % 2:
            # Offsets around the 1e-8 rounding step: some merge, some do not.
            corners += rng.choice([0.0, 1e-9, 4.9e-9, 5.1e-9, -7e-9], size=corners.shape)
        if trial % 5 == 0:
            corners = np.round(corners, 3)
        faces = np.arange(len(corners)).reshape(-1, 3)
        want = _trimesh_process(corners, faces)
        got = merge_vertices_like_trimesh(corners, faces)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert got[1].dtype == np.int64 and got[0].dtype == np.float64


def test_vertex_merge_drops_triangles_with_non_finite_corners() -> None:
    rng = np.random.default_rng(5)
    corners = _soup(rng, 30, 40, 10.0)
    corners[[4, 50, 51]] = [np.nan, np.inf, -np.inf]
    faces = np.arange(len(corners)).reshape(-1, 3)
    want = _trimesh_process(corners, faces)
    got = merge_vertices_like_trimesh(corners, faces)
    assert len(got[1]) == 40 - 3  # corners 4, 50 and 51: triangles 1, 16 and 17
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_vertex_merge_drops_unreferenced_vertices() -> None:
    vertices = np.array([[0.0, 0, 0], [1, 0, 0], [9, 9, 9], [0, 1, 0], [1, 0, 0]])
    faces = np.array([[0, 1, 3], [0, 4, 3]])
    got_v, got_f = merge_vertices_like_trimesh(vertices, faces)
    assert np.array_equal(got_v, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    assert np.array_equal(got_f, [[0, 1, 2], [0, 1, 2]])


def test_binary_stl_reads_like_trimesh_load(tmp_path: Path) -> None:
    files = [write_part(name, tmp_path, "stl") for name in ("flange", "housing")]
    files += sorted(SHARED_PARTS.rglob("plate_holes.STL"))[:1]
    for path in files:
        mesh_file = read_mesh(path, "stl", max_triangles=10**7)
        loaded = trimesh.load(str(path))
        (obj,) = mesh_file.objects
        assert np.array_equal(obj.vertices, loaded.vertices)
        assert np.array_equal(obj.faces, loaded.faces)
        # The same from bytes handed on by the preflight.
        again = read_mesh(path, "stl", max_triangles=10**7, data=path.read_bytes())
        assert np.array_equal(again.objects[0].faces, obj.faces)
        assert mesh_file.parse_seconds > 0


def test_binary_stl_over_the_triangle_limit_is_refused(tmp_path: Path) -> None:
    path = write_part("flange", tmp_path, "stl")
    n = len(trimesh.load(str(path)).faces)
    with pytest.raises(PartTooLarge):
        read_mesh(path, "stl", max_triangles=n - 1)


def test_ascii_stl_takes_trimeshs_road(tmp_path: Path) -> None:
    box = trimesh.creation.box((3.0, 4.0, 5.0))
    path = tmp_path / "box.stl"
    path.write_bytes(trimesh.exchange.stl.export_stl_ascii(box).encode())
    (obj,) = read_mesh(path, "stl", max_triangles=1000).objects
    loaded = trimesh.load(str(path))
    assert np.array_equal(obj.vertices, loaded.vertices)
    assert np.array_equal(obj.faces, loaded.faces)
