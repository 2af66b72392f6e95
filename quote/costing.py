"""The transparent process-planning cost estimator: what a part costs to make, and why.

``estimate(features, spec, catalog)`` plans the job the way an estimator at a job shop does:
choose a machine that fits and suits the process, buy the stock, set up and program once per
batch, rough out the removed volume, finish the surfaces (slower for tight tolerances, fine
roughness, thin walls, small corners, deep pockets and hard-to-reach faces), drill and tap the
holes, send the batch out for a surface finish, inspect, then add the margin and the minimum
order charge. Every figure comes from the catalogs in ``data/catalogs`` (each with its source).

The result is per unit (JPY) by driver, in whole yen, and the drivers add up exactly to the unit
price. Pure and deterministic; about 50 us a call, so the learned models can draw thousands of
history rows from it.

Breakdown fields: material (stock), setup (per batch / quantity), programming (per batch /
quantity), machining (roughing, finishing passes, holes, loading; with the learning curve),
finishing (surface treatment, lot minimum spread over the batch), inspection (per part plus first
article / quantity), margin (the shop's markup plus any minimum-order top-up and the rounding to
whole yen).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field

from quote.catalogs import (
    Catalog,
    Finish,
    Machine,
    Material,
    check_finish_applies,
    resolve_finish,
    resolve_material,
    resolve_roughness,
)
from quote.errors import InvalidQuantity, InvalidTolerance
from quote.leadtime import lead_time
from quote.types import CostBreakdown, PartFeatures, PhysicsEstimate, QuoteSpec

_AXIS_DIRECTIONS = frozenset({"+X", "-X", "+Y", "-Y", "+Z", "-Z"})
# Which machine kinds can make a part of each process, best first; later kinds are fallbacks
# when no machine of the preferred kind fits (a 500 mm disc is milled, not turned).
_PROCESS_KINDS = {
    "lathe": (("lathe",), ("mill-turn",), ("mill",)),
    "mill-turn": (("mill-turn",), ("mill",)),
    "mill": (("mill",),),
}


@dataclass(frozen=True)
class ProcessPlan:
    """Every intermediate figure of one estimate, for explanations and tests.

    machine / process: catalog machine chosen and the process it runs. setups: fixturings on that
    machine (features' setups divided by the sides the machine reaches per fixturing).
    complexity: 0..1 (faces, holes, setups). factors: multipliers applied (tolerance, roughness,
    geometry on finishing passes; learning on cycle time). minutes: per-part minutes at quantity 1
    (roughing, finishing, holes, load_unload, cycle). hours: per-batch hours (setup_h,
    programming_h, roughing_h, finishing_h, holes_h, load_unload_h, machining_h, inspection_h)
    and cycle_h (per part, with learning). per_unit_jpy: unrounded per-unit costs by driver,
    before margin. minimum_charge_topup_jpy: per-unit top-up to reach the minimum order (JPY).
    breakdown / unit_price: the rounded per-unit result (JPY).
    """

    machine: str
    process: str
    setups: int
    complexity: float
    factors: dict[str, float]
    minutes: dict[str, float]
    hours: dict[str, float]
    per_unit_jpy: dict[str, float]
    minimum_charge_topup_jpy: float
    breakdown: CostBreakdown
    unit_price: float
    considered: tuple[str, ...] = field(default_factory=tuple)


def _pos(x: float | None) -> float:
    """x when it is a positive finite number, else 0 (features may carry inf/NaN for 'none')."""
    if x is None or not math.isfinite(x) or x <= 0:
        return 0.0
    return float(x)


def _check_quantity(quantity: object) -> int:
    # numpy integers and whole floats (10.0 from a CSV) are fine; 2.5 pieces or True are not.
    ok = isinstance(quantity, numbers.Integral) or (
        isinstance(quantity, float) and quantity.is_integer()
    )
    if isinstance(quantity, bool) or not ok or quantity < 1:  # type: ignore[operator]
        raise InvalidQuantity(
            f"Quantity {quantity!r} must be a whole number of pieces, 1 or more.",
            detail={"quantity": str(quantity)},
        )
    return int(quantity)  # type: ignore[call-overload]


def _check_tolerance(tolerance_mm: float) -> float:
    if (
        not isinstance(tolerance_mm, numbers.Real)
        or not math.isfinite(tolerance_mm)
        or (tolerance_mm <= 0)
    ):
        raise InvalidTolerance(
            f"Tolerance {tolerance_mm!r} mm must be a positive number of mm (resolve it with "
            f"quote.catalogs.resolve_tolerance).",
            detail={"tolerance": str(tolerance_mm)},
        )
    return float(tolerance_mm)


def needs_five_axis(features: PartFeatures) -> bool:
    """True when some surface cannot be reached from the six axis directions.

    Either the features report unreachable area, or a required access direction is oblique.
    """
    if _pos(features.unreachable_area_mm2) > 0:
        return True
    return any(d not in _AXIS_DIRECTIONS for d in features.access_directions)


def _candidates(features: PartFeatures, quantity: int, catalog: Catalog) -> list[Machine]:
    """Machines that may make this part, by process and envelope; never empty."""
    extents = tuple(_pos(v) for v in features.obb_mm)
    five = needs_five_axis(features)
    for kinds in _PROCESS_KINDS.get(features.process, _PROCESS_KINDS["mill"]):
        fit = [
            m
            for m in catalog.machines
            if m.kind in kinds and m.fits(extents) and quantity >= m.min_quantity
        ]
        if five and kinds == ("mill",):
            # Prefer reaching every face in one machine; fall back to 3-axis with extra
            # fixtures (priced by the unreachable-area factor) when no 5-axis machine fits.
            fit = [m for m in fit if m.axes >= 5] or fit
        if fit:
            return fit
    # Larger than every machine: price on the biggest one so a number still comes out; the DFM
    # check reports exceeds_machine_envelope as an error.
    return [max(catalog.machines, key=lambda m: math.prod(m.envelope_mm))]


def _complexity(faces: int, holes: int, setups: int, catalog: Catalog) -> float:
    r = catalog.rates
    return (
        min(1.0, faces / r.complexity_faces_ref)
        + min(1.0, holes / r.complexity_holes_ref)
        + min(1.0, max(0, setups - 1) / r.complexity_setups_ref)
    ) / 3.0


def _hole_minutes(features: PartFeatures, material: Material, catalog: Catalog) -> float:
    """Per-part minutes to drill (and tap) every hole, tool changes included."""
    r = catalog.rates
    feed = r.drill_feed_mm_per_min * material.machinability
    tap_feed = r.tap_feed_mm_per_min * material.machinability
    total = 0.0
    sizes: set[float] = set()
    taps: set[str] = set()
    for h in features.holes:
        d = _pos(h.diameter_mm)
        depth = _pos(h.depth_mm)
        if d == 0 or depth == 0:
            continue
        t = depth / feed
        if d > r.large_hole_mm:
            # No stock drill: helical interpolation with an end mill, slower with diameter.
            t *= d / r.large_hole_mm
        if depth > r.peck_ratio * d:
            t *= r.peck_factor
        total += t + r.hole_overhead_min
        sizes.add(round(d, 1))
        if h.tap:
            # Thread length: the full depth, but rarely more than 2.5 diameters is threaded.
            total += r.tap_overhead_min + 2.0 * min(depth, 2.5 * d) / tap_feed
            taps.add(h.tap)
    return total + (len(sizes) + len(taps)) * r.tool_change_min


def _finish_pass_factor(features: PartFeatures, catalog: Catalog) -> float:
    """Geometry slowing the finishing passes: thin walls, small corners, deep pockets."""
    r = catalog.rates
    f = 1.0
    wall = _pos(features.min_wall_mm)
    if 0 < wall < r.thin_wall_mm:
        f *= r.thin_wall_factor
    radius = features.min_internal_radius_mm
    if radius is not None and math.isfinite(radius) and radius < r.small_radius_mm:
        f *= r.small_radius_factor
    depth, width = _pos(features.max_pocket_depth_mm), _pos(features.max_pocket_width_mm)
    if depth > 0 and width > 0:
        f *= min(2.0, 1.0 + r.deep_pocket_slope * max(0.0, depth / width - r.deep_pocket_ratio))
    return f


def _material_cost(features: PartFeatures, material: Material, catalog: Catalog) -> float:
    """Per-unit stock cost, JPY: stock volume x density x price, with waste, at least the
    smallest piece a stockist sells."""
    vol = _pos(features.stock.volume_mm3)
    if vol == 0:
        bx = features.bbox_mm
        vol = _pos(bx[0]) * _pos(bx[1]) * _pos(bx[2])
    kg = vol * 1e-3 * material.density_g_cm3 * 1e-3
    cost = kg * material.price_jpy_per_kg * catalog.rates.material_waste_factor
    return max(catalog.rates.material_min_jpy, cost)


def _finish_cost(features: PartFeatures, finish: Finish, quantity: int) -> float:
    """Per-unit surface treatment, JPY: area price, lot minimum spread over the batch."""
    if finish.jpy_per_dm2 <= 0 and finish.lot_minimum_jpy <= 0:
        return 0.0
    area_dm2 = _pos(features.area_mm2) * 1e-4
    lot = max(area_dm2 * finish.jpy_per_dm2 * quantity, finish.lot_minimum_jpy)
    return lot / quantity


def _machine_costs(
    features: PartFeatures,
    machine: Machine,
    material: Material,
    quantity: int,
    tol_factor: float,
    rough_factor: float,
    geo_factor: float,
    hole_min: float,
    catalog: Catalog,
) -> tuple[float, dict[str, float], dict[str, float], dict[str, float], int, float]:
    """Setup, programming and machining for one machine: (per-unit JPY sum, per-unit JPY by
    driver, minutes per part, hours per batch, setups, complexity)."""
    r = catalog.rates
    setups = max(1, math.ceil(max(1, features.setups) / machine.sides_per_setup))
    faces = sum(max(0, int(v)) for v in features.face_counts.values())
    n_holes = len(features.holes)
    cx = _complexity(faces, n_holes, setups, catalog)

    setup_h = setups * (r.setup_base_h + r.setup_complex_h * cx) * machine.setup_factor
    prog_h = min(
        r.programming_max_h,
        (
            r.programming_base_h
            + r.programming_per_face_h * faces
            + r.programming_per_hole_h * n_holes
            + r.programming_per_setup_h * setups
        )
        * machine.programming_factor,
    )

    removed_cm3 = _pos(features.removed_volume_mm3) * 1e-3
    rough_min = removed_cm3 / (material.roughing_rate_cm3_min * machine.removal_factor)
    # Surfaces no axis-aligned setup reaches cost extra (tilted moves or extra fixtures).
    unreachable = min(_pos(features.unreachable_area_mm2), _pos(features.area_mm2))
    area_cm2 = (_pos(features.area_mm2) + unreachable * (r.unreachable_factor - 1.0)) * 1e-2
    finish_min = (
        area_cm2
        / (material.finishing_rate_cm2_min * machine.removal_factor)
        * tol_factor
        * rough_factor
        * geo_factor
    )
    load_min = setups * r.load_unload_min * machine.load_unload_factor
    cycle1_min = rough_min + finish_min + hole_min + load_min
    learning = max(r.learning_floor, quantity**r.learning_exponent)
    cycle_min = cycle1_min * learning

    setup_jpy = setup_h * machine.hourly_rate_jpy / quantity
    prog_jpy = prog_h * r.programming_rate_jpy_per_h / quantity
    mach_jpy = cycle_min / 60.0 * machine.hourly_rate_jpy
    minutes = {
        "roughing": rough_min,
        "finishing": finish_min,
        "holes": hole_min,
        "load_unload": load_min,
        "cycle": cycle1_min,
    }
    hours = {
        "setup_h": setup_h,
        "programming_h": prog_h,
        "roughing_h": rough_min * learning * quantity / 60.0,
        "finishing_h": finish_min * learning * quantity / 60.0,
        "holes_h": hole_min * learning * quantity / 60.0,
        "load_unload_h": load_min * learning * quantity / 60.0,
        "machining_h": cycle_min * quantity / 60.0,
        "cycle_h": cycle_min / 60.0,
    }
    per_unit = {"setup": setup_jpy, "programming": prog_jpy, "machining": mach_jpy}
    return setup_jpy + prog_jpy + mach_jpy, per_unit, minutes, hours, setups, cx


def plan_process(features: PartFeatures, spec: QuoteSpec, catalog: Catalog) -> ProcessPlan:
    """Plan and cost one part for one spec; every intermediate figure kept (see ProcessPlan).

    Raises
    ------
    UnknownMaterial, UnknownFinish, IncompatibleFinish, InvalidRoughness, InvalidQuantity,
    InvalidTolerance
        The spec names something the catalogs do not have, a quantity below 1, or a tolerance
        that is not a positive number of mm.
    """
    quantity = _check_quantity(spec.quantity)
    material = resolve_material(catalog, spec.material)
    finish = resolve_finish(catalog, spec.finish)
    check_finish_applies(catalog, material, finish)
    tol_factor = catalog.tolerances.cost_factor(_check_tolerance(spec.tolerance_mm))
    rough_factor = resolve_roughness(catalog, spec.roughness_ra_um).factor
    geo_factor = _finish_pass_factor(features, catalog)
    hole_min = _hole_minutes(features, material, catalog)

    candidates = _candidates(features, quantity, catalog)
    best = None
    for m in candidates:
        costed = _machine_costs(
            features, m, material, quantity, tol_factor, rough_factor, geo_factor, hole_min,
            catalog,
        )  # fmt: skip
        # Strict < keeps the catalog order on ties, so the choice is deterministic.
        if best is None or costed[0] < best[1][0]:
            best = (m, costed)
    assert best is not None  # _candidates never returns an empty list
    machine, (_, per_unit, minutes, hours, setups, cx) = best

    r = catalog.rates
    per_unit = dict(per_unit)
    per_unit["material"] = _material_cost(features, material, catalog)
    per_unit["finishing"] = _finish_cost(features, finish, quantity)

    # Inspection: first article per batch, then every part up to the sampling threshold and a
    # sample beyond it; tight tolerances take longer to measure.
    per_part_min = (r.inspection_base_min + r.inspection_per_hole_min * len(features.holes)) * (
        tol_factor
    )
    inspected = min(quantity, r.inspection_sample_from) + r.inspection_sample_rate * max(
        0.0, quantity - r.inspection_sample_from
    )
    insp_h = r.first_article_h * tol_factor + inspected * per_part_min / 60.0
    hours["inspection_h"] = insp_h
    per_unit["inspection"] = insp_h * r.inspection_rate_jpy_per_h / quantity

    order = ("material", "setup", "programming", "machining", "finishing", "inspection")
    cost = sum(per_unit[k] for k in order)
    margin = cost * r.margin_rate
    topup = max(0.0, r.minimum_order_jpy / quantity - (cost + margin))
    price = round(cost + margin + topup)
    parts = {k: float(round(per_unit[k])) for k in order}
    # Margin takes the rounding to whole yen, so the drivers add up to the price exactly.
    breakdown = CostBreakdown(**parts, margin=float(price - sum(parts.values())))
    return ProcessPlan(
        machine=machine.name,
        process=machine.kind,
        setups=setups,
        complexity=cx,
        factors={
            "tolerance": tol_factor,
            "roughness": rough_factor,
            "geometry": geo_factor,
            "learning": max(r.learning_floor, quantity**r.learning_exponent),
        },
        minutes=minutes,
        hours=hours,
        per_unit_jpy=per_unit,
        minimum_charge_topup_jpy=topup,
        breakdown=breakdown,
        unit_price=breakdown.total,
        considered=tuple(m.name for m in candidates),
    )


def estimate(features: PartFeatures, spec: QuoteSpec, catalog: Catalog) -> PhysicsEstimate:
    """The process-planning estimate of one part for one spec.

    Parameters
    ----------
    features
        Measured part (mm, mm^2, mm^3; see PartFeatures).
    spec
        Material (name or alias), quantity (pieces), tolerance (+-mm), finish, Ra (um).
    catalog
        Shop catalogs (load_catalog()).

    Returns
    -------
    PhysicsEstimate
        machine and process chosen, per-unit breakdown in whole JPY adding up exactly to
        unit_price, batch hours by activity, standard lead time (business days) with its parts,
        and the express / standard / economy tiers.

    Raises
    ------
    UnknownMaterial, UnknownFinish, IncompatibleFinish, InvalidRoughness, InvalidQuantity,
    InvalidTolerance
    """
    plan = plan_process(features, spec, catalog)
    finish = resolve_finish(catalog, spec.finish)
    lt = lead_time(
        machine_hours=plan.hours["setup_h"] + plan.hours["machining_h"],
        inspection_hours=plan.hours["inspection_h"],
        finish_days=finish.added_days,
        unit_price=plan.unit_price,
        catalog=catalog,
    )
    return PhysicsEstimate(
        machine=plan.machine,
        process=plan.process,
        breakdown=plan.breakdown,
        unit_price=plan.unit_price,
        hours=dict(plan.hours),
        lead_time_days=float(lt.days),
        lead_time_parts=dict(lt.parts),
        tiers=lt.tiers,
    )


def estimate_many(
    features: PartFeatures, specs: Iterable[QuoteSpec], catalog: Catalog
) -> list[PhysicsEstimate]:
    """estimate() for each spec, in order (price breaks, tolerance sweeps, history generation)."""
    return [estimate(features, s, catalog) for s in specs]
