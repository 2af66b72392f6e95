"""Design-for-manufacturing checks: what makes a part hard, costly or impossible to machine.

``check_dfm(features, spec, catalog)`` turns measured features into findings with a stable code,
a severity ("error": cannot be made as drawn; "warning": costs more or risks scrap; "info": worth
knowing), a message in plain words with the numbers and the fix, and where on the part.

Codes: thin_wall, sharp_internal_corner, deep_pocket, deep_hole, small_hole, non_standard_hole,
unreachable_faces, tolerance_too_tight, exceeds_machine_envelope. Thresholds come from the
catalogs (materials' walls, cutters, machines' envelopes and tolerances) and DOMAIN.md (hole depth
4x recommended / 10x feasible, pocket depth < 4x width).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict

from quote.catalogs import Catalog, process_tolerance_limits, resolve_material
from quote.types import DfmWarning, PartFeatures, QuoteSpec, Vec3

# DOMAIN.md (neptunelabs, zekes3d): hole depth 4x diameter recommended, 10x feasible with
# standard drills; cavities shallower than 4x their width.
HOLE_DEPTH_RECOMMENDED = 4.0
HOLE_DEPTH_FEASIBLE = 10.0
POCKET_DEPTH_RATIO = 4.0
# Holes above this are bored or interpolated anyway, so their size need not be a drill size.
_STANDARD_HOLE_MAX_MM = 32.0
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _finite_pos(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def _loc(v: Vec3 | None) -> Vec3 | None:
    return None if v is None else (float(v[0]), float(v[1]), float(v[2]))


def _fmt_dims(dims: tuple[float, ...]) -> str:
    return " x ".join(f"{d:.0f}" for d in dims)


def _wall_limits(spec: QuoteSpec | None, catalog: Catalog) -> tuple[float, float, str]:
    """(recommended, feasible, what) minimum wall, mm, for the spec's material or for metals."""
    if spec is not None:
        m = resolve_material(catalog, spec.material)
        return m.min_wall_mm, m.min_wall_feasible_mm, m.name
    metals = [m for m in catalog.materials if m.family != "plastic"] or list(catalog.materials)
    return (
        min(m.min_wall_mm for m in metals),
        min(m.min_wall_feasible_mm for m in metals),
        "metal",
    )


def _thin_wall(
    features: PartFeatures, spec: QuoteSpec | None, catalog: Catalog
) -> list[DfmWarning]:
    wall = features.min_wall_mm
    if not _finite_pos(wall):
        return []
    rec, feas, what = _wall_limits(spec, catalog)
    if wall >= rec:
        return []
    if wall < feas:
        sev, why = "error", f"walls under {feas:g} mm cannot be machined reliably in {what}"
    else:
        sev, why = "warning", f"below {rec:g} mm it chatters and distorts, so it costs more"
    return [
        DfmWarning(
            "thin_wall",
            sev,
            f"The thinnest wall is {wall:.2f} mm; {what} needs at least {rec:g} mm ({why}). "
            f"Thicken it to {rec:g} mm or more.",
            _loc(features.min_wall_location_mm),
            float(wall),
            rec,
        )
    ]


def _sharp_corner(features: PartFeatures, catalog: Catalog) -> list[DfmWarning]:
    r = features.min_internal_radius_mm
    if r is None or not math.isfinite(r) or r < 0:
        return []
    tool_r = catalog.cutters.min_radius_mm
    factor = catalog.cutters.corner_radius_factor
    good = tool_r * factor
    if r >= good:
        return []
    loc = _loc(features.min_internal_radius_location_mm)
    if r < tool_r:
        return [
            DfmWarning(
                "sharp_internal_corner",
                "warning",
                f"An internal corner has a radius of {r:.2f} mm, smaller than the smallest "
                f"standard end mill can cut ({tool_r:g} mm radius, a {2 * tool_r:g} mm tool). "
                f"Give it a radius of at least {good:.2f} mm ({factor:g}x the tool radius), "
                f"or expect EDM at extra cost.",
                loc,
                float(r),
                tool_r,
            )
        ]
    return [
        DfmWarning(
            "sharp_internal_corner",
            "info",
            f"An internal corner has a radius of {r:.2f} mm, just above the smallest tool "
            f"({tool_r:g} mm radius); {good:.2f} mm or more lets the tool cut without wrapping "
            f"the corner and chattering.",
            loc,
            float(r),
            good,
        )
    ]


