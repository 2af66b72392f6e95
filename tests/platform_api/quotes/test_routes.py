"""Quotes over HTTP: the engine's JSON, stored; filters, pagination and outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_api.quotes.schemas import QuotePublic
from tests.platform_api.factories import Org, make_org, stl_box, upload


def _quote(client: TestClient, org: Org, part_id: str, **spec: Any) -> Any:
    body = {"part_id": part_id, "material": "A5052", "quantity": 10, **spec}
    return client.post("/v1/quotes", json=body, headers=org.headers)


@pytest.fixture
def shop_part(client: TestClient, ctx: Any) -> tuple[Org, str]:
    shop = make_org(ctx, "shop")
    return shop, upload(client, shop, stl_box(60, 40, 15)).json()["id"]


def test_quote_is_the_engines_contract_and_is_stored(
    client: TestClient, shop_part: tuple[Org, str]
) -> None:
    shop, part_id = shop_part
    r = _quote(client, shop, part_id, finish="anodize", tolerance="ISO2768-m")
    assert r.status_code == 201, r.text
    q = r.json()
    assert set(q) == set(QuotePublic.model_fields)  # the engine's contract and ours
    assert q["part_id"] == part_id and q["status"] == "quoted" and q["shop_id"] == shop.id
    assert q["currency"] == "JPY" and q["quantity"] == 10
    assert q["total_price"] == pytest.approx(q["unit_price"] * 10)
    assert sum(q["breakdown"].values()) == pytest.approx(q["unit_price"], abs=1)
    lo, hi = q["unit_price_interval"]
    assert lo <= q["unit_price"] <= hi
    assert q["model"]["name"] == "default"  # this shop has trained nothing yet
    assert q["inputs"] == {
        "part_id": part_id,
        "material": "A5052",
        "quantity": 10,
        "finish": "anodize",
        "tolerance": "ISO2768-m",
    }
    assert client.get(f"/v1/quotes/{q['id']}", headers=shop.headers).json() == q


def test_quote_never_reparses_the_file(
    client: TestClient, shop_part: tuple[Org, str], data_dir: Path
) -> None:
    shop, part_id = shop_part
    first = _quote(client, shop, part_id).json()
    stored = data_dir / "parts" / first["file"]["sha256"][:2]
    for f in stored.glob(f"{first['file']['sha256'][2:]}*"):
        f.rename(f.with_suffix(".moved"))  # the file is gone: features come from the database
    try:
        again = _quote(client, shop, part_id)
        assert again.status_code == 201
        assert again.json()["unit_price"] == first["unit_price"]
    finally:
        for f in stored.glob("*.moved"):
            f.rename(f.with_suffix(".stl"))


def test_quantities_give_price_breaks(client: TestClient, shop_part: tuple[Org, str]) -> None:
    shop, part_id = shop_part
    q = client.post(
        "/v1/quotes",
        json={"part_id": part_id, "material": "SUS304", "quantities": [1, 10, 100]},
        headers=shop.headers,
    ).json()
    assert q["quantity"] == 1
    breaks = {b["quantity"]: b["unit_price"] for b in q["price_breaks"]}
    assert set(breaks) == {1, 10, 100}
    assert breaks[1] > breaks[10] > breaks[100]  # setup spread over the batch


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ({"material": "unobtainium"}, "unknown_material"),
        ({"finish": "gold plating"}, "unknown_finish"),
        ({"tolerance": "ISO2768-z"}, "invalid_tolerance"),
        ({"tolerance": -0.1}, "invalid_tolerance"),
        ({"quantity": 0}, "invalid_request"),
        ({"quantity": 10**9}, "invalid_request"),
        ({"quantity": None}, "invalid_request"),
        ({"quantities": [5, 0]}, "invalid_request"),
        ({"roughness_ra_um": -1}, "invalid_request"),
        ({"due_date": "tomorrow"}, "invalid_request"),
        ({"colour": "red"}, "invalid_request"),
    ],
)
def test_bad_specs_get_a_typed_422(
    client: TestClient, shop_part: tuple[Org, str], spec: dict[str, Any], code: str
) -> None:
    shop, part_id = shop_part
    r = _quote(client, shop, part_id, **spec)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == code and r.json()["message"]


def test_malformed_json_is_refused(client: TestClient, shop_part: tuple[Org, str]) -> None:
    shop, _ = shop_part
    r = client.post(
        "/v1/quotes",
        content=b'{"part_id": ',
        headers={**shop.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_unknown_part_and_unknown_shop(client: TestClient, ctx: Any) -> None:
    buyer = make_org(ctx, "buyer")
    r = _quote(client, buyer, "part_00000000000000000000000000")
    assert r.status_code == 404
    part_id = upload(client, buyer, stl_box(30, 30, 30)).json()["id"]
    r = _quote(client, buyer, part_id, shop="org_00000000000000000000000000")
    assert r.status_code == 404 and "shop" in r.json()["message"]
    other_buyer = make_org(ctx, "buyer")
    r = _quote(client, buyer, part_id, shop=other_buyer.id)  # a buyer is not a shop
    assert r.status_code == 404


def test_buyer_quote_priced_by_a_shop(client: TestClient, ctx: Any) -> None:
    shop, buyer = make_org(ctx, "shop"), make_org(ctx, "buyer")
    part_id = upload(client, buyer, stl_box(25, 25, 60)).json()["id"]
    q = _quote(client, buyer, part_id, shop=shop.id).json()
    assert q["shop_id"] == shop.id and q["requester_id"] == buyer.id
    listed = client.get(f"/v1/quotes?shop={shop.id}", headers=shop.headers).json()["items"]
    assert [x["id"] for x in listed] == [q["id"]]
    no_shop = _quote(client, buyer, part_id).json()
    assert no_shop["shop_id"] is None


def test_filters_and_pagination(client: TestClient, shop_part: tuple[Org, str]) -> None:
    shop, part_id = shop_part
    made = [
        _quote(client, shop, part_id, material=m, quantity=q).json()
        for m, q in (("A5052", 1), ("6061-T6", 5), ("SUS304", 10), ("A6061", 20))
    ]
    h = shop.headers

    def ids(query: str) -> list[str]:
        r = client.get(f"/v1/quotes?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids("") == [m["id"] for m in made[::-1]]
    # An alias filters by the catalog name the engine resolved.
    assert ids("material=6061") == [made[3]["id"], made[1]["id"]]
    assert ids(f"part_id={part_id}&status=quoted&limit=200") == [m["id"] for m in made[::-1]]
    today = datetime.now(UTC).date()
    assert len(ids(f"created_from={today.isoformat()}&created_to={today.isoformat()}")) == 4
    assert ids(f"created_to={(today - timedelta(days=1)).isoformat()}") == []
    page = client.get("/v1/quotes?limit=3", headers=h).json()
    rest = client.get(f"/v1/quotes?limit=3&cursor={page['next_cursor']}", headers=h).json()
    assert [x["id"] for x in page["items"] + rest["items"]] == [m["id"] for m in made[::-1]]
    r = client.get("/v1/quotes?material=adamantium", headers=h)
    assert r.status_code == 422 and r.json()["error"] == "unknown_material"
    r = client.get("/v1/quotes?created_from=2025-02-01&created_to=2025-01-01", headers=h)
    assert r.status_code == 422
    assert client.get("/v1/quotes?status=bought", headers=h).status_code == 422


def test_outcomes(client: TestClient, shop_part: tuple[Org, str]) -> None:
    shop, part_id = shop_part
    q = _quote(client, shop, part_id).json()
    url = f"/v1/quotes/{q['id']}/outcome"
    assert client.post(url, json={"status": "sent"}, headers=shop.headers).status_code == 201
    won = {"status": "won", "final_unit_price": 11800, "actual_hours": 6.5}
    r = client.post(url, json={**won, "delivered_on_time": True}, headers=shop.headers)
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "won" and body["outcome"]["final_unit_price"] == 11800
    got = client.get(f"/v1/quotes/{q['id']}", headers=shop.headers).json()
    assert got["outcome"]["status"] == "won" and got["outcome"]["delivered_on_time"] is True
    assert [x["id"] for x in client.get("/v1/quotes?status=won", headers=shop.headers).json()[
        "items"
    ]] == [q["id"]]  # fmt: skip
    for bad in ({"status": "maybe"}, {"status": "won", "final_unit_price": -1}, {}):
        r = client.post(url, json=bad, headers=shop.headers)
        assert r.status_code == 422, bad


def test_due_date_that_cannot_be_met_is_a_warning(
    client: TestClient, shop_part: tuple[Org, str]
) -> None:
    shop, part_id = shop_part
    q = _quote(client, shop, part_id, due_date=date.today().isoformat()).json()
    assert any(w["code"] == "due_date_not_met" for w in q["warnings"])


def test_metrics_count_quotes(client: TestClient, shop_part: tuple[Org, str]) -> None:
    shop, part_id = shop_part
    _quote(client, shop, part_id)
    assert 'mitsumori_quotes_total{model="default"}' in client.get("/metrics").text
