"""Boxes: the oriented-box search finds the box of parts built with known dimensions, in any
pose, and its own hull of the extreme points keeps the vertices qhull's did."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import ConvexHull, QhullError

from quote.geometry.extents import (
    _extreme_points,
    _hull_planes,
    _outside,
    oriented_frame,
    outer_points,
)
from quote.geometry.meshdata import MeshData
from tests.quote.partlib import KNOWN, OBLIQUE_TURN, known_meshes

# A round part's box is that of its polygon: a 48-gon of 30 mm is 29.99 mm across its flats.
EXTENT_TOL_MM = 0.05
# The box axes of a turned copy are the turned axes within this (1 - |cos|).
AXIS_TOL = 1e-9
# Parts whose box is unique up to the order of its sides (no free turn about a round axis).
BOXY = ("cube", "plate_with_holes", "block_with_blind_holes", "housing")


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    return known_meshes(tmp_path_factory.mktemp("extents"))


@pytest.mark.parametrize("name", list(KNOWN))
def test_oriented_frame_of_known_parts(name: str, meshes: dict[str, trimesh.Trimesh]) -> None:
    axis, angle = OBLIQUE_TURN
    turn = trimesh.transformations.rotation_matrix(angle, axis)[:3, :3]
    expected = sorted(KNOWN[name].obb_mm)
    for pose in (name, name + "_rotated"):
        md = MeshData.from_trimesh(meshes[pose])
        frame = oriented_frame(md.vertices, md.normals, md.areas)
        np.testing.assert_allclose(
            sorted(frame.extents), expected, atol=EXTENT_TOL_MM, err_msg=pose
        )
        np.testing.assert_array_equal(frame.bbox, np.ptp(md.vertices, axis=0), err_msg=pose)
        assert frame.aligned == (pose == name), pose
        if pose != name and name in BOXY:
            # Each box axis is one of the part's own axes, turned with it.
            cos = np.abs(frame.rotation @ turn)
            assert np.all(1.0 - cos.max(axis=1) < AXIS_TOL), (pose, frame.rotation)


def _kept(vertices: np.ndarray, planes: np.ndarray) -> np.ndarray:
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    return _outside(vertices, planes, 1e-9 * float((hi - lo).max()))


def _point_sets() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    sets = []
    for i in range(240):
        kind = i % 5
        if kind == 0:
            v = rng.normal(size=(int(rng.integers(64, 300)), 3))
        elif kind == 1:  # grid points of a box: many coplanar extremes
            n = int(rng.integers(2, 6))
            axes = [np.linspace(0.0, rng.uniform(1, 100), n) for _ in range(3)]
            v = np.array(np.meshgrid(*axes)).reshape(3, -1).T
        elif kind == 2:
            sections = int(rng.integers(6, 64))
            m = trimesh.creation.cylinder(radius=rng.uniform(1, 50), height=10, sections=sections)
            v = np.asarray(m.vertices)
        elif kind == 3:  # a box turned every way
            v = trimesh.creation.box(extents=rng.uniform(1, 100, 3)).vertices
            q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            v = v @ q.T
        else:
            v = trimesh.creation.icosphere(subdivisions=2, radius=rng.uniform(1, 100)).vertices
        v = np.vstack([v] * (64 // len(v) + 1)) + rng.normal(size=3) * rng.choice([0, 10, 1000])
        sets.append(np.ascontiguousarray(v, dtype=np.float64))
    return sets


def test_own_hull_keeps_the_vertices_qhulls_hull_keeps() -> None:
    built = 0
    for v in _point_sets():
        extreme, lo, hi = _extreme_points(v)
        np.testing.assert_array_equal(lo, v.min(axis=0))
        np.testing.assert_array_equal(hi, v.max(axis=0))
        planes = _hull_planes(v[extreme], float((hi - lo).max()))
        if len(planes) == 0:
            continue  # left to qhull
        built += 1
        np.testing.assert_array_equal(_kept(v, planes), _kept(v, ConvexHull(v[extreme]).equations))
    assert built >= 200


def test_flat_point_sets_are_left_to_qhull() -> None:
    rng = np.random.default_rng(1)
    v = np.ascontiguousarray(rng.normal(size=(100, 3)) * [10.0, 10.0, 0.0])
    extreme, lo, hi = _extreme_points(v)
    assert len(_hull_planes(v[extreme], float((hi - lo).max()))) == 0
    with pytest.raises(QhullError):
        ConvexHull(v[extreme])
    assert len(outer_points(v)) == len(v)


def test_outer_points_hold_every_hull_vertex(meshes: dict[str, trimesh.Trimesh]) -> None:
    for name, mesh in meshes.items():
        v = np.asarray(mesh.vertices, dtype=np.float64)
        kept = {tuple(p) for p in outer_points(v)}
        assert {tuple(p) for p in v[ConvexHull(v).vertices]} <= kept, name
