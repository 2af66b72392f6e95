"""Face counts of meshes: planes and cylinders of parts built with known faces, in any pose."""

from __future__ import annotations

import pytest
import trimesh

from quote.geometry import cylinders as cyl
from quote.geometry.extents import oriented_frame
from quote.geometry.faces import mesh_face_counts
from quote.geometry.meshdata import MeshData
from tests.quote.partlib import known_meshes

# (planes, cylinders) of each known part, counted on its drawing (partlib); no other kinds.
FACES = {
    "cube": (6, 0),
    "plate_with_holes": (6, 6),
    "block_with_blind_holes": (10, 4),  # 6 sides and 4 hole floors
    "stepped_shaft": (4, 3),  # 2 ends and 2 shoulders
    "flange": (3, 9),  # disk bottom, disk top, hub top; rim, hub, bore, 6 bolt holes
    "housing": (11, 4),  # 5 outside, the rim, 4 walls and the floor inside; 4 corners
}


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    return known_meshes(tmp_path_factory.mktemp("faces"))


def _counts(mesh: trimesh.Trimesh) -> dict[str, int]:
    md = MeshData.from_trimesh(mesh)
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    _, label = cyl.from_mesh(md, cyl.candidate_axes(md, frame.rotation))
    return mesh_face_counts(md, label)


@pytest.mark.parametrize("name", [n + s for n in FACES for s in ("", "_rotated")])
def test_face_counts_of_known_parts(name: str, meshes: dict[str, trimesh.Trimesh]) -> None:
    counts = _counts(meshes[name])
    assert (counts["plane"], counts["cylinder"]) == FACES[name.removesuffix("_rotated")]
    assert sum(counts.values()) == counts["plane"] + counts["cylinder"], counts


def test_counts_of_a_box_a_cylinder_and_a_sphere() -> None:
    box = _counts(trimesh.creation.box(extents=(30.0, 20.0, 10.0)))
    assert (box["plane"], box["cylinder"], box["other"]) == (6, 0, 0)
    rod = _counts(trimesh.creation.cylinder(radius=8.0, height=40.0, sections=48))
    assert (rod["plane"], rod["cylinder"], rod["other"]) == (2, 1, 0)
    ball = _counts(trimesh.creation.icosphere(subdivisions=3, radius=10.0))
    assert (ball["plane"], ball["cylinder"], ball["other"]) == (0, 0, 1)
