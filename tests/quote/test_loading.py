"""Reading part files: formats, units, repairs, multi-body files and every refusal.

Every file here is real bytes written to ``tmp_path`` (parts built with build123d or trimesh,
then truncated, corrupted or emptied), or a real file from ``../shared/data/parts``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from build123d import Box, Compound, Cylinder, Edge, Face, Pos, export_step, export_stl

from quote.errors import (
    EmptyPart,
    InvalidUnits,
    MitsumoriError,
    NotASolid,
    PartError,
    PartNotFound,
    PartSizeOutOfRange,
    PartTooLarge,
    SuspectUnits,
    UnreadablePart,
    UnsupportedFormat,
)
from quote.geometry.loading import SUPPORTED_SUFFIXES, LoadedPart, load_part
from quote.geometry.units import parse_units
from tests.conftest import SHARED_PARTS

RNG_SEED = 20240607


# --------------------------------------------------------------------------- helpers


def _volume(part: LoadedPart) -> float:
    return float(sum(b.mesh.volume for b in part.bodies))


def _extents(part: LoadedPart) -> np.ndarray:
    lo = np.min([b.mesh.bounds[0] for b in part.bodies], axis=0)
    hi = np.max([b.mesh.bounds[1] for b in part.bodies], axis=0)
    return hi - lo


def _codes(part: LoadedPart) -> list[str]:
    return [w.code for w in part.warnings]


def _repairs(part: LoadedPart) -> str:
    return " | ".join(w.message for w in part.warnings if w.code == "mesh_repaired")


def _box_mesh(size: tuple[float, float, float], at: tuple[float, float, float] = (0, 0, 0)):
    mesh = trimesh.creation.box(size)
    mesh.apply_translation(at)
    return mesh


def _write_mesh(mesh: trimesh.Trimesh, path: Path) -> Path:
    """Write triangles as they are (no processing), binary STL or other formats via trimesh."""
    mesh.export(path)
    return path


def _scene_file(path: Path, meshes: dict[str, trimesh.Trimesh]) -> Path:
    scene = trimesh.Scene()
    for name, mesh in meshes.items():
        scene.add_geometry(mesh, node_name=name, geom_name=name)
    scene.export(path)
    return path


@pytest.fixture(scope="module")
def cube_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 20 x 30 x 40 mm box as STEP and STL (build123d) and a 3.3 mm hole plate as STEP."""
    d = tmp_path_factory.mktemp("cube")
    box = Box(20, 30, 40)
    export_step(box, str(d / "cube.step"))
    export_stl(box, str(d / "cube.stl"))
    plate = Box(100, 60, 10)
    for x in (-30.0, 0.0, 30.0):
        plate -= Pos(x, 0, 0) * Cylinder(3.3, 10)
    export_step(plate, str(d / "plate.step"))
    export_stl(plate, str(d / "plate.stl"), tolerance=0.01, angular_tolerance=0.1)
    return {
        "step": d / "cube.step",
        "stl": d / "cube.stl",
        "plate": d / "plate.step",
        "plate_stl": d / "plate.stl",
    }


# --------------------------------------------------------------------------- sound parts


def test_cube_step_and_stl_give_the_same_part(cube_files: dict[str, Path]) -> None:
    step = load_part(cube_files["step"])
    stl = load_part(cube_files["stl"])
    for part, fmt in ((step, "step"), (stl, "stl")):
        assert part.source_format == fmt
        assert part.units == "mm"
        assert len(part.bodies) == 1
        assert part.warnings == ()
        assert part.parse_seconds > 0
        mesh = part.bodies[0].mesh
        assert mesh.is_watertight and mesh.is_winding_consistent
        assert mesh.volume == pytest.approx(24000.0, rel=1e-6)
        np.testing.assert_allclose(np.sort(_extents(part)), [20, 30, 40], rtol=1e-6)
    assert step.bodies[0].shape is not None and stl.bodies[0].shape is None
    assert step.file_sha256 == hashlib.sha256(cube_files["step"].read_bytes()).hexdigest()
    assert step.bodies[0].name == "body 1"


