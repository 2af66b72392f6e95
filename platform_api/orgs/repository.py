"""SQL for organisations and API keys."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from platform_api.db.models import ApiKey, Organization
from platform_api.pagination import paginate


def get_org(session: Session, org_id: str) -> Organization | None:
    return session.get(Organization, org_id)


def get_org_of_kind(session: Session, org_id: str, kind: str) -> Organization | None:
    return session.exec(
        select(Organization).where(Organization.id == org_id, Organization.kind == kind)
    ).first()


def shops(session: Session) -> list[Organization]:
    """Every shop organisation, by id."""
    stmt = select(Organization).where(Organization.kind == "shop").order_by(col(Organization.id))
    return list(session.exec(stmt))


def list_orgs(
    session: Session, *, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(Organization)
    if kind is not None:
        stmt = stmt.where(Organization.kind == kind)
    return paginate(session, stmt, col(Organization.id), cursor=cursor, limit=limit)


def list_keys(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(ApiKey).where(ApiKey.org_id == org_id)
    return paginate(session, stmt, col(ApiKey.id), cursor=cursor, limit=limit)


def get_key(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def get_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
