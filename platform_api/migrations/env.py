"""Alembic environment: migrates the database `platform_api.db.migrate` or the settings point at."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from platform_api.db.engine import make_engine
from platform_api.db.models import metadata
from platform_api.settings import Settings

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(Settings().effective_database_url, savepoints=True)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `mitsumori db upgrade`")
run_migrations_online()
