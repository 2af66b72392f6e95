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

    def close(self) -> None:
        self.engine.dispose()
