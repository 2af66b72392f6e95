"""SQL for RFQs: a buyer reads its own; a shop reads only those sent to it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from platform_api.db.models import RfqRecipient, RfqRow
from platform_api.pagination import paginate


def get_for_buyer(session: Session, *, buyer_org_id: str, rfq_id: str) -> RfqRow | None:
    return session.exec(
        select(RfqRow).where(RfqRow.id == rfq_id, RfqRow.buyer_org_id == buyer_org_id)
    ).first()


def get_for_shop(
    session: Session, *, shop_org_id: str, rfq_id: str
) -> tuple[RfqRow, RfqRecipient] | None:
    row = session.exec(
        select(RfqRow, RfqRecipient)
        .join(RfqRecipient, col(RfqRecipient.rfq_id) == col(RfqRow.id))
        .where(RfqRow.id == rfq_id, RfqRecipient.shop_org_id == shop_org_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def recipients(session: Session, rfq_ids: list[str]) -> dict[str, list[RfqRecipient]]:
    if not rfq_ids:
        return {}
    rows = session.exec(
        select(RfqRecipient)
        .where(col(RfqRecipient.rfq_id).in_(rfq_ids))
        .order_by(col(RfqRecipient.id))
    )
    out: dict[str, list[RfqRecipient]] = {}
    for r in rows:
        out.setdefault(r.rfq_id, []).append(r)
    return out


def list_for_buyer(
    session: Session, *, buyer_org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(RfqRow).where(RfqRow.buyer_org_id == buyer_org_id)
    return paginate(session, stmt, col(RfqRow.id), cursor=cursor, limit=limit)


def list_for_shop(
    session: Session, *, shop_org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    sent_to = select(RfqRecipient.rfq_id).where(RfqRecipient.shop_org_id == shop_org_id)
    stmt = select(RfqRow).where(col(RfqRow.id).in_(sent_to))
    return paginate(session, stmt, col(RfqRow.id), cursor=cursor, limit=limit)
