"""Organisations and API keys: create, list, revoke. Services flush; the caller commits."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from platform_api.db.models import ApiKey, Organization
from platform_api.db.types import utcnow
from platform_api.errors import InvalidRequest, NotFound
from platform_api.ids import new_id
from platform_api.orgs import repository
from platform_api.orgs.schemas import ApiKeyCreate, OrganizationCreate
from platform_api.security import generate_key, hash_key, parse_key


def create_org(*, session: Session, body: OrganizationCreate) -> Organization:
    """Create an organisation."""
    org = Organization(id=new_id("org"), **body.model_dump())
    session.add(org)
    session.flush()
    return org


def get_org(*, session: Session, org_id: str) -> Organization:
    """An organisation by id, or ``NotFound``."""
    org = repository.get_org(session, org_id)
    if org is None:
        raise NotFound(f"no organization {org_id}", detail={"org_id": org_id})
    return org


def list_orgs(
    *, session: Session, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Organisations, newest first."""
    return repository.list_orgs(session, kind=kind, cursor=cursor, limit=limit)


def create_key(
    *, session: Session, org_id: str, body: ApiKeyCreate, key: str | None = None
) -> tuple[ApiKey, str]:
    """A new key for ``org_id`` (role = the organisation's kind); returns the row and plaintext.

    ``key`` imports a key generated elsewhere (the admin bootstrap key); otherwise one is made.
    """
    org = get_org(session=session, org_id=org_id)
    if key is None:
        key, prefix = generate_key()
    else:
        parsed = parse_key(key)
        if parsed is None:
            raise InvalidRequest("key must look like mk_<10 lowercase letters/digits>_<secret>")
        prefix = parsed
    row = ApiKey(
        id=new_id("key"),
        org_id=org.id,
        name=body.name,
        prefix=prefix,
        key_hash=hash_key(key),
        role=org.kind,
        scopes=sorted(set(body.scopes)),
    )
    session.add(row)
    session.flush()
    return row, key


def list_keys(
    *, session: Session, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Keys of an organisation (no secrets), newest first."""
    get_org(session=session, org_id=org_id)
    return repository.list_keys(session, org_id=org_id, cursor=cursor, limit=limit)


def revoke_key(*, session: Session, key_id: str) -> ApiKey:
    """Revoke a key; it answers 401 from the next request on. Revoking twice is harmless."""
    row = repository.get_key(session, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}", detail={"key_id": key_id})
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return row


def ensure_admin_key(*, session: Session, key: str) -> bool:
    """Make ``key`` a working admin key (creating the admin organisation); True if it was new."""
    prefix = parse_key(key)
    if prefix is None:
        raise InvalidRequest("admin bootstrap key must look like mk_<10 chars>_<secret>")
    existing = repository.get_key_by_prefix(session, prefix)
    if existing is not None:
        if existing.key_hash != hash_key(key) or existing.role != "admin":
            raise InvalidRequest("the bootstrap key's prefix is already used by another key")
        return False
    org = create_org(session=session, body=OrganizationCreate(name="Platform admin", kind="admin"))
    create_key(session=session, org_id=org.id, body=ApiKeyCreate(name="bootstrap"), key=key)
    return True