def test_step_with_holes_matches_its_stl_and_exact_volume(cube_files: dict[str, Path]) -> None:
    exact = 100 * 60 * 10 - 3 * np.pi * 3.3**2 * 10
    step = load_part(cube_files["plate"])
    stl = load_part(cube_files["plate_stl"])
    assert _volume(step) == pytest.approx(exact, rel=0.01)
    assert _volume(stl) == pytest.approx(exact, rel=0.01)
    mesh = step.bodies[0].mesh
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert mesh.metadata["deflection_mm"] <= 0.5


def test_step_units_and_suffix_case(tmp_path: Path, cube_files: dict[str, Path]) -> None:
    upper = tmp_path / "CUBE.STP"
    upper.write_bytes(cube_files["step"].read_bytes())
    part = load_part(upper, units="inch")
    assert part.source_format == "step" and part.units == "mm"
    # STEP converts its own units: --units does not rescale it, and says so.
    assert _volume(part) == pytest.approx(24000)
    assert _codes(part) == ["units_ignored"]
    inch = load_part(SHARED_PARTS / "trimesh" / "featuretype.STEP")
    assert inch.units == "inch"
    np.testing.assert_allclose(np.sort(_extents(inch)), [34.925, 63.5, 127.0], rtol=1e-3)


def test_geometry_outside_solids_is_ignored() -> None:
    path = SHARED_PARTS / "nist_ctc_ftc" / "ap242_pmi" / "nist_ctc_03_asme1_ap242-e2.stp"
    part = load_part(path)
    assert "ignored_geometry" in _codes(part)
    assert len(part.bodies) == 1
    assert _volume(part) == pytest.approx(332122.9, rel=0.01)


def test_step_triangles_map_to_their_brep_faces(cube_files: dict[str, Path]) -> None:
    from OCP.TopAbs import TopAbs_FACE
    from OCP.TopExp import TopExp_Explorer

    part = load_part(cube_files["step"])
    body = part.bodies[0]
    brep_face = body.mesh.metadata["brep_face"]
    assert brep_face is not None and len(brep_face) == len(body.mesh.faces)
    explorer = TopExp_Explorer(body.shape, TopAbs_FACE)
    n_faces = 0
    while explorer.More():
        n_faces += 1
        explorer.Next()
    assert n_faces == 6
    assert set(brep_face.tolist()) == set(range(6))
    # Each face of a box is planar: all its triangles share one outward normal.
    normals = body.mesh.face_normals
    for k in range(6):
        n = normals[brep_face == k]
        assert np.allclose(n, n[0], atol=1e-6)
        centre = body.mesh.triangles_center[brep_face == k].mean(axis=0)
        assert float(np.dot(n[0], centre)) > 0  # outward: points away from the box centre


@pytest.mark.parametrize("fmt", ["stl_ascii", "obj", "ply", "3mf", "glb"])
def test_mesh_formats_read_the_same_part(tmp_path: Path, fmt: str) -> None:
    mesh = trimesh.creation.cylinder(radius=10, height=25, sections=48)
    expected = mesh.volume
    if fmt == "stl_ascii":
        path = tmp_path / "part.stl"
        path.write_text(trimesh.exchange.stl.export_stl_ascii(mesh))
    else:
        path = tmp_path / f"part.{fmt}"
        if fmt == "glb":
            mesh.units = "mm"  # glTF is metres unless the file says otherwise
        mesh.export(path)
    part = load_part(path)
    assert part.source_format == ("stl" if fmt == "stl_ascii" else fmt)
    assert part.units == "mm"
    assert len(part.bodies) == 1
    assert _volume(part) == pytest.approx(expected, rel=1e-6)
    assert part.bodies[0].mesh.is_watertight


def test_glb_without_units_is_read_in_metres(tmp_path: Path) -> None:
    path = _write_mesh(_box_mesh((20, 30, 40)), tmp_path / "box.glb")
    with pytest.raises(PartSizeOutOfRange) as err:
        load_part(path)
    assert "--units mm" in err.value.message
    assert err.value.detail["largest_mm"] == pytest.approx(40000)
    assert _volume(load_part(path, units="mm")) == pytest.approx(24000)


