"""Capacity: spare hours on a hand-checked calendar with bookings, learned load from events,
staleness, and the calendar / capacity routes with their access rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from matching.simulate_machines import simulate_machine_events
from platform_api.capacity import service
from platform_api.machines import ingest
from tests.platform_api.factories import Org, make_org

TOKYO = ZoneInfo("Asia/Tokyo")
WEEK = [[[8, 12], [13, 17]]] * 5 + [[], []]  # 8 h a day, Monday to Friday
MILL = {
    "name": "VF-2",
    "machine_type": "3-axis",
    "axes": 3,
    "envelope_mm": {"x": 762, "y": 406, "z": 508},
    "hourly_rate_jpy": 6000,
}
LATHE = {**MILL, "name": "QT-200", "machine_type": "lathe", "axes": 2}
MONDAY_7AM = datetime(2025, 3, 3, 7, 0, tzinfo=TOKYO)


def machine(client: TestClient, shop: Org, body: dict[str, Any]) -> str:
    return str(client.post("/v1/machines", json=body, headers=shop.headers).json()["id"])


def test_spare_hours_on_a_hand_checked_calendar(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    r = client.put(
        f"/v1/shops/{shop.id}/calendar",
        json={"shifts": WEEK, "holidays": ["2025-03-07"], "tz": "Asia/Tokyo"},
        headers=shop.headers,
    )
    assert r.status_code == 200 and r.json()["hours_per_week"] == 40 and not r.json()["default"]
    mill, lathe = machine(client, shop, MILL), machine(client, shop, LATHE)
    bookings = [
        # 12 h from Monday 08:00: all of Monday, Tuesday 8-12
        {"start": "2025-03-03T08:00:00+09:00", "hours": 12, "job_ref": "A"},
        # Wednesday 10:00-15:00: 4 working hours (10-12, 13-15), the lunch hour is not taken
        {"start": "2025-03-05T10:00:00+09:00", "end": "2025-03-05T15:00:00+09:00", "job_ref": "B"},
    ]
    for b in bookings:
        assert client.post(f"/v1/machines/{mill}/bookings", json=b, headers=shop.headers).is_success
    with ctx.db.session() as session:
        got = service.machine_capacity(
            session=session, org_id=shop.id, machine_id=mill, days=7, now=MONDAY_7AM
        )
        shop_cap = service.shop_capacity(session=session, org_id=shop.id, days=7, now=MONDAY_7AM)
    # No events: nothing is known about its load, so half of each free working hour is
    # expected busy (the 0.5 prior). Per hour: spare = working - max(booked, 0.5 * working).
    days = [(d.day, d.working_hours, d.booked_hours, d.expected_hours, d.spare_hours)
            for d in got.days]  # fmt: skip
    assert days == [
        (date(2025, 3, 3), 8.0, 8.0, 0.0, 0.0),  # Monday: fully booked
        (date(2025, 3, 4), 8.0, 4.0, 2.0, 2.0),  # Tuesday: 8-12 booked, 4 h at half
        (date(2025, 3, 5), 8.0, 4.0, 2.0, 2.0),  # Wednesday: 10-15 booked
        (date(2025, 3, 6), 8.0, 0.0, 4.0, 4.0),
        (date(2025, 3, 7), 0.0, 0.0, 0.0, 0.0),  # the holiday
        (date(2025, 3, 8), 0.0, 0.0, 0.0, 0.0),
        (date(2025, 3, 9), 0.0, 0.0, 0.0, 0.0),
    ]
    assert got.spare_hours_total == 8.0 and got.trust == 0.0 and got.stale
    assert got.utilisation_by_hour_of_week == [0.5] * 168
    by_class = {c.machine_class: c for c in shop_cap.by_class}
    assert by_class["3-axis"].spare_hours == [0.0, 2.0, 2.0, 4.0, 0.0, 0.0, 0.0]
    assert by_class["lathe"].spare_hours == [4.0, 4.0, 4.0, 4.0, 0.0, 0.0, 0.0]
    assert by_class["lathe"].spare_hours_next_7_days == 16.0
    assert [d.spare_hours for d in shop_cap.totals][:4] == [4.0, 6.0, 6.0, 8.0]
    assert {m.machine_id for m in shop_cap.machines} == {mill, lathe}


def _history(ctx: Any, shop: str, mid: str, busy: float, now: datetime, seed: int) -> int:
    events = simulate_machine_events(
        shop=shop, machine=mid, start=now - timedelta(days=21), days=21, utilisation=busy,
        seed=seed,
    )  # fmt: skip
    with ctx.db.session() as session:
        rep = ingest.store_events(
            session=session, machine_id=mid, events=list(enumerate(events)), now=now
        )
    return rep.accepted


def test_learned_load_and_staleness(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    busy, idle = machine(client, shop, MILL), machine(client, shop, {**MILL, "name": "idle"})
    assert _history(ctx, shop.id, busy, 0.9, MONDAY_7AM, seed=1) > 100
    assert _history(ctx, shop.id, idle, 0.15, MONDAY_7AM, seed=2) > 20
    with ctx.db.session() as session:
        b = service.machine_capacity(
            session=session, org_id=shop.id, machine_id=busy, days=14, now=MONDAY_7AM
        )
        i = service.machine_capacity(
            session=session, org_id=shop.id, machine_id=idle, days=14, now=MONDAY_7AM
        )
        later = MONDAY_7AM + timedelta(days=14)
        stale = service.machine_capacity(
            session=session, org_id=shop.id, machine_id=busy, days=14, now=later
        )
    # working hours of the week as hour-of-week bins (Monday 00:00 local = 0); each bin has
    # three weeks of observations, shrunk toward the 0.5 prior by 2 h of pseudo-observation
    work = [d * 24 + h for d in range(5) for h in range(8, 17)]

    def mean(c: Any) -> float:
        return sum(c.utilisation_by_hour_of_week[k] for k in work) / len(work)

    assert mean(b) > 0.65 and mean(i) < 0.4
    assert b.spare_hours_total < 0.6 * i.spare_hours_total
    # last report Friday 17:00 (switched off), asked Monday 07:00: 62 h of silence
    assert b.state == "offline" and b.staleness_hours == 62.0
    assert b.trust == pytest.approx(0.5 ** (62 / 24 / 7), abs=1e-3)
    assert b.timeline is not None and b.timeline.utilisation is not None
    assert b.timeline.utilisation > 0.75 > 0.35 > (i.timeline.utilisation or 0)  # type: ignore[union-attr]
    # two weeks without a report: trust halves every 7 days, the load drifts to the 0.5 prior
    assert stale.stale and stale.staleness_hours == 62.0 + 14 * 24
    assert stale.trust == pytest.approx(b.trust * 0.25, abs=1e-3)
    assert 0.5 < mean(stale) < mean(b)


def test_calendar_capabilities_and_access(client: TestClient, ctx: Any) -> None:
    shop, other, buyer = make_org(ctx, "shop"), make_org(ctx, "shop"), make_org(ctx, "buyer")
    default = client.get(f"/v1/shops/{shop.id}/calendar", headers=shop.headers).json()
    assert default["default"] and default["hours_per_week"] == 40 and default["tz"] == "Asia/Tokyo"
    overlap = [[[8, 12], [11, 17]]] + [[]] * 6
    r = client.put(f"/v1/shops/{shop.id}/calendar", json={"shifts": overlap},
                   headers=shop.headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["error"] == "invalid_calendar"
    r = client.put(f"/v1/shops/{shop.id}/calendar", json={"shifts": WEEK[:6]}, headers=shop.headers)
    assert r.status_code == 422
    r = client.put(f"/v1/shops/{shop.id}/calendar", json={"shifts": WEEK, "tz": "Mars/Olympus"},
                   headers=shop.headers)  # fmt: skip
    assert r.status_code == 422 and "time zone" in r.json()["message"]
    for path in ("calendar", "capacity", "capabilities"):
        assert client.get(f"/v1/shops/{shop.id}/{path}", headers=other.headers).status_code == 404
        assert client.get(f"/v1/shops/{shop.id}/{path}", headers=buyer.headers).status_code == 403
    caps = {"materials": ["A5052", "stainless"], "base_lead_days": 4}
    r = client.put(f"/v1/shops/{shop.id}/capabilities", json=caps, headers=shop.headers)
    assert r.json() == {"materials": ["A5052", "stainless"], "base_lead_days": 4.0}
    r = client.put(f"/v1/shops/{shop.id}/capabilities", json={"materials": ["unobtainium"]},
                   headers=shop.headers)  # fmt: skip
    assert r.status_code == 422 and "unobtainium" in r.json()["message"]
    mid = machine(client, shop, MILL)
    cap = client.get(f"/v1/shops/{shop.id}/capacity?days=30", headers=shop.headers).json()
    assert len(cap["totals"]) == 30 and cap["by_class"][0]["machine_class"] == "3-axis"
    today = datetime.now(UTC).astimezone(TOKYO).date()
    assert cap["start"] == today.isoformat()
    m = client.get(f"/v1/machines/{mid}/capacity?days=3", headers=shop.headers).json()
    assert len(m["days"]) == 3 and len(m["utilisation_by_hour_of_week"]) == 168
    assert m["last_seen"] is None and m["stale"] and m["timeline"] is None
