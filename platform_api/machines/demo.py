"""Demo machine data: four weeks of machine events, bookings ahead, calendars, declared
materials, and decided quotes, so ``make run`` shows live capacity and reasoned matches.

Events come from ``matching.simulate_machines.simulate_machine_events`` (a machine that powers
up each working day and runs jobs at a busy share per shop), stored through the same ingest as
the API. Decided quotes: a buyer's generated parts priced by each shop's own model, won or lost and
delivered on time or late with seeded odds, recorded as the shop's outcomes, so the profiles
have win and on-time rates.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from matching.capacity import DEFAULT_TZ, WorkingCalendar
from matching.simulate_machines import simulate_machine_events
from platform_api.capacity import service as capacity_service
from platform_api.capacity.schemas import CalendarBody, CapabilitiesBody
from platform_api.context import AppContext
from platform_api.db.types import utcnow
from platform_api.machines import ingest
from platform_api.machines import repository as machines_repository
from platform_api.machines import service as machines_service
from platform_api.machines.schemas import BookingCreate
from platform_api.parts import service as parts_service
from platform_api.quotes import service as quotes_service
from platform_api.quotes.schemas import OutcomeCreate, QuoteCreate
from platform_api.security import Principal
from quote.errors import MitsumoriError

HISTORY_DAYS = 28
#: Per demo shop (in demo.SHOPS order): busy share of working time, materials it declares,
#: base lead days, working hours (start, end, workdays) and its odds of winning a quote.
PROFILES: tuple[dict[str, Any], ...] = (
    {"busy": 0.75, "materials": ["aluminium", "stainless", "steel", "titanium"], "lead": 4.0,
     "hours": (8.0, 20.0, 5), "win": 0.35},
    {"busy": 0.50, "materials": ["aluminium", "steel", "stainless", "copper_alloy"], "lead": 5.0,
     "hours": (8.0, 17.0, 5), "win": 0.30},
    {"busy": 0.60, "materials": ["copper_alloy", "stainless", "steel", "aluminium"], "lead": 5.0,
     "hours": (8.0, 17.0, 5), "win": 0.25},
    {"busy": 0.30, "materials": ["aluminium", "plastic", "steel"], "lead": 3.0,
     "hours": (9.0, 18.0, 5), "win": 0.20},
    {"busy": 0.85, "materials": ["steel", "aluminium", "stainless"], "lead": 6.0,
     "hours": (8.0, 17.0, 6), "win": 0.40},
)  # fmt: skip
QUOTES_PER_SHOP = 10


def _calendar(hours: tuple[float, float, int]) -> WorkingCalendar:
    start, end, workdays = hours
    return WorkingCalendar.standard(start=start, end=end, lunch=(12.0, 13.0), workdays=workdays)


def seed_machine_data(
    ctx: AppContext,
    *,
    shops: Sequence[str],
    buyer: str | None,
    seed: int = 0,
    now: datetime | None = None,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Calendars, materials, event histories and bookings for ``shops``; decided quotes of
    ``buyer``'s parts. Returns counts."""
    now = now or utcnow()
    zone = ZoneInfo(DEFAULT_TZ)
    rng = np.random.default_rng(seed)
    counts = {"events": 0, "bookings": 0, "quotes": 0}
    for i, shop in enumerate(shops):
        prof = PROFILES[i % len(PROFILES)]
        cal = _calendar(prof["hours"])
        with ctx.db.session() as session:
            capacity_service.set_calendar(
                session=session,
                org_id=shop,
                body=CalendarBody(shifts=[list(d) for d in cal.shifts], tz=cal.tz),
            )
            capacity_service.set_capabilities(
                session=session,
                org_id=shop,
                body=CapabilitiesBody(materials=prof["materials"], base_lead_days=prof["lead"]),
            )
            machines = machines_repository.all_of_shop(session, org_id=shop)
        first_day = (now - timedelta(days=HISTORY_DAYS)).astimezone(zone).date()
        start = datetime.combine(first_day, time(0), tzinfo=zone)
        for j, m in enumerate(machines):
            busy = float(np.clip(prof["busy"] + rng.normal(0, 0.08), 0.1, 0.95))
            events = [
                e
                for e in simulate_machine_events(
                    shop=shop,
                    machine=m.id,
                    start=start,
                    days=HISTORY_DAYS + 1,
                    utilisation=busy,
                    calendar=cal,
                    seed=seed * 1000 + i * 10 + j,
                )  # fmt: skip
                if e.timestamp <= now
            ]
            with ctx.db.session() as session:
                report = ingest.store_events(
                    session=session, machine_id=m.id, events=list(enumerate(events)), now=now
                )
            counts["events"] += report.accepted
            counts["bookings"] += _book_ahead(ctx, shop, m.id, now=now, busy=busy, rng=rng)
        echo(f"  {shop}: {len(machines)} machines with {HISTORY_DAYS} days of events, bookings")
    if buyer is not None:
        counts["quotes"] = _decided_quotes(ctx, shops=shops, buyer=buyer, seed=seed, rng=rng)
    return counts


