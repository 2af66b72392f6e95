"""Machines: a shop declares, reads, changes and removes its own machines."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.platform_api.factories import make_org

VF2 = {
    "name": "Haas VF-2",
    "machine_type": "3-axis",
    "axes": 3,
    "envelope_mm": {"x": 762, "y": 406, "z": 508},
    "controller": "Haas NGC",
    "hourly_rate_jpy": 6000,
    "mtconnect_device_uuid": "vf2-1",
}


def test_crud(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    r = client.post("/v1/machines", json=VF2, headers=shop.headers)
    assert r.status_code == 201
    m = r.json()
    assert m["org_id"] == shop.id and m["envelope_mm"] == {"x": 762.0, "y": 406.0, "z": 508.0}

    r = client.patch(
        f"/v1/machines/{m['id']}",
        json={"hourly_rate_jpy": 6500, "envelope_mm": {"x": 1016, "y": 508, "z": 635}},
        headers=shop.headers,
    )
    assert r.status_code == 200
    changed = r.json()
    assert changed["hourly_rate_jpy"] == 6500 and changed["envelope_mm"]["x"] == 1016
    assert changed["name"] == "Haas VF-2" and changed["controller"] == "Haas NGC"  # untouched
    assert changed["updated_at"] >= m["updated_at"]

    got = client.get(f"/v1/machines/{m['id']}", headers=shop.headers).json()
    assert got == changed
    assert client.delete(f"/v1/machines/{m['id']}", headers=shop.headers).status_code == 204
    assert client.get(f"/v1/machines/{m['id']}", headers=shop.headers).status_code == 404


def test_list_paginates_newest_first(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    ids = [
        client.post("/v1/machines", json={**VF2, "name": f"m{i}"}, headers=shop.headers).json()[
            "id"
        ]
        for i in range(5)
    ]
    page1 = client.get("/v1/machines?limit=3", headers=shop.headers).json()
    page2 = client.get(
        f"/v1/machines?limit=3&cursor={page1['next_cursor']}", headers=shop.headers
    ).json()
    got = [m["id"] for m in page1["items"] + page2["items"]]
    assert got == ids[::-1] and page2["next_cursor"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"machine_type": "teleporter"},
        {"axes": 0},
        {"envelope_mm": {"x": -1, "y": 1, "z": 1}},
        {"hourly_rate_jpy": -5},
        {"name": ""},
        {"envelope_mm": {"x": 1, "y": 1}},
    ],
)
def test_invalid_machine_is_refused(client: TestClient, ctx: Any, change: dict[str, Any]) -> None:
    shop = make_org(ctx, "shop")
    r = client.post("/v1/machines", json={**VF2, **change}, headers=shop.headers)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request" and body["detail"]["errors"]
