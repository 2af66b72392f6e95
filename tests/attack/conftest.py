"""The attack tests run against the platform's own fixtures (SQLite and PostgreSQL)."""

from tests.platform_api.conftest import api, client, ctx, database_url  # noqa: F401
