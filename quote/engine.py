"""Assemble a quote: resolve the spec, run the physics estimate and the learned model, explain.

``quote_analysis`` works on a stored ``PartAnalysis`` (no file access), so the platform can quote
a part again for another material or quantity without parsing it. It returns a
``quote.contract.Quote``; ``as_jsonable`` of it is the JSON the CLI and the API return.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from quote.analysis import ItemAnalysis, PartAnalysis, analyze_part
from quote.artifact import QuoteModel
from quote.catalogs import (
    Catalog,
    load_catalog,
    resolve_finish,
    resolve_material,
    resolve_tolerance,
)
from quote.contract import (
    Explanation,
    FileInfo,
    LeadTimeTier,
    LineItem,
    ModelInfo,
    Notice,
    Physics,
    PriceBreak,
    Quote,
    SetFeatures,
    Tolerance,
)
from quote.costing import estimate_quantities
from quote.errors import InvalidQuantity
from quote.explain import explain
from quote.geometry.dfm import check_dfm
from quote.leadtime import add_business_days
from quote.persistence import load_default_model
from quote.types import (
    BREAKDOWN_FIELDS,
    DEFAULT_TOLERANCE,
    MAX_QUANTITY,
    CostBreakdown,
    DfmFinding,
    QuoteSpec,
)

CURRENCY = "JPY"
DEFAULT_BREAKS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)
INTERVAL_COVERAGE = 0.9


@dataclass(frozen=True)
class QuoteRequest:
    """What the customer asks for, as typed (names and aliases are resolved by the engine).

    quantity: pieces. tolerance: an ISO 2768 class ("ISO2768-m") or +-mm ("0.02" / 0.02).
    finish: catalog finish name or alias. roughness_ra_um: Ra in um (default 3.2).
    quantities: extra quantities for price breaks (default: a standard ladder).
    """

    material: str
    quantity: int
    tolerance: str | float | None = None
    finish: str | None = None
    roughness_ra_um: float | None = None
    due_date: date | None = None
    quantities: tuple[int, ...] | None = None


def _check_quantity(q: Any, what: str = "quantity") -> int:
    if (
        isinstance(q, bool)
        or not isinstance(q, int | float)
        or q != int(q)
        or not 1 <= q <= MAX_QUANTITY
    ):
        raise InvalidQuantity(
            f"{what} must be a whole number from 1 to {MAX_QUANTITY:,}, got {q!r}",
            detail={"field": what, "value": str(q)},
        )
    return int(q)


def _round_breakdown(b: CostBreakdown, unit_price: float) -> CostBreakdown:
    """Scale ``b`` to ``unit_price`` and round to whole yen, the residue going to margin."""
    scale = unit_price / b.total if b.total > 0 else 0.0
    parts = {f: round(getattr(b, f) * scale) for f in BREAKDOWN_FIELDS}
    parts["margin"] += round(unit_price) - sum(parts.values())
    return CostBreakdown(**{k: float(v) for k, v in parts.items()})


def _quote_item(
    item: ItemAnalysis,
    request: QuoteRequest,
    *,
    model: QuoteModel,
    catalog: Catalog,
    today: date,
) -> LineItem:
    """One body's quote (money in whole yen)."""
    feats = item.features
    material = resolve_material(catalog, request.material)
    finish = resolve_finish(catalog, request.finish or "none")
    tol = resolve_tolerance(catalog, request.tolerance or DEFAULT_TOLERANCE, feats.max_extent_mm)
    roughness = float(request.roughness_ra_um or 3.2)
    quantity = _check_quantity(request.quantity)
    extra = (
        [_check_quantity(q, "quantities") for q in request.quantities]
        if request.quantities
        else DEFAULT_BREAKS
    )
    breaks = sorted({quantity, *extra})
    specs = [
        QuoteSpec(
            material=material.name,
            quantity=q,
            tolerance_label=tol.label,
            tolerance_mm=tol.mm,
            finish=finish.name,
            roughness_ra_um=roughness,
            due_date=request.due_date,
        )
        for q in breaks
    ]
    i = breaks.index(quantity)
    spec = specs[i]
    # The physics at every price break (the part is planned once, each batch costed), then the
    # learned model on all of them in one pass. Only the asked quantity's price is explained,
    # so only its row is split by cost driver. The engine's catalog, not a fresh lookup of the
    # default one per call (the spec was resolved against it, so it holds every material and
    # finish the rows name).
    physics = estimate_quantities(feats, spec, breaks, catalog)
    preds = model.predict(
        [(feats, s, p) for s, p in zip(specs, physics, strict=True)],
        catalog,
        contributions_for=(i,),
    )
    phys, pred = physics[i], preds[i]

    unit_price = float(round(pred.unit_price))
    low, high = (float(round(v)) for v in pred.unit_price_interval)
    low, high = min(low, unit_price), max(high, unit_price)
    breakdown = _round_breakdown(phys.breakdown, unit_price)

    lead = max(1, math.ceil(pred.lead_time_days - 1e-9))
    lead_lo = max(1, math.floor(pred.lead_time_interval[0]))
    lead_hi = max(lead, math.ceil(pred.lead_time_interval[1]))
    scale_days = lead / phys.lead_time_days if phys.lead_time_days > 0 else 1.0
    price_factor = unit_price / phys.unit_price if phys.unit_price > 0 else 1.0
    tiers = []
    for t in phys.tiers:
        days = max(1, round(t.days * scale_days))
        tier_unit = float(round(t.unit_price * price_factor))
        tiers.append(
            LeadTimeTier(
                name=t.name,
                days=days,
                ship_date=add_business_days(today, days),
                unit_price=tier_unit,
                total_price=tier_unit * quantity,
            )
        )
    price_breaks = tuple(
        PriceBreak(
            quantity=q,
            unit_price=float(round(p.unit_price)),
            total_price=float(round(p.unit_price)) * q,
        )
        for q, p in zip(breaks, preds, strict=True)
    )

    warnings: list[DfmFinding | Notice] = []
    if spec.due_date is not None:
        meets = [t for t in tiers if t.ship_date <= spec.due_date]
        if not meets:
            fastest = min(tiers, key=lambda t: t.days) if tiers else None
            warnings.append(
                Notice(
                    code="due_date_not_met",
                    severity="warning",
                    message=(
                        f"No delivery option ships by {spec.due_date.isoformat()}; the fastest "
                        f"({fastest.name}) ships {fastest.ship_date.isoformat()}."
                        if fastest
                        else f"Cannot ship by {spec.due_date.isoformat()}."
                    ),
                )
            )
    return LineItem(
        name=item.name,
        index=item.index,
        currency=CURRENCY,
        material=spec.material,
        quantity=quantity,
        tolerance=Tolerance(label=spec.tolerance_label, mm=spec.tolerance_mm),
        finish=spec.finish,
        roughness_ra_um=spec.roughness_ra_um,
        unit_price=unit_price,
        unit_price_interval=(low, high),
        interval_coverage=INTERVAL_COVERAGE,
        total_price=unit_price * quantity,
        lead_time_days=lead,
        lead_time_interval=(min(lead_lo, lead), lead_hi),
        lead_time_tiers=tuple(tiers),
        price_breaks=price_breaks,
        breakdown=breakdown,
        physics=Physics(
            unit_price=round(phys.unit_price),
            machine=phys.machine,
            process=phys.process,
            hours=dict(phys.hours),
            lead_time_days=phys.lead_time_days,
            lead_time_parts=dict(phys.lead_time_parts),
        ),
        dfm=tuple(check_dfm(feats, spec, catalog)),
        explanation=Explanation(
            tuple(explain(pred, phys, feats, spec, catalog, breakdown=breakdown))
        ),
        features=feats,
        warnings=tuple(warnings),
    )


