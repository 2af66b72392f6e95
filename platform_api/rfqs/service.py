"""RFQs: a buyer sends a part to the shops it chose; only those shops see it and its file;
each quotes (priced by its own model, a quote row the buyer then sees) or declines with a
reason; a shop that cannot take it gets partners ranked the same way as a buyer's match.

Answers feed the shop's profile: a quote with its time to answer, a decline as a no-bid.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from platform_api.context import AppContext
from platform_api.db.models import Part, Quote, RfqRecipient, RfqRow
from platform_api.db.types import utcnow
from platform_api.errors import Conflict, NotFound
from platform_api.ids import new_id
from platform_api.matches import index as idx
from platform_api.matches import service as matches_service
from platform_api.matches.schemas import PartSpec
from platform_api.orgs import repository as orgs_repository
from platform_api.quotes import service as quotes_service
from platform_api.rfqs import repository
from platform_api.rfqs.schemas import (
    PartnersPublic,
    RecipientPublic,
    RespondBody,
    RfqCreate,
    RfqPartPublic,
    RfqPublic,
)
from platform_api.security import Principal


def _spec_of(row: RfqRow) -> PartSpec:
    return PartSpec.model_validate({k: v for k, v in row.request.items() if k != "message"})


def create(
    *, session: Session, ctx: AppContext, principal: Principal, body: RfqCreate
) -> RfqPublic:
    """Send the part to ``body.shop_ids`` (each must be a shop in the directory)."""
    principal.require("buyer", scope="write")
    now = utcnow()
    rfq_id = new_id("rfq")
    if body.match_id is not None:
        m = matches_service.get(session=session, principal=principal, match_id=body.match_id)
        spec = PartSpec.model_validate({k: v for k, v in m.request.items() if k != "k"})
        part_id, core = m.part_id, dict(m.rfq)
    else:
        assert body.spec is not None
        spec = body.spec
        part, rfq = matches_service.rfq_for(
            session, ctx, principal=principal, spec=spec, rfq_id=rfq_id,
            today=idx.platform_today(now),
        )  # fmt: skip
        part_id, core = part.id, idx.rfq_to_dict(rfq)
    shop_ids = list(dict.fromkeys(body.shop_ids))
    unknown = [s for s in shop_ids if orgs_repository.get_org_of_kind(session, s, "shop") is None]
    if unknown:
        raise NotFound(
            f"no shop {', '.join(unknown)}; see GET /v1/shops", detail={"shop_ids": unknown}
        )
    row = RfqRow(
        id=rfq_id,
        buyer_org_id=principal.org_id,
        part_id=part_id,
        match_id=body.match_id,
        request={**spec.model_dump(mode="json"), "message": body.message},
        rfq=core,
        created_at=now,
    )
    session.add(row)
    session.flush()
    for shop in shop_ids:
        session.add(RfqRecipient(id=new_id("rcp"), rfq_id=row.id, shop_org_id=shop, created_at=now))
    session.flush()
    return to_public(session, row, repository.recipients(session, [row.id])[row.id])


def _recipient_public(session: Session, r: RfqRecipient) -> RecipientPublic:
    org = orgs_repository.get_org(session, r.shop_org_id)
    quote = session.get(Quote, r.quote_id) if r.quote_id else None
    offer = (quote.inputs or {}).get("offer", {}) if quote is not None else {}
    return RecipientPublic(
        shop_id=r.shop_org_id,
        name=org.name if org is not None else r.shop_org_id,
        status=r.status,
        quote_id=r.quote_id,
        unit_price=quote.unit_price if quote is not None else None,
        total_price=quote.total_price if quote is not None else None,
        lead_time_days=(
            offer.get("lead_time_days", quote.result.get("lead_time_days"))
            if quote is not None
            else None
        ),
        decline_reason=r.decline_reason,
        note=r.note,
        responded_at=r.responded_at,
    )


def to_public(session: Session, row: RfqRow, recipients: list[RfqRecipient]) -> RfqPublic:
    part = session.get(Part, row.part_id)
    assert part is not None
    items = part.analysis.get("items") or [{}]
    rfq = idx.rfq_from_dict(row.id, row.rfq)
    return RfqPublic(
        id=row.id,
        buyer_id=row.buyer_org_id,
        match_id=row.match_id,
        created_at=row.created_at,
        status=row.status,
        spec=_spec_of(row),
        message=row.request.get("message"),
        needed_by=rfq.needed_by,
        rfq=matches_service._summary(rfq),
        part=RfqPartPublic(
            id=part.id,
            file_name=part.file_name,
            source_format=part.source_format,
            features=items[0].get("features", {}),
        ),
        recipients=[_recipient_public(session, r) for r in recipients],
    )


def visible(
    *, session: Session, principal: Principal, rfq_id: str
) -> tuple[RfqRow, list[RfqRecipient]]:
    """The RFQ and the recipients the caller may see; 404 for anyone else."""
    principal.require("buyer", "shop", scope="read")
    if principal.role == "buyer":
        row = repository.get_for_buyer(session, buyer_org_id=principal.org_id, rfq_id=rfq_id)
        if row is not None:
            return row, repository.recipients(session, [row.id]).get(row.id, [])
    else:
        found = repository.get_for_shop(session, shop_org_id=principal.org_id, rfq_id=rfq_id)
        if found is not None:
            return found[0], [found[1]]
    raise NotFound(f"no RFQ {rfq_id} (or it was not sent to you)", detail={"rfq_id": rfq_id})


def list_(
    *, session: Session, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[RfqPublic], str | None]:
    """A buyer's RFQs, or the RFQs sent to a shop, newest first."""
    principal.require("buyer", "shop", scope="read")
    if principal.role == "buyer":
        rows, nxt = repository.list_for_buyer(
            session, buyer_org_id=principal.org_id, cursor=cursor, limit=limit
        )
    else:
        rows, nxt = repository.list_for_shop(
            session, shop_org_id=principal.org_id, cursor=cursor, limit=limit
        )
    recips = repository.recipients(session, [r.id for r in rows])
    out = []
    for r in rows:
        mine = recips.get(r.id, [])
        if principal.role == "shop":
            mine = [x for x in mine if x.shop_org_id == principal.org_id]
        out.append(to_public(session, r, mine))
    return out, nxt


