"""The learned models' input: one fixed numeric vector per (part, spec, physics estimate).

Every feature is listed in ``FEATURES`` with its meaning, unit and the cost driver its effect is
reported under in explanations (``FEATURE_DRIVERS``). Monetary and size features are logs, so that
trees split on ratios and the prior columns (logs of additive parts) can be summed back in JPY.

The price model reads ``PRICE_COLUMNS``; its prior is the physics unit price split into
``PRIOR_PARTS`` (``PRICE_PRIOR``: material, setup, programming, roughing, finishing passes,
holes, loading, surface finish, inspection, margin; logs of JPY per piece). The lead-time model
reads ``LEAD_COLUMNS``; its prior is the physics lead-time parts (``LEAD_PRIOR``, logs of
business days). ``PRICE_LINEAR`` / ``LEAD_LINEAR`` are the columns of a shop model's log-linear
step, ``PRICE_SCALING`` / ``LEAD_SCALING`` those that scale each of its prior parts, and
``PRICE_EXTRA_CHARGES`` places its charges per lot and per piece. Effects of the overall
physics price level are shown under "margin" (a shop's markup policy often depends on the size
of the job).

``build_matrix`` is on the quote's hot path (about ten rows per quote, one per price break, the
same part and spec at each quantity): the geometry and spec columns are computed once per part
and spec, the physics columns per row, a few microseconds each.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quote.catalogs import Catalog, load_catalog
from quote.types import PartFeatures, PhysicsEstimate, QuoteSpec

DRIVERS: tuple[str, ...] = (
    "material",
    "setup",
    "programming",
    "machining",
    "finishing",
    "inspection",
    "margin",
    "quantity",
    "tolerance",
)

# The price prior's additive parts, JPY per piece, and the driver each is shown under. The
# physics' machining is split by its hours into roughing, finishing passes, holes and loading,
# because shops differ most in how fast they rough, finish and drill, and not in the same ratio.
PRIOR_PARTS: dict[str, str] = {
    "material": "material",
    "setup": "setup",
    "programming": "programming",
    "roughing": "machining",
    "finishing_passes": "machining",
    "holes": "machining",
    "load_unload": "machining",
    "surface_finish": "finishing",
    "inspection": "inspection",
    "margin": "margin",
}
_MACHINING_HOURS = {
    "roughing": "roughing_h",
    "finishing_passes": "finishing_h",
    "holes": "holes_h",
    "load_unload": "load_unload_h",
}
# Physics hours (PhysicsEstimate.hours keys) and the driver each belongs to. Batch hours.
HOURS_DRIVERS: dict[str, str] = {
    "setup_h": "setup",
    "programming_h": "programming",
    "roughing_h": "machining",
    "finishing_h": "machining",
    "holes_h": "machining",
    "inspection_h": "inspection",
}
# Physics lead-time parts (PhysicsEstimate.lead_time_parts keys), business days.
LEAD_PARTS: tuple[str, ...] = ("queue", "machining", "finishing", "inspection", "shipping")

PROCESS_CODES: dict[str, int] = {"mill": 0, "lathe": 1, "mill-turn": 2}
FAMILY_CODES: dict[str, int] = {
    "aluminium": 0,
    "copper_alloy": 1,
    "plastic": 2,
    "steel": 3,
    "stainless": 4,
    "titanium": 5,
}


@dataclass(frozen=True)
class Feature:
    """One column: name, unit and meaning, and the cost driver its contribution is shown under."""

    name: str
    driver: str
    doc: str


FEATURES: tuple[Feature, ...] = (
    # -- physics prior: the process-planning estimate, per piece ----------------------------
    Feature("log_phys_unit_price", "margin", "log physics unit price, JPY"),
    *(
        Feature(f"log_prior_{k}", d, f"log(1 + physics {k.replace('_', ' ')} per piece), JPY")
        for k, d in PRIOR_PARTS.items()
    ),
    *(
        Feature(f"log_{h}_per_piece", d, f"log(1 + physics {h} / quantity), hours")
        for h, d in HOURS_DRIVERS.items()
    ),
    Feature("log_setup_h_batch", "setup", "log(1 + setup hours per batch), hours"),
    Feature("log_programming_h_batch", "programming", "log(1 + programming hours), hours"),
    # -- geometry ----------------------------------------------------------------------------
    Feature("log_volume_cm3", "material", "log part volume, cm^3"),
    Feature("log_removed_cm3", "machining", "log(1 + removed volume), cm^3"),
    Feature("log_area_cm2", "finishing", "log surface area, cm^2"),
    Feature("log_stock_cm3", "material", "log stock volume, cm^3"),
    Feature("log_bbox_cm3", "material", "log axis-aligned bounding-box volume, cm^3"),
    Feature("log_stock_1", "material", "log largest stock dimension (bar: length), mm"),
    Feature("log_stock_2", "material", "log middle stock dimension (bar: diameter), mm"),
    Feature("log_stock_3", "material", "log smallest stock dimension (bar: diameter), mm"),
    Feature("removed_share", "machining", "removed / stock volume, 0..1"),
    Feature("log_obb_1", "machining", "log largest oriented-box extent, mm"),
    Feature("log_obb_2", "machining", "log middle oriented-box extent, mm"),
    Feature("log_obb_3", "machining", "log smallest oriented-box extent, mm"),
    Feature("hole_count", "machining", "holes, count"),
    Feature("tapped_count", "machining", "holes at a tap-drill size, count"),
    Feature("blind_count", "machining", "blind holes, count"),
    Feature("log_hole_depth_sum", "machining", "log(1 + summed hole depth), mm"),
    Feature("setups", "setup", "machine setups, count"),
    Feature("log_faces", "programming", "log(1 + faces of all types), count"),
    Feature("log_min_wall", "machining", "log minimum wall thickness (capped 100), mm"),
    Feature("log_min_radius", "machining", "log smallest internal radius (100 if none), mm"),
    Feature("pocket_ratio", "machining", "deepest pocket depth / width (capped 20), 1"),
    Feature("log_unreachable_cm2", "machining", "log(1 + unreachable area), cm^2"),
    Feature("process_code", "machining", "0 mill, 1 lathe, 2 mill-turn"),
    Feature("axisymmetry", "machining", "rotationally symmetric share of area, 0..1"),
    # -- spec ----------------------------------------------------------------------------------
    Feature("log_quantity", "quantity", "log pieces"),
    Feature("log_tolerance_mm", "tolerance", "log tightest +- tolerance, mm"),
    Feature("log_roughness_um", "finishing", "log Ra asked, um"),
    Feature("density", "material", "material density, g/cm^3"),
    Feature("log_price_per_kg", "material", "log material price, JPY/kg"),
    Feature("log_machinability", "machining", "log machinability, relative to A6061 = 1"),
    Feature("material_family", "material", "family code (FAMILY_CODES)"),
    Feature("material_code", "material", "stable code of the material name (crc32 mod 997)"),
    Feature("finish_code", "finishing", "stable code of the finish name (0 = none)"),
    Feature("log_finish_jpy_dm2", "finishing", "log(1 + finish price), JPY/dm^2"),
    Feature("log_finish_lot_min", "finishing", "log(1 + finish lot minimum), JPY"),
    Feature("finish_days", "finishing", "finish added business days"),
    # -- lead-time prior: the physics lead-time parts -----------------------------------------
    Feature("log_phys_lead_days", "machining", "log physics lead time, business days"),
    *(
        Feature(f"log_lead_{p}", "machining", f"log(1 + physics lead-time {p}), business days")
        for p in LEAD_PARTS
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_DRIVERS: dict[str, str] = {f.name: f.driver for f in FEATURES}
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}

_LEAD_ONLY = {"log_phys_lead_days", *(f"log_lead_{p}" for p in LEAD_PARTS)}
PRICE_COLUMNS: tuple[int, ...] = tuple(
    i for i, n in enumerate(FEATURE_NAMES) if n not in _LEAD_ONLY
)
LEAD_COLUMNS: tuple[int, ...] = tuple(range(len(FEATURE_NAMES)))
# Prior columns, as positions inside PRICE_COLUMNS / LEAD_COLUMNS (what the estimators see).
PRICE_PRIOR: tuple[int, ...] = tuple(
    PRICE_COLUMNS.index(_INDEX[f"log_prior_{k}"]) for k in PRIOR_PARTS
)
LEAD_PRIOR: tuple[int, ...] = tuple(LEAD_COLUMNS.index(_INDEX[f"log_lead_{p}"]) for p in LEAD_PARTS)


# Smooth trends a shop's prices and lead times may have against the prior (a steeper quantity
# discount, a premium per tolerance step, dearer big parts): the log-linear step of a shop
# model fits them on these columns before the trees.
LINEAR_FEATURES: tuple[str, ...] = (
    "log_phys_unit_price",
    "log_quantity",
    "log_tolerance_mm",
    "log_roughness_um",
    "log_volume_cm3",
    "log_removed_cm3",
    "log_area_cm2",
    "log_stock_cm3",
    "log_bbox_cm3",
    "log_stock_1",
    "log_stock_2",
    "log_stock_3",
    "log_obb_1",
    "log_obb_2",
    "log_obb_3",
    "hole_count",
    "tapped_count",
    "setups",
    "axisymmetry",
    "density",
    "log_price_per_kg",
    "log_machinability",
)
LEAD_LINEAR_FEATURES: tuple[str, ...] = (
    "log_phys_lead_days",
    "log_quantity",
    "log_tolerance_mm",
    "log_volume_cm3",
    "log_removed_cm3",
    "log_area_cm2",
    "hole_count",
    "setups",
    "log_machinability",
    "finish_days",
)
PRICE_LINEAR: tuple[int, ...] = tuple(PRICE_COLUMNS.index(_INDEX[n]) for n in LINEAR_FEATURES)
LEAD_LINEAR: tuple[int, ...] = tuple(LEAD_COLUMNS.index(_INDEX[n]) for n in LEAD_LINEAR_FEATURES)

# What scales each part of a shop model's prior by a power of its own (quantity, tolerance and
# size): a shop's quantity discount may cover its machining and not its material, its
# tolerance surcharge its machining and inspection, its machine rate grow with the part.
SCALING_FEATURES: tuple[str, ...] = (
    "log_quantity",
    "log_tolerance_mm",
    "log_area_cm2",
    "log_removed_cm3",
)
PRICE_SCALING: tuple[int, ...] = tuple(PRICE_COLUMNS.index(_INDEX[n]) for n in SCALING_FEATURES)
LEAD_SCALING: tuple[int, ...] = tuple(LEAD_COLUMNS.index(_INDEX[n]) for n in SCALING_FEATURES)
# A shop model's extra charges (IntervalRegressor ``extra_charges``): the log-quantity column
# in PRICE_COLUMNS, then the prior parts a charge per lot and a charge per piece are shown
# under (positions in PRIOR_PARTS: per-lot costs are setup's, per-piece overheads margin's).
PRICE_EXTRA_CHARGES: tuple[int, int, int] = (
    PRICE_COLUMNS.index(_INDEX["log_quantity"]),
    list(PRIOR_PARTS).index("setup"),
    list(PRIOR_PARTS).index("margin"),
)


def price_monotone_constraints() -> tuple[int, ...]:
    """Monotone constraints of the price model over PRICE_COLUMNS.

    +1 on every physics amount (the price never falls because the physics says the part costs
    more to make). Quantity is left free: a shop's discount may be flatter or steeper than the
    physics, so the correction on its own may rise with quantity while the price still falls;
    ``QuoteModel.predict`` guarantees that unit prices never rise with quantity.
    """
    plus = {"log_phys_unit_price", *(f"log_prior_{k}" for k in PRIOR_PARTS)}
    return tuple(1 if FEATURE_NAMES[i] in plus else 0 for i in PRICE_COLUMNS)


def _code(name: str) -> float:
    """A stable small integer for a catalog name (order of the catalog does not matter)."""
    return float(zlib.crc32(name.encode("utf-8")) % 997)


def _log(v: float, floor: float = 1e-9) -> float:
    return math.log(max(v, floor))


def prior_parts(p: PhysicsEstimate) -> list[float]:
    """The physics unit price split into ``PRIOR_PARTS``, JPY per piece (they add up to it)."""
    b = p.breakdown
    hours = p.hours
    split = [max(hours.get(h, 0.0), 0.0) for h in _MACHINING_HOURS.values()]
    total_h = sum(split)
    shares = [h / total_h for h in split] if total_h > 0 else [1.0, 0.0, 0.0, 0.0]
    machining = max(b.machining, 0.0)
    return [
        max(b.material, 0.0),
        max(b.setup, 0.0),
        max(b.programming, 0.0),
        *(machining * sh for sh in shares),
        max(b.finishing, 0.0),
        max(b.inspection, 0.0),
        max(b.margin, 0.0),
    ]


def _part_columns(f: PartFeatures) -> list[float]:
    """The geometry columns, log_volume_cm3 .. log_unreachable_cm2 (the part alone)."""
    tapped = sum(1 for h in f.holes if h.tap)
    blind = sum(1 for h in f.holes if not h.through)
    depth = sum(h.depth_mm for h in f.holes)
    obb = sorted((float(v) for v in f.obb_mm), reverse=True)
    width = f.max_pocket_width_mm
    pocket_ratio = min(f.max_pocket_depth_mm / width, 20.0) if width > 0 else 0.0
    radius = f.min_internal_radius_mm if f.min_internal_radius_mm is not None else 100.0
    stock = max(f.stock.volume_mm3, f.volume_mm3)
    dims = [float(d) for d in f.stock.dims_mm] or [obb[0]]
    if f.stock.form == "round_bar" and len(dims) >= 2:
        dims = [dims[1], dims[0], dims[0]]  # length, diameter, diameter
    sdims = sorted((dims + [dims[-1]] * 3)[:3], reverse=True)
    return [
        _log(f.volume_mm3 / 1e3),
        math.log1p(max(f.removed_volume_mm3, 0.0) / 1e3),
        _log(f.area_mm2 / 1e2),
        _log(stock / 1e3),
        _log(f.bbox_mm[0] * f.bbox_mm[1] * f.bbox_mm[2] / 1e3),
        *(_log(d) for d in sdims),
        max(f.removed_volume_mm3, 0.0) / stock if stock > 0 else 0.0,
        _log(obb[0]),
        _log(obb[1]),
        _log(obb[2]),
        float(len(f.holes)),
        float(tapped),
        float(blind),
        math.log1p(depth),
        float(f.setups),
        math.log1p(sum(f.face_counts.values())),
        _log(min(f.min_wall_mm, 100.0), 1e-3),
        _log(min(radius, 100.0), 1e-3),
        pocket_ratio,
        math.log1p(max(f.unreachable_area_mm2, 0.0) / 1e2),
    ]


def _spec_columns(s: QuoteSpec, catalog: Catalog) -> list[float]:
    """The spec columns but quantity, log_tolerance_mm .. finish_days."""
    mat = catalog.material(s.material)
    fin = catalog.finish(s.finish)
    return [
        _log(s.tolerance_mm, 1e-4),
        _log(s.roughness_ra_um, 1e-3),
        mat.density_g_cm3,
        _log(mat.price_jpy_per_kg),
        _log(mat.machinability),
        float(FAMILY_CODES.get(mat.family, len(FAMILY_CODES))),
        _code(mat.name),
        0.0 if fin.name == "none" else _code(fin.name),
        math.log1p(fin.jpy_per_dm2),
        math.log1p(fin.lot_minimum_jpy),
        float(fin.added_days),
    ]


def _row(
    f: PartFeatures,
    s: QuoteSpec,
    p: PhysicsEstimate,
    part: list[float],
    spec: list[float],
) -> list[float]:
    """One row of FEATURES; ``part`` and ``spec`` are ``_part_columns(f)`` and
    ``_spec_columns(s)``, which price breaks and history rows of one part share."""
    q = max(int(s.quantity), 1)
    hours = p.hours
    lead = p.lead_time_parts
    log1p = math.log1p
    return [
        _log(p.unit_price),
        *map(log1p, prior_parts(p)),
        *[log1p(max(hours.get(h, 0.0), 0.0) / q) for h in HOURS_DRIVERS],
        log1p(max(hours.get("setup_h", 0.0), 0.0)),
        log1p(max(hours.get("programming_h", 0.0), 0.0)),
        *part,
        float(PROCESS_CODES.get(p.process, PROCESS_CODES.get(f.process, 0))),
        float(f.axisymmetry),
        math.log(q),
        *spec,
        _log(p.lead_time_days, 1e-3),
        *[log1p(max(lead.get(k, 0.0), 0.0)) for k in LEAD_PARTS],
    ]


def build_matrix(
    rows: Sequence[tuple[PartFeatures, QuoteSpec, PhysicsEstimate]],
    catalog: Catalog | None = None,
) -> np.ndarray:
    """Feature matrix, shape (len(rows), len(FEATURE_NAMES)), float64, no NaN.

    Parameters
    ----------
    rows
        (features, spec, physics estimate) triples; the spec's material and finish must be
        catalog names (QuoteSpec holds resolved names).
    catalog
        Material and finish properties; default ``load_catalog()``.
    """
    catalog = catalog or load_catalog()
    if not rows:
        return np.zeros((0, len(FEATURE_NAMES)))
    # A quote's rows are one part and spec at several quantities, a history's a few hundred
    # parts at a dozen specs each: their geometry and spec columns are worked out once.
    # (Keyed by identity, the features kept alongside so that an id is never reused.)
    parts: dict[int, tuple[PartFeatures, list[float]]] = {}
    specs: dict[tuple[str, str, float, float], list[float]] = {}
    out = []
    for f, s, p in rows:
        known = parts.get(id(f))
        if known is None:
            known = parts[id(f)] = (f, _part_columns(f))
        part = known[1]
        key = (s.material, s.finish, s.tolerance_mm, s.roughness_ra_um)
        spec = specs.get(key)
        if spec is None:
            spec = specs[key] = _spec_columns(s, catalog)
        out.append(_row(f, s, p, part, spec))
    return np.array(out, dtype=np.float64)
