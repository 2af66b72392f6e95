"""Security rules, one refused request per rule, on both databases.

The matrix covers every role x resource pair: a role that may not use a resource gets 403; a
role that may, reaching for another company's row, gets 404 (its existence is not revealed);
its own row answers 2xx. Then: 401 for no, malformed, unknown and revoked keys on every /v1
route; read-only scope; per-key rate limit; upload size limit; no key or file bytes in logs;
CORS closed unless configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_api.db.models import HistoryRow
from platform_api.ids import new_id
from platform_api.jobs import repository as jobs_repository
from tests.platform_api.conftest import Api
from tests.platform_api.factories import Org, add_key, make_org, stl_box, upload


@dataclass
class World:
    """Two shops, two buyers and an admin, each with rows of its own (committed once per DB)."""

    admin: Org
    shop_a: Org
    shop_b: Org
    buyer_x: Org
    buyer_y: Org
    part_a: str
    part_x: str
    quote_a: str  # shop A quoting its own part
    quote_xa: str  # buyer X's part priced by shop A
    machine_a: str
    job_a: str

    def org(self, name: str) -> Org:
        return getattr(self, name)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def world(api: Api) -> World:
    ctx = api.app.state.ctx
    c = api.client
    admin = make_org(ctx, "admin")
    shop_a, shop_b = make_org(ctx, "shop", name="A"), make_org(ctx, "shop", name="B")
    buyer_x, buyer_y = make_org(ctx, "buyer", name="X"), make_org(ctx, "buyer", name="Y")
    part_a = upload(c, shop_a, stl_box(40, 30, 10)).json()["id"]
    part_x = upload(c, buyer_x, stl_box(50, 20, 8)).json()["id"]
    q = {"material": "A5052", "quantity": 5}
    quote_a = c.post("/v1/quotes", json={"part_id": part_a, **q}, headers=shop_a.headers)
    quote_xa = c.post(
        "/v1/quotes", json={"part_id": part_x, "shop": shop_a.id, **q}, headers=buyer_x.headers
    )
    machine = c.post(
        "/v1/machines",
        json={
            "name": "Haas VF-2",
            "machine_type": "3-axis",
            "axes": 3,
            "envelope_mm": {"x": 762, "y": 406, "z": 508},
            "hourly_rate_jpy": 6000,
        },
        headers=shop_a.headers,
    )
    assert quote_a.status_code == quote_xa.status_code == machine.status_code == 201
    with ctx.db.session() as session:
        job = jobs_repository.create(
            session, org_id=shop_a.id, kind="noop", params={}, max_attempts=1
        )
        job.status = "succeeded"  # never picked up by a worker
        session.add(
            HistoryRow(
                id=new_id("his"),
                org_id=shop_a.id,
                job_id=job.id,
                line=2,
                part_id=part_a,
                material="A5052",
                quantity=5,
                unit_price=9000,
                lead_time_days=5,
            )
        )
        job_id = job.id
    return World(
        admin, shop_a, shop_b, buyer_x, buyer_y, part_a, part_x,
        quote_a.json()["id"], quote_xa.json()["id"], machine.json()["id"], job_id,
    )  # fmt: skip


MACHINE = {
    "name": "Okuma LB3000",
    "machine_type": "lathe",
    "axes": 2,
    "envelope_mm": {"x": 300, "y": 300, "z": 500},
    "hourly_rate_jpy": 5000,
}


Target = Callable[[World, str], tuple[str, str] | None]  # (acting org field, row id) by role


@dataclass(frozen=True)
class Case:
    """A request on a resource.

    roles: the roles that may use it. own: the caller and row for a request that must succeed
    (``own_status``). foreign: a caller and another company's row, which must answer 404.
    """

    resource: str
    roles: tuple[str, ...]
    call: Callable[[TestClient, World, Org, str], Any]
    own: Target
    foreign: Target | None = None
    own_status: tuple[int, ...] = (200, 201, 202, 204)


def _mine(role: str) -> str:
    return {"shop": "shop_a", "buyer": "buyer_x", "admin": "admin"}[role]


def _rival(role: str) -> str:
    return {"shop": "shop_b", "buyer": "buyer_y", "admin": "admin"}[role]


def _part(w: World, role: str) -> tuple[str, str]:
    return _mine(role), {"shop": w.part_a, "buyer": w.part_x}[role]


def _part_of_other(w: World, role: str) -> tuple[str, str]:
    return _rival(role), {"shop": w.part_a, "buyer": w.part_x}[role]


def _quote(w: World, role: str) -> tuple[str, str]:
    return _mine(role), {"shop": w.quote_a, "buyer": w.quote_xa}[role]


def _quote_of_other(w: World, role: str) -> tuple[str, str]:
    return _rival(role), {"shop": w.quote_a, "buyer": w.quote_xa}[role]


def _shop(w: World, role: str) -> tuple[str, str]:
    return _mine(role), w.shop_a.id


def _shop_of_other(w: World, role: str) -> tuple[str, str]:
    return _rival(role), w.shop_a.id


def _row(field: str) -> Target:
    return lambda w, role: (_mine(role), getattr(w, field))


def _row_of_other(field: str) -> Target:
    return lambda w, role: (_rival(role), getattr(w, field))


def _post_quote(c: TestClient, w: World, o: Org, t: str) -> Any:
    return c.post("/v1/quotes", json={"part_id": t, "material": "A5052", "quantity": 2},
                  headers=o.headers)  # fmt: skip


def _post_history(c: TestClient, w: World, o: Org, t: str) -> Any:
    files = {"history": ("h.csv", b"part_file\n"), "parts": ("p.zip", b"PK")}
    return c.post(f"/v1/shops/{t}/history", files=files, headers=o.headers)


SHOP, BUYER, ADMIN = ("shop",), ("buyer",), ("admin",)
ANY = ("shop", "buyer", "admin")
CASES = [
    Case("parts:upload", SHOP + BUYER, lambda c, w, o, t: upload(c, o, stl_box(12, 12, 12)),
         _shop),
    Case("parts:list", SHOP + BUYER, lambda c, w, o, t: c.get("/v1/parts", headers=o.headers),
         _shop),
    Case("parts:get", SHOP + BUYER, lambda c, w, o, t: c.get(f"/v1/parts/{t}", headers=o.headers),
         _part, _part_of_other),
    Case("parts:file", SHOP + BUYER,
         lambda c, w, o, t: c.get(f"/v1/parts/{t}/file", headers=o.headers),
         _part, _part_of_other),
    Case("quotes:create", SHOP + BUYER, _post_quote, _part, _part_of_other),
    Case("quotes:list", SHOP + BUYER, lambda c, w, o, t: c.get("/v1/quotes", headers=o.headers),
         _shop),
    Case("quotes:get", SHOP + BUYER,
         lambda c, w, o, t: c.get(f"/v1/quotes/{t}", headers=o.headers),
         _quote, _quote_of_other),
    Case("outcomes:create", SHOP,
         lambda c, w, o, t: c.post(f"/v1/quotes/{t}/outcome", json={"status": "sent"},
                                   headers=o.headers),
         _quote, _quote_of_other),
    # Own import with a bad CSV and own training with 1 history row pass auth, then 422.
    Case("history:import", SHOP, _post_history, _shop, _shop_of_other, own_status=(422,)),
    Case("history:list", SHOP,
         lambda c, w, o, t: c.get(f"/v1/shops/{t}/history", headers=o.headers),
         _shop, _shop_of_other),
    Case("models:train", SHOP,
         lambda c, w, o, t: c.post(f"/v1/shops/{t}/model/train", headers=o.headers),
         _shop, _shop_of_other, own_status=(422,)),
    Case("models:list", SHOP,
         lambda c, w, o, t: c.get(f"/v1/shops/{t}/models", headers=o.headers),
         _shop, _shop_of_other),
    Case("machines:create", SHOP,
         lambda c, w, o, t: c.post("/v1/machines", json=MACHINE, headers=o.headers), _shop),
    Case("machines:list", SHOP, lambda c, w, o, t: c.get("/v1/machines", headers=o.headers),
         _shop),
    Case("machines:get", SHOP,
         lambda c, w, o, t: c.get(f"/v1/machines/{t}", headers=o.headers),
         _row("machine_a"), _row_of_other("machine_a")),
    Case("machines:update", SHOP,
         lambda c, w, o, t: c.patch(f"/v1/machines/{t}", json={"axes": 4}, headers=o.headers),
         _row("machine_a"), _row_of_other("machine_a")),
    Case("machines:delete", SHOP,
         lambda c, w, o, t: c.delete(f"/v1/machines/{t}", headers=o.headers),
         _row("machine_a"), _row_of_other("machine_a")),
    Case("jobs:list", SHOP, lambda c, w, o, t: c.get("/v1/jobs", headers=o.headers), _shop),
    Case("jobs:get", SHOP, lambda c, w, o, t: c.get(f"/v1/jobs/{t}", headers=o.headers),
         _row("job_a"), _row_of_other("job_a")),
    Case("organizations:create", ADMIN,
         lambda c, w, o, t: c.post("/v1/organizations", json={"name": "N", "kind": "buyer"},
                                   headers=o.headers), _shop),
    Case("organizations:list", ADMIN,
         lambda c, w, o, t: c.get("/v1/organizations", headers=o.headers), _shop),
    Case("organizations:get", ADMIN,
         lambda c, w, o, t: c.get(f"/v1/organizations/{t}", headers=o.headers), _shop),
    Case("api-keys:create", ADMIN,
         lambda c, w, o, t: c.post(f"/v1/organizations/{t}/api-keys", json={},
                                   headers=o.headers), _shop),
    Case("api-keys:list", ADMIN,
         lambda c, w, o, t: c.get(f"/v1/organizations/{t}/api-keys", headers=o.headers), _shop),
    Case("api-keys:revoke", ADMIN,
         lambda c, w, o, t: c.delete(f"/v1/api-keys/{w.buyer_y.key_id}", headers=o.headers),
         _shop),
    Case("me", ANY, lambda c, w, o, t: c.get("/v1/me", headers=o.headers), _shop),
    Case("shops:directory", ANY, lambda c, w, o, t: c.get("/v1/shops", headers=o.headers), _shop),
]  # fmt: skip

MATRIX = [(case, role) for case in CASES for role in ANY]


@pytest.mark.parametrize(("case", "role"), MATRIX, ids=[f"{c.resource}-{r}" for c, r in MATRIX])
def test_role_resource_matrix(client: TestClient, world: World, case: Case, role: str) -> None:
    if role not in case.roles:
        # A role that may not use the resource: 403, whatever row it names.
        actor = world.org(_mine(role))
        r = case.call(client, world, actor, case.own(world, case.roles[0])[1])
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden"
        return
    actor_name, target = case.own(world, role)
    r = case.call(client, world, world.org(actor_name), target)
    assert r.status_code in case.own_status, r.text
    if case.foreign is not None:
        # Another company's row: 404, and nothing of it in the body.
        actor_name, target = case.foreign(world, role)
        r = case.call(client, world, world.org(actor_name), target)
        assert r.status_code == 404, r.text
        assert r.json()["error"] == "not_found"
        assert set(r.json()) == {"error", "message", "detail"}


def test_cross_role_rows_are_not_found(client: TestClient, world: World) -> None:
    # A shop asking for a buyer's part, a buyer for a shop's: 404 as well.
    for org, part in ((world.shop_b, world.part_x), (world.buyer_y, world.part_a)):
        assert client.get(f"/v1/parts/{part}", headers=org.headers).status_code == 404
    r = client.get(f"/v1/quotes/{world.quote_a}", headers=world.buyer_x.headers)
    assert r.status_code == 404


def test_lists_hold_only_own_rows(client: TestClient, world: World) -> None:
    # shop B sees none of shop A's parts or quotes; buyer Y none of buyer X's.
    for org, foreign in ((world.shop_b, world.part_a), (world.buyer_y, world.part_x)):
        parts = client.get("/v1/parts", headers=org.headers).json()["items"]
        assert foreign not in {p["id"] for p in parts}
    quotes_b = client.get("/v1/quotes", headers=world.shop_b.headers).json()["items"]
    assert not {q["id"] for q in quotes_b} & {world.quote_a, world.quote_xa}
    quotes_y = client.get("/v1/quotes", headers=world.buyer_y.headers).json()["items"]
    assert world.quote_xa not in {q["id"] for q in quotes_y}
    # The pricing shop sees the buyer's quote; the buyer sees it too; shop B's machines: none.
    quotes_a = client.get("/v1/quotes", headers=world.shop_a.headers).json()["items"]
    assert {world.quote_a, world.quote_xa} <= {q["id"] for q in quotes_a}
    machines_b = client.get("/v1/machines", headers=world.shop_b.headers).json()["items"]
    assert world.machine_a not in {m["id"] for m in machines_b}
    history_b = client.get(f"/v1/shops/{world.shop_b.id}/history", headers=world.shop_b.headers)
    assert history_b.json()["items"] == []


def test_pricing_shop_cannot_download_buyers_file(client: TestClient, world: World) -> None:
    # Shop A priced buyer X's part, but the drawing is X's property.
    r = client.get(f"/v1/parts/{world.part_x}/file", headers=world.shop_a.headers)
    assert r.status_code == 404
    assert client.get(f"/v1/quotes/{world.quote_xa}", headers=world.shop_a.headers).is_success


def test_shop_cannot_price_with_another_shops_model(client: TestClient, world: World) -> None:
    body = {"part_id": world.part_a, "material": "A5052", "quantity": 1, "shop": world.shop_b.id}
    r = client.post("/v1/quotes", json=body, headers=world.shop_a.headers)
    assert r.status_code == 403


def test_buyer_cannot_record_outcomes(client: TestClient, world: World) -> None:
    r = client.post(
        f"/v1/quotes/{world.quote_xa}/outcome",
        json={"status": "won"},
        headers=world.buyer_x.headers,
    )
    assert r.status_code == 403


def _v1_operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        if path.startswith("/v1/")
        for method in ops
    ]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer mk_notakey", "Bearer mk_abcdefghij_" + "x" * 43],
    ids=["none", "empty-bearer", "basic", "malformed", "unknown"],
)
def test_every_v1_route_refuses_without_a_valid_key(
    client: TestClient, world: World, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in _v1_operations(client):
        url = path.replace("{", "").replace("}", "")  # any id: auth comes first
        r = client.request(method, url, headers=headers)
        assert r.status_code == 401, (method, path, r.status_code)
        body = r.json()
        assert body["error"] == "unauthorized" and body["message"]
        assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_key_is_refused(client: TestClient, ctx: Any, world: World) -> None:
    extra = add_key(ctx, world.buyer_x)
    assert client.get("/v1/me", headers=extra.headers).status_code == 200
    r = client.delete(f"/v1/api-keys/{extra.key_id}", headers=world.admin.headers)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert client.get("/v1/me", headers=extra.headers).status_code == 401


def test_key_with_wrong_secret_is_refused(client: TestClient, world: World) -> None:
    prefix = world.shop_a.key.rsplit("_", 1)[0]  # the real prefix, a guessed secret
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {prefix}_{'A' * 43}"})
    assert r.status_code == 401


def test_read_only_key_cannot_write(client: TestClient, ctx: Any, world: World) -> None:
    ro = add_key(ctx, world.shop_a, scopes=("read",))
    assert client.get("/v1/machines", headers=ro.headers).status_code == 200
    r = client.post("/v1/machines", json=MACHINE, headers=ro.headers)
    assert r.status_code == 403 and "scope" in r.json()["message"]


def test_rate_limit_per_key(client: TestClient, ctx: Any, world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(ctx.settings, "rate_limit_burst", 3)
    monkeypatch.setattr(ctx.settings, "rate_limit_per_minute", 1.0)
    key = add_key(ctx, world.buyer_x)
    codes = [client.get("/v1/me", headers=key.headers).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = client.get("/v1/me", headers=key.headers)
    assert r.json()["error"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    # The bucket is per key: another key of the same company is not limited.
    other = add_key(ctx, world.buyer_x)
    assert client.get("/v1/me", headers=other.headers).status_code == 200


def test_rate_limit_refills(client: TestClient, ctx: Any, world: World) -> None:
    from platform_api.errors import RateLimited
    from platform_api.security import take_token

    key = add_key(ctx, world.buyer_y)
    with ctx.db.session() as session:
        for _ in range(2):
            take_token(session, key.key_id, per_minute=60, burst=2, now=1000.0)
        with pytest.raises(RateLimited):
            take_token(session, key.key_id, per_minute=60, burst=2, now=1000.5)
        take_token(session, key.key_id, per_minute=60, burst=2, now=1001.6)  # 1 token/s


def test_oversized_upload_is_refused_before_analysis(
    client: TestClient, api: Api, world: World
) -> None:
    limit = api.settings.max_upload_bytes
    # Body over the route limit: refused while streaming, with our JSON body.
    r = upload(client, world.shop_a, b"\0" * (limit + 2 * 2**20))
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    # File just over the limit but body under the route's multipart allowance: refused too.
    r = upload(client, world.shop_a, b"solid x\n" + b"\0" * limit)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert not list((api.settings.data_dir / "tmp").glob("*")), "partial upload left behind"


def test_oversized_json_body_is_refused(client: TestClient, world: World) -> None:
    body = b'{"part_id": "' + b"x" * (2 * 2**20) + b'"}'
    r = client.post(
        "/v1/quotes",
        content=body,
        headers={**world.shop_a.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def _secret(key: str) -> str:
    """The secret part of ``mk_<10-char prefix>_<secret>``."""
    return key[len("mk_") + 11 :]


def test_logs_hold_no_key_and_no_file_content(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    marker = b"MITSUMORI-SECRET-GEOMETRY-MARKER"
    data = stl_box(21, 22, 23)
    with caplog.at_level(logging.DEBUG):
        upload(client, world.buyer_x, b"solid " + marker + b"\nendsolid\n", name="bad.stl")
        upload(client, world.buyer_x, data)
        client.get("/v1/me", headers={"Authorization": f"Bearer {world.shop_a.key}x"})
        client.get("/v1/me", headers=world.buyer_x.headers)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/v1/parts" in text  # the access log is there ...
    for secret in (world.buyer_x.key, world.shop_a.key, _secret(world.buyer_x.key)):
        assert secret not in text  # ... without keys
    assert marker.decode() not in text


def test_cors_closed_by_default(client: TestClient) -> None:
    r = client.options(
        "/v1/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_open_to_configured_origin_only(tmp_path: Any) -> None:
    from platform_api.main import create_app
    from platform_api.settings import Settings

    settings = Settings(
        data_dir=tmp_path,
        cors_origins="https://app.example",  # type: ignore[arg-type]
        job_worker=False,
        analysis_workers=0,
    )
    assert settings.cors_origins == ["https://app.example"]
    with TestClient(create_app(settings)) as c:
        ok = c.get("/healthz", headers={"Origin": "https://app.example"})
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        bad = c.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers


def test_keys_are_stored_hashed(client: TestClient, ctx: Any, world: World) -> None:
    from sqlmodel import select

    from platform_api.db.models import ApiKey

    with ctx.db.session() as session:
        rows = session.exec(select(ApiKey)).all()
    stored = " ".join(f"{r.prefix} {r.key_hash} {r.name}" for r in rows)
    assert world.shop_a.key not in stored
    assert _secret(world.shop_a.key) not in stored


def test_placeholder_bootstrap_key_is_refused() -> None:
    from pydantic import ValidationError

    from platform_api.settings import Settings

    with pytest.raises(ValidationError, match="placeholder"):
        Settings(admin_bootstrap_key="changeme")  # type: ignore[arg-type]
