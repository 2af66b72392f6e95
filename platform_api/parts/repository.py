"""SQL for parts; reads are scoped to the owning organisation."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from platform_api.db.models import Part
from platform_api.pagination import paginate


def get_owned(session: Session, *, org_id: str, part_id: str) -> Part | None:
    return session.exec(select(Part).where(Part.id == part_id, Part.owner_org_id == org_id)).first()


def find_same_file(session: Session, *, org_id: str, sha256: str, units: str) -> Part | None:
    """A part of ``org_id`` with the same bytes and requested units (its analysis is reused)."""
    return session.exec(
        select(Part)
        .where(Part.owner_org_id == org_id, Part.sha256 == sha256, Part.units_requested == units)
        .order_by(col(Part.id))
        .limit(1)
    ).first()


def list_owned(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(Part).where(Part.owner_org_id == org_id)
    return paginate(session, stmt, col(Part.id), cursor=cursor, limit=limit)