def quote_analysis(
    analysis: PartAnalysis,
    request: QuoteRequest,
    *,
    model: QuoteModel | None = None,
    catalog: Catalog | None = None,
    today: date | None = None,
) -> Quote:
    """Quote every body of an analysed part; one line item per separate body.

    For a single-body part the top level is that item's quote (without its name and index). For
    several bodies the top level sums the items (``unit_price`` is the price of one set,
    ``lead_time_days`` the slowest item) and ``items`` holds each body's own quote. The file's
    own warnings come first in the top level's ``warnings``, then the items'.
    """
    catalog = catalog or load_catalog()
    model = model or load_default_model()
    today = today or date.today()
    items = tuple(
        _quote_item(it, request, model=model, catalog=catalog, today=today) for it in analysis.items
    )
    figures = _figures_of(items[0]) if len(items) == 1 else _sum_items(items)
    return Quote(
        **figures,
        warnings=tuple(analysis.warnings) + tuple(w for it in items for w in it.warnings),
        file=FileInfo(
            name=analysis.file_name,
            sha256=analysis.file_sha256,
            format=analysis.source_format,
            units=analysis.units,
            bodies=len(items),
        ),
        items=items,
        model=ModelInfo(name=model.name, version=model.version, shop=model.shop),
    )


def _figures_of(item: LineItem) -> dict[str, Any]:
    """A single-body quote's top-level figures: its one item's (the same objects)."""
    return {
        f.name: getattr(item, f.name)
        for f in dataclasses.fields(item)
        if f.name not in ("name", "index", "warnings")
    }