def _deep_pocket(features: PartFeatures) -> list[DfmWarning]:
    depth, width = features.max_pocket_depth_mm, features.max_pocket_width_mm
    if not (_finite_pos(depth) and _finite_pos(width)):
        return []
    ratio = depth / width
    if ratio <= POCKET_DEPTH_RATIO:
        return []
    return [
        DfmWarning(
            "deep_pocket",
            "warning",
            f"A pocket is {depth:.1f} mm deep and {width:.1f} mm wide ({ratio:.1f}x its width; "
            f"keep it under {POCKET_DEPTH_RATIO:g}x). Long-reach tools deflect and cut slowly: "
            f"make it at most {POCKET_DEPTH_RATIO * width:.1f} mm deep or at least "
            f"{depth / POCKET_DEPTH_RATIO:.1f} mm wide.",
            _loc(features.pocket_location_mm),
            ratio,
            POCKET_DEPTH_RATIO,
        )
    ]


def _holes(features: PartFeatures, catalog: Catalog) -> list[DfmWarning]:
    # Group equal holes so a 40-hole bolt pattern gives one finding, not forty.
    deep: dict[tuple[str, float, float], list[Vec3]] = defaultdict(list)
    odd: dict[float, list[Vec3]] = defaultdict(list)
    small: dict[float, list[Vec3]] = defaultdict(list)
    smallest_drill = catalog.drill_diameters_mm[0] if catalog.drill_diameters_mm else 1.0
    for h in features.holes:
        d, depth = h.diameter_mm, h.depth_mm
        if not (_finite_pos(d) and _finite_pos(depth)):
            continue
        ratio = depth / d
        if ratio > HOLE_DEPTH_RECOMMENDED:
            sev = "error" if ratio > HOLE_DEPTH_FEASIBLE else "warning"
            deep[(sev, round(d, 2), round(depth, 1))].append(h.position_mm)
        if d < smallest_drill - 1e-9:
            small[round(d, 2)].append(h.position_mm)
        elif h.standard is None and d <= _STANDARD_HOLE_MAX_MM:
            odd[round(d, 2)].append(h.position_mm)

    out: list[DfmWarning] = []
    for (sev, d, depth), locs in deep.items():
        n = len(locs)
        what = f"{n} holes of" if n > 1 else "A hole of"
        ratio = depth / d
        if sev == "error":
            fix = (
                f"standard drills reach {HOLE_DEPTH_FEASIBLE:g}x; beyond that it needs gun "
                f"drilling. Make it at most {HOLE_DEPTH_FEASIBLE * d:.1f} mm deep, larger, or "
                f"drill through holes from both sides"
            )
        else:
            fix = (
                f"above {HOLE_DEPTH_RECOMMENDED:g}x it needs peck drilling and costs more; "
                f"{HOLE_DEPTH_RECOMMENDED * d:.1f} mm or less is cheapest"
            )
        out.append(
            DfmWarning(
                "deep_hole",
                sev,
                f"{what} {d:g} mm diameter {'are' if n > 1 else 'is'} {depth:g} mm deep "
                f"({ratio:.1f}x the diameter): {fix}.",
                _loc(locs[0]),
                ratio,
                HOLE_DEPTH_FEASIBLE if sev == "error" else HOLE_DEPTH_RECOMMENDED,
            )
        )
    for d, locs in small.items():
        n = len(locs)
        out.append(
            DfmWarning(
                "small_hole",
                "warning",
                f"{n} hole{'s' if n > 1 else ''} of {d:g} mm diameter {'are' if n > 1 else 'is'} "
                f"below the smallest stock drill ({smallest_drill:g} mm): micro drills are slow "
                f"and break. Use {smallest_drill:g} mm or more if the design allows.",
                _loc(locs[0]),
                d,
                smallest_drill,
            )
        )
    diam = catalog.drill_diameters_mm
    for d, locs in odd.items():
        i = bisect.bisect_left(diam, d)
        near = min(diam[max(0, i - 1) : i + 1], key=lambda s: abs(s - d), default=None)
        hint = f" The nearest standard drill is {near:g} mm." if near is not None else ""
        n = len(locs)
        verb, they = ("match", "they are") if n > 1 else ("matches", "it is")
        out.append(
            DfmWarning(
                "non_standard_hole",
                "info",
                f"{n} hole{'s' if n > 1 else ''} of {d:g} mm diameter {verb} no standard drill, "
                f"tap-drill or clearance size, so {they} milled or reamed instead of drilled."
                f"{hint}",
                _loc(locs[0]),
                d,
                near,
            )
        )
    return out


