"""The API's quote schema is the engine's dataclasses; stored quotes of the old code still read."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import date
from pathlib import Path
from typing import Any, Union

from fastapi.testclient import TestClient

from platform_api.db.models import Quote as QuoteRow
from platform_api.ids import new_id
from quote import contract
from quote.types import json_layout
from tests.platform_api.factories import make_org, stl_box, upload

STORED = Path(__file__).parent / "data" / "stored_quote_main_e142360.json"  # POST body on main


def _expect(tp: Any, prop: dict[str, Any], schemas: dict[str, Any], where: str) -> None:
    """``prop`` (OpenAPI) describes the JSON ``as_jsonable`` writes for the type hint ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (Union, typing.get_origin(int | None)):
        options = [a for a in typing.get_args(tp)]
        got = prop["anyOf"]
        assert len(got) == len(options), where
        for a, p in zip(options, got, strict=True):
            _expect(a, p, schemas, where)
    elif origin is tuple:
        args = typing.get_args(tp)
        assert prop["type"] == "array", where
        if len(args) == 2 and args[1] is Ellipsis:
            _expect(args[0], prop["items"], schemas, f"{where}[]")
        else:
            assert len(prop["prefixItems"]) == len(args), where
            for i, (a, p) in enumerate(zip(args, prop["prefixItems"], strict=True)):
                _expect(a, p, schemas, f"{where}[{i}]")
    elif origin is dict:
        assert prop["type"] == "object", where
        _expect(typing.get_args(tp)[1], prop["additionalProperties"], schemas, f"{where}{{}}")
    elif dataclasses.is_dataclass(tp):
        layout = json_layout(tp)
        assert layout is not None
        if layout.inline is not None:
            _expect(typing.get_type_hints(tp)[layout.inline], prop, schemas, where)
        else:
            assert prop == {"$ref": f"#/components/schemas/{tp.__name__}"}, (where, prop)
            _check_dataclass(tp, schemas)
    else:
        expected = {int: "integer", float: "number", str: "string", bool: "boolean",
                    date: "string", type(None): "null"}[tp]  # fmt: skip
        assert prop["type"] == expected, (where, prop)
        if tp is date:
            assert prop["format"] == "date", where


def _check_dataclass(
    kind: type, schemas: dict[str, Any], name: str | None = None, extra: tuple[str, ...] = ()
) -> None:
    """Schema ``name`` (default: the class's) has the dataclass's fields, then ``extra``."""
    schema = schemas[name or kind.__name__]
    layout = json_layout(kind)
    assert layout is not None
    hints = typing.get_type_hints(kind)
    names = [*layout.names, *layout.properties]
    assert list(schema["properties"]) == [*names, *extra], kind
    required = set(schema.get("required", [])) - set(extra)
    assert required == set(names) - layout.omit_if_none, kind
    for name in layout.names:
        prop = dict(schema["properties"][name])
        prop.pop("title", None)
        prop.pop("default", None)
        _expect(hints[name], prop, schemas, f"{kind.__name__}.{name}")


def test_openapi_quote_schema_is_the_dataclasses(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    platform = ("id", "part_id", "status", "requester_id", "shop_id", "created_at", "inputs",
                "outcome")  # fmt: skip
    _check_dataclass(contract.Quote, schemas, "QuotePublic", platform)
    for kind in (contract.LineItem, contract.LeadTimeTier, contract.PriceBreak,
                 contract.CostBreakdown, contract.DfmFinding, contract.Notice):  # fmt: skip
        assert kind.__name__ in schemas  # reached from Quote


def _store(client: TestClient, ctx: Any, result: dict[str, Any]) -> tuple[Any, str]:
    """A quote row holding ``result`` as its JSON, as if an older version had written it."""
    shop = make_org(ctx, "shop")
    part_id = upload(client, shop, stl_box(60, 40, 15)).json()["id"]
    quote_id = new_id("quo")
    with ctx.db.session() as session:
        session.add(
            QuoteRow(
                id=quote_id,
                part_id=part_id,
                requester_org_id=shop.id,
                shop_org_id=shop.id,
                material="S45C",
                quantity=5,
                inputs={},
                result=result,
                model_name="default",
                model_version="v",
                unit_price=1.0,
                total_price=5.0,
                currency="JPY",
            )  # fmt: skip
        )
    return shop, quote_id


def test_a_quote_stored_by_the_old_code_reads_unchanged(client: TestClient, ctx: Any) -> None:
    stored = json.loads(STORED.read_text())
    shop, quote_id = _store(client, ctx, stored)
    r = client.get(f"/v1/quotes/{quote_id}", headers=shop.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    platform = {"id", "part_id", "status", "requester_id", "shop_id", "created_at", "inputs"}
    assert {k: v for k, v in body.items() if k not in platform | {"outcome"}} == stored
    assert contract.quote_from_json(stored).items[1].physics.process == "mill"


def test_a_stored_quote_missing_a_field_is_a_typed_error(client: TestClient, ctx: Any) -> None:
    stored = json.loads(STORED.read_text())
    del stored["items"][0]["physics"]
    shop, quote_id = _store(client, ctx, stored)
    r = client.get(f"/v1/quotes/{quote_id}", headers=shop.headers)
    assert r.status_code == 500
    assert r.json()["error"] == "quote_contract_error"
    assert r.json()["detail"]["field"] == "items.0.physics"
