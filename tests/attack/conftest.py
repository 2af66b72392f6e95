"""The attack tests run against the platform's own fixtures (SQLite and PostgreSQL)."""

from tests.platform_api.conftest import (  # noqa: F401
    api,
    client,
    ctx,
    data_dir,
    database_url,
    fresh_database,
)
