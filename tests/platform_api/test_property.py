"""Property-based: schemathesis draws requests from the OpenAPI spec; none may answer 500.

Every operation gets ``EXAMPLES`` generated requests (fixed seed), sent with a valid key of the
role the route serves, so they reach validation, services and the engine instead of stopping
at authentication. Every 4xx must carry the ``{error, message, detail}`` body.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from platform_api.jobs import repository as jobs_repository
from tests.platform_api.factories import add_key, make_org, stl_box, upload

EXAMPLES = 12
NON_JSON = ("/metrics", "/v1/parts/{part_id}/file")


def _httpx_kwargs(kw: dict[str, Any], key: str) -> dict[str, Any]:
    """requests-style kwargs from schemathesis -> the httpx test client's, with our key."""
    headers = {"Authorization": f"Bearer {key}"}
    if "Content-Type" in kw.get("headers", {}):
        headers["Content-Type"] = kw["headers"]["Content-Type"]
    out: dict[str, Any] = {
        "method": kw["method"],
        "url": kw["url"],
        "headers": headers,
        "params": kw.get("params") or None,
    }
    if kw.get("json") is not None or "json" in kw:
        out["json"] = kw["json"]
    if kw.get("files"):
        out["files"] = kw["files"]
        out["headers"].pop("Content-Type", None)  # httpx sets the multipart boundary
    data = kw.get("data")
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data:
        out["data"] = data
    return out


def test_no_generated_request_gets_a_500(client: TestClient, ctx: Any) -> None:
    admin, shop = make_org(ctx, "admin"), make_org(ctx, "shop")
    part = upload(client, shop, stl_box(30, 20, 10)).json()
    quote = client.post(
        "/v1/quotes",
        json={"part_id": part["id"], "material": "A5052", "quantity": 3},
        headers=shop.headers,
    ).json()
    machine = client.post(
        "/v1/machines",
        json={"name": "m", "machine_type": "lathe", "axes": 2, "hourly_rate_jpy": 5000,
              "envelope_mm": {"x": 200, "y": 200, "z": 400}},
        headers=shop.headers,
    ).json()  # fmt: skip
    with ctx.db.session() as session:
        job = jobs_repository.create(session, org_id=shop.id, kind="noop", params={},
                                     max_attempts=1)  # fmt: skip
        job_id = job.id
    # Real ids of the caller's rows, so generated bodies also reach the services behind them.
    real = {
        "part_id": part["id"],
        "quote_id": quote["id"],
        "machine_id": machine["id"],
        "job_id": job_id,
        "shop_id": shop.id,
        "org_id": shop.id,
        "key_id": add_key(ctx, shop).key_id,
    }
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    failures: list[str] = []
    count = 0

    def run(op: Any, key: str) -> None:
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            nonlocal count
            attempts = [case.as_transport_kwargs(base_url="http://testserver")]
            if case.path_parameters:  # once as drawn (mostly 404), once on a real row
                case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
                attempts.append(case.as_transport_kwargs(base_url="http://testserver"))
            if isinstance(case.body, dict) and "part_id" in case.body:  # a real part to quote
                case.body = {**case.body, "part_id": real["part_id"]}
                attempts.append(case.as_transport_kwargs(base_url="http://testserver"))
            for raw in attempts:
                kwargs = _httpx_kwargs(raw, key)
                r = client.request(**kwargs)
                count += 1
                where = f"{kwargs['method']} {kwargs['url']}"
                if r.status_code >= 500:
                    failures.append(f"{where}: {r.status_code} {r.text[:200]}")
                elif r.status_code >= 400 and op.path not in NON_JSON:
                    body = r.json()
                    if set(body) != {"error", "message", "detail"}:
                        failures.append(f"{where}: {r.status_code} body {body}")

        check()

    for result in schema.get_all_operations():
        op = result.ok()
        admin_route = "/organizations" in op.path or "/api-keys" in op.path
        run(op, admin.key if admin_route else shop.key)
    assert count >= 20 * EXAMPLES // 2
    assert not failures, failures[:10]


@pytest.mark.parametrize(
    "body",
    [b"", b"null", b"[]", b'{"part_id": 5}', b"\xff\xfe", b'{"part_id": "x", "material": []}'],
)
def test_junk_json_bodies_are_4xx(client: TestClient, ctx: Any, body: bytes) -> None:
    shop = make_org(ctx, "shop")
    r = client.post(
        "/v1/quotes", content=body, headers={**shop.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and set(r.json()) == {"error", "message", "detail"}
