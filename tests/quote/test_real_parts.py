"""Every real file under ../shared/data/parts gets a quote or a typed error, never a traceback,
and the same part from two exporters is priced alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from quote.analysis import analyze_part
from quote.engine import QuoteRequest, quote_analysis
from quote.errors import MitsumoriError
from tests.conftest import SHARED_PARTS

ALL_FILES = (
    sorted(p for p in SHARED_PARTS.rglob("*") if p.is_file()) if SHARED_PARTS.is_dir() else []
)
REQUEST = QuoteRequest(material="A5052", quantity=10)
MESH_SUFFIXES = {".stl", ".obj", ".ply", ".3mf", ".glb"}

# The same part from two exporters: (first, second, units of the second).
SAME_PART = [
    (f"nist_ctc_ftc/ap242_pmi/{a}", f"nist_ctc_ftc/geometry_only/{b}", None)
    for a, b in [
        ("nist_ctc_01_asme1_ap242-e1.stp", "nist_ctc_01_asme1_rd.stp"),
        ("nist_ctc_02_asme1_ap242-e2.stp", "nist_ctc_02_asme1_rc.stp"),
        ("nist_ctc_03_asme1_ap242-e2.stp", "nist_ctc_03_asme1_rc.stp"),
        ("nist_ctc_04_asme1_ap242-e1.stp", "nist_ctc_04_asme1_rd.stp"),
        ("nist_ctc_05_asme1_ap242-e1.stp", "nist_ctc_05_asme1_rd.stp"),
        ("nist_ftc_06_asme1_ap242-e1.stp", "nist_ftc_06_asme1_rd.stp"),
        ("nist_ftc_07_asme1_ap242-e2.stp", "nist_ftc_07_asme1_rd.stp"),
        ("nist_ftc_08_asme1_ap242-e1.stp", "nist_ftc_08_asme1_rc.stp"),
        ("nist_ftc_09_asme1_ap242-e1.stp", "nist_ftc_09_asme1_rd.stp"),
        ("nist_ftc_10_asme1_ap242-e2.stp", "nist_ftc_10_asme1_rb.stp"),
        ("nist_ftc_11_asme1_ap242-e1.stp", "nist_ftc_11_asme1_rb.stp"),
    ]
] + [("trimesh/featuretype.STEP", "trimesh/featuretype.STL", "inch")]


@pytest.mark.slow
@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(SHARED_PARTS)))
def test_every_real_file_quotes_or_fails_typed(path: Path, default_model) -> None:  # type: ignore[no-untyped-def]
    try:
        analysis = analyze_part(path)
    except MitsumoriError as exc:
        assert exc.code and exc.message and "Traceback" not in exc.message
        if exc.code in ("part_size_out_of_range", "suspect_units") and (
            path.suffix.lower() in MESH_SUFFIXES
        ):
            # Meshes carry no units: a size outside 0.5 mm - 3 m, or one that reads as inches
            # (or metres), is refused, saying so.
            assert "units" in exc.message and "mm" in exc.message, exc.message
            return
        # Otherwise only files that are not parts may be refused: documents, spreadsheets.
        assert path.suffix.lower() not in {".stp", ".step", ".stl", ".obj"}, exc.message
        return
    q = quote_analysis(analysis, REQUEST, model=default_model)
    assert q.unit_price > 0 and q.total_price == pytest.approx(10 * q.unit_price)
    lo, hi = q.unit_price_interval
    assert lo <= q.unit_price <= hi
    assert q.lead_time_days >= 1
    for item in q.items:
        assert item.breakdown.total == pytest.approx(item.unit_price, abs=0.5)


@pytest.mark.slow
@pytest.mark.parametrize("a,b,units", SAME_PART, ids=lambda x: Path(str(x)).name)
def test_same_part_two_exporters_priced_within_5_percent(
    a: str, b: str, units, default_model
) -> None:  # type: ignore[no-untyped-def]
    qa = quote_analysis(analyze_part(SHARED_PARTS / a), REQUEST, model=default_model)
    qb = quote_analysis(analyze_part(SHARED_PARTS / b, units=units), REQUEST, model=default_model)
    assert qb.unit_price == pytest.approx(qa.unit_price, rel=0.05), (qa.unit_price, qb.unit_price)


def test_inch_stl_is_refused_and_unit_suggested(shared_parts: Path) -> None:
    with pytest.raises(MitsumoriError) as exc:
        analyze_part(shared_parts / "trimesh" / "featuretype.STL")
    assert exc.value.code == "suspect_units" and "--units inch" in exc.value.message
    fixed = analyze_part(shared_parts / "trimesh" / "featuretype.STL", units="inch")
    assert "suspect_units" not in {w.code for w in fixed.warnings}
    assert max(fixed.items[0].features.obb_mm) == pytest.approx(127.0, rel=0.01)


@pytest.mark.parametrize("name", ["octagonal_pocket.stl", "ADIS16480.STL"])
def test_metre_meshes_are_refused_with_the_fix_and_quote_with_it(
    shared_parts: Path, name: str, default_model
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MitsumoriError) as exc:
        analyze_part(shared_parts / "trimesh" / name)
    assert exc.value.code == "part_size_out_of_range" and "--units m" in exc.value.message
    analysis = analyze_part(shared_parts / "trimesh" / name, units="m")
    extent = max(analysis.items[0].features.obb_mm)
    assert 10.0 < extent < 1000.0
    assert quote_analysis(analysis, REQUEST, model=default_model).unit_price > 0
