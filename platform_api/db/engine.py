"""Create the SQLAlchemy engine for SQLite (default, embedded) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver installed here."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def make_engine(url: str, *, savepoints: bool = False, pool_size: int = 10) -> Engine:
    """Engine for ``url``.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
    savepoints
        SQLite only. False (serving): pysqlite opens ``BEGIN IMMEDIATE`` lazily before the first
        write and reads run outside a transaction, so a request that reads, computes a quote for
        50 ms and then writes never holds a snapshot that a concurrent writer invalidates
        (``SQLITE_BUSY_SNAPSHOT``) and never holds the write lock while it computes. True
        (tests): SQLAlchemy's recipe that emits ``BEGIN`` itself, which SAVEPOINT needs, so each
        test runs inside a transaction that is rolled back.
    pool_size
        PostgreSQL connections kept per process.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # psycopg prepares a statement run 5 times on a connection, and PostgreSQL may then
        # plan it once for any parameters: for ``ref_model < $1`` over a million history rows
        # that generic plan scans them all (measured: 150 ms instead of 0.04 ms per query, and
        # profile reads of 0.6-1.7 s). Custom plans cost ~0.1 ms of planning and stay indexed.
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
        )

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30.0}
    connect_args["isolation_level"] = None if savepoints else "IMMEDIATE"
    engine = create_engine(url, connect_args=connect_args, pool_size=pool_size, max_overflow=20)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        # WAL lets readers run while one writer commits; NORMAL sync is durable enough with WAL.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    if savepoints:

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

    return engine
