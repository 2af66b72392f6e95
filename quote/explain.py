"""Plain-words explanations of a price: what each cost driver adds, and why.

The amounts come from the learned model's contributions (``ModelPrediction.contributions``: JPY
per driver, the calibrated prior's share plus the trees' corrections, adding up with the base
value to the unit price). The reasons come from the part and the physics plan: volume to remove
and the material's machinability, setups and batch size, holes, finish, tolerance. Effects that
the physics can isolate (a tight tolerance, a fine roughness) are measured by pricing the same
part again with the looser requirement.
"""

from __future__ import annotations

from dataclasses import replace

from quote.catalogs import Catalog, load_catalog
from quote.errors import MitsumoriError
from quote.types import BREAKDOWN_FIELDS, CostBreakdown, PartFeatures, PhysicsEstimate, QuoteSpec

# Below this share of the unit price a driver is not worth a line.
_MIN_SHARE = 0.03
# Words for how a material family cuts (explains machining time).
_CUTS = {
    "aluminium": "aluminium cuts fast",
    "copper_alloy": "brass and copper cut fast",
    "plastic": "plastics cut fast but need care",
    "steel": "steel cuts at a moderate rate",
    "stainless": "stainless cuts slowly",
    "titanium": "titanium cuts very slowly",
}
# The requirement the physics treats as "no premium".
_LOOSE_TOLERANCE_MM = 0.1
_BASE_RA_UM = 3.2


def _jpy(v: float) -> str:
    return f"{v:,.0f} JPY"


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%"


def _premium(
    features: PartFeatures, spec: QuoteSpec, physics: PhysicsEstimate, catalog: Catalog, **change
) -> float | None:
    """Relative physics price difference of ``spec`` vs ``spec`` with ``change`` (None if the
    changed spec cannot be priced)."""
    from quote.costing import plan_process

    try:
        loose = plan_process(features, replace(spec, **change), catalog).unit_price
    except MitsumoriError:
        return None
    return physics.unit_price / loose - 1.0 if loose > 0 else None


