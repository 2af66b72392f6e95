"""Units are confirmed, not guessed: unitless meshes that read as inches are refused until given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from quote.analysis import analyze_part
from quote.engine import QuoteRequest, quote_analysis
from quote.errors import PartError, SuspectUnits
from quote.geometry.loading import load_part
from quote.geometry.units import check_size

REQUEST = QuoteRequest(material="A5052", quantity=10)

# The inch meshes of ../shared/data/parts/trimesh: the largest extent as read in "mm" (the file's
# numbers), and the extents once read in inches (sorted, mm). featuretype is documented in
# SOURCES.md (127 x 63.5 x 35 block); the others are checked against their fractional-inch sizes
# (angle_block 1" thick, idler_riser 5/8" thick) and holes below.
INCH_MESHES = {
    "featuretype.STL": (5.0, [34.925, 63.5, 127.0]),
    "angle_block.STL": (1.352, [25.4, 34.0, 34.34]),
    "idler_riser.STL": (2.953, [15.875, 67.46, 75.01]),
    "fandisk.obj": (1.691, [21.95, 39.54, 42.95]),
}


@pytest.mark.parametrize("name", sorted(INCH_MESHES))
def test_inch_mesh_is_refused_naming_the_units(shared_parts: Path, name: str) -> None:
    measured, _ = INCH_MESHES[name]
    with pytest.raises(SuspectUnits) as exc:
        analyze_part(shared_parts / "trimesh" / name)
    err = exc.value
    assert isinstance(err, PartError)
    assert err.code == "suspect_units" and err.http_status == 422
    assert "--units inch" in err.message and "units=inch" in err.message
    assert f"largest extent {measured:.4g} mm" in err.message
    assert err.detail["measured_mm"] == pytest.approx(measured, abs=1e-3)
    assert err.detail["suggested_units"] == "inch"
    assert err.detail["as_suggested_mm"] == pytest.approx(measured * 25.4, abs=0.03)


@pytest.mark.parametrize("name", sorted(INCH_MESHES))
def test_inch_mesh_quotes_at_its_true_size_with_units(
    shared_parts: Path,
    name: str,
    default_model,  # type: ignore[no-untyped-def]
) -> None:
    _, expected = INCH_MESHES[name]
    analysis = analyze_part(shared_parts / "trimesh" / name, units="inch")
    assert analysis.units == "inch"
    assert "suspect_units" not in {w.code for w in analysis.warnings}
    np.testing.assert_allclose(np.sort(analysis.items[0].features.bbox_mm), expected, rtol=0.02)
    assert quote_analysis(analysis, REQUEST, model=default_model).unit_price > 0


def test_featuretype_matches_its_documented_size_and_step_twin(shared_parts: Path) -> None:
    stl = analyze_part(shared_parts / "trimesh" / "featuretype.STL", units="in")
    step = analyze_part(shared_parts / "trimesh" / "featuretype.STEP")  # carries its units
    np.testing.assert_allclose(
        np.sort(stl.items[0].features.bbox_mm), [35.0, 63.5, 127.0], rtol=0.02
    )
    np.testing.assert_allclose(
        np.sort(stl.items[0].features.bbox_mm),
        np.sort(step.items[0].features.bbox_mm),
        rtol=0.01,
    )


def test_inch_holes_are_inch_drills(shared_parts: Path) -> None:
    """The hole pattern agrees with the size: read in inches, the holes are inch drills."""
    drills_in = {"angle_block.STL": [0.15625, 0.266], "idler_riser.STL": [0.196]}  # 5/32, H, #9
    for name, sizes in drills_in.items():
        feats = analyze_part(shared_parts / "trimesh" / name, units="inch").items[0].features
        found = sorted({round(h.diameter_mm / 25.4, 3) for h in feats.holes})
        np.testing.assert_allclose(found, sizes, atol=0.002)


def test_fandisk_names_metres_as_the_other_choice(shared_parts: Path) -> None:
    with pytest.raises(SuspectUnits) as exc:
        load_part(shared_parts / "trimesh" / "fandisk.obj")
    assert "--units m" in exc.value.message
    assert exc.value.detail["alternatives"]["m"] == pytest.approx(1690.8, abs=0.1)
    metres = load_part(shared_parts / "trimesh" / "fandisk.obj", units="m")
    assert max(metres.bodies[0].mesh.extents) == pytest.approx(1690.8, abs=0.1)


def test_explicit_mm_confirms_a_tiny_part(tmp_path: Path) -> None:
    path = tmp_path / "pin.stl"
    trimesh.creation.box(extents=(6.0, 3.0, 3.0)).export(path)
    with pytest.raises(SuspectUnits) as exc:
        load_part(path)
    assert "--units mm" in exc.value.message
    part = load_part(path, units="mm")
    assert max(part.bodies[0].mesh.extents) == pytest.approx(6.0)
    assert part.warnings == ()


def test_file_declared_units_are_taken_at_their_word(tmp_path: Path) -> None:
    mesh = trimesh.creation.box(extents=(6.0, 3.0, 3.0))
    mesh.units = "mm"  # a glTF that says millimetres
    path = tmp_path / "pin.glb"
    mesh.export(path)
    part = load_part(path)
    assert part.units == "mm" and max(part.bodies[0].mesh.extents) == pytest.approx(6.0)


def test_check_size_rules() -> None:
    check_size([5.0, 2.5, 1.0], units="mm", units_given=True, source_format="stl")
    check_size([5.0, 2.5, 1.0], units="inch", units_given=False, source_format="stl")
    check_size([12.0, 2.5, 1.0], units="mm", units_given=False, source_format="stl")
    check_size([5.0, 2.5, 1.0], units="mm", units_given=True, source_format="step")
    with pytest.raises(SuspectUnits):
        check_size([5.0, 2.5, 1.0], units="mm", units_given=False, source_format="stl")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from quote.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


def test_cli_exits_2_with_one_line_then_quotes_with_units(
    shared_parts: Path,
    default_model,  # type: ignore[no-untyped-def]
) -> None:
    stl = str(shared_parts / "trimesh" / "featuretype.STL")
    res = _cli("quote", stl, "--material", "A5052", "--json")
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "suspect_units" in lines[0] and "--units inch" in lines[0]
    ok = _cli("quote", stl, "--material", "A5052", "--units", "inch", "--json")
    assert ok.returncode == 0, ok.stderr
    q = json.loads(ok.stdout)
    assert max(q["features"]["obb_mm"]) == pytest.approx(127.0, rel=0.02)
