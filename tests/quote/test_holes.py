"""Holes: the compiled ray layout and the float assembly give the numpy code's holes."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

import tests.quote.numpy_reference as ref
from quote.catalogs import load_catalog
from quote.geometry import cylinders as cyl
from quote.geometry.extents import oriented_frame
from quote.geometry.holes import _round6, find_holes, hole_cylinders, open_ends
from quote.geometry.meshdata import MeshData


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    return ref.reference_meshes(tmp_path_factory.mktemp("holes"))


def test_holes_are_the_numpy_codes(meshes: dict[str, trimesh.Trimesh]) -> None:
    catalog = load_catalog()
    found = through = 0
    for name, mesh in meshes.items():
        md = MeshData.from_trimesh(mesh)
        frame = oriented_frame(md.vertices, md.normals, md.areas)
        fitted, _ = cyl.from_mesh(md, cyl.candidate_axes(md, frame.rotation))
        fitted = cyl.merge_coaxial(fitted, tol=1e-4 * md.scale)
        holes = hole_cylinders(fitted)
        for new, old in zip(open_ends(holes, md), ref.open_ends(holes, md), strict=True):
            np.testing.assert_array_equal(new, old, err_msg=name)
        new_holes = find_holes(fitted, md, frame, catalog.match_drill)
        assert new_holes == ref.find_holes(fitted, md, frame, catalog.match_drill), name
        found += len(new_holes)
        through += sum(h.through for h in new_holes)
    assert found >= 40 and 0 < through < found


@pytest.mark.parametrize("x", [0.0, -0.0, 1.0, -1.0, 0.7071067811865476, -3.14159265358979, 1e-7])
def test_round6_is_round_without_negative_zero(x: float) -> None:
    got = _round6(x)
    assert got == round(x, 6) and str(got) == str(round(x, 6) + 0.0)
