"""Semantic PMI of the NIST AP242 files, checked against their drawings (NIST CTC-01, FTC-06).

CTC-01 (mm) has 8 toleranced dimensions and 6 geometric tolerances on the drawing; FTC-06 is
drawn in inches and must come out in mm. The faces an object applies to are checked by their
geometry: a diameter's faces are cylinders of that diameter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from OCP.BRepAdaptor import BRepAdaptor_Surface
from OCP.GeomAbs import GeomAbs_Cylinder, GeomAbs_Plane
from OCP.TopAbs import TopAbs_FACE
from OCP.TopExp import TopExp_Explorer
from OCP.TopoDS import TopoDS

from quote.analysis import PartAnalysis, analyze_part, features_from_dict
from quote.geometry.loading import load_part
from quote.geometry.pmi import names_gdt
from quote.types import Pmi
from tests.conftest import SHARED_PARTS

PMI_DIR = SHARED_PARTS / "nist_ctc_ftc" / "ap242_pmi"
CTC_01 = PMI_DIR / "nist_ctc_01_asme1_ap242-e1.stp"
FTC_06 = PMI_DIR / "nist_ftc_06_asme1_ap242-e1.stp"
CTC_01_PLAIN = SHARED_PARTS / "nist_ctc_ftc" / "geometry_only" / "nist_ctc_01_asme1_rd.stp"


@pytest.fixture(scope="module")
def ctc01() -> tuple[PartAnalysis, Any]:
    loaded = load_part(CTC_01)
    return analyze_part(CTC_01), loaded.bodies[0].shape


def _faces(shape: Any) -> list[Any]:
    out = []
    exp = TopExp_Explorer(shape, TopAbs_FACE)
    while exp.More():
        out.append(BRepAdaptor_Surface(TopoDS.Face(exp.Current())))
        exp.Next()
    return out


def _pmi(analysis: PartAnalysis) -> Pmi:
    pmi = analysis.items[0].features.pmi
    assert pmi is not None
    return pmi


def test_ctc01_has_the_drawings_eight_dimensions(ctc01: tuple[PartAnalysis, Any]) -> None:
    analysis, shape = ctc01
    dims = _pmi(analysis).dimensions
    got = [
        (d.kind, *(None if v is None else round(v, 6) for v in (d.nominal, d.plus, d.minus)))
        + tuple(None if v is None else round(v, 6) for v in (d.lower, d.upper))
        for d in dims
    ]
    expected = [  # (kind, nominal, +, -, lower limit, upper limit)
        ("angular", 60.0, 0.5, 0.5, None, None),
        ("diameter", 35.0, 0.0, 0.2, None, None),  # Ø35 +0/-0.2
        ("diameter", 35.0, 0.2, 0.0, None, None),
        ("diameter", 20.0, 0.05, 0.1, None, None),  # Ø20 +0.05/-0.1
        ("diameter", 20.0, 0.1, 0.05, None, None),
        ("diameter", 35.0, None, None, 34.8, 35.2),
        ("diameter", 35.0, None, None, 34.8, 35.2),
        ("diameter", 25.0, 0.15, 0.15, None, None),  # Ø25 +-0.15
    ]
    assert len(dims) == 8
    assert sorted(map(str, got)) == sorted(map(str, expected))
    faces = _faces(shape)
    for d in dims:
        assert d.faces, d
        if d.kind == "diameter":
            for i in d.faces:
                assert faces[i].GetType() == GeomAbs_Cylinder
                assert 2 * faces[i].Cylinder().Radius() == pytest.approx(d.nominal, abs=1e-6)
        else:
            assert d.unit == "deg" and d.to_faces


def test_ctc01_has_the_drawings_six_geometric_tolerances(ctc01: tuple[PartAnalysis, Any]) -> None:
    analysis, shape = ctc01
    pmi = _pmi(analysis)
    got = sorted(
        (t.kind, t.value_mm, tuple(r.name for r in t.datums), t.modifiers) for t in pmi.tolerances
    )
    assert got == sorted(
        [
            ("position", 0.75, ("A", "B", "C"), ()),
            ("position", 0.75, ("A", "B", "C"), ()),
            ("profile_of_surface", 1.25, ("A", "B", "C"), ()),
            ("profile_of_surface", 0.5, ("A",), ("all_around",)),
            ("perpendicularity", 1.5, ("A",), ()),
            ("flatness", 0.2, (), ()),
        ]
    )
    faces = _faces(shape)
    for t in pmi.tolerances:
        assert t.faces and all(0 <= i < len(faces) for i in t.faces), t
    flatness = next(t for t in pmi.tolerances if t.kind == "flatness")
    assert all(faces[i].GetType() == GeomAbs_Plane for i in flatness.faces)
    for t in (t for t in pmi.tolerances if t.kind == "position"):  # slots: two side walls
        assert len(t.faces) == 2 and all(faces[i].GetType() == GeomAbs_Plane for i in t.faces)
    # datum A is the flat face the flatness controls; B and C come back with no faces
    datums = {d.name: d for d in pmi.datums}
    assert set(datums) == {"A", "B", "C"}
    assert datums["A"].faces == flatness.faces
    notes = [w.message for w in analysis.warnings if w.code == "pmi_incomplete"]
    assert any("datum B" in n and "datum C" in n for n in notes)
    assert any("4 dimensions" in n and "no value" in n for n in notes)


def test_ftc06_inch_drawing_values_come_out_in_mm() -> None:
    analysis = analyze_part(FTC_06)
    shape = load_part(FTC_06).bodies[0].shape
    # the file's geometry is in mm, its PMI measures in inches (LENGTH_MEASURE(0.562) INCH)
    dims = _pmi(analysis).dimensions
    # 2X Ø.562 +-.008 on the drawing
    d = next(d for d in dims if d.kind == "diameter" and abs(d.nominal - 14.275) < 1e-3)
    assert d.nominal == pytest.approx(0.562 * 25.4, abs=1e-3)
    assert d.plus == pytest.approx(0.203, abs=1e-3) and d.minus == pytest.approx(0.203, abs=1e-3)
    faces = _faces(shape)
    assert d.faces
    for i in d.faces:
        assert faces[i].GetType() == GeomAbs_Cylinder
        # the model's hole is 9/16" (14.2875); the drawing rounds it to .562
        assert 2 * faces[i].Cylinder().Radius() == pytest.approx(0.5625 * 25.4, abs=1e-6)
    tols = _pmi(analysis).tolerances
    assert {round(t.value_mm, 4) for t in tols} >= {0.254, 0.508, 0.635}  # .010 .020 .025


def test_pmi_survives_the_stored_form(ctc01: tuple[PartAnalysis, Any]) -> None:
    feats = ctc01[0].items[0].features
    stored = json.loads(json.dumps(feats.to_dict()))
    rebuilt = features_from_dict(stored)
    assert rebuilt.pmi == feats.pmi
    assert rebuilt.to_dict() == stored


def test_a_file_without_pmi_is_read_as_before() -> None:
    assert not names_gdt(CTC_01_PLAIN.read_bytes())
    assert names_gdt(CTC_01.read_bytes())
    with_pmi = analyze_part(CTC_01_PLAIN)
    without = analyze_part(CTC_01_PLAIN, pmi=False)
    assert with_pmi.items[0].features.pmi is None
    d = with_pmi.items[0].features.to_dict()
    assert "pmi" not in d
    assert d == without.items[0].features.to_dict()


def test_the_xcaf_read_gives_the_same_part(ctc01: tuple[PartAnalysis, Any]) -> None:
    """The PMI file's features with and without PMI differ by the pmi key only."""
    with_pmi = ctc01[0].items[0].features.to_dict()
    without = analyze_part(CTC_01, pmi=False)
    assert without.items[0].features.pmi is None
    assert without.items[0].features.to_dict() == {k: v for k, v in with_pmi.items() if k != "pmi"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from quote.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


@pytest.mark.parametrize("no_pmi", [False, True])
def test_features_cli_no_pmi(no_pmi: bool) -> None:
    res = _cli("features", str(CTC_01), "--json", *(["--no-pmi"] if no_pmi else []))
    assert res.returncode == 0, res.stderr
    feats = json.loads(res.stdout)["items"][0]["features"]
    if no_pmi:
        assert "pmi" not in feats
    else:
        assert len(feats["pmi"]["dimensions"]) == 8 and len(feats["pmi"]["tolerances"]) == 6


def test_quote_cli_lists_pmi_and_no_pmi_drops_it(default_model: Any, tmp_path: Path) -> None:
    base = ("quote", str(CTC_01), "--material", "A5052", "--quantity", "10", "--json")
    res = _cli(*base)
    assert res.returncode == 0, res.stderr
    q = json.loads(res.stdout)
    assert len(q["items"][0]["features"]["pmi"]["tolerances"]) == 6
    res = _cli(*base, "--no-pmi")
    assert res.returncode == 0, res.stderr
    q = json.loads(res.stdout)
    assert "pmi" not in q["features"] and "pmi" not in q["items"][0]["features"]


def test_ftc10_limits_and_fits_class() -> None:
    """FTC-10's 3X Ø3.5 G6 holes: the fit comes from the file's LIMITS_AND_FITS."""
    dims = _pmi(analyze_part(PMI_DIR / "nist_ftc_10_asme1_ap242-e2.stp")).dimensions
    fitted = [d for d in dims if d.fit is not None]
    assert [(d.nominal, d.fit, d.plus, d.lower) for d in fitted] == [(3.5, "G6", None, None)] * 3
    assert all(d.faces for d in fitted)
