"""The quick groups of the standing attack suite (``bench/attack.py``) in ``make test``: the access
matrix over every route of the OpenAPI schema, the REST machine-event batches and the hostile
history import, against a real uvicorn server on each backend, with no break allowed.

The uploads group (a 512 MiB zip bomb, a STEP that segfaults the reader) and the MQTT burst
stay in the bench script; ``tests/attack/test_isolation.py`` and ``test_ingest.py`` hold their
quick variants.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from platform_api.main import create_app
from platform_api.settings import Settings
from tests.platform_api.conftest import create_pg_database, drop_pg_database
from tests.platform_api.factories import make_org
from tests.platform_api.live import serve

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # bench/ is not a package of the project

from bench import attack  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, attack.World, Any, dict[str, Any]]]:
    """The app on a fresh database behind uvicorn, and the suite's organisations and resources."""
    folder = tmp_path_factory.mktemp(f"attack-{request.param}")
    url = f"sqlite:///{folder / 'attack.db'}" if request.param == "sqlite" else create_pg_database()
    settings = Settings(
        data_dir=folder,
        database_url=url,
        analysis_workers=0,
        job_poll_seconds=0.2,
        rate_limit_per_minute=1e6,
        rate_limit_burst=1_000_000,
    )
    app = create_app(settings)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    attack.SERVER_PATHS[:] = [str(folder)]
    try:
        with serve(app) as base, httpx.Client(base_url=base, timeout=300) as http:
            admin = make_org(app.state.ctx, "admin")
            yield http, attack.build_world(http, admin.key), engine, app.openapi()
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_pg_database(url)


def _no_break(group: attack.Group, caplog: pytest.LogCaptureFixture) -> None:
    assert group.tried > 0
    assert not group.breaks, "\n".join(f"{c} | {r} | {a}" for c, r, a in group.breaks[:20])
    assert group.lost == 0
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]


def test_access_matrix_over_every_route(live: Any, caplog: pytest.LogCaptureFixture) -> None:
    http, world, _, spec = live
    caplog.set_level(logging.INFO)
    group = attack.Group()
    attack.access_cases(http, world, spec, group)
    assert group.tried > 10 * len(spec["paths"])  # every route, every caller
    _no_break(group, caplog)


def test_rest_event_batches(live: Any, caplog: pytest.LogCaptureFixture) -> None:
    http, world, engine, _ = live
    caplog.set_level(logging.INFO)
    group = attack.Group()
    attack.event_cases(http, world, engine, group)
    _no_break(group, caplog)


def test_hostile_history_import(live: Any, caplog: pytest.LogCaptureFixture) -> None:
    http, world, engine, _ = live
    caplog.set_level(logging.INFO)
    group = attack.Group()
    attack.history_cases(http, world, engine, group)
    _no_break(group, caplog)
