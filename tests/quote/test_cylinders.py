"""Cylinders: the compiled patch search and circle fits give the numpy code's cylinders bit for
bit, merge B-rep faces like it, and recover the radius of a tessellated cylinder."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

import tests.quote.numpy_reference as ref
from quote.geometry import cylinders as cyl
from quote.geometry.brep import CylinderFaces
from quote.geometry.extents import oriented_frame
from quote.geometry.meshdata import MeshData

FIELDS = ("axis", "origin", "radius", "t0", "t1", "coverage", "concave", "area")


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    return ref.reference_meshes(tmp_path_factory.mktemp("cylinders"))


def _same(new: cyl.Cylinders, old: cyl.Cylinders, name: str) -> None:
    for field in FIELDS:
        a, b = getattr(new, field), getattr(old, field)
        assert a.shape == b.shape and a.dtype == b.dtype, (name, field)
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: {field}")


def test_mesh_cylinders_are_the_numpy_codes_bit_for_bit(
    meshes: dict[str, trimesh.Trimesh],
) -> None:
    found = extra_axes = 0
    for name, mesh in meshes.items():
        md = MeshData.from_trimesh(mesh)
        frame = oriented_frame(md.vertices, md.normals, md.areas)
        axes = cyl.candidate_axes(md, frame.rotation)
        np.testing.assert_array_equal(axes, ref.candidate_axes(md, frame.rotation), err_msg=name)
        new, new_label = cyl.from_mesh(md, axes)
        old, old_label = ref.from_mesh(md, axes)
        _same(new, old, name)
        np.testing.assert_array_equal(new_label, old_label, err_msg=name)
        tol = 1e-4 * md.scale
        _same(cyl.merge_coaxial(new, tol=tol), ref.merge_coaxial(old, tol=tol), name)
        found += len(new)
        extra_axes += len(axes) > 3
    assert found >= 100 and extra_axes >= 3


def _faces(n: int, seed: int) -> CylinderFaces:
    """B-rep-like faces: few distinct axis lines and radii, so many merge."""
    rng = np.random.default_rng(seed)
    axis = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])[rng.integers(0, 3, n)]
    origin = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 5.0, 2.5]])[rng.integers(0, 3, n)]
    # Within the merge tolerance of the line's point, or not.
    origin += rng.choice([0.0, 1e-4, 0.5], size=(n, 1))
    t0 = np.round(rng.uniform(0, 10, n), 1)
    return CylinderFaces(
        axis=axis,
        origin=origin,
        radius=np.round(rng.uniform(1, 3, n), 0),
        t0=t0,
        t1=t0 + np.round(rng.uniform(0.1, 5, n), 1),
        span=rng.choice([np.pi, np.pi / 2, 2 * np.pi], n),
        concave=rng.random(n) < 0.7,
    )


def test_brep_faces_merge_like_the_numpy_code() -> None:
    merged = 0
    for seed in range(40):
        faces = _faces(int(np.random.default_rng(seed).integers(1, 200)), seed)
        new, old = cyl.from_brep(faces), ref.from_brep(faces)
        _same(new, old, f"seed {seed}")
        merged += len(faces.radius) - len(new)
    assert merged > 100


def test_two_half_cylinders_make_one_hole() -> None:
    half = CylinderFaces(
        axis=np.array([[0.0, 0.0, 1.0]] * 2),
        origin=np.zeros((2, 3)),
        radius=np.array([3.0, 3.0]),
        t0=np.array([0.0, 0.0]),
        t1=np.array([10.0, 10.0]),
        span=np.array([np.pi, np.pi]),
        concave=np.array([True, True]),
    )
    hole = cyl.from_brep(half)
    assert len(hole) == 1 and hole.full[0] and hole.concave[0]
    assert (hole.t0[0], hole.t1[0], hole.coverage[0]) == (0.0, 10.0, 2 * np.pi)


def test_fit_recovers_a_tessellated_cylinders_radius() -> None:
    turn = trimesh.transformations.rotation_matrix(0.4, [1.0, 1.0, 0.0])
    rod = trimesh.creation.cylinder(radius=7.5, height=30.0, sections=40).apply_transform(turn)
    md = MeshData.from_trimesh(rod)
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    found, label = cyl.from_mesh(md, cyl.candidate_axes(md, frame.rotation))
    assert len(found) == 1 and found.full[0] and not found.concave[0]
    assert found.radius[0] == pytest.approx(7.5, rel=1e-9)
    assert found.length[0] == pytest.approx(30.0, rel=1e-9)
    assert abs(float(found.axis[0] @ turn[:3, 2])) == pytest.approx(1.0, abs=1e-9)
    # Every side facet is on it, the two caps are not.
    assert (label >= 0).sum() == 80
