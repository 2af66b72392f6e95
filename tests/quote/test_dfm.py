"""DFM checks: each finding fires on the geometry that earns it, and only there."""

from __future__ import annotations

from dataclasses import replace

import pytest

from quote.catalogs import Catalog, load_catalog
from quote.geometry.dfm import check_dfm
from quote.types import DfmWarning, Hole, PartFeatures, QuoteSpec
from tests.quote.test_costing import plate_features


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def plate(catalog: Catalog) -> PartFeatures:
    """100 x 60 x 10 mm plate, six 6.6 mm (M6 clearance) through holes, nothing hard."""
    base = plate_features(catalog)
    holes = tuple(replace(h, standard=catalog.match_drill(h.diameter_mm)[0]) for h in base.holes)
    return replace(base, holes=holes, min_internal_radius_mm=3.0)


def codes(found: tuple[DfmWarning, ...]) -> dict[str, str]:
    return {w.code: w.severity for w in found}


def one(found: tuple[DfmWarning, ...], code: str) -> DfmWarning:
    hits = [w for w in found if w.code == code]
    assert len(hits) == 1, found
    return hits[0]


def test_clean_plate_has_no_findings(plate: PartFeatures, catalog: Catalog) -> None:
    assert check_dfm(plate, None, catalog) == ()
    assert check_dfm(plate, QuoteSpec("A5052", 10), catalog) == ()


def test_thin_wall_by_material(plate: PartFeatures, catalog: Catalog) -> None:
    loc = (5.0, 6.0, 7.0)
    thin = replace(plate, min_wall_mm=0.6, min_wall_location_mm=loc)
    w = one(check_dfm(thin, QuoteSpec("A5052", 1), catalog), "thin_wall")
    assert (w.severity, w.location_mm, w.value, w.limit) == ("warning", loc, 0.6, 0.8)
    assert "0.60 mm" in w.message and "0.8 mm" in w.message
    too_thin = replace(plate, min_wall_mm=0.3)
    assert codes(check_dfm(too_thin, QuoteSpec("A5052", 1), catalog))["thin_wall"] == "error"
    # 1.2 mm is fine in aluminium but thin for acetal (1.5 mm recommended, 1.0 feasible).
    plastic = replace(plate, min_wall_mm=1.2)
    assert "thin_wall" not in codes(check_dfm(plastic, QuoteSpec("A5052", 1), catalog))
    assert codes(check_dfm(plastic, QuoteSpec("POM", 1), catalog))["thin_wall"] == "warning"
    # Without a spec, metal limits apply.
    assert codes(check_dfm(thin, None, catalog))["thin_wall"] == "warning"


def test_sharp_internal_corner(plate: PartFeatures, catalog: Catalog) -> None:
    loc = (50.0, 30.0, 5.0)
    sharp = replace(plate, min_internal_radius_mm=0.0, min_internal_radius_location_mm=loc)
    w = one(check_dfm(sharp, None, catalog), "sharp_internal_corner")
    assert w.severity == "warning" and w.location_mm == loc
    assert w.limit == catalog.cutters.min_radius_mm
    assert "0.65 mm" in w.message  # 1.3 x the 0.5 mm radius of the smallest end mill
    tight = replace(plate, min_internal_radius_mm=0.55)
    assert codes(check_dfm(tight, None, catalog))["sharp_internal_corner"] == "info"
    assert "sharp_internal_corner" not in codes(check_dfm(plate, None, catalog))


def test_deep_pocket(plate: PartFeatures, catalog: Catalog) -> None:
    loc = (20.0, 20.0, 0.0)
    deep = replace(
        plate, max_pocket_depth_mm=50.0, max_pocket_width_mm=10.0, pocket_location_mm=loc
    )
    w = one(check_dfm(deep, None, catalog), "deep_pocket")
    assert w.severity == "warning" and w.location_mm == loc and w.value == pytest.approx(5.0)
    assert "50.0 mm deep" in w.message and "40.0 mm" in w.message
    ok = replace(plate, max_pocket_depth_mm=35.0, max_pocket_width_mm=10.0)
    assert "deep_pocket" not in codes(check_dfm(ok, None, catalog))


def _with_holes(plate: PartFeatures, *holes: Hole) -> PartFeatures:
    return replace(plate, holes=holes)