def _book_ahead(
    ctx: AppContext, shop: str, machine_id: str, *, now: datetime, busy: float,
    rng: np.random.Generator,
) -> int:  # fmt: skip
    """Jobs booked over the next two weeks, more on busier machines."""
    n = 0
    with ctx.db.session() as session:
        for k in range(int(round(busy * 4))):
            start = (now + timedelta(days=1 + 3 * k)).replace(minute=0, second=0, microsecond=0)
            body = BookingCreate(
                start=start.astimezone(UTC),
                hours=float(rng.choice([6.0, 8.0, 12.0, 16.0])),
                job_ref=f"DEMO-{machine_id[-6:]}-{k + 1:02d}",
            )
            machines_service.create_booking(
                session=session, org_id=shop, machine_id=machine_id, body=body
            )
            n += 1
    return n


def _decided_quotes(
    ctx: AppContext, *, shops: Sequence[str], buyer: str, seed: int, rng: np.random.Generator
) -> int:
    """``QUOTES_PER_SHOP`` quotes of the buyer's parts by each shop's model, with outcomes."""
    from quote.corpus import generate_part

    buyer_p = Principal(key_id="demo", org_id=buyer, role="buyer", scopes=("read", "write"))
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, kind in enumerate(("bracket", "plate", "block")):
            path = Path(tmp) / f"{kind}.stl"
            try:
                generate_part(k, seed + 31, kind).export(path, file_type="stl")
                with ctx.db.session() as session:
                    part, _ = parts_service.ingest_path(
                        session=session, analyzer=ctx.analyzer, metrics=ctx.metrics,
                        data_dir=ctx.settings.data_dir, org_id=buyer, path=path,
                        file_name=f"{kind}.stl", units=None,
                    )  # fmt: skip
                parts.append(part.id)
            except (MitsumoriError, ValueError, KeyError):
                continue  # a generator kind this engine version lacks: fewer demo parts
    n = 0
    for i, shop in enumerate(shops):
        prof = PROFILES[i % len(PROFILES)]
        shop_p = Principal(key_id="demo", org_id=shop, role="shop", scopes=("read", "write"))
        for k in range(QUOTES_PER_SHOP if parts else 0):
            material = str(rng.choice(["A5052", "A6061", "SUS304", "S45C"]))
            try:
                with ctx.db.session() as session:
                    q = quotes_service.create(
                        session=session, models=ctx.models, metrics=ctx.metrics,
                        principal=buyer_p,
                        body=QuoteCreate(
                            part_id=parts[k % len(parts)], material=material,
                            quantity=int(rng.choice([5, 10, 20, 50])), shop=shop,
                        ),
                    )  # fmt: skip
                    won = bool(rng.random() < prof["win"])
                    outcome = OutcomeCreate(
                        status="won" if won else "lost",
                        final_unit_price=q.unit_price if won else None,
                        delivered_on_time=bool(rng.random() < 0.9) if won else None,
                    )
                    quotes_service.record_outcome(
                        session=session, principal=shop_p, quote_id=q.id, body=outcome
                    )
                n += 1
            except MitsumoriError:
                continue
    return n
