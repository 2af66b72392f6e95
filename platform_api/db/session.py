"""The ``Database`` handle the app keeps in its lifespan state: an engine and a session factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlmodel import Session


class Database:
    """Engine plus the factory every request, job and CLI command gets its sessions from.

    Tests replace ``session_factory`` with one bound to a connection inside a rolled-back
    transaction (``join_transaction_mode="create_savepoint"``); nothing else changes.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session_factory: Callable[[], Session] = lambda: Session(
            engine, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        """Raise if the database does not answer a trivial query."""
        with self.session_factory() as session:
            session.execute(text("SELECT 1"))  # exec() is typed for select/update/delete only

    def checkpoint(self) -> None:
        """SQLite: fold the write-ahead log into the database now, without waiting on readers.

        A bulk writer (the history import) calls it after each transaction, so the log stays
        short and the automatic checkpoint never falls to whichever request commits next (an
        API key's rate bucket, say), which then waited seconds. No-op on PostgreSQL.
        """
        if self.dialect != "sqlite":
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self.engine.dispose()
