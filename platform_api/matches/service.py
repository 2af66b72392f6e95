"""Match a buyer's part to shops, assign batches, and rank partners for work sharing.

1. The part is quoted with the default model (``index.shape_of``): process, axes, size,
   tolerance, machine hours, reference price.
2. Every shop is indexed (``index.build_market``) and ranked by ``matching.ranking.match.rank``:
   hard filters (process, envelope, material, tolerance, certification, capacity before
   ``needed_by``), the learned ranker, an exposure budget charged by the last
   ``EXPOSURE_WINDOW`` matches shown (stored, so every API process agrees), reasons.
3. The shops returned are priced by their OWN models (``shop_models``; the default model with a
   note when a shop has none): unit price, lead time and ship date.

A buyer sees only shops; shops see nothing of it until the buyer sends an RFQ to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from sqlmodel import Session

from matching.assignment import assign_rfqs
from matching.ranking.exposure import ExposureBudget
from matching.ranking.index import Rfq
from matching.ranking.match import MatchResult, partners_for, rank
from platform_api.context import AppContext
from platform_api.db.models import Match, Organization, Part
from platform_api.db.types import utcnow
from platform_api.errors import NotFound
from platform_api.ids import new_id
from platform_api.matches import index as idx
from platform_api.matches import repository
from platform_api.matches.ranker import ranker_of
from platform_api.matches.schemas import (
    Assigned,
    BatchPublic,
    BatchRequest,
    MatchPublic,
    MatchRequest,
    PartSpec,
    PriceModel,
    RankedShopPublic,
    RfqSummary,
)
from platform_api.orgs import repository as orgs_repository
from platform_api.parts import service as parts_service
from platform_api.security import Principal
from quote.contract import Quote
from quote.errors import MitsumoriError

EXPOSURE_WINDOW = 200
DEFAULT_MODEL_NOTE = "priced with the platform's default model: this shop has no trained model yet"


@dataclass(frozen=True)
class Priced:
    unit_price: float | None
    total_price: float | None
    lead_time_days: float | None
    ship_date: date | None
    model: PriceModel | None


def price_with_shop_model(
    session: Session,
    ctx: AppContext,
    *,
    part: Part,
    shop_id: str,
    material: str,
    quantity: int,
    tolerance: str | float | None,
    finish: str | None,
    today: date,
) -> tuple[Priced, Quote | None]:
    """The shop's own quote of the part (its active model, else the default one, noted)."""
    model, row_id = ctx.models.for_shop(session, shop_id)
    try:
        quote = idx.default_quote(
            part, models=ctx.models, material=material, quantity=quantity, tolerance=tolerance,
            finish=finish, model=model, today=today,
        )  # fmt: skip
    except MitsumoriError as exc:
        note = f"could not be priced: {exc.message}"
        return Priced(None, None, None, None, PriceModel(kind="none", version="", note=note)), None
    standard = next((t for t in quote.lead_time_tiers if t.name == "standard"), None)
    return (
        Priced(
            unit_price=quote.unit_price,
            total_price=quote.total_price,
            lead_time_days=float(quote.lead_time_days),
            ship_date=standard.ship_date if standard else None,
            model=PriceModel(
                kind="shop" if row_id is not None else "default",
                version=quote.model.version,
                note=None if row_id is not None else DEFAULT_MODEL_NOTE,
            ),
        ),
        quote,
    )