def test_units_scale_meshes_and_aliases_parse(tmp_path: Path) -> None:
    path = _write_mesh(_box_mesh((1, 2, 3)), tmp_path / "block.stl")
    assert _volume(load_part(path, units="cm")) == pytest.approx(6000)
    part = load_part(path, units="IN")
    assert part.units == "inch"
    np.testing.assert_allclose(np.sort(_extents(part)), [25.4, 50.8, 76.2])
    assert [parse_units(u) for u in ("mm", " Millimetres", "inches", "metre")] == [
        "mm",
        "mm",
        "inch",
        "m",
    ]
    with pytest.raises(SuspectUnits) as suspect:
        load_part(path)
    assert "--units inch" in suspect.value.message
    assert load_part(path, units="mm").warnings == ()
    with pytest.raises(InvalidUnits) as err:
        load_part(path, units="furlong")
    assert "inch" in err.value.message


# --------------------------------------------------------------------------- refusals


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(PartNotFound) as err:
        load_part(tmp_path / "nope.stl")
    assert err.value.code == "part_not_found"
    drawing = tmp_path / "part.iges"
    drawing.write_text("not read")
    with pytest.raises(UnsupportedFormat) as err2:
        load_part(drawing)
    assert err2.value.detail["supported"] == list(SUPPORTED_SUFFIXES)
    assert ".step" in err2.value.message and ".stl" in err2.value.message


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("empty.step", b"", EmptyPart),
        ("empty.stl", b"", EmptyPart),
        ("blank.obj", b"  \n\n\t ", EmptyPart),
        ("nofacets.stl", b"solid nothing\nendsolid nothing\n", EmptyPart),
        ("random.stl", "random", UnreadablePart),
        ("random.ply", "random", UnreadablePart),
        ("random.3mf", "random", UnreadablePart),
        ("random.glb", "random", UnreadablePart),
        ("random.obj", "random", UnreadablePart),
        ("photo.step", "png", UnreadablePart),
        ("photo.stl", "png", UnreadablePart),
        ("drawing.stp", b"%PDF-1.7\n" + b"x" * 500, UnreadablePart),
        ("notstep.step", b"HELLO WORLD\n" * 40, UnreadablePart),
    ],
)
def test_empty_foreign_and_garbage_files_are_refused(
    tmp_path: Path, name: str, content: bytes | str, error: type[PartError]
) -> None:
    rng = np.random.default_rng(RNG_SEED)
    if content == "random":
        content = rng.bytes(5000)
    elif content == "png":
        content = b"\x89PNG\r\n\x1a\n" + rng.bytes(3000)
    path = tmp_path / name
    path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(error) as err:
        load_part(path)
    assert err.value.message and err.value.to_dict()["error"] == err.value.code
    if name.startswith("photo"):
        assert "PNG image" in err.value.message


