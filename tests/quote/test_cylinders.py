"""Cylinders: the patch search and circle fits recover the cylinders of parts built with known
dimensions, in any pose, and B-rep faces merge into one cylinder exactly when they should.

Compared within named tolerances, never bit for bit: another CPU or BLAS may round differently.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from quote.geometry import cylinders as cyl
from quote.geometry.brep import CylinderFaces
from quote.geometry.extents import oriented_frame
from quote.geometry.meshdata import MeshData
from tests.quote.partlib import OBLIQUE_TURN, known_meshes

# The STL export's chordal tolerance is 0.005 mm; fitted radii land well inside this.
RADIUS_TOL_MM = 0.01
# Fitted axes are within this angle of the true axis (radians, as 1 - |cos|).
AXIS_TOL = 1e-6

# Radii (mm) of every cylindrical surface of each known part, by construction (partlib).
RADII = {
    "cube": [],
    "plate_with_holes": [3.3] * 6,
    "block_with_blind_holes": [3.4] * 4,
    "stepped_shaft": [6.0, 10.0, 15.0],
    "flange": [4.5] * 6 + [15.0, 25.0, 50.0],
    "housing": [5.0] * 4,  # the cavity's rounded vertical corners
}


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    return known_meshes(tmp_path_factory.mktemp("cylinders"))


def _fitted(mesh: trimesh.Trimesh) -> tuple[cyl.Cylinders, np.ndarray, MeshData]:
    md = MeshData.from_trimesh(mesh)
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    found, label = cyl.from_mesh(md, cyl.candidate_axes(md, frame.rotation))
    return cyl.merge_coaxial(found, tol=1e-4 * md.scale), label, md


@pytest.mark.parametrize("name", [n + s for n in RADII for s in ("", "_rotated")])
def test_mesh_cylinders_of_known_parts(name: str, meshes: dict[str, trimesh.Trimesh]) -> None:
    found, label, md = _fitted(meshes[name])
    expected = RADII[name.removesuffix("_rotated")]
    assert len(found) == len(expected), np.sort(found.radius)
    np.testing.assert_allclose(np.sort(found.radius), expected, atol=RADIUS_TOL_MM)
    # Every known cylinder of these parts runs along the part's Z, turned with the part.
    z = np.array([0.0, 0.0, 1.0])
    if name.endswith("_rotated"):
        axis, angle = OBLIQUE_TURN
        z = trimesh.transformations.rotation_matrix(angle, axis)[:3, :3] @ z
    for a in found.axis:
        assert 1.0 - abs(float(a @ z)) < AXIS_TOL, (name, a)
    assert ((label >= 0).sum() > 0) == bool(expected)


def test_an_oblique_hole_is_found_on_its_own_axis() -> None:
    """A hole at 30 degrees to every face of a block: its axis is none of the box frame's, so
    it is found only through the extra candidate axes (directions of n1 x n2)."""
    direction = np.array([np.sin(np.pi / 6), 0.0, np.cos(np.pi / 6)])
    block = trimesh.creation.box(extents=(60.0, 40.0, 30.0))
    drill = trimesh.creation.cylinder(radius=4.0, height=120.0, sections=96)
    drill.apply_transform(trimesh.geometry.align_vectors([0.0, 0.0, 1.0], direction))
    part = block.difference(drill, engine="manifold")
    md = MeshData.from_trimesh(part)
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    axes = cyl.candidate_axes(md, frame.rotation)
    assert len(axes) > 3
    found, _ = cyl.from_mesh(md, axes)
    found = cyl.merge_coaxial(found, tol=1e-4 * md.scale)
    assert len(found) == 1 and found.concave[0]
    # A 96-gon's vertices lie on the circle: the fit recovers its radius.
    assert found.radius[0] == pytest.approx(4.0, abs=RADIUS_TOL_MM)
    assert 1.0 - abs(float(found.axis[0] @ direction)) < AXIS_TOL


def _faces(**columns: list) -> CylinderFaces:  # type: ignore[type-arg]
    n = len(columns["radius"])
    defaults = {
        "axis": [[0.0, 0.0, 1.0]] * n,
        "origin": [[0.0, 0.0, 0.0]] * n,
        "t0": [0.0] * n,
        "t1": [10.0] * n,
        "span": [np.pi] * n,
        "concave": [True] * n,
    }
    defaults.update(columns)
    return CylinderFaces(**{k: np.asarray(v) for k, v in defaults.items()})


def test_brep_split_faces_of_one_hole_merge() -> None:
    # Four quarter faces of one bore, and a bore split in two along its length.
    quarters = cyl.from_brep(_faces(radius=[5.0] * 4, span=[np.pi / 2] * 4))
    assert len(quarters) == 1 and quarters.full[0]
    assert quarters.coverage[0] == pytest.approx(2 * np.pi)
    halves = cyl.from_brep(
        _faces(radius=[5.0, 5.0], t0=[0.0, 5.0], t1=[5.0, 10.0], span=[2 * np.pi] * 2)
    )
    assert len(halves) == 1 and halves.full[0]
    assert (halves.t0[0], halves.t1[0]) == pytest.approx((0.0, 10.0))
    assert halves.area[0] == pytest.approx(5.0 * 2 * np.pi * 10.0)


@pytest.mark.parametrize(
    "columns",
    [
        {"radius": [5.0, 5.0], "t0": [0.0, 6.0], "t1": [4.0, 10.0]},  # a 2 mm gap between
        {"radius": [5.0, 6.0]},  # another radius
        {"radius": [5.0, 5.0], "origin": [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]},  # parallel line
        {"radius": [5.0, 5.0], "axis": [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]},  # crossing axes
    ],
    ids=["gap", "radius", "offset_line", "crossing"],
)
def test_brep_faces_of_different_cylinders_stay_apart(columns: dict) -> None:  # type: ignore[type-arg]
    assert len(cyl.from_brep(_faces(**columns))) == 2


def test_brep_merge_tolerates_exporter_noise() -> None:
    # An axis line 0.1 um off (within the 1 um tolerance) is the same line.
    faces = _faces(radius=[5.0, 5.0], origin=[[0.0, 0.0, 0.0], [1e-4, 0.0, 0.0]])
    assert len(cyl.from_brep(faces)) == 1


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
    assert (hole.t0[0], hole.t1[0]) == (0.0, 10.0)
    assert hole.coverage[0] == pytest.approx(2 * np.pi)


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
