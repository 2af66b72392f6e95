"""The platform's CLI commands: db upgrade, keys create/revoke/generate, jobs run."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from platform_api.cli import app
from platform_api.main import create_app
from platform_api.security import parse_key
from platform_api.settings import Settings


@pytest.fixture
def env(fresh_database: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    engine, data_dir = fresh_database
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("MITSUMORI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MITSUMORI_DATABASE_URL", url)
    return Settings(job_worker=False, analysis_workers=0)


def test_bootstrap_an_admin_and_revoke_it(env: Settings) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(app, ["keys", "create", "--org", "Platform admin", "--kind", "admin"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert parse_key(key) is not None
    with TestClient(create_app(env)) as c:
        me = c.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["organization"]["kind"] == "admin"
        key_id = me.json()["key"]["id"]
        # A second key for the same organisation, by id.
        org_id = me.json()["organization"]["id"]
        again = runner.invoke(app, ["keys", "create", "--org", org_id, "--read-only"])
        ro = again.stdout.strip().splitlines()[-1]
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {ro}"}).json()["key"][
            "scopes"
        ] == ["read"]
        assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    missing = runner.invoke(app, ["keys", "revoke", "key_missing"])
    assert missing.exit_code == 2 and "not_found" in missing.stderr


def test_generate_prints_a_fresh_key(env: Settings) -> None:
    keys = {CliRunner().invoke(app, ["keys", "generate"]).stdout.strip() for _ in range(3)}
    assert len(keys) == 3 and all(parse_key(k) for k in keys)


def test_bad_kind_is_refused(env: Settings) -> None:
    r = CliRunner().invoke(app, ["keys", "create", "--org", "x", "--kind", "wizard"])
    assert r.exit_code == 2 and "kind" in r.stderr


def test_jobs_run_with_an_empty_queue(env: Settings) -> None:
    r = CliRunner().invoke(app, ["jobs", "run"])
    assert r.exit_code == 0 and "0 job(s) run" in r.stdout


def test_engine_commands_are_there() -> None:
    names = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    assert {"quote", "features", "train", "quote-batch", "serve"} <= names


def test_cache_refresh_stores_what_reads_derive(env: Settings) -> None:
    from tests.platform_api.factories import make_org

    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    with TestClient(create_app(env)) as c:
        shop = make_org(c.app.state.ctx, "shop")  # type: ignore[attr-defined]
        assert c.get(f"/v1/shops/{shop.id}/profile", headers=shop.headers).status_code == 200
    first = runner.invoke(app, ["cache", "refresh"])
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("1 profile(s), 0 machine load(s) refreshed")
    again = runner.invoke(app, ["cache", "refresh"])  # nothing changed since
    assert again.exit_code == 0 and again.stdout.startswith("0 profile(s)")
