"""The assembled quote: the JSON contract, its arithmetic, and how it reacts to the spec."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import trimesh

from quote.analysis import analysis_from_dict, analyze_part
from quote.contract import CostBreakdown, LineItem, Quote, quote_from_json
from quote.engine import QuoteRequest, quote_analysis
from quote.errors import InvalidQuantity, InvalidTolerance, UnknownFinish, UnknownMaterial
from quote.types import BREAKDOWN_FIELDS, as_jsonable

TODAY = date(2026, 11, 26)  # a Thursday


def _plate_with_holes() -> trimesh.Trimesh:
    plate = trimesh.creation.box(extents=(100.0, 60.0, 10.0))
    holes = [
        trimesh.creation.cylinder(radius=3.3, height=14.0, sections=64).apply_translation((x, y, 0))
        for x in (-35.0, 0.0, 35.0)
        for y in (-18.0, 18.0)
    ]
    return plate.difference(trimesh.util.concatenate(holes))


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("parts") / "plate.stl"
    _plate_with_holes().export(path)
    return analyze_part(path)


def quote(analysis, default_model, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("material", "A5052")
    kw.setdefault("quantity", 10)
    return quote_analysis(analysis, QuoteRequest(**kw), model=default_model, today=TODAY)


def q(analysis, default_model, **kw):  # type: ignore[no-untyped-def]
    """The quote's JSON, as the CLI and the API write it."""
    return as_jsonable(quote(analysis, default_model, **kw))


