"""Face counts of meshes: the compiled region count gives the numpy code's counts."""

from __future__ import annotations

import pytest
import trimesh

import tests.quote.numpy_reference as ref
from quote.geometry import cylinders as cyl
from quote.geometry.extents import oriented_frame
from quote.geometry.faces import mesh_face_counts
from quote.geometry.meshdata import MeshData


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    return ref.reference_meshes(tmp_path_factory.mktemp("faces"))


def _counts(mesh: trimesh.Trimesh) -> tuple[dict[str, int], dict[str, int]]:
    md = MeshData.from_trimesh(mesh)
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    _, label = cyl.from_mesh(md, cyl.candidate_axes(md, frame.rotation))
    return mesh_face_counts(md, label), ref.mesh_face_counts(md, label)


def test_face_counts_are_the_numpy_codes(meshes: dict[str, trimesh.Trimesh]) -> None:
    kinds = set()
    for name, mesh in meshes.items():
        new, old = _counts(mesh)
        assert new == old, name
        kinds |= {k for k, n in new.items() if n}
    assert kinds == {"plane", "cylinder", "other"}


def test_counts_of_a_box_and_a_cylinder() -> None:
    box, _ = _counts(trimesh.creation.box(extents=(30.0, 20.0, 10.0)))
    assert (box["plane"], box["cylinder"], box["other"]) == (6, 0, 0)
    rod, _ = _counts(trimesh.creation.cylinder(radius=8.0, height=40.0, sections=48))
    assert (rod["plane"], rod["cylinder"], rod["other"]) == (2, 1, 0)
