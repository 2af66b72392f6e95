"""The catalog entries as the engine reads them: frozen dataclasses, one per kind of entry.

Units: lengths mm, money JPY, densities g/cm^3, rates as the field names say.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

# Preference when several standard sizes lie within the matching tolerance: a hole at a tap-drill
# size is far more often tapped than a clearance hole of another thread, and a plain drill size
# says the least about intent.
KIND_PRIORITY = {"tap_drill": 0, "clearance": 1, "drill": 2}


@dataclass(frozen=True)
class StockSizes:
    """Raw stock the features step chooses from.

    plate_thickness_mm: standard plate thicknesses, ascending, mm.
    round_bar_diameter_mm: standard round bar diameters, ascending, mm.
    allowance_mm: added per side to a plate blank's width and length (sawn edge cleaned up), mm.
    bar_allowance_mm: facing allowance added to each end of a bar's length, mm.
    plate_face_allowance_mm: minimum excess of plate thickness over the part's thickness, mm.
    bar_diameter_allowance_mm: minimum excess of bar diameter over the part's diameter, mm.
    """

    plate_thickness_mm: tuple[float, ...]
    round_bar_diameter_mm: tuple[float, ...]
    allowance_mm: float
    bar_allowance_mm: float
    plate_face_allowance_mm: float = 0.5
    bar_diameter_allowance_mm: float = 1.0

    def next_plate_thickness(self, thickness_mm: float) -> float | None:
        """Thinnest standard plate >= ``thickness_mm + plate_face_allowance_mm`` (mm), or None."""
        return _next_size(self.plate_thickness_mm, thickness_mm + self.plate_face_allowance_mm)

    def next_bar_diameter(self, diameter_mm: float) -> float | None:
        """Thinnest standard bar >= ``diameter_mm + bar_diameter_allowance_mm`` (mm), or None."""
        return _next_size(self.round_bar_diameter_mm, diameter_mm + self.bar_diameter_allowance_mm)


def _next_size(sizes: tuple[float, ...], need: float) -> float | None:
    # A hair of slack so a 10.0 mm need is met by the 10 mm plate despite float noise.
    i = bisect.bisect_left(sizes, need - 1e-9)
    return sizes[i] if i < len(sizes) else None


@dataclass(frozen=True)
class DrillSize:
    """A standard hole size.

    diameter_mm: mm. label: what a Hole's ``standard`` shows, e.g.
    "6.6 (M6 clearance, ISO 273 medium)". kind: "drill", "clearance" or "tap_drill".
    thread: the metric thread it belongs to ("M6") or None for a plain drill.
    """

    diameter_mm: float
    label: str
    kind: str
    thread: str | None = None


@dataclass(frozen=True)
class Cutters:
    """Standard end mills. end_mill_diameters_mm: ascending, mm. min_radius_mm: radius of the
    smallest, mm. corner_radius_factor: recommended internal radius / tool radius."""

    end_mill_diameters_mm: tuple[float, ...]
    min_radius_mm: float
    corner_radius_factor: float


@dataclass(frozen=True)
class Material:
    """A stock material.

    name: JIS name (canonical). aliases: other accepted names. family: "aluminium", "steel",
    "stainless", "copper_alloy", "titanium" or "plastic". density_g_cm3: g/cm^3.
    price_jpy_per_kg: cut stock price, JPY/kg. machinability: relative to A6061 = 1.0 (higher is
    easier). roughing_rate_cm3_min: achieved roughing removal, cm^3/min. finishing_rate_cm2_min:
    surface finished per minute, cm^2/min. min_wall_mm / min_wall_feasible_mm: recommended and
    feasible minimum wall, mm.
    """

    name: str
    aliases: tuple[str, ...]
    family: str
    description: str
    density_g_cm3: float
    price_jpy_per_kg: float
    machinability: float
    roughing_rate_cm3_min: float
    finishing_rate_cm2_min: float
    min_wall_mm: float
    min_wall_feasible_mm: float
    source: str


@dataclass(frozen=True)
class Machine:
    """A machine of the shop.

    kind: "mill", "lathe" or "mill-turn". axes: controlled axes. hourly_rate_jpy: JPY/h with
    operator. envelope_mm: X, Y, Z travel for mills; (swing diameter, swing diameter, length) for
    lathes, mm. sides_per_setup: part sides one fixturing reaches. removal_factor,
    setup_factor, programming_factor: relative to a 3-axis VMC. economic_tolerance_mm /
    limit_tolerance_mm: +-mm held routinely / at best. min_quantity: smallest batch it is used for.
    load_unload_factor: share of the manual load/unload time per part (bar feeders: small).
    """

    name: str
    kind: str
    axes: int
    description: str
    hourly_rate_jpy: float
    envelope_mm: tuple[float, float, float]
    sides_per_setup: int
    removal_factor: float
    setup_factor: float
    programming_factor: float
    economic_tolerance_mm: float
    limit_tolerance_mm: float
    source: str
    min_quantity: int = 1
    load_unload_factor: float = 1.0

    def fits(self, extents_mm: tuple[float, ...]) -> bool:
        """Whether a part of these extents (mm, any order) fits the envelope in some orientation.

        Sorting both sides and comparing pairwise is exact for boxes aligned with the axes, which
        is how a part is fixtured.
        """
        part = sorted(extents_mm, reverse=True)
        env = sorted(self.envelope_mm, reverse=True)
        return all(p <= e for p, e in zip(part, env, strict=False))


@dataclass(frozen=True)
class Finish:
    """A surface treatment.

    jpy_per_dm2: JPY per dm^2 of part surface. lot_minimum_jpy: minimum charge per lot, JPY.
    added_days: business days added to the lead time. families: material families it applies to.
    """

    name: str
    aliases: tuple[str, ...]
    description: str
    jpy_per_dm2: float
    lot_minimum_jpy: float
    added_days: int
    families: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ToleranceClass:
    """An ISO 2768-1 class: name "f", "m", "c" or "v"; tolerances_mm per nominal range (+-mm,
    None where the standard gives no value)."""

    name: str
    description: str
    tolerances_mm: tuple[float | None, ...]


@dataclass(frozen=True)
class ToleranceTable:
    """ISO 2768-1 linear tolerances and the cost of tight tolerances.

    range_upper_mm: upper bound of each nominal size range, mm (the first range starts at 0.5).
    classes: by name. cost_points: (tolerance +-mm, cost factor), loosest first.
    explicit_min_mm / explicit_max_mm: accepted range of explicit tolerances, +-mm.
    """

    range_upper_mm: tuple[float, ...]
    classes: dict[str, ToleranceClass]
    default_label: str
    cost_points: tuple[tuple[float, float], ...]
    explicit_min_mm: float
    explicit_max_mm: float

    def class_tolerance_mm(self, class_name: str, nominal_size_mm: float) -> float:
        """+-mm of ISO 2768-1 class ``class_name`` for a dimension of ``nominal_size_mm``.

        Sizes below 0.5 mm use the first range and above 4000 mm the last. Where the standard
        gives no value (class f above 2000 mm, class v up to 3 mm) the nearest defined value of
        the same class is used, so every size gets an answer.
        """
        tols = self.classes[class_name].tolerances_mm
        i = min(bisect.bisect_left(self.range_upper_mm, nominal_size_mm), len(tols) - 1)
        nearest = tols[i]
        if nearest is not None:
            return float(nearest)
        defined = [(abs(j - i), float(t)) for j, t in enumerate(tols) if t is not None]
        return min(defined)[1]

    def cost_factor(self, tolerance_mm: float) -> float:
        """Factor on finishing passes and inspection for a +-``tolerance_mm`` tolerance.

        1.0 at and above the loosest point; log-log interpolation between points; the last slope
        is continued beyond the tightest point.
        """
        pts = self.cost_points
        if tolerance_mm >= pts[0][0]:
            return pts[0][1]
        lt = math.log(tolerance_mm)
        # First segment whose tighter end is at or below the tolerance; else extend the last.
        k = next((i for i in range(1, len(pts)) if tolerance_mm >= pts[i][0]), len(pts) - 1)
        (t0, f0), (t1, f1) = pts[k - 1], pts[k]
        w = (lt - math.log(t0)) / (math.log(t1) - math.log(t0))
        return math.exp(math.log(f0) + w * (math.log(f1) - math.log(f0)))


@dataclass(frozen=True)
class Tolerance:
    """A resolved tolerance. label: canonical ("ISO2768-m" or "0.02"); mm: +-mm for the nominal
    size asked; kind: "iso2768" or "explicit"; class_name: "f"/"m"/"c"/"v" or None."""

    label: str
    mm: float
    kind: str
    class_name: str | None = None


@dataclass(frozen=True)
class RoughnessClass:
    """A surface roughness class: ra_um (Ra, um) and factor on finishing passes vs Ra 3.2."""

    ra_um: float
    factor: float
    source: str


@dataclass(frozen=True)
class Rates:
    """Labour rates and process-planning constants (see data/catalogs/rates.yaml for each
    value's meaning and source). Money JPY, times as the field names say."""

    programming_rate_jpy_per_h: float
    inspection_rate_jpy_per_h: float
    setup_base_h: float
    setup_complex_h: float
    programming_base_h: float
    programming_per_face_h: float
    programming_per_hole_h: float
    programming_per_setup_h: float
    programming_max_h: float
    complexity_faces_ref: float
    complexity_holes_ref: float
    complexity_setups_ref: float
    load_unload_min: float
    tool_change_min: float
    drill_feed_mm_per_min: float
    hole_overhead_min: float
    peck_factor: float
    peck_ratio: float
    large_hole_mm: float
    tap_overhead_min: float
    tap_feed_mm_per_min: float
    learning_exponent: float
    learning_floor: float
    material_waste_factor: float
    material_min_jpy: float
    inspection_base_min: float
    inspection_per_hole_min: float
    inspection_sample_from: float
    inspection_sample_rate: float
    first_article_h: float
    thin_wall_mm: float
    thin_wall_factor: float
    small_radius_mm: float
    small_radius_factor: float
    deep_pocket_ratio: float
    deep_pocket_slope: float
    unreachable_factor: float
    margin_rate: float
    minimum_order_jpy: float


@dataclass(frozen=True)
class LeadTimeParams:
    """Lead-time constants (data/catalogs/leadtime.yaml). Days are business days."""

    hours_per_day: float
    queue_days: float
    inspection_same_day_h: float
    shipping_days: float
    express_queue_days: float
    express_hours_per_day: float
    express_finishing_days_saved: float
    express_price_factor: float
    economy_extra_days: float
    economy_price_factor: float
