"""Demo data for a fresh install: shops with machines, histories and trained models, and buyers.

``mitsumori demo seed`` (run by ``make run``) creates, through the same services and jobs the
API uses: an admin, ``n_shops`` shops around Japan (each with machines, a quoting history of
generated parts priced in its own way, and a model trained on it), two buyers with a part and
quotes, and prints one API key per organisation, once.

Histories: parts from ``quote.corpus`` (real meshes), specs and process-planning prices from
``quote.corpus.physics_history``, then each shop's own pricing on top (its rate level, what it
is good at, noise), so the trained models differ from the default one and from each other.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import select

from platform_api.analyzer import Analyzer
from platform_api.context import AppContext
from platform_api.db.engine import make_engine
from platform_api.db.migrate import upgrade
from platform_api.db.models import Organization
from platform_api.db.session import Database
from platform_api.jobs.worker import JobWorker
from platform_api.machines import service as machines_service
from platform_api.machines.schemas import MachineCreate
from platform_api.metrics import Metrics
from platform_api.orgs import service as orgs_service
from platform_api.orgs.schemas import ApiKeyCreate, OrganizationCreate
from platform_api.parts import service as parts_service
from platform_api.quotes import service as quotes_service
from platform_api.quotes.schemas import QuoteCreate
from platform_api.security import Principal
from platform_api.settings import Settings
from platform_api.shops import service as shops_service
from platform_api.shops.jobs import HANDLERS
from platform_api.shops.model_store import ModelStore
from platform_api.shops.schemas import TrainRequest
from quote.errors import MitsumoriError
from quote.history import HISTORY_COLUMNS


@dataclass(frozen=True)
class DemoShop:
    """A demo shop and how it prices: ``rate`` scales the physics price; ``strong`` are the
    processes it is cheap at (x0.8), ``lead`` scales its lead times."""

    name: str
    city: str
    lat: float
    lon: float
    certifications: tuple[str, ...]
    rate: float
    strong: tuple[str, ...]
    lead: float
    machines: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _machine(name: str, kind: str, axes: int, xyz: tuple[float, float, float], rate: float,
             controller: str) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "machine_type": kind,
        "axes": axes,
        "envelope_mm": {"x": xyz[0], "y": xyz[1], "z": xyz[2]},
        "controller": controller,
        "hourly_rate_jpy": rate,
    }


SHOPS = (
    DemoShop("Kawasaki Precision Works", "Kawasaki", 35.5308, 139.7029, ("ISO 9001", "AS9100"),
             1.10, ("mill",), 1.0,
             (_machine("DMU 50", "5-axis", 5, (650, 520, 475), 11000, "Siemens 840D sl"),
              _machine("Brother S700X1", "3-axis", 3, (700, 400, 300), 6000, "CNC-D00"))),
    DemoShop("Higashi-Osaka Seimitsu", "Higashiosaka", 34.6794, 135.6008,
             ("ISO 9001", "IATF 16949"), 0.85, ("mill", "lathe"), 1.2,
             (_machine("Okuma MB-46VAE", "3-axis", 3, (762, 460, 460), 5000, "OSP-P300MA"),
              _machine("Mazak QT-200", "lathe", 2, (300, 300, 530), 4500, "Mazatrol"))),
    DemoShop("Suwa Micro Turning", "Suwa", 36.0391, 138.1140, ("ISO 9001", "ISO 13485"),
             1.25, ("lathe", "mill-turn"), 0.9,
             (_machine("Citizen L20", "swiss-lathe", 5, (20, 20, 200), 9000, "Cincom"),
              _machine("Nakamura WT-150", "mill-turn", 9, (200, 200, 500), 10000, "Fanuc 31i"))),
    DemoShop("Ota Prototype Lab", "Tokyo", 35.5613, 139.7160, ("ISO 9001",), 1.35, ("mill",),
             0.7,
             (_machine("Haas VF-2", "3-axis", 3, (762, 406, 508), 6500, "Haas NGC"),
              _machine("Haas UMC-500", "5-axis", 5, (610, 406, 394), 9500, "Haas NGC"))),
    DemoShop("Hamamatsu Heavy Machining", "Hamamatsu", 34.7108, 137.7261,
             ("ISO 9001", "ISO 14001"), 0.95, ("mill",), 1.4,
             (_machine("OKK HM1000S", "4-axis", 4, (1500, 1000, 1000), 12000, "Fanuc 31i"),
              _machine("Mori NLX 4000", "lathe", 2, (500, 500, 1500), 7000, "MAPPS"))),
)  # fmt: skip
BUYERS = (
    ("Nagoya Robotics", "Nagoya", 35.1815, 136.9066),
    ("Sendai Medical Devices", "Sendai", 38.2682, 140.8694),
)


def shop_history(
    shop: DemoShop, n_rows: int, seed: int
) -> tuple[list[list[str]], dict[str, bytes]]:
    """A shop's past quotes: CSV rows (header first) and the part files they name (STL bytes)."""
    from quote.catalogs import load_catalog
    from quote.corpus import corpus_features, generate_corpus, physics_history

    catalog = load_catalog()
    specs_per_part = 4
    meshes = generate_corpus(math.ceil(n_rows / specs_per_part), random_state=seed)
    features = corpus_features(meshes, catalog)
    files = {}
    for name, mesh in meshes:
        data = mesh.export(file_type="stl")
        assert not isinstance(data, dict)  # export() returns a dict only for multi-file formats
        files[f"parts/{name}.stl"] = data if isinstance(data, bytes) else data.encode()
    rng = np.random.default_rng(seed)
    rows = [list(HISTORY_COLUMNS)]
    for r in physics_history(features, specs_per_part, seed, catalog)[:n_rows]:
        factor = shop.rate * (0.8 if r.physics.process in shop.strong else 1.0)
        price = r.physics.unit_price * factor * math.exp(rng.normal(0.0, 0.08))
        lead = max(1.0, round(r.physics.lead_time_days * shop.lead + rng.normal(0.0, 0.7)))
        label = r.spec.tolerance_label
        tolerance = label if label.upper().startswith("ISO") else f"{r.spec.tolerance_mm:g}"
        rows.append([f"parts/{r.part}.stl", r.spec.material, str(r.spec.quantity), tolerance,
                     r.spec.finish, f"{round(price, -1):.0f}", f"{lead:.0f}"])  # fmt: skip
    return rows, files


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _org_with_key(ctx: AppContext, body: OrganizationCreate) -> tuple[str, str]:
    with ctx.db.session() as session:
        org = orgs_service.create_org(session=session, body=body)
        _, key = orgs_service.create_key(
            session=session, org_id=org.id, body=ApiKeyCreate(name="demo")
        )
        return org.id, key


