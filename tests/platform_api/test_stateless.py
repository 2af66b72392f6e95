"""Two API instances on one database behave as one: keys, rate limits, rows and revocations."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from platform_api.main import create_app
from platform_api.settings import Settings
from tests.platform_api.factories import make_org, stl_box, upload


def test_two_instances_share_everything(fresh_database: Any) -> None:
    engine, data_dir = fresh_database
    settings = Settings(
        data_dir=data_dir,
        database_url=engine.url.render_as_string(hide_password=False),
        job_worker=False,
        analysis_workers=0,
        rate_limit_burst=4,
        rate_limit_per_minute=0.001,
    )
    # Separate apps, separate engines and pools: like two hosts behind a load balancer.
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        buyer = make_org(a.app.state.ctx, "buyer")  # type: ignore[attr-defined]
        part = upload(a, buyer, stl_box(30, 30, 10)).json()  # token 1, on A
        got = b.get(f"/v1/parts/{part['id']}", headers=buyer.headers)  # token 2, on B
        assert got.status_code == 200 and got.json()["features"] == part["features"]
        assert a.get("/v1/me", headers=buyer.headers).status_code == 200  # token 3
        assert b.get("/v1/me", headers=buyer.headers).status_code == 200  # token 4
        # The bucket is in the database: both instances refuse the fifth request.
        assert a.get("/v1/me", headers=buyer.headers).status_code == 429
        assert b.get("/v1/me", headers=buyer.headers).status_code == 429

        admin = make_org(b.app.state.ctx, "admin")  # type: ignore[attr-defined]
        other = make_org(b.app.state.ctx, "shop")  # type: ignore[attr-defined]
        assert a.get("/v1/me", headers=other.headers).status_code == 200
        assert b.delete(f"/v1/api-keys/{other.key_id}", headers=admin.headers).status_code == 200
        assert a.get("/v1/me", headers=other.headers).status_code == 401  # revoked everywhere
