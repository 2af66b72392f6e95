"""API keys, the authenticated principal, and the per-key rate limit.

Keys look like ``mk_<10-char prefix>_<43-char secret>``. The database stores the prefix (to find
the row) and the SHA-256 of the whole key; a key has 256 bits of randomness, so a fast hash is
as safe as a slow one here and keeps every request cheap. The plaintext is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Float, case, literal, update
from sqlmodel import Session, col, select

from platform_api.db.models import ApiKey, RateBucket
from platform_api.db.types import utcnow
from platform_api.db.upsert import insert_for
from platform_api.errors import Forbidden, RateLimited, Unauthorized

_KEY_RE = re.compile(r"^mk_([a-z0-9]{10})_([A-Za-z0-9_-]{20,100})$")
_LAST_USED_EVERY = timedelta(seconds=60)  # coarse on purpose: no write per request for this


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its organisation, role and scopes."""

    key_id: str
    org_id: str
    role: str
    scopes: tuple[str, ...]

    def require(self, *roles: str, scope: str | None = None) -> None:
        """Raise ``Forbidden`` unless the role is one of ``roles`` and the key has ``scope``."""
        if roles and self.role not in roles:
            raise Forbidden(
                f"a {self.role} key may not do this; it needs a {' or '.join(roles)} key",
                detail={"role": self.role, "allowed_roles": list(roles)},
            )
        if scope is not None and scope not in self.scopes:
            raise Forbidden(
                f"this API key lacks the '{scope}' scope",
                detail={"scopes": list(self.scopes), "required_scope": scope},
            )


def generate_key() -> tuple[str, str]:
    """A new key and its prefix: ``("mk_abc..._secret", "abc...")``."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"mk_{prefix}_{secrets.token_urlsafe(32)}", prefix


def parse_key(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    m = _KEY_RE.match(key)
    return m.group(1) if m else None


def hash_key(key: str) -> str:
    """Hex SHA-256 of the key (what is stored)."""
    return hashlib.sha256(key.encode()).hexdigest()


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal for an ``Authorization: Bearer`` header; ``Unauthorized`` otherwise."""
    if not authorization:
        raise Unauthorized("missing API key: send the header 'Authorization: Bearer <key>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("malformed Authorization header: expected 'Bearer <key>'")
    prefix = parse_key(token)
    row = None
    if prefix is not None:
        row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    # One message for unknown, wrong and revoked keys: the caller learns nothing about others' keys.
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(token)):
        raise Unauthorized("invalid or revoked API key")
    if row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    return _principal(session, row)


def authenticate_key_id(session: Session, key_id: str) -> Principal:
    """The principal of a key known by id (a browser session); ``Unauthorized`` if revoked."""
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key: sign in again with a valid key")
    return _principal(session, row)


def _principal(session: Session, row: ApiKey) -> Principal:
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_EVERY:
        session.exec(update(ApiKey).where(col(ApiKey.id) == row.id).values(last_used_at=now))
    return Principal(key_id=row.id, org_id=row.org_id, role=row.role, scopes=tuple(row.scopes))


def take_token(
    session: Session, key_id: str, *, per_minute: float, burst: int, now: float | None = None
) -> None:
    """Spend one token of ``key_id``'s bucket or raise ``RateLimited``.

    One conditional UPDATE refills and spends atomically on both databases, so any number of
    API processes share the bucket without a read-modify-write race.
    """
    now = time.time() if now is None else now
    rate = per_minute / 60.0  # tokens per second
    now_v = literal(now, Float)
    last = col(RateBucket.updated)
    elapsed = case((last < now_v, now_v - last), else_=0.0)
    refilled = col(RateBucket.tokens) + elapsed * rate
    capped = case((refilled > float(burst), float(burst)), else_=refilled)
    stmt = (
        update(RateBucket)
        .where(col(RateBucket.key_id) == key_id, refilled >= 1.0)
        .values(
            tokens=capped - 1.0,
            updated=case((last < now_v, now_v), else_=last),
        )
    )
    if session.exec(stmt).rowcount == 1:
        return
    first = (
        insert_for(session, RateBucket)
        .values(key_id=key_id, tokens=burst - 1.0, updated=now)
        .on_conflict_do_nothing(index_elements=["key_id"])
        .returning(col(RateBucket.key_id))
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
    if session.exec(first).first() is not None:
        return  # the key's first request
    tokens, updated = session.exec(
        select(RateBucket.tokens, RateBucket.updated).where(RateBucket.key_id == key_id)
    ).one()
    missing = 1.0 - (tokens + max(0.0, now - updated) * rate)
    raise RateLimited(
        f"rate limit of {per_minute:g} requests per minute (burst {burst}) exceeded for this key",
        detail={"retry_after_seconds": round(max(missing, 0.0) / rate, 3)},
    )