def seed_demo(
    *,
    n_shops: int = 5,
    rows_per_shop: int = 80,
    seed: int = 0,
    if_empty: bool = False,
    settings: Settings | None = None,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Seed the database of ``settings`` (environment by default); returns ids and keys.

    With ``if_empty``, does nothing when any organisation exists (``make run`` twice).
    """
    settings = settings or Settings()
    engine = make_engine(settings.effective_database_url)
    analyzer = Analyzer.from_settings(settings)
    try:
        upgrade(engine)
        ctx = AppContext(
            settings=settings,
            db=Database(engine),
            analyzer=analyzer,
            models=ModelStore(),
            metrics=Metrics(),
        )
        with ctx.db.session() as session:
            if if_empty and session.exec(select(Organization.id).limit(1)).first():
                echo("demo data: the database already has organisations; nothing seeded")
                return {}
        return _seed(ctx, n_shops=n_shops, rows_per_shop=rows_per_shop, seed=seed, echo=echo)
    finally:
        analyzer.close()
        engine.dispose()


def _seed(
    ctx: AppContext, *, n_shops: int, rows_per_shop: int, seed: int, echo: Callable[[str], Any]
) -> dict[str, Any]:
    keys: list[tuple[str, str, str, str]] = []
    admin_id, admin_key = _org_with_key(
        ctx, OrganizationCreate(name="Platform admin", kind="admin")
    )
    keys.append(("admin", "Platform admin", admin_id, admin_key))
    worker = JobWorker(ctx, HANDLERS, name="demo")
    shops = []
    for i in range(n_shops):
        spec = SHOPS[i % len(SHOPS)]
        name = spec.name if i < len(SHOPS) else f"{spec.name} {i // len(SHOPS) + 1}"
        org_id, key = _org_with_key(
            ctx,
            OrganizationCreate(
                name=name,
                kind="shop",
                city=spec.city,
                country="JP",
                latitude=spec.lat,
                longitude=spec.lon,
                certifications=list(spec.certifications),
            ),  # fmt: skip
        )
        keys.append(("shop", name, org_id, key))
        shops.append(org_id)
        principal = Principal(key_id="demo", org_id=org_id, role="shop", scopes=("read", "write"))
        with ctx.db.session() as session:
            for m in spec.machines:
                machines_service.create(
                    session=session, org_id=org_id, body=MachineCreate.model_validate(m)
                )
        echo(f"{name}: importing {rows_per_shop} past quotes and training its model ...")
        rows, files = shop_history(spec, rows_per_shop, seed=seed * 100 + i)
        with ctx.db.session() as session:
            shops_service.start_history_import(
                session=session,
                data_dir=ctx.settings.data_dir,
                max_bytes=ctx.settings.max_upload_bytes,
                max_attempts=1,
                principal=principal,
                shop_id=org_id,
                history=io.BytesIO(_csv(rows)),
                parts=io.BytesIO(_zip(files)),
            )
        worker.run_until_empty()
        with ctx.db.session() as session:
            shops_service.start_training(
                session=session,
                max_attempts=1,
                principal=principal,
                shop_id=org_id,
                body=TrainRequest(random_state=seed),
            )
        worker.run_until_empty()
    for name, city, lat, lon in BUYERS:
        org_id, key = _org_with_key(
            ctx,
            OrganizationCreate(
                name=name, kind="buyer", city=city, country="JP", latitude=lat, longitude=lon
            ),
        )
        keys.append(("buyer", name, org_id, key))
    _sample_quotes(ctx, buyer_id=keys[-2][2], shops=shops[:2], seed=seed)
    from platform_api.machines.demo import seed_machine_data

    echo("Machine histories, bookings and decided quotes for the matching demo ...")
    seed_machine_data(ctx, shops=shops, buyer=keys[-1][2], seed=seed, echo=echo)
    echo("")
    echo("API keys (shown only this once; the database keeps only their hashes):")
    for kind, name, org_id, key in keys:
        echo(f"  {kind:<6} {name:<28} {org_id}  {key}")
    echo("")
    echo(f"Try it: export MITSUMORI_KEY={keys[-2][3]}   # {keys[-2][1]} (a buyer)")
    return {"keys": keys, "shops": shops}


def _sample_quotes(ctx: AppContext, *, buyer_id: str, shops: list[str], seed: int) -> None:
    """One generated part of the first buyer, quoted by the default model and two shops."""
    import tempfile
    from pathlib import Path

    from quote.corpus import generate_part

    principal = Principal(key_id="demo", org_id=buyer_id, role="buyer", scopes=("read", "write"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bracket.stl"
        generate_part(0, seed + 17, "bracket").export(path, file_type="stl")
        try:
            with ctx.db.session() as session:
                part, _ = parts_service.ingest_path(
                    session=session,
                    analyzer=ctx.analyzer,
                    metrics=ctx.metrics,
                    data_dir=ctx.settings.data_dir,
                    org_id=buyer_id,
                    path=path,
                    file_name="bracket.stl",
                    units=None,
                )
                for shop in [None, *shops]:
                    quotes_service.create(
                        session=session,
                        models=ctx.models,
                        metrics=ctx.metrics,
                        principal=principal,
                        body=QuoteCreate(part_id=part.id, material="A5052", quantity=20, shop=shop),
                    )
        except MitsumoriError:  # a demo nicety, never a reason to fail seeding
            return