def test_truncated_files_are_refused(tmp_path: Path, cube_files: dict[str, Path]) -> None:
    data = cube_files["step"].read_bytes()
    half = tmp_path / "half.step"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadablePart, match="truncated"):
        load_part(half)

    binary = tmp_path / "whole.stl"
    _write_mesh(trimesh.creation.icosphere(2, radius=10), binary)
    cut = tmp_path / "cut.stl"
    cut.write_bytes(binary.read_bytes()[:-75])
    with pytest.raises(UnreadablePart) as err:
        load_part(cut)
    assert err.value.detail["header_triangles"] == 320

    text = trimesh.exchange.stl.export_stl_ascii(trimesh.creation.icosphere(2, radius=10))
    ascii_cut = tmp_path / "cut_ascii.stl"
    ascii_cut.write_text(text[: len(text) // 2])
    with pytest.raises(UnreadablePart, match="truncated"):
        load_part(ascii_cut)

    ply = tmp_path / "whole.ply"
    _write_mesh(trimesh.creation.icosphere(2, radius=10), ply)
    ply_cut = tmp_path / "cut.ply"
    ply_cut.write_bytes(ply.read_bytes()[:-100])
    with pytest.raises(UnreadablePart):
        load_part(ply_cut)


def test_step_without_solids_is_refused(tmp_path: Path, cube_files: dict[str, Path]) -> None:
    curve = tmp_path / "curve.step"
    export_step(Edge.make_line((0, 0, 0), (10, 0, 0)), str(curve))
    with pytest.raises(UnreadablePart) as err:
        load_part(curve)
    assert err.value.detail["solids"] == 0 and err.value.detail["edges"] == 1

    sheet = tmp_path / "sheet.step"
    export_step(Face.make_rect(10, 10), str(sheet))
    with pytest.raises(NotASolid) as err2:
        load_part(sheet)
    assert err2.value.detail["faces"] == 1

    text = cube_files["step"].read_text()
    header = text.split("DATA;")[0]
    nonsense = "".join(f"#{k}=NONSENSE({k},$,(#{k + 1}));\n" for k in range(1, 50))
    garbage = tmp_path / "garbage.step"
    garbage.write_text(header + "DATA;\n" + nonsense + "ENDSEC;\nEND-ISO-10303-21;\n")
    with pytest.raises(UnreadablePart, match="corrupt"):
        load_part(garbage)

    no_data = tmp_path / "nodata.step"
    no_data.write_text(header + "DATA;\nENDSEC;\nEND-ISO-10303-21;\n")
    with pytest.raises(EmptyPart):
        load_part(no_data)


def test_reading_a_damaged_step_prints_nothing(
    tmp_path: Path, cube_files: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    lines = cube_files["step"].read_text().splitlines(True)
    k = next(i for i, line in enumerate(lines) if "ADVANCED_FACE" in line)
    damaged = tmp_path / "damaged.step"
    damaged.write_text("".join(lines[:k] + ["#999999 = GARBAGE((;\n"] + lines[k + 1 :]))
    with pytest.raises(PartError):
        load_part(damaged)
    out, _ = capfd.readouterr()
    assert out == ""  # OpenCASCADE's diagnostics would corrupt --json output


def test_size_limits_are_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.stl"
    with big.open("wb") as fh:  # sparse: 200 MiB of zeros, no disk used
        fh.truncate(200 * 2**20)
    with pytest.raises(PartTooLarge) as err:
        load_part(big)
    assert err.value.detail["bytes"] == 200 * 2**20

    n = 2_100_000
    many = tmp_path / "many.stl"
    with many.open("wb") as fh:  # a binary STL header announcing 2.1 M triangles, sparse body
        fh.write(b"\0" * 80 + np.uint32(n).tobytes())
        fh.truncate(84 + 50 * n)
    with pytest.raises(PartTooLarge) as err2:
        load_part(many, max_bytes=200 * 2**20)
    assert err2.value.detail["triangles"] == n


@pytest.mark.parametrize("suffix", ["stl", "obj", "ply"])
def test_triangle_limit(tmp_path: Path, suffix: str) -> None:
    path = _write_mesh(trimesh.creation.icosphere(4, radius=10), tmp_path / f"s.{suffix}")
    with pytest.raises(PartTooLarge) as err:
        load_part(path, max_triangles=1000)
    assert err.value.detail["triangles"] == 5120
    assert len(load_part(path, max_triangles=5120).bodies[0].mesh.faces) == 5120


def test_zero_volume_and_open_meshes_are_not_solids(tmp_path: Path) -> None:
    flat = trimesh.Trimesh(
        [[0, 0, 0], [10, 0, 0], [0, 10, 0], [10, 10, 0]],
        [[0, 1, 2], [1, 3, 2], [0, 2, 1], [1, 2, 3]],
        process=False,
    )
    with pytest.raises(NotASolid, match="no volume"):
        load_part(_write_mesh(flat, tmp_path / "flat.stl"))
    # A closed box squashed flat: a shell that encloses nothing.
    squashed = _box_mesh((10, 10, 10))
    squashed.vertices[:, 2] = 0.0
    with pytest.raises(NotASolid, match="no volume"):
        load_part(_write_mesh(squashed, tmp_path / "squashed.stl"))

    cup = trimesh.creation.cylinder(radius=20, height=40, sections=64)
    keep = cup.face_normals[:, 2] < 0.9  # drop the top cap: an open cup
    cup = trimesh.Trimesh(cup.vertices, cup.faces[keep], process=False)
    with pytest.raises(NotASolid) as err2:
        load_part(_write_mesh(cup, tmp_path / "cup.stl"))
    assert err2.value.detail["open_edges"] == 64
    assert "64" in err2.value.message


def test_too_small_and_too_large_parts_suggest_units(tmp_path: Path) -> None:
    tiny = _write_mesh(_box_mesh((0.05, 0.03, 0.02)), tmp_path / "tiny.stl")
    with pytest.raises(PartSizeOutOfRange) as err:
        load_part(tiny)
    assert "--units m" in err.value.message and "0.05" in err.value.message
    assert err.value.detail["suggested_units"] == ["m"]
    assert _volume(load_part(tiny, units="m")) == pytest.approx(50 * 30 * 20)

    huge = _write_mesh(_box_mesh((4000, 100, 100)), tmp_path / "huge.stl")
    with pytest.raises(PartSizeOutOfRange) as err2:
        load_part(huge)
    assert "4000" in err2.value.message and err2.value.detail["largest_mm"] == 4000


# --------------------------------------------------------------------------- repairs


def test_sound_mesh_gets_no_repair_warnings(tmp_path: Path) -> None:
    path = _write_mesh(trimesh.creation.icosphere(3, radius=20), tmp_path / "ball.stl")
    assert load_part(path).warnings == ()


def test_inside_out_mesh_is_turned_outward(tmp_path: Path) -> None:
    ball = trimesh.creation.icosphere(3, radius=20)
    expected = ball.volume
    ball.invert()
    part = load_part(_write_mesh(ball, tmp_path / "inverted.stl"))
    assert "inside out" in _repairs(part)
    assert part.bodies[0].mesh.volume == pytest.approx(expected)


def test_flipped_triangles_are_rewound(tmp_path: Path) -> None:
    ball = trimesh.creation.icosphere(3, radius=20)
    expected = ball.volume
    faces = ball.faces.copy()
    faces[:40] = faces[:40, ::-1]
    part = load_part(
        _write_mesh(trimesh.Trimesh(ball.vertices, faces, process=False), tmp_path / "flipped.ply")
    )
    assert "re-wound 40 triangles" in _repairs(part)
    mesh = part.bodies[0].mesh
    assert mesh.is_winding_consistent and mesh.volume == pytest.approx(expected)


def test_small_hole_is_filled_and_reported(tmp_path: Path) -> None:
    ball = trimesh.creation.icosphere(3, radius=20)
    expected = ball.volume
    # Remove the fan of triangles around one vertex: a small hexagonal/pentagonal hole.
    around = np.flatnonzero((ball.faces == 7).any(axis=1))
    keep = np.ones(len(ball.faces), dtype=bool)
    keep[around] = False
    holed = trimesh.Trimesh(ball.vertices, ball.faces[keep], process=False)
    assert not holed.is_watertight
    part = load_part(_write_mesh(holed, tmp_path / "holed.stl"))
    assert "filled 1 small holes" in _repairs(part)
    mesh = part.bodies[0].mesh
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(expected, rel=0.01)


def test_duplicate_and_degenerate_triangles_are_removed(tmp_path: Path) -> None:
    box = _box_mesh((10, 10, 10))
    faces = np.vstack([box.faces, box.faces[:3], [[0, 1, 0]]])
    path = _write_mesh(trimesh.Trimesh(box.vertices, faces, process=False), tmp_path / "d.ply")
    part = load_part(path)
    text = _repairs(part)
    assert "removed 3 duplicate or back-to-back triangles" in text
    assert "removed 1 degenerate triangles" in text
    assert part.bodies[0].mesh.is_watertight
    assert _volume(part) == pytest.approx(1000)


def test_gaps_from_rounded_coordinates_are_closed(tmp_path: Path) -> None:
    ball = trimesh.creation.icosphere(3, radius=20)
    soup = ball.vertices[ball.faces].reshape(-1, 3)
    rng = np.random.default_rng(RNG_SEED)
    soup += rng.uniform(-1e-6, 1e-6, soup.shape)  # each triangle's copy of a vertex differs
    faces = np.arange(len(soup)).reshape(-1, 3)
    path = tmp_path / "gaps.obj"
    path.write_text(
        "".join(f"v {x:.9f} {y:.9f} {z:.9f}\n" for x, y, z in soup)
        + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)
    )
    part = load_part(path)
    assert "merged vertices closer than" in _repairs(part)
    assert part.bodies[0].mesh.is_watertight
    assert _volume(part) == pytest.approx(ball.volume, rel=1e-4)


# --------------------------------------------------------------------------- bodies


def test_separate_bodies_are_separate_items(tmp_path: Path) -> None:
    path = _scene_file(
        tmp_path / "two.3mf",
        {"bracket": _box_mesh((10, 10, 10)), "pin": _box_mesh((10, 10, 10), (30, 0, 0))},
    )
    part = load_part(path)
    assert [b.name for b in part.bodies] == ["bracket", "pin"]
    assert [b.index for b in part.bodies] == [0, 1]
    assert "multi_body" in _codes(part)
    assert all(b.mesh.volume == pytest.approx(1000) for b in part.bodies)


@pytest.mark.parametrize(
    ("second", "expected_volume"),
    [
        (_box_mesh((10, 10, 10), (10, 5, 3)), 2000.0),  # face to face, offset
        (_box_mesh((10, 10, 10), (5, 0, 0)), 1500.0),  # overlapping half
        (_box_mesh((4, 4, 4)), 1000.0),  # inside the first
    ],
    ids=["touching", "overlapping", "embedded"],
)
def test_touching_or_overlapping_bodies_are_one_part(
    tmp_path: Path, second: trimesh.Trimesh, expected_volume: float
) -> None:
    path = _scene_file(tmp_path / "pair.3mf", {"a": _box_mesh((10, 10, 10)), "b": second})
    part = load_part(path)
    assert len(part.bodies) == 1
    assert "multi_body" in _codes(part)
    assert part.bodies[0].mesh.volume == pytest.approx(expected_volume, rel=1e-6)
    assert part.bodies[0].mesh.is_watertight


def test_crossing_bars_are_united(tmp_path: Path) -> None:
    path = _scene_file(
        tmp_path / "cross.3mf",
        {"x": _box_mesh((100, 10, 10)), "y": _box_mesh((10, 100, 6))},
    )
    part = load_part(path)
    assert len(part.bodies) == 1
    assert part.bodies[0].mesh.volume == pytest.approx(100 * 10 * 10 + 10 * 100 * 6 - 600)


def test_solids_welded_by_vertex_merging_are_one_part(tmp_path: Path) -> None:
    # Two boxes exported into one STL: touching face to face, they share vertices once merged.
    welded = trimesh.util.concatenate(
        [_box_mesh((10, 10, 10)), _box_mesh((10, 10, 10), (10, 0, 0))]
    )
    part = load_part(_write_mesh(welded, tmp_path / "welded.stl"))
    assert len(part.bodies) == 1
    assert part.bodies[0].mesh.volume == pytest.approx(2000)
    # Two boxes sharing one edge only: split at the edge, they touch, so still one part.
    edge = trimesh.util.concatenate([_box_mesh((10, 10, 10)), _box_mesh((10, 10, 10), (10, 10, 0))])
    part2 = load_part(_write_mesh(edge, tmp_path / "edge.stl"))
    assert len(part2.bodies) == 1 and "multi_body" in _codes(part2)
    assert part2.bodies[0].mesh.volume == pytest.approx(2000)


def test_inner_void_stays_a_void(tmp_path: Path) -> None:
    void = _box_mesh((5, 5, 5))
    void.invert()
    hollow = trimesh.util.concatenate([_box_mesh((10, 10, 10)), void])
    part = load_part(_write_mesh(hollow, tmp_path / "hollow.stl"))
    assert len(part.bodies) == 1 and "multi_body" not in _codes(part)
    assert part.bodies[0].mesh.volume == pytest.approx(1000 - 125)


def test_step_compounds_split_into_bodies(tmp_path: Path) -> None:
    separate = tmp_path / "separate.step"
    export_step(
        Compound([Box(10, 10, 10), Pos(30, 0, 0) * Box(10, 10, 10), Pos(0, 40, 0) * Box(5, 5, 5)]),
        str(separate),
    )
    part = load_part(separate)
    assert len(part.bodies) == 3
    assert [round(b.mesh.volume) for b in part.bodies] == [1000, 1000, 125]
    assert all(b.shape is not None for b in part.bodies)
    assert "multi_body" in _codes(part)

    touching = tmp_path / "touching.step"
    export_step(Compound([Box(10, 10, 10), Pos(10, 0, 0) * Box(10, 10, 10)]), str(touching))
    part2 = load_part(touching)
    assert len(part2.bodies) == 1 and "multi_body" in _codes(part2)
    assert part2.bodies[0].mesh.volume == pytest.approx(2000)
    from OCP.TopAbs import TopAbs_SOLID
    from OCP.TopExp import TopExp_Explorer

    explorer = TopExp_Explorer(part2.bodies[0].shape, TopAbs_SOLID)
    solids = 0
    while explorer.More():
        solids += 1
        explorer.Next()
    assert solids == 2


# --------------------------------------------------------------------------- real files


def test_box_sides_is_detected_as_multi_body() -> None:
    part = load_part(SHARED_PARTS / "trimesh" / "box_sides.STEP")
    (warning,) = [w for w in part.warnings if w.code == "multi_body"]
    assert "10 solids" in warning.message
    # The ten panels all touch: one part (an assembled box), volume of all ten.
    assert len(part.bodies) == 1
    assert _volume(part) == pytest.approx(263542.0, rel=0.01)
    assert part.units == "inch"


def test_featuretype_stl_in_inches() -> None:
    stl = SHARED_PARTS / "trimesh" / "featuretype.STL"
    with pytest.raises(SuspectUnits) as suspect:
        load_part(stl)
    assert "--units inch" in suspect.value.message
    inch = load_part(stl, units="inch")
    assert "suspect_units" not in _codes(inch)
    step = load_part(SHARED_PARTS / "trimesh" / "featuretype.STEP")
    np.testing.assert_allclose(_extents(inch), _extents(step), rtol=0.01)
    np.testing.assert_allclose(np.sort(_extents(inch)), [34.925, 63.5, 127.0], rtol=0.01)
    assert _volume(inch) == pytest.approx(_volume(step), rel=0.01)


def _reference() -> dict[str, dict[str, str]]:
    path = SHARED_PARTS / "step_reference.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        return {row["path"]: row for row in csv.DictReader(fh)}


REFERENCE = _reference()
REAL_FILES = (
    sorted(
        p for p in SHARED_PARTS.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
    )
    if SHARED_PARTS.is_dir()
    else []
)


@pytest.mark.slow
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: str(p.relative_to(SHARED_PARTS)))
def test_every_real_file_loads_or_is_refused_with_a_typed_error(path: Path) -> None:
    try:
        part = load_part(path)
    except MitsumoriError as err:
        assert isinstance(err, PartError) and err.message
        return
    assert part.bodies
    for body in part.bodies:
        assert body.mesh.volume > 0
        assert body.mesh.is_winding_consistent
        assert body.mesh.metadata["open_edges"] == 0
    ref = REFERENCE.get(str(path.relative_to(SHARED_PARTS)))
    if ref is not None:
        assert _volume(part) == pytest.approx(float(ref["volume_mm3"]), rel=0.01)
        assert part.source_format == "step"


@pytest.mark.parametrize(
    ("name", "error"),
    [("ADIS16480.STL", PartSizeOutOfRange), ("large_block.STL", PartSizeOutOfRange)],
)
def test_real_meshes_in_wrong_units_are_refused(name: str, error: type[PartError]) -> None:
    with pytest.raises(error):
        load_part(SHARED_PARTS / "trimesh" / name)


def test_a_zip_that_is_not_3mf(tmp_path: Path) -> None:
    path = tmp_path / "archive.3mf"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "no model in here")
    with pytest.raises(PartError):
        load_part(path)


def test_directory_named_like_a_part(tmp_path: Path) -> None:
    folder = tmp_path / "folder.stl"
    os.mkdir(folder)
    with pytest.raises(PartNotFound):
        load_part(folder)
