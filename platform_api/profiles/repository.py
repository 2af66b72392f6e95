"""SQL for what a shop's profile is built from, and the cached profile."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from platform_api.db.models import (
    HistoryRow,
    Machine,
    Part,
    Quote,
    QuoteOutcome,
    RfqRecipient,
    RfqRow,
    ShopHistoryStats,
    ShopProfileCache,
)
from platform_api.db.upsert import insert_for
from platform_api.profiles import history


def fingerprint(session: Session, *, org_id: str, extra: str, version: str) -> str:
    """Changes whenever a row the profile reads is added or changed.

    History rows (a shop may have millions) are fingerprinted without a scan: their newest id
    (an index seek), the rows counted in the buckets of the default model ``version`` and the
    rows not read by it (an index range; few). A row added is in one of the last two, or is
    one the profile skips.
    """
    q = select(func.count(), func.max(Quote.updated_at)).where(Quote.shop_org_id == org_id)
    o = (
        select(func.count(), func.max(QuoteOutcome.created_at))
        .join(Quote, col(Quote.id) == col(QuoteOutcome.quote_id))
        .where(Quote.shop_org_id == org_id)
    )
    h = select(func.max(HistoryRow.id)).where(HistoryRow.org_id == org_id)
    hb = select(func.coalesce(func.sum(ShopHistoryStats.n), 0)).where(
        ShopHistoryStats.org_id == org_id, ShopHistoryStats.ref_model == version
    )
    r = select(func.count(), func.max(RfqRecipient.responded_at)).where(
        RfqRecipient.shop_org_id == org_id, col(RfqRecipient.responded_at).is_not(None)
    )
    m = select(func.count(), func.max(Machine.updated_at)).where(Machine.org_id == org_id)
    parts = [extra] + [str(tuple(session.exec(s).one())) for s in (q, o, r, m)]
    parts += [str(session.exec(s).one()) for s in (h, hb)]
    parts.append(str(history.count_unread(session, org_id=org_id, version=version)))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:64]


def get_cache(session: Session, *, org_id: str) -> ShopProfileCache | None:
    return session.get(ShopProfileCache, org_id)


def caches(session: Session, org_ids: list[str]) -> dict[str, ShopProfileCache]:
    if not org_ids:
        return {}
    rows = session.exec(select(ShopProfileCache).where(col(ShopProfileCache.org_id).in_(org_ids)))
    return {r.org_id: r for r in rows}


def quotes_with_parts(session: Session, *, org_id: str) -> list[tuple[Quote, Part]]:
    """Quotes priced for the shop, with their parts (the parts' analyses price the reference)."""
    rows = session.exec(
        select(Quote, Part)
        .join(Part, col(Part.id) == col(Quote.part_id))
        .where(Quote.shop_org_id == org_id)
        .order_by(col(Quote.id))
    ).all()
    return [(q, p) for q, p in rows]


def latest_outcomes(session: Session, quote_ids: list[str]) -> dict[str, QuoteOutcome]:
    if not quote_ids:
        return {}
    rows = session.exec(
        select(QuoteOutcome)
        .where(col(QuoteOutcome.quote_id).in_(quote_ids))
        .order_by(col(QuoteOutcome.id))
    ).all()
    return {r.quote_id: r for r in rows}


def answered_rfqs(session: Session, *, org_id: str) -> list[tuple[RfqRecipient, RfqRow]]:
    rows = session.exec(
        select(RfqRecipient, RfqRow)
        .join(RfqRow, col(RfqRow.id) == col(RfqRecipient.rfq_id))
        .where(RfqRecipient.shop_org_id == org_id, col(RfqRecipient.responded_at).is_not(None))
        .order_by(col(RfqRecipient.id))
    ).all()
    return [(a, b) for a, b in rows]


def save_cache(
    session: Session,
    *,
    org_id: str,
    profile: dict[str, Any],
    fingerprint: str,
    reference_prices: dict[str, Any],
    computed_at: Any,
) -> None:
    """Insert or replace the cached profile (two requests may rebuild it at once)."""
    values = {
        "profile": profile,
        "fingerprint": fingerprint,
        "reference_prices": reference_prices,
        "computed_at": computed_at,
    }
    stmt = insert_for(session, ShopProfileCache).values(org_id=org_id, **values)
    session.exec(stmt.on_conflict_do_update(index_elements=["org_id"], set_=values))
