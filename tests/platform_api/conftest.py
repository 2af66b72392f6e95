"""One database fixture for SQLite and PostgreSQL; each test runs in a rolled-back transaction.

``api`` is parametrised over the two backends (session scope: one app and one migrated database
per backend per run). PostgreSQL gets a fresh database ``mitsumori_test_<random>`` that is dropped
at the end; if the server is unreachable the PostgreSQL half is skipped, unless
``MITSUMORI_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns the skip into a failure.

Per test, ``client`` binds every session the app opens (requests, auth, jobs) to one connection
inside a transaction: commits become SAVEPOINT releases and the test's rows vanish on rollback.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from platform_api.db.engine import make_engine
from platform_api.db.migrate import upgrade
from platform_api.main import create_app
from platform_api.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "MITSUMORI_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_MAX_UPLOAD = 4 * 2**20  # small, so the size-limit tests send little


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("MITSUMORI_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (MITSUMORI_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


def create_pg_database() -> str:
    """Create ``mitsumori_test_<random>``; its SQLAlchemy URL (skips/fails when no server)."""
    import psycopg

    name = f"mitsumori_test_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _pg_unavailable(str(exc).splitlines()[0] if str(exc) else "connection failed")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """URL of a fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    engine: Engine
    settings: Settings
    backend: str


@pytest.fixture(scope="session")
def api(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app on a migrated database (once per backend); analysis inline, no worker thread."""
    engine = make_engine(database_url, savepoints=True)
    upgrade(engine)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        run_migrations=False,
        job_worker=False,
        analysis_workers=0,
        max_upload_bytes=TEST_MAX_UPLOAD,
        rate_limit_per_minute=1e6,
        rate_limit_burst=1_000_000,
    )
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        yield Api(app, client, engine, settings, engine.dialect.name)
    engine.dispose()


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    """The test client, with every database write of this test rolled back afterwards."""
    ctx = api.app.state.ctx
    connection = api.engine.connect()
    outer = connection.begin()
    original = ctx.db.session_factory
    ctx.db.session_factory = lambda: Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield api.client
    finally:
        ctx.db.session_factory = original
        outer.rollback()
        connection.close()


@pytest.fixture
def ctx(api: Api, client: TestClient):  # type: ignore[no-untyped-def]
    """The app's context (database handle bound to this test's transaction)."""
    return api.app.state.ctx


@pytest.fixture
def data_dir(api: Api) -> Path:
    return api.settings.data_dir


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A migrated database of the same backend with real commits (no test transaction), and
    the serving engine configuration; dropped afterwards."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = create_pg_database()
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine, tmp_path
    finally:
        engine.dispose()
        if not url.startswith("sqlite"):
            drop_pg_database(url)
