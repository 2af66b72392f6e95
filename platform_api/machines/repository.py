"""SQL for machines; every query is scoped to the owning shop."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from platform_api.db.models import Machine
from platform_api.pagination import paginate


def get_owned(session: Session, *, org_id: str, machine_id: str) -> Machine | None:
    return session.exec(
        select(Machine).where(Machine.id == machine_id, Machine.org_id == org_id)
    ).first()


def list_owned(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(Machine).where(Machine.org_id == org_id)
    return paginate(session, stmt, col(Machine.id), cursor=cursor, limit=limit)
