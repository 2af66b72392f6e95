"""Plain functions that build a small market for the matching tests: shops with locations,
certifications and machines, a buyer's part, and a shop's trained pricing model."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from platform_api.db.models import ShopModel
from platform_api.ids import new_id
from platform_api.orgs import service as orgs_service
from platform_api.orgs.schemas import ApiKeyCreate, OrganizationCreate
from tests.platform_api.factories import Org, history_dataset, stl_box, upload

TOKYO = (35.68, 139.76)
NAGOYA = (35.18, 136.91)
FUKUOKA = (33.59, 130.40)
SAPPORO = (43.06, 141.35)


def machine_body(kind: str = "3-axis", xyz: tuple[float, float, float] = (762, 406, 508),
                 **extra: Any) -> dict[str, Any]:  # fmt: skip
    axes = {"3-axis": 3, "4-axis": 4, "5-axis": 5, "lathe": 2, "mill-turn": 9}[kind]
    return {
        "name": f"{kind} machine",
        "machine_type": kind,
        "axes": axes,
        "envelope_mm": {"x": xyz[0], "y": xyz[1], "z": xyz[2]},
        "hourly_rate_jpy": 6000,
        **extra,
    }


def make_shop(
    ctx: Any,
    client: Any,
    name: str,
    *,
    location: tuple[float, float] | None = TOKYO,
    certifications: tuple[str, ...] = (),
    machines: tuple[dict[str, Any], ...] = (),
) -> tuple[Org, list[str]]:
    """A shop organisation with a key and its machines; (org, machine ids)."""
    with ctx.db.session() as session:
        org = orgs_service.create_org(
            session=session,
            body=OrganizationCreate(
                name=name,
                kind="shop",
                latitude=location[0] if location else None,
                longitude=location[1] if location else None,
                certifications=list(certifications),
            ),
        )
        row, key = orgs_service.create_key(
            session=session, org_id=org.id, body=ApiKeyCreate(name="test")
        )
    shop = Org(id=org.id, kind="shop", key=key, key_id=row.id)
    ids = []
    for m in machines:
        r = client.post("/v1/machines", json=m, headers=shop.headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return shop, ids


def buyer_part(client: Any, buyer: Org, xyz: tuple[float, float, float] = (120, 80, 30)) -> str:
    r = upload(client, buyer, stl_box(*xyz), name="plate.stl")
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


@functools.cache
def shop_model_bytes() -> bytes:
    """A shop model trained on a made-up shop's 56-row history (its own prices), once."""
    from quote.history import HistoryRow
    from quote.persistence import load_default_model, model_to_bytes
    from quote.training import train_shop_model

    rows, files = history_dataset(7, 8, seed=4)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, data in files.items():
            (d / name).parent.mkdir(parents=True, exist_ok=True)
            (d / name).write_bytes(data)
        history = [
            HistoryRow(line=i + 2, part_file=d / r[0], material=r[1], quantity=int(r[2]),
                       tolerance=r[3], finish=r[4], unit_price=float(r[5]),
                       lead_time_days=float(r[6]))
            for i, r in enumerate(rows[1:])
        ]  # fmt: skip
        model = train_shop_model(history, shop="test-shop", base=load_default_model())
    return model_to_bytes(model)


def install_shop_model(ctx: Any, shop: Org) -> str:
    """Make the trained model the shop's active one; its version."""
    from quote.persistence import model_from_bytes

    artifact = shop_model_bytes()
    version = str(model_from_bytes(artifact).version)
    with ctx.db.session() as session:
        session.add(
            ShopModel(
                id=new_id("mdl"), org_id=shop.id, name=shop.id, version=version,
                artifact=artifact, metrics={}, training_rows=56, active=True,
            )
        )  # fmt: skip
    return version