def _unreachable(features: PartFeatures) -> list[DfmWarning]:
    area = features.unreachable_area_mm2
    if not _finite_pos(area):
        return []
    share = 100.0 * area / features.area_mm2 if _finite_pos(features.area_mm2) else 0.0
    return [
        DfmWarning(
            "unreachable_faces",
            "warning",
            f"{area:.0f} mm^2 of surface ({share:.1f}% of the part) cannot be reached by a tool "
            f"from any of the six setup directions (an undercut or a closed cavity). It needs "
            f"5-axis machining or special tools; open the cavity or split the part to avoid it.",
            None,
            float(area),
            0.0,
        )
    ]


def _tolerance(
    features: PartFeatures, spec: QuoteSpec | None, catalog: Catalog
) -> list[DfmWarning]:
    if spec is None or not _finite_pos(spec.tolerance_mm):
        return []
    tol = spec.tolerance_mm
    economic, limit = process_tolerance_limits(catalog, features.process)
    verb = {"lathe": "turning", "mill-turn": "mill-turning"}.get(features.process, "milling")
    if tol < limit:
        return [
            DfmWarning(
                "tolerance_too_tight",
                "error",
                f"The tolerance +-{tol:g} mm ({spec.tolerance_label}) is tighter than {verb} can "
                f"hold (+-{limit:g} mm at best). It needs grinding or lapping, quoted by hand; "
                f"apply it only to the features that need it and use +-{economic:g} mm or "
                f"ISO 2768-m elsewhere.",
                None,
                tol,
                limit,
            )
        ]
    if tol < economic:
        return [
            DfmWarning(
                "tolerance_too_tight",
                "warning",
                f"The tolerance +-{tol:g} mm ({spec.tolerance_label}) is tighter than {verb} "
                f"holds economically (+-{economic:g} mm): slower finishing and more inspection "
                f"raise the price. Apply it only to the features that need it.",
                None,
                tol,
                economic,
            )
        ]
    return []


def _envelope(features: PartFeatures, catalog: Catalog) -> list[DfmWarning]:
    extents = tuple(float(v) for v in features.obb_mm if math.isfinite(v))
    if len(extents) != 3 or any(m.fits(extents) for m in catalog.machines):
        return []
    biggest = max(catalog.machines, key=lambda m: math.prod(m.envelope_mm))
    return [
        DfmWarning(
            "exceeds_machine_envelope",
            "error",
            f"The part measures {_fmt_dims(tuple(sorted(extents, reverse=True)))} mm, larger than "
            f"every machine in the catalog (the largest, {biggest.name}, takes "
            f"{_fmt_dims(biggest.envelope_mm)} mm). Split it into parts joined after machining, or "
            f"send it to a shop with larger machines.",
            None,
            max(extents),
            max(biggest.envelope_mm),
        )
    ]


def check_dfm(
    features: PartFeatures, spec: QuoteSpec | None, catalog: Catalog
) -> tuple[DfmWarning, ...]:
    """Manufacturability findings for one part, errors first.

    Parameters
    ----------
    features
        Measured part (mm).
    spec
        The request, or None when only the geometry is checked (then walls are judged against
        metal limits and tolerances are not checked).
    catalog
        Shop catalogs.

    Returns
    -------
    tuple of DfmWarning
        Sorted by severity (error, warning, info), then in check order. Location in mm in the
        file's coordinates where the features give one.

    Raises
    ------
    UnknownMaterial
        ``spec.material`` is not in the catalog.
    """
    out = [
        *_envelope(features, catalog),
        *_thin_wall(features, spec, catalog),
        *_sharp_corner(features, catalog),
        *_deep_pocket(features),
        *_holes(features, catalog),
        *_unreachable(features),
        *_tolerance(features, spec, catalog),
    ]
    return tuple(sorted(out, key=lambda w: _SEVERITY_ORDER.get(w.severity, 3)))