def explain(
    prediction: object,
    physics: PhysicsEstimate,
    features: PartFeatures,
    spec: QuoteSpec,
    catalog: Catalog | None = None,
    breakdown: CostBreakdown | None = None,
) -> list[str]:
    """The main contributions to one quote's unit price in plain words, biggest first.

    Parameters
    ----------
    prediction
        ``quote.artifact.ModelPrediction`` (unit_price, contributions by driver in JPY,
        base_value, prior_unit_price).
    physics
        The process-planning estimate of the same part and spec.
    features, spec
        The part (mm) and the resolved request.
    catalog
        For material words and the what-if prices (default ``load_catalog()``).
    breakdown
        The per-unit breakdown the quote shows; when given, its amounts are the ones quoted
        for material, setup, ..., margin, so the reasons and the breakdown never disagree.

    Returns
    -------
    list of str
        One line per notable driver, then tolerance / roughness premiums, then how the learned
        model differs from the physics.
    """
    catalog = catalog or load_catalog()
    price = float(getattr(prediction, "unit_price", physics.unit_price))
    contrib: dict[str, float] = dict(getattr(prediction, "contributions", {}) or {})
    if not contrib:
        contrib = {k: float(getattr(physics.breakdown, k)) for k in BREAKDOWN_FIELDS}
    if breakdown is not None:
        contrib.update({k: float(getattr(breakdown, k)) for k in BREAKDOWN_FIELDS})
    material = catalog.material(spec.material)
    q = spec.quantity
    hours = physics.hours
    of = f" of {price:,.0f}"

    reasons: dict[str, str] = {}
    stock = features.stock
    kg = stock.volume_mm3 * 1e-6 * material.density_g_cm3
    dims = " x ".join(f"{d:g}" for d in stock.dims_mm)
    form = "round bar" if stock.form == "round_bar" else "plate"
    reasons["material"] = (
        f"{material.name} {form} {dims} mm ({kg:.2f} kg at {material.price_jpy_per_kg:,.0f} JPY/kg)"
    )
    removed_cm3 = features.removed_volume_mm3 / 1e3
    holes = features.holes
    tapped = sum(1 for h in holes if h.tap)
    mach = [
        f"{removed_cm3:,.0f} cm3 of {material.name} to remove "
        f"({_CUTS.get(material.family, 'machinability ' + format(material.machinability, 'g'))})"
    ]
    if holes:
        mach.append(f"{len(holes)} holes" + (f" ({tapped} tapped)" if tapped else ""))
    mach.append(f"on {physics.machine}")
    reasons["machining"] = ", ".join(mach)
    setups = features.setups
    reasons["setup"] = (
        f"{setups} setup{'s' if setups != 1 else ''}, {hours.get('setup_h', 0.0):.1f} h per batch"
    )
    reasons["programming"] = f"{hours.get('programming_h', 0.0):.1f} h of CAM programming"
    reasons["finishing"] = (
        f"{spec.finish.replace('_', ' ')}, {features.area_mm2 / 1e4:.1f} dm2"
        if spec.finish != "none"
        else "deburring and surface passes"
    )
    reasons["inspection"] = (
        f"{hours.get('inspection_h', 0.0):.1f} h for the batch at +-{spec.tolerance_mm:g} mm"
    )
    reasons["margin"] = "overheads and profit"

    lines: list[tuple[float, str]] = []
    for driver in ("material", "machining", "finishing", "inspection", "margin"):
        amount = contrib.get(driver, 0.0)
        if abs(amount) >= _MIN_SHARE * price:
            label = driver.capitalize()
            lines.append((abs(amount), f"{label}: {_jpy(amount)}{of} — {reasons[driver]}"))
    for driver in ("setup", "programming"):
        amount = contrib.get(driver, 0.0)
        if abs(amount) >= _MIN_SHARE * price:
            spread = f" spread over {q} piece{'s' if q != 1 else ''}"
            text = f"{driver.capitalize()}{spread}: {_jpy(amount)} each — {reasons[driver]}"
            lines.append((abs(amount), text))
    qty = contrib.get("quantity", 0.0)
    if abs(qty) >= _MIN_SHARE * price:
        word = "lowers" if qty < 0 else "raises"
        lines.append(
            (abs(qty), f"Batch of {q}: the learned model {word} the price by {_jpy(abs(qty))}")
        )
    lines.sort(key=lambda t: -t[0])
    out = [text for _, text in lines[:6]]

    if spec.tolerance_mm < _LOOSE_TOLERANCE_MM:
        prem = _premium(features, spec, physics, catalog, tolerance_mm=_LOOSE_TOLERANCE_MM)
        if prem is not None and prem > 0.005:
            out.append(
                f"Tolerance +-{spec.tolerance_mm:g} mm adds {_pct(prem)} "
                f"(vs +-{_LOOSE_TOLERANCE_MM:g} mm: slower finishing passes, longer inspection)"
            )
    if spec.roughness_ra_um < _BASE_RA_UM:
        prem = _premium(features, spec, physics, catalog, roughness_ra_um=_BASE_RA_UM)
        if prem is not None and prem > 0.005:
            out.append(f"Roughness Ra {spec.roughness_ra_um:g} um adds {_pct(prem)} (vs Ra 3.2)")
    if physics.process in ("lathe", "mill-turn") and features.axisymmetry > 0.5:
        out.append(
            f"Turned on {physics.machine}: {_pct(features.axisymmetry)} of the surface is "
            "rotationally symmetric"
        )
    if physics.unit_price > 0:
        rel = price / physics.unit_price - 1.0
        if abs(rel) >= 0.02:
            side = "above" if rel > 0 else "below"
            out.append(
                f"Learned model: {_pct(abs(rel))} {side} the process-planning estimate "
                f"({_jpy(physics.unit_price)})"
            )
    return out
