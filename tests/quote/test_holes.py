"""Holes: the ray layout and the float assembly find the holes of parts built with known holes,
in any pose, with their diameters, depths and through/blind kind."""

from __future__ import annotations

from collections import Counter

import pytest
import trimesh

from quote.catalogs import load_catalog
from quote.geometry import cylinders as cyl
from quote.geometry.extents import oriented_frame
from quote.geometry.holes import _round6, find_holes
from quote.geometry.meshdata import MeshData
from tests.quote.partlib import KNOWN, known_meshes

# Fitted hole diameters of the 0.005 mm STL export are this close to the drawing's.
DIAMETER_TOL_MM = 0.02
# Depth of the blind holes of block_with_blind_holes, by construction.
BLIND_DEPTH_MM = 12.0


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, trimesh.Trimesh]:
    return known_meshes(tmp_path_factory.mktemp("holes"))


@pytest.mark.parametrize("name", [n + s for n in KNOWN for s in ("", "_rotated")])
def test_holes_of_known_parts(name: str, meshes: dict[str, trimesh.Trimesh]) -> None:
    md = MeshData.from_trimesh(meshes[name])
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    fitted, _ = cyl.from_mesh(md, cyl.candidate_axes(md, frame.rotation))
    holes = find_holes(
        cyl.merge_coaxial(fitted, tol=1e-4 * md.scale), md, frame, load_catalog().match_drill
    )
    known = KNOWN[name.removesuffix("_rotated")]
    got: Counter[tuple[float, bool]] = Counter()
    for h in holes:
        nominal = min((d for _, d, _ in known.holes), key=lambda d: abs(d - h.diameter_mm))
        assert h.diameter_mm == pytest.approx(nominal, abs=DIAMETER_TOL_MM), (name, h)
        got[(nominal, h.through)] += 1
        if not h.through:
            assert h.depth_mm == pytest.approx(BLIND_DEPTH_MM, abs=0.05), (name, h)
    assert got == Counter({(d, through): n for n, d, through in known.holes}), name


@pytest.mark.parametrize("x", [0.0, -0.0, 1.0, -1.0, 0.7071067811865476, -3.14159265358979, 1e-7])
def test_round6_is_round_without_negative_zero(x: float) -> None:
    got = _round6(x)
    assert got == round(x, 6) and str(got) == str(round(x, 6) + 0.0)