def part_file(
    *, session: Session, principal: Principal, rfq_id: str, data_dir: Path
) -> tuple[Path, str]:
    """Path and name of the RFQ's part file (its buyer and the shops it was sent to only)."""
    row, _ = visible(session=session, principal=principal, rfq_id=rfq_id)
    part = session.get(Part, row.part_id)
    assert part is not None
    path = data_dir / part.storage_path
    if not path.is_file():
        raise NotFound("the file of this part is missing from storage", detail={"rfq_id": rfq_id})
    return path, part.file_name


def _own_recipient(
    session: Session, principal: Principal, rfq_id: str
) -> tuple[RfqRow, RfqRecipient]:
    principal.require("shop", scope="write")
    found = repository.get_for_shop(session, shop_org_id=principal.org_id, rfq_id=rfq_id)
    if found is None:
        raise NotFound(f"no RFQ {rfq_id} sent to you", detail={"rfq_id": rfq_id})
    return found


def respond(
    *,
    session: Session,
    ctx: AppContext,
    principal: Principal,
    rfq_id: str,
    body: RespondBody,
    now: datetime | None = None,
) -> RfqPublic:
    """Accept with a quote priced by the shop's own model, or decline with a reason (once)."""
    row, rec = _own_recipient(session, principal, rfq_id)
    if rec.status != "sent":
        raise Conflict(
            f"you already answered this RFQ ({rec.status})", detail={"status": rec.status}
        )
    now = now or utcnow()
    spec = _spec_of(row)
    if body.action == "accept":
        part = session.get(Part, row.part_id)
        assert part is not None
        priced, quote = matches_service.price_with_shop_model(
            session, ctx, part=part, shop_id=principal.org_id, material=spec.material,
            quantity=spec.quantity, tolerance=spec.tolerance, finish=spec.finish,
            today=idx.platform_today(now),
        )  # fmt: skip
        if quote is None:
            from platform_api.errors import InvalidRequest

            raise InvalidRequest(
                (priced.model.note if priced.model else None) or "the part could not be priced",
                detail={"rfq_id": rfq_id},
            )
        asked = {"unit_price": body.unit_price, "lead_time_days": body.lead_time_days}
        offer = {k: v for k, v in asked.items() if v is not None}
        q = quotes_service.row_of(
            quote,
            part_id=row.part_id,
            requester_org_id=row.buyer_org_id,
            shop_org_id=principal.org_id,
            inputs={
                **spec.model_dump(mode="json", exclude_none=True),
                "rfq_id": row.id,
                **({"offer": offer} if offer else {}),
            },  # fmt: skip
            unit_price=body.unit_price,
            status="sent",
            created_at=now,
            updated_at=now,
        )
        session.add(q)
        session.flush()
        ctx.metrics.quotes.labels(model="shop" if quote.model.shop else "default").inc()
        rec.status, rec.quote_id = "accepted", q.id
    else:
        rec.status, rec.decline_reason = "declined", body.reason
    rec.note = body.note
    rec.responded_at = now
    session.add(rec)
    session.flush()
    return to_public(session, row, [rec])


def partners(
    *, session: Session, ctx: AppContext, principal: Principal, rfq_id: str, k: int
) -> PartnersPublic:
    """Shops the calling shop could pass this RFQ to (it stays private until the buyer sends
    it to them: the answer lists shops, not the buyer)."""
    principal.require("shop", scope="read")
    found = repository.get_for_shop(session, shop_org_id=principal.org_id, rfq_id=rfq_id)
    if found is None:
        raise NotFound(f"no RFQ {rfq_id} sent to you", detail={"rfq_id": rfq_id})
    row, _ = found
    part = session.get(Part, row.part_id)
    assert part is not None
    result, shops = matches_service.partners(
        session=session, ctx=ctx, shop_id=principal.org_id, part=part,
        rfq=idx.rfq_from_dict(row.id, row.rfq), spec=_spec_of(row), k=k,
    )  # fmt: skip
    return PartnersPublic(
        rfq_id=row.id, candidates=result.candidates, filtered=dict(result.filtered), shops=shops
    )
