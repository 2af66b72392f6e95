"""The attack suite runs on the platform tests' fixtures (SQLite and PostgreSQL)."""

from tests.platform_api.conftest import (  # noqa: F401
    api,
    client,
    ctx,
    data_dir,
    database_url,
)