def _sum_items(items: Sequence[LineItem]) -> dict[str, Any]:
    """Top-level figures of a multi-body quote: one set = one of each body."""
    first = items[0]
    quantity = first.quantity
    unit = sum(it.unit_price for it in items)
    breaks = tuple(
        PriceBreak(
            quantity=b.quantity,
            unit_price=sum(it.price_breaks[j].unit_price for it in items),
            total_price=sum(it.price_breaks[j].total_price for it in items),
        )
        for j, b in enumerate(first.price_breaks)
    )
    tiers = []
    for j, t in enumerate(first.lead_time_tiers):
        slowest = max((it.lead_time_tiers[j] for it in items), key=lambda x: x.days)
        tier_unit = sum(it.lead_time_tiers[j].unit_price for it in items)
        tiers.append(
            LeadTimeTier(
                name=t.name,
                days=slowest.days,
                ship_date=slowest.ship_date,
                unit_price=tier_unit,
                total_price=tier_unit * quantity,
            )
        )
    return {
        "currency": CURRENCY,
        "material": first.material,
        "quantity": quantity,
        "tolerance": first.tolerance,
        "finish": first.finish,
        "roughness_ra_um": first.roughness_ra_um,
        "unit_price": unit,
        "unit_price_interval": (
            sum(it.unit_price_interval[0] for it in items),
            sum(it.unit_price_interval[1] for it in items),
        ),
        "interval_coverage": INTERVAL_COVERAGE,
        "total_price": unit * quantity,
        "lead_time_days": max(it.lead_time_days for it in items),
        "lead_time_interval": (
            max(it.lead_time_interval[0] for it in items),
            max(it.lead_time_interval[1] for it in items),
        ),
        "lead_time_tiers": tuple(tiers),
        "price_breaks": breaks,
        "breakdown": CostBreakdown(
            **{f: sum(getattr(it.breakdown, f) for it in items) for f in BREAKDOWN_FIELDS}
        ),
        "dfm": tuple(dataclasses.replace(w, item=it.index) for it in items for w in it.dfm),
        "explanation": Explanation(
            (
                f"{len(items)} separate bodies in this file, quoted as {len(items)} line items "
                "(a set is one of each).",
                *(f"{it.name}: {line}" for it in items for line in it.explanation.lines[:2]),
            )
        ),
        "features": SetFeatures(body_count=len(items)),
    }


def quote_file(
    path: str | Path,
    request: QuoteRequest,
    *,
    units: str | None = None,
    model: QuoteModel | None = None,
    catalog: Catalog | None = None,
    today: date | None = None,
    pmi: bool = True,
) -> Quote:
    """Analyse ``path`` and quote it (see ``quote_analysis``; ``pmi``: read STEP PMI)."""
    catalog = catalog or load_catalog()
    analysis = analyze_part(path, units=units, catalog=catalog, pmi=pmi)
    return quote_analysis(analysis, request, model=model, catalog=catalog, today=today)
