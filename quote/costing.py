"""The transparent process-planning cost estimator: what a part costs to make, and why.

``estimate(features, spec, catalog)`` plans the job the way an estimator at a job shop does:
choose a machine that fits and suits the process, buy the stock, set up and program once per
batch, rough out the removed volume, finish the surfaces (slower for tight tolerances, fine
roughness, thin walls, small corners, deep pockets and hard-to-reach faces), drill and tap the
holes, send the batch out for a surface finish, inspect, then add the margin and the minimum
order charge. Every figure comes from the catalogs in ``data/catalogs`` (each with its source).

The result is per unit (JPY) by driver, in whole yen, and the drivers add up exactly to the unit
price. Pure and deterministic; about 30 us a call, so the learned models can draw thousands of
history rows from it. ``estimate_quantities`` prices one spec at several quantities (a quote's
price breaks): the part is planned once (``_plan_part``: factors, hole time, stock, each
candidate machine's setups and minutes per part), then each batch is costed (``_cost_batch``:
the cheapest machine for that batch size, learning curve, per-batch costs spread over it).

Breakdown fields: material (stock), setup (per batch / quantity), programming (per batch /
quantity), machining (roughing, finishing passes, holes, loading; with the learning curve),
finishing (surface treatment, lot minimum spread over the batch), inspection (per part plus first
article / quantity), margin (the shop's markup plus any minimum-order top-up and the rounding to
whole yen).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

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
    if type(quantity) is int and quantity >= 1:
        return quantity  # the usual case, without the slower abstract-class checks below
    # numpy integers and whole floats (10.0 from a CSV) are fine; 2.5 pieces or True are not.
    whole: int | None = None
    if isinstance(quantity, numbers.Integral) and not isinstance(quantity, bool):
        whole = int(quantity)
    elif isinstance(quantity, float) and quantity.is_integer():
        whole = int(quantity)
    if whole is None or whole < 1:
        raise InvalidQuantity(
            f"Quantity {quantity!r} must be a whole number of pieces, 1 or more.",
            detail={"quantity": str(quantity)},
        )
    return whole


def _check_tolerance(tolerance_mm: float) -> float:
    if type(tolerance_mm) is float and tolerance_mm > 0 and math.isfinite(tolerance_mm):
        return tolerance_mm  # the usual case, without the slower abstract-class check below
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


def _fitting_machines(
    features: PartFeatures, catalog: Catalog
) -> tuple[tuple[tuple[str, ...], tuple[Machine, ...]], ...]:
    """(kinds, machines whose envelope takes the part) per process preference, best first."""
    extents = tuple(_pos(v) for v in features.obb_mm)
    return tuple(
        (kinds, tuple(m for m in catalog.machines if m.kind in kinds and m.fits(extents)))
        for kinds in _PROCESS_KINDS.get(features.process, _PROCESS_KINDS["mill"])
    )


def _candidates(
    fitting: tuple[tuple[tuple[str, ...], tuple[Machine, ...]], ...],
    five_axis: bool,
    quantity: int,
    catalog: Catalog,
) -> list[Machine]:
    """Machines that may make this part (``fitting``: see _fitting_machines) in a batch of
    ``quantity``, by process and batch size; never empty."""
    for kinds, machines in fitting:
        fit = [m for m in machines if quantity >= m.min_quantity]
        if five_axis and kinds == ("mill",):
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


@dataclass(frozen=True)
class _MachineRun:
    """The part on one machine, as far as it does not depend on the batch size.

    setups: fixturings. complexity: 0..1. setup_h / programming_h: per batch, h. minutes: per
    part at quantity 1 (roughing, finishing, holes, load_unload, cycle).
    """

    machine: Machine
    setups: int
    complexity: float
    setup_h: float
    programming_h: float
    minutes: dict[str, float]


def _machine_run(
    features: PartFeatures,
    machine: Machine,
    material: Material,
    factors: dict[str, float],
    hole_min: float,
    catalog: Catalog,
) -> _MachineRun:
    """Setups, setup and programming hours, and minutes per part of one machine (``factors``:
    the tolerance, roughness and geometry factors on finishing passes)."""
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
        * factors["tolerance"]
        * factors["roughness"]
        * factors["geometry"]
    )
    load_min = setups * r.load_unload_min * machine.load_unload_factor
    minutes = {
        "roughing": rough_min,
        "finishing": finish_min,
        "holes": hole_min,
        "load_unload": load_min,
        "cycle": rough_min + finish_min + hole_min + load_min,
    }
    return _MachineRun(machine, setups, cx, setup_h, prog_h, minutes)


def _batch_per_unit(run: _MachineRun, quantity: int, learning: float, catalog: Catalog) -> float:
    """Per-unit setup + programming + machining of ``run`` in a batch of ``quantity``, JPY
    (``learning``: the cycle-time factor of the batch)."""
    rate = run.machine.hourly_rate_jpy
    setup_jpy = run.setup_h * rate / quantity
    prog_jpy = run.programming_h * catalog.rates.programming_rate_jpy_per_h / quantity
    mach_jpy = run.minutes["cycle"] * learning / 60.0 * rate
    return setup_jpy + prog_jpy + mach_jpy


@dataclass(frozen=True)
class _PartPlan:
    """One part and spec, planned as far as the batch size allows (see ``_plan_part``).

    factors: tolerance, roughness and geometry factors on finishing passes. material_jpy:
    per-unit stock cost. candidates: the machines that may make each batch size asked, in
    catalog order. runs: the part on each of them, by machine name.
    """

    features: PartFeatures
    finish: Finish
    factors: dict[str, float]
    material_jpy: float
    candidates: dict[int, list[Machine]]
    runs: dict[str, _MachineRun]


def _plan_part(
    features: PartFeatures, spec: QuoteSpec, quantities: Sequence[int], catalog: Catalog
) -> _PartPlan:
    """Everything of ``plan_process`` that does not depend on the batch size, for batches of
    ``quantities`` (already checked)."""
    material = resolve_material(catalog, spec.material)
    finish = resolve_finish(catalog, spec.finish)
    check_finish_applies(catalog, material, finish)
    factors = {
        "tolerance": catalog.tolerances.cost_factor(_check_tolerance(spec.tolerance_mm)),
        "roughness": resolve_roughness(catalog, spec.roughness_ra_um).factor,
        "geometry": _finish_pass_factor(features, catalog),
    }
    hole_min = _hole_minutes(features, material, catalog)
    fitting = _fitting_machines(features, catalog)
    five_axis = needs_five_axis(features)
    candidates = {q: _candidates(fitting, five_axis, q, catalog) for q in quantities}
    machines = {m.name: m for ms in candidates.values() for m in ms}
    runs = {
        name: _machine_run(features, m, material, factors, hole_min, catalog)
        for name, m in machines.items()
    }
    return _PartPlan(
        features, finish, factors, _material_cost(features, material, catalog), candidates, runs
    )


class _Batch(NamedTuple):
    """The planned part costed for one batch size (see ``_cost_batch``): the chosen machine's
    run among the candidates, the learning factor, batch hours, unrounded per-unit costs
    (JPY), the minimum-charge top-up (JPY per unit) and the rounded breakdown."""

    run: _MachineRun
    candidates: list[Machine]
    learning: float
    hours: dict[str, float]
    per_unit: dict[str, float]
    topup: float
    breakdown: CostBreakdown


def _cost_batch(part: _PartPlan, quantity: int, catalog: Catalog) -> _Batch:
    """The planned part in a batch of ``quantity``: the cheapest candidate machine, its batch
    hours, and the per-unit costs, margin and minimum charge."""
    r = catalog.rates
    features = part.features
    tol_factor = part.factors["tolerance"]
    learning = max(r.learning_floor, quantity**r.learning_exponent)
    candidates = part.candidates[quantity]
    run = part.runs[candidates[0].name]
    if len(candidates) > 1:
        # Strict < keeps the catalog order on ties, so the choice is deterministic.
        costs = [
            _batch_per_unit(part.runs[m.name], quantity, learning, catalog) for m in candidates
        ]
        run = part.runs[candidates[costs.index(min(costs))].name]
    machine, minutes = run.machine, run.minutes
    cycle_min = minutes["cycle"] * learning
    hours = {
        "setup_h": run.setup_h,
        "programming_h": run.programming_h,
        "roughing_h": minutes["roughing"] * learning * quantity / 60.0,
        "finishing_h": minutes["finishing"] * learning * quantity / 60.0,
        "holes_h": minutes["holes"] * learning * quantity / 60.0,
        "load_unload_h": minutes["load_unload"] * learning * quantity / 60.0,
        "machining_h": cycle_min * quantity / 60.0,
        "cycle_h": cycle_min / 60.0,
    }
    per_unit = {
        "setup": run.setup_h * machine.hourly_rate_jpy / quantity,
        "programming": run.programming_h * r.programming_rate_jpy_per_h / quantity,
        "machining": cycle_min / 60.0 * machine.hourly_rate_jpy,
        "material": part.material_jpy,
        "finishing": _finish_cost(features, part.finish, quantity),
    }

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

    cost = (
        per_unit["material"]
        + per_unit["setup"]
        + per_unit["programming"]
        + per_unit["machining"]
        + per_unit["finishing"]
        + per_unit["inspection"]
    )
    margin = cost * r.margin_rate
    topup = max(0.0, r.minimum_order_jpy / quantity - (cost + margin))
    price = round(cost + margin + topup)
    parts = {k: float(round(v)) for k, v in per_unit.items()}
    # Margin takes the rounding to whole yen, so the drivers add up to the price exactly.
    breakdown = CostBreakdown(**parts, margin=float(price - sum(parts.values())))
    return _Batch(run, candidates, learning, hours, per_unit, topup, breakdown)


def _plan_batches(
    features: PartFeatures, spec: QuoteSpec, quantities: Sequence[int], catalog: Catalog
) -> tuple[_PartPlan, list[_Batch]]:
    """``spec`` planned once (``_plan_part``) and costed at each of ``quantities``
    (``_cost_batch``)."""
    checked = [_check_quantity(q) for q in quantities]
    part = _plan_part(features, spec, checked, catalog)
    return part, [_cost_batch(part, q, catalog) for q in checked]


def plan_process(features: PartFeatures, spec: QuoteSpec, catalog: Catalog) -> ProcessPlan:
    """Plan and cost one part for one spec; every intermediate figure kept (see ProcessPlan).

    Raises
    ------
    UnknownMaterial, UnknownFinish, IncompatibleFinish, InvalidRoughness, InvalidQuantity,
    InvalidTolerance
        The spec names something the catalogs do not have, a quantity below 1, or a tolerance
        that is not a positive number of mm.
    """
    part, (batch,) = _plan_batches(features, spec, (spec.quantity,), catalog)
    machine = batch.run.machine
    return ProcessPlan(
        machine=machine.name,
        process=machine.kind,
        setups=batch.run.setups,
        complexity=batch.run.complexity,
        factors={**part.factors, "learning": batch.learning},
        minutes=dict(batch.run.minutes),
        hours=batch.hours,
        per_unit_jpy=batch.per_unit,
        minimum_charge_topup_jpy=batch.topup,
        breakdown=batch.breakdown,
        unit_price=batch.breakdown.total,
        considered=tuple(m.name for m in batch.candidates),
    )


def _estimate(batch: _Batch, finish: Finish, catalog: Catalog) -> PhysicsEstimate:
    """The estimate of a costed batch: its price and hours, and the lead time they make."""
    hours = batch.hours
    unit_price = batch.breakdown.total
    lt = lead_time(
        machine_hours=hours["setup_h"] + hours["machining_h"],
        inspection_hours=hours["inspection_h"],
        finish_days=finish.added_days,
        unit_price=unit_price,
        catalog=catalog,
    )
    return PhysicsEstimate(
        machine=batch.run.machine.name,
        process=batch.run.machine.kind,
        breakdown=batch.breakdown,
        unit_price=unit_price,
        hours=hours,
        lead_time_days=float(lt.days),
        lead_time_parts=lt.parts,
        tiers=lt.tiers,
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
    return estimate_quantities(features, spec, (spec.quantity,), catalog)[0]


def estimate_quantities(
    features: PartFeatures, spec: QuoteSpec, quantities: Sequence[int], catalog: Catalog
) -> list[PhysicsEstimate]:
    """``estimate`` of ``spec`` at each of ``quantities`` (pieces; ``spec.quantity`` is
    ignored), in order: the price breaks of a quote.

    The same as ``[estimate(features, replace(spec, quantity=q), catalog) for q in
    quantities]``, but the part is planned once and only the batch costs are worked out per
    quantity. Raises what ``estimate`` raises.
    """
    part, batches = _plan_batches(features, spec, quantities, catalog)
    return [_estimate(b, part.finish, catalog) for b in batches]


def estimate_many(
    features: PartFeatures, specs: Iterable[QuoteSpec], catalog: Catalog
) -> list[PhysicsEstimate]:
    """estimate() for each spec, in order (price breaks, tolerance sweeps, history generation)."""
    return [estimate(features, s, catalog) for s in specs]
