"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.platform_api.factories import make_org, stl_box, upload


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    body = r.json()
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"]
    assert r.status_code == (200 if body["status"] == "ready" else 503)


def test_readyz_reports_a_broken_database(client: TestClient, ctx: Any, monkeypatch: Any) -> None:
    def down() -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(ctx.db, "ping", down)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["database"].startswith("error")


def test_metrics_count_requests_and_ingest(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    assert upload(client, shop, stl_box(33, 22, 11)).status_code == 201
    assert upload(client, shop, b"not a mesh at all", name="junk.stl").status_code == 422
    text = client.get("/metrics").text
    assert 'mitsumori_parts_ingested_total{format="stl",outcome="ok"}' in text
    assert 'mitsumori_parts_ingested_total{format="stl",outcome="rejected"}' in text
    assert 'route="/v1/parts"' in text and 'status="201"' in text
    assert "mitsumori_part_analysis_seconds_count" in text


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def _has_example(spec: dict[str, Any], media: dict[str, Any]) -> bool:
    if "example" in media or "examples" in media:
        return True
    schema = media.get("schema", {})
    if "anyOf" in schema:  # optional body: look at the non-null member
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    schema = _resolve(spec, schema)
    if "examples" in schema or "example" in schema:
        return True
    items = schema.get("properties", {}).get("items", {}).get("items")  # Page[T]
    if items:
        return "examples" in _resolve(spec, items)
    if schema.get("type") == "object" and "properties" in schema:
        # A multipart form: every field documented (file fields are binary strings).
        return all("description" in p or "examples" in p for p in schema["properties"].values())
    return False


def test_every_route_is_documented_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    missing = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                if not _has_example(spec, media):
                    missing.append(f"{method.upper()} {path} request")
            ok = [v for k, v in op["responses"].items() if k.startswith("2")]
            for resp in ok:
                for media in resp.get("content", {}).values():
                    if not _has_example(spec, media):
                        missing.append(f"{method.upper()} {path} response")
            if not op.get("description") and not op.get("summary"):
                missing.append(f"{method.upper()} {path} summary")
            for param in op.get("parameters", []):
                documented = {"examples", "example"} & (set(param) | set(param["schema"]))
                if param["in"] == "path" and not documented:
                    missing.append(f"{method.upper()} {path} parameter {param['name']}")
    assert not missing, missing
    assert client.get("/docs").status_code == 200
