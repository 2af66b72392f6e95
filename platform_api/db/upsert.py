"""``INSERT ... ON CONFLICT`` for the database in use: SQLite and PostgreSQL spell it alike, but
SQLAlchemy has one construct per dialect."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session


def insert_for(session: Session, table: Any) -> Any:
    """The dialect's ``insert(table)``, with ``on_conflict_do_update/_nothing`` and ``excluded``."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    postgres = session.get_bind().dialect.name == "postgresql"
    return (pg_insert if postgres else sqlite_insert)(table)