def _distance(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


def ranked_public(
    session: Session,
    ctx: AppContext,
    *,
    result: MatchResult,
    shops: dict[str, Organization],
    part: Part,
    spec: PartSpec,
    today: date,
) -> list[RankedShopPublic]:
    """The core's ranking as the API shows it, each shop priced by its own model."""
    out = []
    for i, s in enumerate(result.shops, start=1):
        org = shops[s.shop_id]
        priced, _ = price_with_shop_model(
            session, ctx, part=part, shop_id=s.shop_id, material=spec.material,
            quantity=spec.quantity, tolerance=spec.tolerance, finish=spec.finish, today=today,
        )  # fmt: skip
        reasons = [r for r in s.reasons if "nan" not in r]
        if priced.model is not None and priced.model.kind == "shop":
            reasons.append("price and lead time from its own pricing model")
        out.append(
            RankedShopPublic(
                rank=i,
                shop_id=s.shop_id,
                name=org.name,
                city=org.city,
                score=round(s.score, 4),
                unit_price=priced.unit_price,
                total_price=priced.total_price,
                lead_time_days=priced.lead_time_days,
                ship_date=priced.ship_date,
                price_model=priced.model,
                spare_hours=round(s.spare_hours, 2),
                capacity_lead_days=round(s.lead_time_days, 1),
                distance_km=_distance(s.distance_km),
                reasons=reasons,
            )
        )
    return out


def exposure_budget(session: Session, market: idx.Market) -> ExposureBudget:
    """The budget as the last matches shown left it (rebuilt from the stored matches)."""
    budget = ExposureBudget(market.index.n)
    known = set(market.index.shop_ids.tolist())
    for shown in repository.recent_shown(session, limit=EXPOSURE_WINDOW):
        pos = [market.index.position(s) for s in shown if s in known]
        if pos:
            budget.record(np.asarray(pos))
    return budget


def _location(spec: PartSpec, buyer: Organization | None) -> tuple[float, float] | None:
    if spec.location is not None:
        return (spec.location.lat, spec.location.lon)
    if buyer is not None and buyer.latitude is not None and buyer.longitude is not None:
        return (buyer.latitude, buyer.longitude)
    return None


def rfq_for(
    session: Session,
    ctx: AppContext,
    *,
    principal: Principal,
    spec: PartSpec,
    rfq_id: str,
    today: date,
) -> tuple[Part, Rfq]:
    """The caller's part and the core ``Rfq`` of ``spec`` (404 for a part that is not theirs)."""
    part = parts_service.get(session=session, org_id=principal.org_id, part_id=spec.part_id)
    result = idx.default_quote(
        part, models=ctx.models, material=spec.material, quantity=spec.quantity,
        tolerance=spec.tolerance, finish=spec.finish, today=today,
    )  # fmt: skip
    buyer = orgs_repository.get_org(session, principal.org_id)
    rfq = idx.make_rfq(
        rfq_id,
        idx.shape_of(result),
        quantity=spec.quantity,
        needed_by=spec.needed_by,
        certifications=spec.certifications,
        location=_location(spec, buyer),
    )
    return part, rfq


def _summary(rfq: Rfq) -> RfqSummary:
    return RfqSummary(
        process=rfq.process,
        min_axes=rfq.min_axes,
        extents_mm=list(rfq.extents_mm),
        tolerance_mm=rfq.tolerance_mm,
        machine_hours=rfq.machine_hours,
        default_unit_price=rfq.default_unit_price,
        certifications=list(rfq.certifications),
    )


def match(
    *,
    session: Session,
    ctx: AppContext,
    principal: Principal,
    body: MatchRequest,
    now: datetime | None = None,
) -> MatchPublic:
    """Ranked shops for the caller's part (stored, so an RFQ can be sent from it)."""
    principal.require("buyer", scope="write")
    now = now or utcnow()
    today = idx.platform_today(now)
    match_id = new_id("mat")
    part, rfq = rfq_for(session, ctx, principal=principal, spec=body, rfq_id=match_id, today=today)
    ranker = ranker_of(ctx)
    market = idx.build_market(session, models=ctx.models, now=now)
    result = rank(
        rfq, market.index, ranker, today=today, k=body.k,
        exposure=exposure_budget(session, market), record_exposure=False,
    )  # fmt: skip
    shops = ranked_public(
        session, ctx, result=result, shops=market.shops, part=part, spec=body, today=today
    )
    row = Match(
        id=match_id,
        buyer_org_id=principal.org_id,
        part_id=part.id,
        request=body.model_dump(mode="json"),
        rfq=idx.rfq_to_dict(rfq),
        results=[s.model_dump(mode="json") for s in shops],
        candidates=result.candidates,
        filtered=dict(result.filtered),
        ranker_version=str(getattr(ranker, "version_", "") or ""),
        created_at=now,
    )
    session.add(row)
    session.flush()
    ctx.metrics.matches.labels(kind="match").inc()
    return to_public(row)


def to_public(row: Match) -> MatchPublic:
    rfq = idx.rfq_from_dict(row.id, row.rfq)
    return MatchPublic(
        id=row.id,
        part_id=row.part_id,
        created_at=row.created_at,
        needed_by=rfq.needed_by,
        rfq=_summary(rfq),
        candidates=row.candidates,
        filtered=row.filtered,
        shops=[RankedShopPublic.model_validate(s) for s in row.results],
        ranker_version=row.ranker_version,
    )


def get(*, session: Session, principal: Principal, match_id: str) -> Match:
    principal.require("buyer", scope="read")
    row = repository.get_own(session, buyer_org_id=principal.org_id, match_id=match_id)
    if row is None:
        raise NotFound(f"no match {match_id} of yours", detail={"match_id": match_id})
    return row


def batch(
    *,
    session: Session,
    ctx: AppContext,
    principal: Principal,
    body: BatchRequest,
    now: datetime | None = None,
) -> BatchPublic:
    """Assign each part to one shop, maximising fit while no shop gets more hours than it has
    spare before the batch's latest date (``matching.assignment.assign_rfqs``, exact MILP)."""
    principal.require("buyer", scope="write")
    now = now or utcnow()
    today = idx.platform_today(now)
    ranker = ranker_of(ctx)
    market = idx.build_market(session, models=ctx.models, now=now)
    parts: dict[str, tuple[Part, Rfq, PartSpec]] = {}
    for i, spec in enumerate(body.requests):
        part, rfq = rfq_for(
            session, ctx, principal=principal, spec=spec, rfq_id=f"r{i}", today=today
        )
        parts[rfq.rfq_id] = (part, rfq, spec)
    matches = {
        rid: rank(rfq, market.index, ranker, today=today, k=10)
        for rid, (_, rfq, _) in parts.items()
    }
    latest = max(rfq.needed_by for _, rfq, _ in parts.values())
    capacity = _spare_before(market, latest, matches.values())
    hours = {rid: rfq.machine_hours for rid, (_, rfq, _) in parts.items()}
    assignment = assign_rfqs(matches, hours=hours, capacity=capacity)
    out = []
    for i, (rid, (part, rfq, spec)) in enumerate(parts.items()):
        shop = assignment.shop_for[rid]
        ranked = next((s for s in matches[rid].shops if s.shop_id == shop), None)
        priced = None
        if shop is not None:
            priced, _ = price_with_shop_model(
                session, ctx, part=part, shop_id=shop, material=spec.material,
                quantity=spec.quantity, tolerance=spec.tolerance, finish=spec.finish, today=today,
            )  # fmt: skip
        out.append(
            Assigned(
                index=i,
                part_id=part.id,
                shop_id=shop,
                name=market.shops[shop].name if shop else None,
                score=round(ranked.score, 4) if ranked else None,
                unit_price=priced.unit_price if priced else None,
                lead_time_days=priced.lead_time_days if priced else None,
                machine_hours=rfq.machine_hours,
                reasons=[r for r in ranked.reasons if "nan" not in r] if ranked else [],
            )
        )
    ctx.metrics.matches.labels(kind="batch").inc()
    return BatchPublic(
        assignments=out,
        hours_by_shop={k: round(v, 3) for k, v in assignment.hours_by_shop.items()},
        unassigned=sum(1 for a in out if a.shop_id is None),
        ranker_version=str(getattr(ranker, "version_", "") or ""),
    )


def _spare_before(
    market: idx.Market, day: date, results: Iterable[MatchResult]
) -> dict[str, float]:
    """Spare hours of each ranked shop before ``day`` on all its machine classes."""
    n = int(np.clip((day - market.index.start).days, 0, market.index.horizon))
    out: dict[str, float] = {}
    for r in results:
        for s in r.shops:
            if s.shop_id not in out:
                i = market.index.position(s.shop_id)
                out[s.shop_id] = float(market.index.spare_cum[i, :, n].sum())
    return out


def partners(
    *,
    session: Session,
    ctx: AppContext,
    shop_id: str,
    part: Part,
    rfq: Rfq,
    spec: PartSpec,
    k: int,
    now: datetime | None = None,
) -> tuple[MatchResult, list[RankedShopPublic]]:
    """Shops ``shop_id`` could pass the RFQ to, ranked as for a buyer (itself excluded)."""
    now = now or utcnow()
    today = idx.platform_today(now)
    ranker = ranker_of(ctx)
    market = idx.build_market(session, models=ctx.models, now=now)
    if rfq.needed_by <= today:
        from matching.errors import InvalidRfq

        raise InvalidRfq(f"the RFQ was needed by {rfq.needed_by}; it is too late to pass it on")
    result = partners_for(rfq, shop_id, market.index, ranker, today=today, k=k)
    ctx.metrics.matches.labels(kind="partners").inc()
    return result, ranked_public(
        session, ctx, result=result, shops=market.shops, part=part, spec=spec, today=today
    )
