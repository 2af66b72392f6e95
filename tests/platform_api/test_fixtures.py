"""The database fixture's contract: no PostgreSQL is a skip, unless CI requires it."""

from __future__ import annotations

import pytest

from tests.platform_api import conftest


def test_missing_postgres_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MITSUMORI_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception):
        conftest._pg_unavailable("connection refused")


def test_missing_postgres_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MITSUMORI_REQUIRE_POSTGRES", "1")
    with pytest.raises(pytest.fail.Exception, match="required"):
        conftest._pg_unavailable("connection refused")


def test_unreachable_server_goes_through_that_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:1/postgres")
    monkeypatch.setenv("MITSUMORI_REQUIRE_POSTGRES", "1")
    with pytest.raises(pytest.fail.Exception):
        conftest.create_pg_database()
