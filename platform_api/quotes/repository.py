"""SQL for quotes and outcomes: a quote is visible to its requester and the shop that priced it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from platform_api.db.models import Quote, QuoteOutcome
from platform_api.pagination import paginate


def _visible_to(org_id: str) -> Any:
    return or_(col(Quote.requester_org_id) == org_id, col(Quote.shop_org_id) == org_id)


def get_visible(session: Session, *, org_id: str, quote_id: str) -> Quote | None:
    return session.exec(select(Quote).where(Quote.id == quote_id, _visible_to(org_id))).first()


def list_visible(
    session: Session,
    *,
    org_id: str,
    shop_id: str | None,
    material: str | None,
    status: str | None,
    part_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    stmt = select(Quote).where(_visible_to(org_id))
    if shop_id is not None:
        stmt = stmt.where(Quote.shop_org_id == shop_id)
    if material is not None:
        stmt = stmt.where(Quote.material == material)
    if status is not None:
        stmt = stmt.where(Quote.status == status)
    if part_id is not None:
        stmt = stmt.where(Quote.part_id == part_id)
    if created_from is not None:
        stmt = stmt.where(col(Quote.created_at) >= created_from)
    if created_to is not None:
        stmt = stmt.where(col(Quote.created_at) < created_to)
    return paginate(session, stmt, col(Quote.id), cursor=cursor, limit=limit)


def latest_outcomes(session: Session, quote_ids: list[str]) -> dict[str, QuoteOutcome]:
    """The most recent outcome of each quote in ``quote_ids``."""
    if not quote_ids:
        return {}
    rows = session.exec(
        select(QuoteOutcome)
        .where(col(QuoteOutcome.quote_id).in_(quote_ids))
        .order_by(col(QuoteOutcome.id))
    ).all()
    return {r.quote_id: r for r in rows}  # ids are time-ordered: the last one wins