def test_contract_and_arithmetic(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    typed = quote(plate, default_model)
    assert isinstance(typed, Quote) and isinstance(typed.items[0], LineItem)
    assert isinstance(typed.breakdown, CostBreakdown) and typed.physics is typed.items[0].physics
    res = as_jsonable(typed)
    # The JSON holds the dataclass's fields in order (physics only in a single-body quote).
    assert list(res) == [f.name for f in dataclasses.fields(Quote)]
    assert list(res["items"][0]) == [f.name for f in dataclasses.fields(LineItem)]
    assert res["currency"] == "JPY" and res["quantity"] == 10
    assert tuple(res["breakdown"]) == BREAKDOWN_FIELDS
    assert sum(res["breakdown"].values()) == pytest.approx(res["unit_price"], abs=1e-6)
    assert res["total_price"] == pytest.approx(10 * res["unit_price"])
    lo, hi = res["unit_price_interval"]
    assert lo < res["unit_price"] < hi
    llo, lhi = res["lead_time_interval"]
    assert llo <= res["lead_time_days"] <= lhi
    assert res["model"]["name"] and res["model"]["version"] and res["model"]["shop"] is None
    assert res["features"]["hole_count"] == 6
    assert len(res["explanation"]) >= 2 and all(isinstance(s, str) for s in res["explanation"])


def test_price_breaks_fall_with_quantity_and_setup_is_spread(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    res = q(plate, default_model, quantity=1)
    prices = [b["unit_price"] for b in res["price_breaks"]]
    quantities = [b["quantity"] for b in res["price_breaks"]]
    assert quantities == sorted(quantities) and 1 in quantities
    assert all(a >= b for a, b in zip(prices, prices[1:], strict=False)), prices
    assert prices[0] > 3 * prices[-1]  # one piece carries the whole setup
    one, hundred = q(plate, default_model, quantity=1), q(plate, default_model, quantity=100)
    assert one["breakdown"]["setup"] > 20 * hundred["breakdown"]["setup"]


def test_lead_time_tiers_trade_days_for_money(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    tiers = {t["name"]: t for t in q(plate, default_model)["lead_time_tiers"]}
    assert set(tiers) == {"express", "standard", "economy"}
    assert tiers["express"]["days"] < tiers["standard"]["days"] < tiers["economy"]["days"]
    assert (
        tiers["express"]["unit_price"]
        > tiers["standard"]["unit_price"]
        > tiers["economy"]["unit_price"]
    )
    ship = date.fromisoformat(tiers["standard"]["ship_date"])
    assert ship.weekday() < 5 and ship > TODAY


def test_spec_moves_the_price_the_right_way(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    base = q(plate, default_model)["unit_price"]
    assert q(plate, default_model, material="SUS304")["unit_price"] > base
    assert q(plate, default_model, material="Ti-6Al-4V")["unit_price"] > base
    assert q(plate, default_model, tolerance="0.01")["unit_price"] > base
    assert q(plate, default_model, finish="anodize")["unit_price"] > base


def test_aliases_resolve_to_the_same_quote(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    a = q(plate, default_model, material="A6061")
    b = q(plate, default_model, material="6061-T6")
    assert a["material"] == b["material"] == "A6061"
    assert a["unit_price"] == b["unit_price"]


def test_bad_spec_is_a_typed_error_that_lists_the_choices(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownMaterial) as exc:
        q(plate, default_model, material="unobtainium")
    assert "A5052" in exc.value.message and "SUS304" in exc.value.message
    with pytest.raises(UnknownFinish):
        q(plate, default_model, finish="gold leaf")
    with pytest.raises(InvalidTolerance):
        q(plate, default_model, tolerance="tight")
    for bad in (0, -3, 2.5, 10**9):
        with pytest.raises(InvalidQuantity):
            q(plate, default_model, quantity=bad)


def test_due_date_that_no_tier_meets_is_warned(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    res = q(plate, default_model, due_date=TODAY)
    assert "due_date_not_met" in {w["code"] for w in res["warnings"]}
    later = q(plate, default_model, due_date=date(2027, 3, 1))
    assert "due_date_not_met" not in {w["code"] for w in later["warnings"]}


def _plain_json(value: object) -> bool:
    """Only dict (str keys), list, str, int, float, bool and None, at every depth."""
    if isinstance(value, dict):
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_quote_json_is_plain_and_reads_back(plate, default_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The mapper leaves no tuples, dates, numpy scalars or unrounded floats, and the JSON reads
    # back into the same quote (as the platform reads a stored one).
    small = trimesh.creation.box(extents=(20.0, 20.0, 20.0))
    big = trimesh.creation.box(extents=(80.0, 40.0, 30.0)).apply_translation((100.0, 0, 0))
    trimesh.util.concatenate([small, big]).export(tmp_path / "two.stl")
    two = analyze_part(tmp_path / "two.stl")
    for analysis in (plate, two):
        for kw in ({}, {"material": "SUS304", "tolerance": "0.02", "roughness_ra_um": 0.8,
                        "finish": "passivation", "due_date": TODAY}):  # fmt: skip
            res = q(analysis, default_model, **kw)
            assert _plain_json(res)
            assert as_jsonable(res) == res  # every float already rounded to 6 digits
            assert json.loads(json.dumps(res)) == res
            assert as_jsonable(quote_from_json(json.loads(json.dumps(res)))) == res


def test_stored_analysis_quotes_the_same(plate, default_model) -> None:  # type: ignore[no-untyped-def]
    again = analysis_from_dict(plate.to_dict())
    assert q(again, default_model) == q(plate, default_model)


def test_separate_bodies_are_separate_line_items(tmp_path: Path, default_model) -> None:  # type: ignore[no-untyped-def]
    small = trimesh.creation.box(extents=(20.0, 20.0, 20.0))
    big = trimesh.creation.box(extents=(80.0, 40.0, 30.0)).apply_translation((100.0, 0, 0))
    path = tmp_path / "two.stl"
    trimesh.util.concatenate([small, big]).export(path)
    analysis = analyze_part(path)
    assert len(analysis.items) == 2
    assert "multi_body" in {w.code for w in analysis.warnings}
    res = q(analysis, default_model)
    prices = [it["unit_price"] for it in res["items"]]
    assert len(prices) == 2 and prices[0] != prices[1]
    assert res["unit_price"] == pytest.approx(sum(prices))
    vols = sorted(it["features"]["volume_mm3"] for it in res["items"])
    assert vols == pytest.approx([8000.0, 96000.0], rel=1e-3)
    assert np.isclose(res["total_price"], 10 * res["unit_price"])