def test_deep_holes_grouped_by_severity(plate: PartFeatures, catalog: Catalog) -> None:
    axis = (0.0, 0.0, -1.0)
    five_x = [Hole(6.0, 30.0, False, axis, (10.0 * i, 0.0, 30.0), "6 (jobber drill)")
              for i in range(4)]  # fmt: skip
    thirteen_x = Hole(6.0, 80.0, True, axis, (0.0, 50.0, 80.0), "6 (jobber drill)")
    found = check_dfm(_with_holes(plate, *five_x, thirteen_x), None, catalog)
    deep = [w for w in found if w.code == "deep_hole"]
    assert sorted(w.severity for w in deep) == ["error", "warning"]
    err = next(w for w in deep if w.severity == "error")
    warn = next(w for w in deep if w.severity == "warning")
    assert err.location_mm == (0.0, 50.0, 80.0) and err.value == pytest.approx(80 / 6)
    assert "4 holes" in warn.message and warn.value == pytest.approx(5.0)
    assert found[0].severity == "error"  # errors come first
    shallow = Hole(6.0, 20.0, True, axis, (0.0, 0.0, 20.0), "6 (jobber drill)")
    assert "deep_hole" not in codes(check_dfm(_with_holes(plate, shallow), None, catalog))


def test_hole_sizes(plate: PartFeatures, catalog: Catalog) -> None:
    axis = (0.0, 0.0, -1.0)
    odd = Hole(13.2, 10.0, True, axis, (1.0, 2.0, 10.0), None)
    micro = Hole(0.6, 2.0, False, axis, (3.0, 4.0, 10.0), None)
    found = check_dfm(_with_holes(plate, odd, micro), None, catalog)
    w = one(found, "non_standard_hole")
    assert w.severity == "info" and "13.2 mm" in w.message and w.limit == 13.0
    assert one(found, "small_hole").severity == "warning"


def test_unreachable_faces(plate: PartFeatures, catalog: Catalog) -> None:
    w = one(
        check_dfm(replace(plate, unreachable_area_mm2=420.0), None, catalog), "unreachable_faces"
    )
    assert w.severity == "warning" and "420 mm^2" in w.message and "5-axis" in w.message
    assert "unreachable_faces" not in codes(check_dfm(plate, None, catalog))


def test_tolerance_too_tight_only_with_a_spec(plate: PartFeatures, catalog: Catalog) -> None:
    def sev(tol: float) -> str | None:
        s = QuoteSpec("A5052", 1, tolerance_label=f"{tol:g}", tolerance_mm=tol)
        return codes(check_dfm(plate, s, catalog)).get("tolerance_too_tight")

    assert sev(0.3) is None and sev(0.05) is None
    assert sev(0.015) == "warning"  # holdable, costs more on a mill
    assert sev(0.005) == "error"  # beyond milling: grinding
    assert "tolerance_too_tight" not in codes(check_dfm(plate, None, catalog))
    # A lathe holds tighter than a mill.
    turned = replace(plate, process="lathe")
    s = QuoteSpec("A5052", 1, tolerance_label="0.008", tolerance_mm=0.008)
    assert codes(check_dfm(turned, s, catalog))["tolerance_too_tight"] == "warning"
    assert codes(check_dfm(plate, s, catalog))["tolerance_too_tight"] == "error"


def test_machine_envelope(catalog: Catalog) -> None:
    giant = plate_features(catalog, 4000, 300, 50, n_holes=0)
    w = one(check_dfm(giant, None, catalog), "exceeds_machine_envelope")
    assert w.severity == "error" and "4000 x 300 x 50" in w.message and w.value == 4000
    small = plate_features(catalog, 100, 100, 100, n_holes=0)
    assert "exceeds_machine_envelope" not in codes(check_dfm(small, None, catalog))
    # 1.9 m fits the large mill in one orientation.
    long = plate_features(catalog, 1900, 400, 30, n_holes=0)
    assert "exceeds_machine_envelope" not in codes(check_dfm(long, None, catalog))


def test_missing_measurements_are_not_findings(plate: PartFeatures, catalog: Catalog) -> None:
    blank = replace(plate, min_wall_mm=float("inf"), min_internal_radius_mm=None,
                    max_pocket_depth_mm=float("nan"), unreachable_area_mm2=0.0)  # fmt: skip
    assert check_dfm(blank, None, catalog) == ()
