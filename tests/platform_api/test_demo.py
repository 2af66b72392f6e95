"""``mitsumori demo seed``: shops with machines, histories and trained models; buyers; keys."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_api.demo import seed_demo
from platform_api.main import create_app
from platform_api.settings import Settings

pytestmark = pytest.mark.slow


def test_seed_then_use_the_printed_keys(fresh_database: Any) -> None:
    engine, data_dir = fresh_database
    settings = Settings(
        data_dir=data_dir,
        database_url=engine.url.render_as_string(hide_password=False),
        analysis_workers=0,
        job_worker=False,
    )
    printed: list[str] = []
    out = seed_demo(n_shops=2, rows_per_shop=52, settings=settings, echo=printed.append)
    text = "\n".join(printed)
    kinds = [k[0] for k in out["keys"]]
    assert kinds == ["admin", "shop", "shop", "buyer", "buyer"]
    assert all(k[3] in text for k in out["keys"])  # every key printed (once, here)

    with TestClient(create_app(settings)) as c:
        for kind, _name, org_id, key in out["keys"]:
            h = {"Authorization": f"Bearer {key}"}
            assert c.get("/v1/me", headers=h).json()["organization"]["id"] == org_id
            if kind == "shop":
                assert len(c.get("/v1/machines", headers=h).json()["items"]) == 2
                models = c.get(f"/v1/shops/{org_id}/models", headers=h).json()["items"]
                assert len(models) == 1 and models[0]["active"]
                assert models[0]["metrics"]["price_mape"] < 0.3
                history = c.get(f"/v1/shops/{org_id}/history?limit=200", headers=h).json()
                assert len(history["items"]) == 52
        buyer_key = out["keys"][3][3]
        quotes = c.get("/v1/quotes", headers={"Authorization": f"Bearer {buyer_key}"}).json()
        assert len(quotes["items"]) == 3  # default model + two shops
        assert len({q["model_version"] for q in quotes["items"]}) == 3

    again: list[str] = []
    assert seed_demo(settings=settings, if_empty=True, echo=again.append) == {}
    assert "nothing seeded" in again[0]
