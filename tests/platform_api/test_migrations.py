"""Alembic migrations build exactly the tables the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from platform_api.db.engine import make_engine
from platform_api.db.migrate import current_revision, head_revision, upgrade
from platform_api.db.models import metadata
from tests.platform_api.conftest import Api


def test_migrated_schema_matches_models(api: Api) -> None:
    with api.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []
    assert current_revision(api.engine) == head_revision()


def test_upgrade_is_idempotent_and_downgrade_works(tmp_path: object) -> None:
    from alembic import command

    from platform_api.db.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    try:
        upgrade(engine)
        upgrade(engine)  # a second start changes nothing
        assert set(inspect(engine).get_table_names()) >= {"organizations", "quotes", "jobs"}
        cfg = alembic_config()
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
            conn.commit()
        assert inspect(engine).get_table_names() == ["alembic_version"]
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
