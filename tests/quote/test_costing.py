"""Process-planning estimator: the breakdown adds up and the price moves the way physics says."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import replace

import numpy as np
import pytest

from quote.catalogs import Catalog, load_catalog
from quote.costing import (
    estimate,
    estimate_many,
    estimate_quantities,
    needs_five_axis,
    plan_process,
)
from quote.errors import (
    IncompatibleFinish,
    InvalidQuantity,
    InvalidTolerance,
    UnknownMaterial,
)
from quote.types import Hole, PartFeatures, QuoteSpec, Stock


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def plate_features(
    catalog: Catalog,
    length: float = 100.0,
    width: float = 60.0,
    thickness: float = 10.0,
    n_holes: int = 6,
    hole_d: float = 6.6,
    tap: str | None = None,
    **overrides: object,
) -> PartFeatures:
    """A rectangular plate with a row of through holes, its numbers worked out by hand."""
    t_stock = catalog.stock.next_plate_thickness(thickness) or thickness + 5.0
    a = 2 * catalog.stock.allowance_mm
    stock = Stock("plate", (t_stock, width + a, length + a), t_stock * (width + a) * (length + a))
    hole_area = math.pi * (hole_d / 2) ** 2
    volume = length * width * thickness - n_holes * hole_area * thickness
    area = (
        2 * (length * width + length * thickness + width * thickness)
        - 2 * n_holes * hole_area
        + n_holes * math.pi * hole_d * thickness
    )
    holes = tuple(
        Hole(hole_d, thickness, True, (0.0, 0.0, -1.0), (10.0 + 15.0 * i, 10.0, thickness),
             None, tap)
        for i in range(n_holes)
    )  # fmt: skip
    fields = dict(
        volume_mm3=volume,
        area_mm2=area,
        bbox_mm=(length, width, thickness),
        obb_mm=tuple(sorted((length, width, thickness), reverse=True)),
        stock=stock,
        removed_volume_mm3=stock.volume_mm3 - volume,
        holes=holes,
        setups=1,
        access_directions=("+Z",),
        unreachable_area_mm2=0.0,
        min_wall_mm=thickness,
        min_wall_location_mm=None,
        min_internal_radius_mm=None,
        min_internal_radius_location_mm=None,
        max_pocket_depth_mm=0.0,
        max_pocket_width_mm=0.0,
        pocket_location_mm=None,
        process="mill",
        axisymmetry=0.0,
        face_counts={"plane": 6, "cylinder": n_holes},
        triangle_count=12 + 64 * n_holes,
        source_format="step",
        file_sha256="0" * 64,
    )
    fields.update(overrides)
    return PartFeatures(**fields)  # type: ignore[arg-type]


def shaft_features(catalog: Catalog, diameter: float = 20.0, length: float = 80.0) -> PartFeatures:
    """A plain turned shaft (a cylinder) cut from the next round bar."""
    bar = catalog.stock.next_bar_diameter(diameter) or diameter
    bar_len = length + 2 * catalog.stock.bar_allowance_mm
    stock = Stock("round_bar", (bar, bar_len), math.pi * (bar / 2) ** 2 * bar_len)
    volume = math.pi * (diameter / 2) ** 2 * length
    return replace(
        plate_features(catalog, n_holes=0),
        volume_mm3=volume,
        area_mm2=2 * math.pi * (diameter / 2) ** 2 + math.pi * diameter * length,
        bbox_mm=(diameter, diameter, length),
        obb_mm=(length, diameter, diameter),
        stock=stock,
        removed_volume_mm3=stock.volume_mm3 - volume,
        setups=2,
        access_directions=("+Z", "-Z"),
        min_wall_mm=diameter,
        process="lathe",
        axisymmetry=1.0,
        face_counts={"plane": 2, "cylinder": 1},
    )


def spec(material: str = "A5052", quantity: int = 10, **kw: object) -> QuoteSpec:
    return QuoteSpec(material=material, quantity=quantity, **kw)  # type: ignore[arg-type]


def test_breakdown_adds_up_exactly_over_a_grid(catalog: Catalog) -> None:
    parts = [
        plate_features(catalog),
        plate_features(catalog, 300, 200, 40, n_holes=30, tap="M8", hole_d=6.8),
        shaft_features(catalog),
    ]
    for feats in parts:
        for mat, fin in [("A5052", "anodize"), ("SUS304", "passivation"), ("S45C", "none"),
                         ("POM", "none"), ("Ti-6Al-4V", "bead_blast")]:  # fmt: skip
            for q in (1, 3, 10, 77, 1000):
                for tol in (0.3, 0.05, 0.01):
                    e = estimate(feats, spec(mat, q, finish=fin, tolerance_mm=tol), catalog)
                    values = dataclasses.astuple(e.breakdown)
                    assert sum(values) == e.unit_price == e.breakdown.total
                    assert all(v == int(v) for v in values)  # whole yen
                    assert all(v >= 0 for v in values), (mat, q, tol, e.breakdown)
                    assert e.unit_price * q >= catalog.rates.minimum_order_jpy - q


def test_quantity_lowers_unit_price_and_spreads_setup(catalog: Catalog) -> None:
    feats = plate_features(catalog)
    qs = [1, 2, 5, 10, 50, 100, 1000]
    plans = [plan_process(feats, spec(quantity=q), catalog) for q in qs]
    prices = [p.unit_price for p in plans]
    assert all(b < a for a, b in zip(prices, prices[1:], strict=False)), prices
    # Setup and programming are per batch: per unit x quantity stays the same.
    batch_setup = [p.per_unit_jpy["setup"] * q for p, q in zip(plans, qs, strict=True)]
    assert max(batch_setup) == pytest.approx(min(batch_setup))
    batch_prog = [p.per_unit_jpy["programming"] * q for p, q in zip(plans, qs, strict=True)]
    assert max(batch_prog) == pytest.approx(min(batch_prog))
    # Learning curve: cycle time per unit falls, but never below the floor.
    mach = [p.per_unit_jpy["machining"] for p in plans]
    assert mach[0] > mach[-1] >= mach[0] * catalog.rates.learning_floor - 1e-9
    # The order total still grows with quantity: no quantity break makes more parts cheaper.
    totals = [p.unit_price * q for p, q in zip(plans, qs, strict=True)]
    assert totals == sorted(totals)
    # One piece is dominated by setup and programming (DOMAIN.md: setup dominates single parts).
    one = plans[0].breakdown
    assert one.setup + one.programming > one.machining + one.material


def test_tighter_tolerance_costs_more(catalog: Catalog) -> None:
    feats = plate_features(catalog)
    prices = [
        estimate(feats, spec(tolerance_mm=t, tolerance_label=str(t)), catalog).unit_price
        for t in (0.3, 0.1, 0.05, 0.02, 0.01, 0.005)
    ]
    assert prices[0] == prices[1]  # ISO 2768-m and +-0.1 mm are standard work
    assert all(b > a for a, b in zip(prices[1:], prices[2:], strict=False)), prices


def test_finer_roughness_costs_more(catalog: Catalog) -> None:
    feats = plate_features(catalog)
    prices = [
        estimate(feats, spec(roughness_ra_um=ra), catalog).unit_price for ra in (6.3, 3.2, 1.6, 0.4)
    ]
    assert all(b > a for a, b in zip(prices, prices[1:], strict=False)), prices


def test_stainless_and_titanium_machine_slower_than_aluminium(catalog: Catalog) -> None:
    feats = plate_features(catalog, 150, 100, 25, n_holes=8)
    mach = {
        m: estimate(feats, spec(m, 10), catalog).breakdown.machining
        for m in ("A5052", "A6061", "S45C", "SUS304", "Ti-6Al-4V")
    }
    assert mach["A6061"] < mach["S45C"] < mach["SUS304"] < mach["Ti-6Al-4V"]
    assert mach["SUS304"] > 2 * mach["A5052"]


def test_material_cost_follows_stock_mass_and_price(catalog: Catalog) -> None:
    feats = plate_features(catalog, 200, 150, 30, n_holes=0)
    al = estimate(feats, spec("A6061", 100), catalog).breakdown.material
    sus = estimate(feats, spec("SUS304", 100), catalog).breakdown.material
    ti = estimate(feats, spec("Ti-6Al-4V", 100), catalog).breakdown.material
    kg_al = feats.stock.volume_mm3 * 1e-6 * 2.70
    assert al == pytest.approx(kg_al * 710 * catalog.rates.material_waste_factor, abs=1)
    assert al < sus < ti


def test_price_is_monotone_in_removed_volume(catalog: Catalog) -> None:
    base = plate_features(catalog)
    prices = [
        estimate(replace(base, removed_volume_mm3=v), spec("S45C", 5), catalog).unit_price
        for v in (0.0, 1e4, 5e4, 1e5, 5e5, 1e6)
    ]
    assert all(b >= a for a, b in zip(prices, prices[1:], strict=False)), prices
    # 1000 cm^3 of S45C at its roughing rate on the 3-axis VMC, with learning and margin.
    steel, vmc, r = catalog.material("S45C"), catalog.machine("vmc_3axis"), catalog.rates
    minutes = 1000.0 / (steel.roughing_rate_cm3_min * vmc.removal_factor)
    expected = minutes / 60 * vmc.hourly_rate_jpy * 5**r.learning_exponent * (1 + r.margin_rate)
    assert prices[-1] - prices[0] == pytest.approx(expected, abs=2)


def test_finish_lot_minimum_is_spread_over_the_batch(catalog: Catalog) -> None:
    feats = plate_features(catalog)
    anodize = catalog.finish("anodize")
    area_dm2 = feats.area_mm2 * 1e-4
    one = estimate(feats, spec(quantity=1, finish="anodize"), catalog).breakdown.finishing
    ten = estimate(feats, spec(quantity=10, finish="anodize"), catalog).breakdown.finishing
    many = estimate(feats, spec(quantity=2000, finish="anodize"), catalog).breakdown.finishing
    assert one == pytest.approx(anodize.lot_minimum_jpy, abs=1)
    assert ten == pytest.approx(anodize.lot_minimum_jpy / 10, abs=1)
    # Past the lot minimum the price per dm^2 rules.
    assert many == pytest.approx(area_dm2 * anodize.jpy_per_dm2, abs=1)
    none = estimate(feats, spec(quantity=10, finish="none"), catalog).breakdown.finishing
    assert none == 0


def test_finish_and_quantity_errors_are_typed(catalog: Catalog) -> None:
    feats = plate_features(catalog)
    with pytest.raises(IncompatibleFinish):
        estimate(feats, spec("SUS304", finish="anodize"), catalog)
    with pytest.raises(UnknownMaterial):
        estimate(feats, spec("kryptonite"), catalog)
    for q in (0, -3, 2.5, True):
        with pytest.raises(InvalidQuantity):
            estimate(feats, spec(quantity=q), catalog)
    for tol in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(InvalidTolerance):
            estimate(feats, spec(tolerance_mm=tol), catalog)
    # Integers from numpy or whole floats from a CSV are quantities like any other.
    assert estimate(feats, spec(quantity=np.int64(7)), catalog) == estimate(
        feats, spec(quantity=7), catalog
    )
    assert (
        estimate(feats, spec(quantity=7.0), catalog).unit_price
        == estimate(feats, spec(quantity=7), catalog).unit_price
    )
    # Aliases work inside the estimator too.
    assert estimate(feats, spec("6061-T6"), catalog) == estimate(feats, spec("A6061"), catalog)


def test_holes_and_threads_add_time(catalog: Catalog) -> None:
    plain = plate_features(catalog, n_holes=0)
    drilled = plate_features(catalog, n_holes=12, hole_d=6.8)
    tapped = plate_features(catalog, n_holes=12, hole_d=6.8, tap="M8")
    p0, p1, p2 = (plan_process(f, spec("S45C", 20), catalog) for f in (plain, drilled, tapped))
    assert p0.minutes["holes"] == 0
    assert 0 < p1.minutes["holes"] < p2.minutes["holes"]
    assert p0.unit_price < p1.unit_price < p2.unit_price


def test_machine_choice_follows_the_process(catalog: Catalog) -> None:
    plate = plate_features(catalog)
    assert estimate(plate, spec(), catalog).machine == "vmc_3axis"
    long_plate = plate_features(catalog, 1500, 300, 20)
    assert estimate(long_plate, spec(), catalog).machine == "vmc_3axis_large"

    shaft = shaft_features(catalog, 20, 80)
    e = estimate(shaft, spec(quantity=5), catalog)
    assert (e.machine, e.process) == ("lathe_cnc", "lathe")
    # Many small turned parts go to the Swiss lathe, whose bar feeder loads the next part.
    assert estimate(shaft, spec(quantity=500), catalog).machine == "swiss"
    # A turned part larger than every lathe is milled rather than refused.
    disc = replace(shaft_features(catalog, 500, 40), obb_mm=(500.0, 500.0, 40.0))
    assert estimate(disc, spec(), catalog).process == "mill"

    undercut = replace(plate, unreachable_area_mm2=500.0)
    assert needs_five_axis(undercut) and not needs_five_axis(plate)
    assert estimate(undercut, spec(), catalog).machine == "mc_5axis"
    # Six setups on a 3-axis machine cost more than two on a 5-axis one once batches grow.
    cube = replace(plate_features(catalog, 80, 80, 80, n_holes=0), setups=6,
                   access_directions=("+X", "-X", "+Y", "-Y", "+Z", "-Z"))  # fmt: skip
    assert plan_process(cube, spec(quantity=20), catalog).machine == "mc_5axis"


def test_giant_part_still_gets_a_number(catalog: Catalog) -> None:
    giant = plate_features(catalog, 4000, 300, 50, n_holes=0)
    e = estimate(giant, spec(quantity=1), catalog)
    assert e.unit_price > estimate(plate_features(catalog), spec(quantity=1), catalog).unit_price
    assert e.machine == "vmc_3axis_large"


def test_geometry_that_is_hard_to_cut_costs_more(catalog: Catalog) -> None:
    base = plate_features(catalog, 120, 80, 30)
    p = estimate(base, spec(), catalog).unit_price
    for changed in (
        replace(base, min_wall_mm=0.7),
        replace(base, min_internal_radius_mm=0.5),
        replace(base, max_pocket_depth_mm=40.0, max_pocket_width_mm=8.0),
        replace(base, unreachable_area_mm2=3000.0),
    ):
        assert estimate(changed, spec(), catalog).unit_price > p


def test_minimum_order_charge_tops_up_tiny_jobs(catalog: Catalog) -> None:
    tiny = plate_features(catalog, 10, 10, 2, n_holes=0, face_counts={"plane": 6})
    for q in (1, 2, 5, 20):
        plan = plan_process(tiny, spec("POM", q), catalog)
        assert plan.unit_price * q >= catalog.rates.minimum_order_jpy - q
    big_batch = plan_process(tiny, spec("POM", 1000), catalog)
    assert big_batch.minimum_charge_topup_jpy == 0


def test_lead_time_and_tiers(catalog: Catalog) -> None:
    feats = plate_features(catalog)
    e = estimate(feats, spec(quantity=10), catalog)
    assert sum(e.lead_time_parts.values()) == e.lead_time_days
    assert [t.name for t in e.tiers] == ["express", "standard", "economy"]
    express, standard, economy = e.tiers
    assert express.days < standard.days < economy.days
    assert standard.days == e.lead_time_days and standard.unit_price == e.unit_price
    assert express.unit_price > standard.unit_price > economy.unit_price
    # A simple part ships in 3-5 business days (DOMAIN.md).
    assert 3 <= e.lead_time_days <= 5
    anod = estimate(feats, spec(quantity=10, finish="anodize"), catalog)
    assert anod.lead_time_days == e.lead_time_days + catalog.finish("anodize").added_days
    big = estimate(feats, spec("SUS304", quantity=2000), catalog)
    assert big.lead_time_days > e.lead_time_days


def test_estimate_many_and_determinism(catalog: Catalog) -> None:
    feats = plate_features(catalog)
    specs = [spec(quantity=q) for q in (1, 10, 100)]
    assert estimate_many(feats, specs, catalog) == estimate_many(feats, specs, catalog)
    assert [e.unit_price for e in estimate_many(feats, specs, catalog)] == [
        estimate(feats, s, catalog).unit_price for s in specs
    ]


def test_estimate_quantities_is_estimate_at_each_quantity(catalog: Catalog) -> None:
    # The ladder plans the part once; each quantity must still get its own machine (the Swiss
    # lathe from 50 pieces, the 5-axis machine once setups dominate) and its own costs.
    plate = plate_features(catalog)
    cube = replace(plate_features(catalog, 80, 80, 80, n_holes=0), setups=6,
                   access_directions=("+X", "-X", "+Y", "-Y", "+Z", "-Z"))  # fmt: skip
    giant = plate_features(catalog, 4000, 300, 50, n_holes=0)
    # A pin the Swiss lathe would make cheapest even at 49 pieces, were it allowed below 50.
    pin = shaft_features(catalog, 10, 30)
    ladder = (1000, 1, 49, 50, 7, 50, 250)  # unsorted, repeated: answered in this order
    for feats in (plate, shaft_features(catalog), pin, cube, giant):
        for s in (spec(), spec("SUS304", finish="passivation", tolerance_mm=0.01)):
            got = estimate_quantities(feats, s, ladder, catalog)
            assert got == [estimate(feats, replace(s, quantity=q), catalog) for q in ladder]
    machines = [e.machine for e in estimate_quantities(pin, spec(), ladder, catalog)]
    assert machines == ["swiss", "lathe_cnc", "lathe_cnc", "swiss", "lathe_cnc", "swiss", "swiss"]
    with pytest.raises(InvalidQuantity):
        estimate_quantities(plate, spec(), (1, 0, 10), catalog)


def test_estimate_is_fast(catalog: Catalog) -> None:
    feats = plate_features(catalog, 300, 200, 40, n_holes=40, tap="M8", hole_d=6.8)
    specs = [spec(m, q) for m in ("A5052", "SUS304") for q in (1, 10, 100, 1000)] * 60
    best = math.inf
    for _ in range(3):  # best of three: the machine is shared
        t0 = time.perf_counter()
        for s in specs:
            estimate(feats, s, catalog)
        best = min(best, (time.perf_counter() - t0) / len(specs))
    assert best < 1e-3, f"{best * 1e6:.0f} us per estimate"
