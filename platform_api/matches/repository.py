"""SQL for matches: a buyer reads only its own; recent ones feed the exposure budget."""

from __future__ import annotations

from sqlmodel import Session, col, select

from platform_api.db.models import Match


def get_own(session: Session, *, buyer_org_id: str, match_id: str) -> Match | None:
    return session.exec(
        select(Match).where(Match.id == match_id, Match.buyer_org_id == buyer_org_id)
    ).first()


def recent_shown(session: Session, *, limit: int) -> list[list[str]]:
    """Shop ids shown by the last ``limit`` matches (any buyer), oldest first."""
    rows = session.exec(
        select(Match.results)
        .order_by(col(Match.created_at).desc(), col(Match.id).desc())
        .limit(limit)
    ).all()
    return [[str(s["shop_id"]) for s in r] for r in reversed(rows)]
