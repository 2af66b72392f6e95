"""From stored rows to the ranking core's inputs: the ``Rfq`` of a buyer's part and the
``ShopIndex`` of every shop (declared machines, certifications, materials, computed profile,
spare capacity from machine events, bookings and calendars).

The RFQ's process, size, tolerance and machine hours come from quoting the part with the
platform's default model (the quote engine's physics: process, batch setup + machining hours;
its unit price is the reference the shops' price levels scale).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from matching.capacity import DEFAULT_TZ
from matching.ranking.index import Rfq, ShopIndex, ShopInput
from platform_api.capacity import repository as capacity_repository
from platform_api.capacity import service as capacity_service
from platform_api.db.models import Organization, Part
from platform_api.orgs import repository as orgs_repository
from platform_api.profiles import service as profiles_service
from platform_api.shops.model_store import ModelStore
from quote.contract import Quote
from quote.errors import QuoteContractError

HORIZON_DAYS = 30
NO_LOCATION = (math.nan, math.nan)  # a shop without coordinates: distance unknown (LightGBM NaN)


def normalise_cert(name: str) -> str:
    """ "ISO 9001", "iso-9001" and "ISO9001" are one certification."""
    return re.sub(r"[\s_\-]+", "", name).upper()


def platform_today(now: datetime) -> date:
    """The date matching counts from (the platform's zone, where shops and buyers are)."""
    return now.astimezone(ZoneInfo(DEFAULT_TZ)).date()


@dataclass(frozen=True)
class RfqShape:
    """What the default quote says about a part for a spec."""

    material: str
    process: str
    min_axes: int
    extents_mm: tuple[float, float, float]
    tolerance_mm: float
    finish: str
    machine_hours: float
    default_unit_price: float
    default_lead_days: float


def shape_of(quote: Quote) -> RfqShape:
    """Process, axes, size, tolerance and machine hours of a default quote (all bodies).

    Raises ``QuoteContractError`` when a body's machine or process is not one the catalog and
    the ranking core know (the quote engine never makes such a quote).
    """
    from quote.catalogs import load_catalog

    catalog = load_catalog()
    processes = [it.physics.process for it in quote.items]
    unknown = sorted(set(processes) - {"mill", "lathe", "mill-turn"})
    if unknown:
        raise QuoteContractError(
            f"quote of process {unknown[0]!r}: matching knows mill, lathe and mill-turn",
            detail={"field": "items.physics.process", "value": unknown[0]},
        )
    process = "mill-turn" if "mill-turn" in processes else processes[0]
    axes = 3
    for it in quote.items:
        try:
            m = catalog.machine(it.physics.machine)
        except KeyError:
            raise QuoteContractError(
                f"quote on machine {it.physics.machine!r}, which the catalog does not list",
                detail={"field": "items.physics.machine", "value": it.physics.machine},
            ) from None
        if m.kind == "mill":
            axes = max(axes, int(m.axes))
    min_axes = {"mill": axes, "lathe": 2, "mill-turn": 3}[process]
    ext = [0.0, 0.0, 0.0]
    hours = 0.0
    for it in quote.items:
        bbox = sorted(it.features.bbox_mm, reverse=True)
        ext = [max(a, float(b)) for a, b in zip(ext, bbox, strict=True)]
        h = it.physics.hours
        hours += float(h["setup_h"]) + float(h["machining_h"])
    return RfqShape(
        material=quote.material,
        process=process,
        min_axes=min_axes,
        extents_mm=(max(ext[0], 0.1), max(ext[1], 0.1), max(ext[2], 0.1)),
        tolerance_mm=min(max(quote.tolerance.mm, 1e-3), 9.99),
        finish=quote.finish,
        machine_hours=round(min(max(hours, 0.1), 9999.0), 3),
        default_unit_price=quote.unit_price,
        default_lead_days=float(quote.lead_time_days),
    )


def default_quote(
    part: Part,
    *,
    models: ModelStore,
    material: str,
    quantity: int,
    tolerance: str | float | None,
    finish: str | None,
    model: Any = None,
    today: date | None = None,
) -> Quote:
    """The quote engine's quote of the part and spec (the default model unless ``model``)."""
    from quote.analysis import analysis_from_dict
    from quote.engine import QuoteRequest, quote_analysis

    return quote_analysis(
        analysis_from_dict(part.analysis),
        QuoteRequest(
            material=material,
            quantity=quantity,
            tolerance=tolerance,
            finish=finish,
            quantities=(quantity,),
        ),
        model=model if model is not None else models.default(),
        today=today,
    )


def make_rfq(
    rfq_id: str,
    shape: RfqShape,
    *,
    quantity: int,
    needed_by: date,
    certifications: list[str],
    location: tuple[float, float] | None,
) -> Rfq:
    return Rfq(
        rfq_id=rfq_id,
        material=shape.material,
        extents_mm=shape.extents_mm,
        needed_by=needed_by,
        machine_hours=shape.machine_hours,
        process=shape.process,
        min_axes=shape.min_axes,
        quantity=quantity,
        tolerance_mm=shape.tolerance_mm,
        finish=shape.finish,
        certifications=tuple(sorted({normalise_cert(c) for c in certifications})),
        location=location,
        default_unit_price=shape.default_unit_price,
    )


def rfq_to_dict(rfq: Rfq) -> dict[str, Any]:
    """JSON of an Rfq (stored with a match or an RFQ; shop profiles read it back)."""
    return {
        "material": rfq.material,
        "process": rfq.process,
        "min_axes": rfq.min_axes,
        "extents_mm": list(rfq.extents_mm),
        "quantity": rfq.quantity,
        "tolerance_mm": rfq.tolerance_mm,
        "finish": rfq.finish,
        "needed_by": rfq.needed_by.isoformat(),
        "certifications": list(rfq.certifications),
        "location": list(rfq.location) if rfq.location is not None else None,
        "machine_hours": rfq.machine_hours,
        "default_unit_price": rfq.default_unit_price,
    }


def _triple(values: Any) -> tuple[float, float, float]:
    """Three floats (extents in mm) from stored JSON; QuoteContractError otherwise."""
    try:
        x, y, z = (float(v) for v in values)
    except (TypeError, ValueError):
        raise QuoteContractError(
            f"extents_mm must be three numbers, got {values!r}",
            detail={"field": "extents_mm", "value": repr(values)[:80]},
        ) from None
    return x, y, z


def _location(org: Organization) -> tuple[float, float]:
    if org.latitude is None or org.longitude is None:
        return NO_LOCATION
    return (org.latitude, org.longitude)


def rfq_from_dict(rfq_id: str, d: dict[str, Any]) -> Rfq:
    loc = d.get("location")
    return Rfq(
        rfq_id=rfq_id,
        material=d["material"],
        extents_mm=_triple(d["extents_mm"]),
        needed_by=date.fromisoformat(d["needed_by"]),
        machine_hours=float(d["machine_hours"]),
        process=d["process"],
        min_axes=int(d["min_axes"]),
        quantity=int(d["quantity"]),
        tolerance_mm=float(d["tolerance_mm"]),
        finish=d.get("finish", "none"),
        certifications=tuple(d.get("certifications") or ()),
        location=(float(loc[0]), float(loc[1])) if loc else None,
        default_unit_price=d.get("default_unit_price"),
    )


@dataclass(frozen=True)
class Market:
    """Every shop as the ranking core sees it, and their organisation rows by id."""

    index: ShopIndex
    shops: dict[str, Organization]
    start: date


def build_market(
    session: Session, *, models: ModelStore | None, now: datetime, horizon_days: int = HORIZON_DAYS
) -> Market:
    """The ``ShopIndex`` of every shop at ``now`` (profiles and loads come from their caches)."""
    shops = orgs_repository.shops(session)
    ids = [s.id for s in shops]
    settings = capacity_repository.settings_of(session, ids)
    caps, views = capacity_service.shop_capacities(
        session, ids, now=now, days=horizon_days, settings=settings
    )
    inputs = []
    for org in shops:
        profile, _ = profiles_service.current_profile(session, org=org, models=models)
        st = settings.get(org.id)
        machines = profiles_service.declared_machines([v.machine for v in views.get(org.id, [])])
        inputs.append(
            ShopInput(
                shop_id=org.id,
                location=_location(org),
                machines=machines,
                certifications=tuple(sorted({normalise_cert(c) for c in org.certifications})),
                materials=tuple(st.materials if st is not None and st.materials else ())
                or capacity_service.DEFAULT_MATERIALS,
                profile=profile,
                capacity=caps.get(org.id),
                base_lead_days=(
                    st.base_lead_days
                    if st is not None and st.base_lead_days is not None
                    else capacity_service.DEFAULT_BASE_LEAD_DAYS
                ),
            )
        )
    start = platform_today(now)
    index = ShopIndex.build(inputs, start=start, horizon_days=horizon_days)
    return Market(index, {s.id: s for s in shops}, start)
