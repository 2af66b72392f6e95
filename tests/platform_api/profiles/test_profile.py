"""Capability profiles: computed from stored quotes and outcomes, updated as they arrive,
read-only, and visible to buyers but to no other shop."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_api.caches.refresher import refresh_all
from tests.platform_api.factories import make_org
from tests.platform_api.market import buyer_part, install_shop_model, machine_body, make_shop


def quote(client: TestClient, buyer: Any, part: str, shop: str, material: str, qty: int) -> Any:
    r = client.post(
        "/v1/quotes",
        json={"part_id": part, "material": material, "quantity": qty, "shop": shop},
        headers=buyer.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_profile_follows_quotes_and_outcomes(client: TestClient, ctx: Any) -> None:
    shop, _ = make_shop(ctx, client, "Profiled", certifications=("ISO 9001",),
                        machines=(machine_body("5-axis", (650, 650, 500)),))  # fmt: skip
    buyer = make_org(ctx, "buyer")
    part = buyer_part(client, buyer)
    url = f"/v1/shops/{shop.id}/profile"
    empty = client.get(url, headers=shop.headers).json()
    assert empty["n_requests"] == 0 and empty["win_rate"] is None
    assert empty["machine_classes"] == {"5-axis": 1} and empty["certifications"] == ["ISO 9001"]
    assert empty["machines"][0]["tolerance_mm"] == 0.01  # typical 5-axis (catalog)
    q1 = quote(client, buyer, part, shop.id, "A5052", 10)
    q2 = quote(client, buyer, part, shop.id, "SUS304", 50)
    quote(client, buyer, part, shop.id, "A6061", 5)
    won = {"status": "won", "final_unit_price": q1["unit_price"] * 0.95, "delivered_on_time": True}
    assert client.post(f"/v1/quotes/{q1['id']}/outcome", json=won, headers=shop.headers).is_success
    lost = {"status": "lost"}
    assert client.post(f"/v1/quotes/{q2['id']}/outcome", json=lost, headers=shop.headers).is_success
    p = client.get(url, headers=buyer.headers).json()
    assert (p["n_requests"], p["n_quoted"], p["n_won"], p["n_lost"]) == (3, 3, 1, 1)
    assert p["win_rate"] == 0.5 and p["on_time_rate"] == 1.0 and p["n_delivered"] == 1
    assert p["materials"] == {"A5052": 1, "A6061": 1, "SUS304": 1}
    assert p["families"] == {"aluminium": 2, "stainless": 1}
    assert p["processes"] == {"mill": 3} and p["quantity_range"] == [5, 50]
    assert p["envelope_mm"] == [120.0, 80.0, 30.0]
    assert p["experience"] == {"mill/aluminium": [2, 1], "mill/stainless": [1, 0]}
    # priced by the default model (the shop has none yet): the won price 5 % under it
    assert p["price_level"] == pytest.approx(1.0)
    assert p["sources"] == {"quotes": 3, "history_rows": 0, "rfq_declines": 0}
    # a new outcome is in the next read (no stale cache)
    client.post(f"/v1/quotes/{q2['id']}/outcome", json={"status": "won",
                "delivered_on_time": False, "final_unit_price": 100.0},
                headers=shop.headers)  # fmt: skip
    p2 = client.get(url, headers=buyer.headers).json()
    assert (p2["n_won"], p2["n_lost"], p2["on_time_rate"]) == (2, 0, 0.5)
    assert p2["computed_at"] > p["computed_at"]
    # the refresher stores it; reads then serve the stored profile, unchanged
    assert refresh_all(ctx.db, models=ctx.models).profiles >= 1
    p3 = client.get(url, headers=buyer.headers).json()
    assert client.get(url, headers=buyer.headers).json() == p3
    assert {k: v for k, v in p3.items() if k != "computed_at"} == {
        k: v for k, v in p2.items() if k != "computed_at"
    }
    assert refresh_all(ctx.db, models=ctx.models).profiles == 0  # nothing changed since


def test_price_level_against_the_default_model(client: TestClient, ctx: Any) -> None:
    shop, _ = make_shop(ctx, client, "Own model", machines=(machine_body("3-axis"),))
    install_shop_model(ctx, shop)
    buyer = make_org(ctx, "buyer")
    part = buyer_part(client, buyer)
    own = quote(client, buyer, part, shop.id, "A5052", 10)
    default = client.post("/v1/quotes", json={"part_id": part, "material": "A5052",
                          "quantity": 10}, headers=buyer.headers).json()  # fmt: skip
    assert own["model"]["shop"] is not None and default["model"]["shop"] is None
    p = client.get(f"/v1/shops/{shop.id}/profile", headers=shop.headers).json()
    assert p["price_level"] == pytest.approx(own["unit_price"] / default["unit_price"], rel=1e-6)


def test_who_may_read_a_profile(client: TestClient, ctx: Any) -> None:
    shop, other = make_org(ctx, "shop"), make_org(ctx, "shop")
    buyer, admin = make_org(ctx, "buyer"), make_org(ctx, "admin")
    url = f"/v1/shops/{shop.id}/profile"
    assert client.get(url, headers=shop.headers).status_code == 200
    assert client.get(url, headers=buyer.headers).status_code == 200
    assert client.get(url, headers=admin.headers).status_code == 200
    assert client.get(url, headers=other.headers).status_code == 404
    assert client.get(f"/v1/shops/{buyer.id}/profile", headers=buyer.headers).status_code == 404
    # numbers, not settings: there is no way to write them
    assert client.put(url, json={"win_rate": 1.0}, headers=shop.headers).status_code == 405
    assert client.patch(url, json={"win_rate": 1.0}, headers=shop.headers).status_code == 405
