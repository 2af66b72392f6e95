"""Explanations: the drivers of a real part's price in plain words, with the physics' what-ifs."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from quote.artifact import ModelPrediction
from quote.catalogs import load_catalog
from quote.corpus import corpus_features, generate_part
from quote.costing import estimate
from quote.explain import explain
from quote.types import BREAKDOWN_FIELDS, PartFeatures, PhysicsEstimate, QuoteSpec


@pytest.fixture(scope="module")
def parts() -> dict[str, PartFeatures]:
    meshes = [
        ("block", generate_part(0, 31, family="block")),
        ("shaft", generate_part(1, 31, family="shaft")),
    ]
    return dict(corpus_features(meshes, load_catalog()))


def _prediction(physics: PhysicsEstimate, scale: float = 1.0) -> ModelPrediction:
    """A model prediction that is the physics breakdown scaled by ``scale``."""
    contrib = {t: getattr(physics.breakdown, t) * scale for t in BREAKDOWN_FIELDS}
    price = physics.unit_price * scale
    return ModelPrediction(
        unit_price=price,
        unit_price_interval=(0.8 * price, 1.2 * price),
        unit_price_interval_80=(0.85 * price, 1.15 * price),
        lead_time_days=physics.lead_time_days,
        lead_time_interval=(physics.lead_time_days, physics.lead_time_days + 2),
        lead_time_interval_80=(physics.lead_time_days, physics.lead_time_days + 1),
        prior_unit_price=price,
        contributions=contrib,
    )


def _amount(line: str) -> float:
    match = re.search(r"([-\d,]+) JPY", line)
    assert match is not None, line
    return float(match.group(1).replace(",", ""))


def test_biggest_driver_first_with_its_reason(parts: dict[str, PartFeatures]) -> None:
    feats = parts["block"]
    spec = QuoteSpec("SUS304", 20, "ISO2768-m", 0.2, "none")
    phys = estimate(feats, spec, load_catalog())
    lines = explain(_prediction(phys), phys, feats, spec)
    driver_lines = [ln for ln in lines if " JPY" in ln]
    amounts = [_amount(ln) for ln in driver_lines]
    assert amounts == sorted(amounts, reverse=True)
    machining = next(ln for ln in lines if ln.startswith("Machining"))
    assert "SUS304" in machining and "stainless cuts slowly" in machining
    assert _amount(machining) == pytest.approx(phys.breakdown.machining, abs=1)
    # No tolerance or model lines for a standard tolerance priced exactly like the physics.
    assert not any(ln.startswith(("Tolerance", "Learned")) for ln in lines)


def test_tight_tolerance_premium_is_measured(parts: dict[str, PartFeatures]) -> None:
    catalog = load_catalog()
    feats = parts["block"]
    tight = QuoteSpec("A5052", 5, "0.01", 0.01, "none")
    phys = estimate(feats, tight, catalog)
    loose = estimate(feats, replace(tight, tolerance_mm=0.1), catalog)
    lines = explain(_prediction(phys), phys, feats, tight)
    line = next(ln for ln in lines if ln.startswith("Tolerance +-0.01 mm adds"))
    expected = round((phys.unit_price / loose.unit_price - 1) * 100)
    assert f"adds {expected}%" in line and expected > 0


def test_setup_is_spread_over_the_batch(parts: dict[str, PartFeatures]) -> None:
    catalog = load_catalog()
    feats = parts["block"]
    one = QuoteSpec("A6061", 1, "ISO2768-m", 0.2, "none")
    phys = estimate(feats, one, catalog)
    lines = explain(_prediction(phys), phys, feats, one)
    assert any(ln.startswith("Setup spread over 1 piece:") for ln in lines)
    many = replace(one, quantity=1000)
    phys = estimate(feats, many, catalog)
    share = phys.breakdown.setup / phys.unit_price
    lines = explain(_prediction(phys), phys, feats, many)
    assert any(ln.startswith("Setup") for ln in lines) == (share >= 0.03)


def test_turned_part_and_learned_difference(parts: dict[str, PartFeatures]) -> None:
    feats = parts["shaft"]
    spec = QuoteSpec("C3604", 50, "ISO2768-m", 0.2, "none")
    phys = estimate(feats, spec, load_catalog())
    lines = explain(_prediction(phys, scale=1.25), phys, feats, spec)
    if phys.process in ("lathe", "mill-turn"):
        assert any(ln.startswith(f"Turned on {phys.machine}") for ln in lines)
    assert any(ln.startswith("Learned model: 25% above") for ln in lines)
