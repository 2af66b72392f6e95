"""The demo's machine data: histories, bookings, calendars and decided quotes, so a fresh
``make run`` shows capacity and reasoned matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from platform_api.machines.demo import HISTORY_DAYS, seed_machine_data
from tests.platform_api.factories import make_org
from tests.platform_api.market import machine_body, make_shop


def test_seeded_shops_have_histories_bookings_and_outcomes(client: TestClient, ctx: Any) -> None:
    busy, _ = make_shop(ctx, client, "Busy", machines=(machine_body("3-axis"),))
    quiet, _ = make_shop(ctx, client, "Quiet", machines=(machine_body("5-axis", (650, 650, 500)),))
    buyer = make_org(ctx, "buyer")
    # the first demo profile is busy (75 %), the fourth quiet (30 %): seed them in that order
    order = [busy.id, make_org(ctx, "shop").id, make_org(ctx, "shop").id, quiet.id]
    now = datetime(2025, 3, 5, 3, 0, tzinfo=UTC)  # a Wednesday, noon in Tokyo
    counts = seed_machine_data(ctx, shops=order, buyer=buyer.id, now=now, echo=lambda _: None)
    assert counts["events"] > 2 * 10 * (HISTORY_DAYS * 5 // 7)  # over ten reports a working day
    assert counts["bookings"] >= 3 and counts["quotes"] == 4 * 10
    for shop in (busy, quiet):
        (m,) = client.get("/v1/machines", headers=shop.headers).json()["items"]
        last = datetime.fromisoformat(m["last_seen"].replace("Z", "+00:00"))
        assert now - timedelta(days=1) < last <= now  # the history runs up to now
        events = client.get(f"/v1/machines/{m['id']}/events?limit=1000", headers=shop.headers)
        assert len(events.json()) > 100
        assert (
            client.get(f"/v1/shops/{shop.id}/calendar", headers=shop.headers).json()["default"]
            is False
        )
    from platform_api.capacity import service

    with ctx.db.session() as session:
        b = service.shop_capacity(session=session, org_id=busy.id, days=14, now=now)
        q = service.shop_capacity(session=session, org_id=quiet.id, days=14, now=now)
    assert b.machines[0].trust > 0.9 and not b.machines[0].stale
    # per working hour the quiet shop has more spare time than the busy one
    b_share = sum(d.spare_hours for d in b.totals) / sum(d.working_hours for d in b.totals)
    q_share = sum(d.spare_hours for d in q.totals) / sum(d.working_hours for d in q.totals)
    assert q_share > b_share + 0.2
    profile = client.get(f"/v1/shops/{busy.id}/profile", headers=buyer.headers).json()
    assert profile["n_won"] + profile["n_lost"] == 10 and profile["on_time_rate"] is not None
