"""Organisations and API keys, administered by an admin key."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from platform_api.security import generate_key
from tests.platform_api.factories import make_org

FLANGE_WORKS = {
    "name": "Higashi-Osaka Flange Works",
    "kind": "shop",
    "city": "Higashiosaka",
    "country": "jp",
    "latitude": 34.679,
    "longitude": 135.6,
    "certifications": ["ISO 9001", "IATF 16949"],
}


def test_admin_onboards_a_shop(client: TestClient, ctx: Any) -> None:
    admin = make_org(ctx, "admin")
    r = client.post("/v1/organizations", json=FLANGE_WORKS, headers=admin.headers)
    assert r.status_code == 201
    org = r.json()
    assert org["country"] == "JP" and org["certifications"] == ["ISO 9001", "IATF 16949"]

    r = client.post(
        f"/v1/organizations/{org['id']}/api-keys", json={"name": "ERP"}, headers=admin.headers
    )
    assert r.status_code == 201
    created = r.json()
    assert created["role"] == "shop" and created["key"].startswith(f"mk_{created['prefix']}_")

    me = client.get("/v1/me", headers={"Authorization": f"Bearer {created['key']}"}).json()
    assert me["organization"]["id"] == org["id"] and me["key"]["id"] == created["id"]
    assert "key" not in me["key"]  # the secret is never returned again

    keys = client.get(f"/v1/organizations/{org['id']}/api-keys", headers=admin.headers).json()
    assert [k["id"] for k in keys["items"]] == [created["id"]]
    assert all("key" not in k for k in keys["items"])
    assert keys["items"][0]["last_used_at"] is not None  # the /v1/me call above

    directory = client.get("/v1/shops", headers=admin.headers).json()["items"]
    assert org["id"] in {s["id"] for s in directory}


def test_list_filters_by_kind(client: TestClient, ctx: Any) -> None:
    admin = make_org(ctx, "admin")
    buyer = make_org(ctx, "buyer")
    shops = client.get("/v1/organizations?kind=shop&limit=200", headers=admin.headers).json()
    assert all(o["kind"] == "shop" for o in shops["items"])
    buyers = client.get("/v1/organizations?kind=buyer&limit=200", headers=admin.headers).json()
    assert buyer.id in {o["id"] for o in buyers["items"]}


def test_invalid_organizations_are_refused(client: TestClient, ctx: Any) -> None:
    admin = make_org(ctx, "admin")
    for bad in (
        {**FLANGE_WORKS, "kind": "pirate"},
        {**FLANGE_WORKS, "country": "J1"},
        {**FLANGE_WORKS, "latitude": 91},
        {**FLANGE_WORKS, "certifications": [""]},
        {"kind": "shop"},
    ):
        r = client.post("/v1/organizations", json=bad, headers=admin.headers)
        assert r.status_code == 422, bad
        assert r.json()["error"] == "invalid_request"


def test_unknown_org_and_key_are_not_found(client: TestClient, ctx: Any) -> None:
    admin = make_org(ctx, "admin")
    r = client.post("/v1/organizations/org_missing/api-keys", json={}, headers=admin.headers)
    assert r.status_code == 404
    assert client.delete("/v1/api-keys/key_missing", headers=admin.headers).status_code == 404


def test_bootstrap_admin_key_from_settings(tmp_path: Any) -> None:
    from platform_api.main import create_app
    from platform_api.settings import Settings

    key = generate_key()[0]
    settings = Settings(
        data_dir=tmp_path,
        admin_bootstrap_key=key,  # type: ignore[arg-type]
        job_worker=False,
        analysis_workers=0,
    )
    for _ in range(2):  # a restart with the same key changes nothing
        with TestClient(create_app(settings)) as c:
            me = c.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
            assert me.status_code == 200 and me.json()["organization"]["kind"] == "admin"
            orgs = c.get("/v1/organizations", headers={"Authorization": f"Bearer {key}"})
            assert len(orgs.json()["items"]) == 1
