"""Part uploads: analysed once, stored content-addressed, returned to their owner only."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.platform_api.factories import make_org, stl_box, stl_plate_with_hole, upload


def test_upload_measures_the_part_and_stores_it_by_hash(
    client: TestClient, ctx: Any, data_dir: Path
) -> None:
    shop = make_org(ctx, "shop")
    data = stl_box(40, 30, 10)
    r = upload(client, shop, data, name="block.stl")
    assert r.status_code == 201
    part = r.json()
    assert part["file_name"] == "block.stl" and part["source_format"] == "stl"
    assert part["size_bytes"] == len(data)
    assert part["sha256"] == hashlib.sha256(data).hexdigest()
    assert sorted(part["features"]["bbox_mm"]) == pytest.approx([10, 30, 40], abs=0.01)
    assert part["features"]["volume_mm3"] == pytest.approx(12_000, rel=1e-6)
    assert len(part["items"]) == 1 and isinstance(part["dfm"], list)
    stored = data_dir / "parts" / part["sha256"][:2] / f"{part['sha256'][2:]}.stl"
    assert stored.read_bytes() == data
    # Read back: same analysis, and the file exactly as uploaded.
    got = client.get(f"/v1/parts/{part['id']}", headers=shop.headers).json()
    assert got == part
    f = client.get(f"/v1/parts/{part['id']}/file", headers=shop.headers)
    assert f.content == data and "block.stl" in f.headers["content-disposition"]


def test_same_file_again_returns_the_stored_part(client: TestClient, ctx: Any) -> None:
    shop, other = make_org(ctx, "shop"), make_org(ctx, "buyer")
    data = stl_box(41, 31, 11)
    first = upload(client, shop, data).json()
    again = upload(client, shop, data)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    # Another company uploading the same bytes gets a part of its own.
    theirs = upload(client, other, data)
    assert theirs.status_code == 201 and theirs.json()["id"] != first["id"]


def test_a_hole_is_found(client: TestClient, ctx: Any) -> None:
    buyer = make_org(ctx, "buyer")
    part = upload(client, buyer, stl_plate_with_hole(60, 40, 8, 6.6)).json()
    holes = part["features"]["holes"]
    assert len(holes) == 1 and holes[0]["diameter_mm"] == pytest.approx(6.6, abs=0.1)
    assert holes[0]["through"] is True


def test_units_override_scales_the_part(client: TestClient, ctx: Any) -> None:
    buyer = make_org(ctx, "buyer")
    data = stl_box(2, 1.5, 0.5)  # inches
    part = upload(client, buyer, data, units="inch").json()
    assert sorted(part["features"]["bbox_mm"]) == pytest.approx([12.7, 38.1, 50.8], abs=0.01)
    assert part["units"] == "inch"
    # Without units the size reads as inches: refused, naming the units to pass.
    r = upload(client, buyer, data)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "suspect_units" and "units=inch" in body["message"]
    assert body["detail"]["measured_mm"] == pytest.approx(2.0)
    assert body["detail"]["suggested_units"] == "inch"
    assert body["detail"]["as_suggested_mm"] == pytest.approx(50.8)
    # Confirmed as mm, the same bytes are another analysis (and another part).
    assert upload(client, buyer, data, units="mm").json()["id"] != part["id"]


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.stl", b"", 422, None),
        ("junk.stl", b"this is not a mesh, just some words\n" * 20, 422, None),
        ("truncated.stl", stl_box()[:300], 422, None),
        ("drawing.docx", b"PK\x03\x04 word document", 415, "unsupported_format"),
        ("noext", stl_box(), 415, "unsupported_format"),
        ("fake.step", b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\n", 422, None),
    ],
)
def test_bad_uploads_get_a_typed_4xx(
    client: TestClient, ctx: Any, name: str, data: bytes, status: int, code: str | None
) -> None:
    buyer = make_org(ctx, "buyer")
    r = upload(client, buyer, data, name=name)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "detail"} and body["message"]
    if code:
        assert body["error"] == code
    assert client.get("/v1/parts", headers=buyer.headers).json()["items"] == []


def test_invalid_units_are_refused(client: TestClient, ctx: Any) -> None:
    buyer = make_org(ctx, "buyer")
    r = upload(client, buyer, stl_box(), units="furlong")
    assert r.status_code == 422 and r.json()["error"] == "invalid_units"


def test_malformed_multipart_is_refused(client: TestClient, ctx: Any) -> None:
    buyer = make_org(ctx, "buyer")
    r = client.post("/v1/parts", data={"units": "mm"}, headers=buyer.headers)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = client.post(
        "/v1/parts",
        content=b"--x\r\nbroken",
        headers={**buyer.headers, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= r.status_code < 500
    assert set(r.json()) == {"error", "message", "detail"}


def test_list_paginates_and_refuses_foreign_cursors(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    ids = [upload(client, shop, stl_box(20 + i, 20, 5)).json()["id"] for i in range(3)]
    p1 = client.get("/v1/parts?limit=2", headers=shop.headers).json()
    p2 = client.get(f"/v1/parts?limit=2&cursor={p1['next_cursor']}", headers=shop.headers).json()
    assert [p["id"] for p in p1["items"] + p2["items"]] == ids[::-1]
    assert p2["next_cursor"] is None
    r = client.get("/v1/parts?cursor=bm90LWEtY3Vyc29y", headers=shop.headers)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_missing_part_is_not_found(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    r = client.get("/v1/parts/part_00000000000000000000000000", headers=shop.headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "name,data,code",
    [
        ("bracket.stl", b"", "empty_part"),
        ("bracket.step", b"ISO-10303-21;\nHEADER;\n", None),
        ("bracket.stl", b"solid x\nfacet normal 0 0 nan\nendsolid x\n", None),
        ("bracket.exe", b"MZ\x90\x00", None),
    ],
)
def test_a_refused_upload_names_the_users_file_never_a_server_path(
    client: TestClient, ctx: Any, data_dir: Path, name: str, data: bytes, code: str | None
) -> None:
    shop = make_org(ctx, "shop")
    r = upload(client, shop, data, name=name)
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    if code is not None:
        assert body["error"] == code
    assert str(data_dir) not in r.text and "/tmp/" not in r.text, r.text
    if "path" in body["detail"]:
        assert body["detail"]["path"] == name
