"""REST ingest of machine events and bookings: idempotent, order-independent, bad events
rejected one by one and counted; a shop reaches only its own machines."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from matching.capacity import state_timeline
from matching.events import Snapshot, parse_event_json
from matching.simulate_machines import simulate_machine_events
from tests.platform_api.factories import Org, make_org

VF2 = {
    "name": "Haas VF-2",
    "machine_type": "3-axis",
    "axes": 3,
    "envelope_mm": {"x": 762, "y": 406, "z": 508},
    "hourly_rate_jpy": 6000,
}


def new_machine(client: TestClient, shop: Org, **change: Any) -> str:
    r = client.post("/v1/machines", json={**VF2, **change}, headers=shop.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def day_of_events(machine: str = "m", seed: int = 3) -> list[dict[str, Any]]:
    """A simulated working day of a machine as REST payloads (ids unique per machine)."""
    events = simulate_machine_events(
        shop="s",
        machine=machine,
        start=datetime(2025, 3, 3, tzinfo=UTC),
        days=1,
        utilisation=0.7,
        seed=seed,
    )
    out = []
    for e in events:
        d = {k: v for k, v in e.to_dict().items() if v is not None}
        for k in ("shop", "machine", "source"):
            d.pop(k)
        out.append(d)
    return out


def post(client: TestClient, shop: Org, machine: str, events: list[Any]) -> Any:
    return client.post(
        f"/v1/machines/{machine}/events", json={"events": events}, headers=shop.headers
    )


def counter(client: TestClient, source: str, outcome: str) -> float:
    text = client.get("/metrics").text
    m = re.search(
        rf'mitsumori_machine_events_total{{outcome="{outcome}",source="{source}"}} ([0-9.e+]+)',
        text,
    )
    return float(m.group(1)) if m else 0.0


def test_a_batch_is_checked_event_by_event(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    mid = new_machine(client, shop)
    good = day_of_events()[:6]
    bad = [
        {"event_id": "b1", "timestamp": "2025-03-03T01:00:00Z", "execution": "RUNNING"},
        {"event_id": "b2", "timestamp": "2025-03-03 01:00:00", "execution": "ACTIVE"},
        {"timestamp": "2025-03-03T01:00:00Z", "execution": "ACTIVE"},
        "not an object",
        {"event_id": "b5", "timestamp": "2025-03-03T01:00:00Z", "colour": "red"},
    ]
    before = counter(client, "rest", "rejected"), counter(client, "rest", "accepted")
    r = post(client, shop, mid, good[:3] + bad + good[3:])
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 6 and body["duplicates"] == 0
    got = {x["index"]: x for x in body["rejected"]}
    assert sorted(got) == [3, 4, 5, 6, 7]
    assert "not MTConnect vocabulary" in got[3]["reason"] and got[3]["event_id"] == "b1"
    assert "timezone" in got[4]["reason"]
    assert "event_id is required" in got[5]["reason"]
    assert "JSON object" in got[6]["reason"]
    assert "colour" in got[7]["reason"]
    assert all(x["code"] == "invalid_event" for x in got.values())
    stored = client.get(f"/v1/machines/{mid}/events", headers=shop.headers).json()
    assert [e["event_id"] for e in stored] == [e["event_id"] for e in good]
    assert counter(client, "rest", "rejected") - before[0] == 5
    assert counter(client, "rest", "accepted") - before[1] == 6


def test_duplicates_and_order_change_nothing(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    a, b = new_machine(client, shop, name="a"), new_machine(client, shop, name="b")
    events = day_of_events()
    assert len(events) > 20
    r = post(client, shop, a, events)
    assert r.json()["accepted"] == len(events)
    # the same events again: a re-sent batch, the same report under a new id, shuffled
    again = events[::2] + [{**events[5], "event_id": "resent-under-another-id"}]
    random.Random(1).shuffle(again)
    r = post(client, shop, a, again)
    assert r.json() | {"state": None, "last_seen": None} == {
        "accepted": 0,
        "duplicates": len(again),
        "rejected": [],
        "state": None,
        "last_seen": None,
    }
    # machine b gets the same set in reverse order, in three batches
    rev = events[::-1]
    for chunk in (rev[:7], rev[7:20], rev[20:]):
        assert post(client, shop, b, chunk).json()["rejected"] == []
    got_a = client.get(f"/v1/machines/{a}", headers=shop.headers).json()
    got_b = client.get(f"/v1/machines/{b}", headers=shop.headers).json()
    assert (got_a["state"], got_a["last_seen"]) == (got_b["state"], got_b["last_seen"])
    ev_a = client.get(f"/v1/machines/{a}/events?limit=1000", headers=shop.headers).json()
    ev_b = client.get(f"/v1/machines/{b}/events?limit=1000", headers=shop.headers).json()
    assert ev_a == ev_b and len(ev_a) == len(events)
    # the state is the core's fold of the set, whatever the order it came in
    core = [parse_event_json(e, shop="s", machine="m") for e in events]
    snap = Snapshot()
    for e in sorted(core, key=lambda e: e.sort_key):
        snap = snap.apply(e)
    assert got_b["state"] == snap.state == "offline"  # the day ends switched off
    # without that last report, the state is where the core's timeline ends
    c = new_machine(client, shop, name="c")
    assert post(client, shop, c, events[-2::-1]).json()["accepted"] == len(events) - 1
    until = core[-2].timestamp + timedelta(minutes=1)
    expected = state_timeline(core[:-1], until=until)[-1].state
    assert expected != "offline"
    assert client.get(f"/v1/machines/{c}", headers=shop.headers).json()["state"] == expected
    last = max(e.timestamp for e in core)
    assert datetime.fromisoformat(got_b["last_seen"].replace("Z", "+00:00")) == last


def test_reused_ids_and_future_times_are_rejected(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    mid = new_machine(client, shop)
    first = {"event_id": "e1", "timestamp": "2025-03-03T01:00:00Z", "execution": "ACTIVE"}
    assert post(client, shop, mid, [first]).json()["accepted"] == 1
    reused = {**first, "execution": "READY"}
    in_batch = [
        {"event_id": "e2", "timestamp": "2025-03-03T02:00:00Z", "execution": "READY"},
        {"event_id": "e2", "timestamp": "2025-03-03T02:00:01Z", "execution": "ACTIVE"},
    ]
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    late = {"event_id": "f", "timestamp": future, "availability": "AVAILABLE"}
    body = post(client, shop, mid, [reused, *in_batch, late]).json()
    assert body["accepted"] == 1
    reasons = {x["index"]: x["reason"] for x in body["rejected"]}
    assert set(reasons) == {0, 2, 3}
    assert "already used for a different report" in reasons[0]
    assert "already used for a different report" in reasons[2]
    assert "in the future" in reasons[3]
    stored = client.get(f"/v1/machines/{mid}/events", headers=shop.headers).json()
    assert [(e["event_id"], e["execution"]) for e in stored] == [
        ("e1", "ACTIVE"),
        ("e2", "READY"),
    ]


def test_a_shop_reaches_only_its_own_machines(client: TestClient, ctx: Any) -> None:
    owner, other, buyer = make_org(ctx, "shop"), make_org(ctx, "shop"), make_org(ctx, "buyer")
    mid = new_machine(client, owner)
    ev = [{"event_id": "x", "timestamp": "2025-03-03T01:00:00Z", "execution": "ACTIVE"}]
    r = post(client, other, mid, ev)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert post(client, buyer, mid, ev).status_code == 403
    booking = {"start": "2025-03-03T00:00:00Z", "hours": 4, "job_ref": "J1"}
    for method, path, kw in (
        ("GET", f"/v1/machines/{mid}/events", {}),
        ("GET", f"/v1/machines/{mid}/capacity", {}),
        ("GET", f"/v1/machines/{mid}/bookings", {}),
        ("POST", f"/v1/machines/{mid}/bookings", {"json": booking}),
    ):
        assert client.request(method, path, headers=other.headers, **kw).status_code == 404
    assert client.get(f"/v1/machines/{mid}/events", headers=owner.headers).json() == []


def test_bookings(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    mid = new_machine(client, shop)
    url = f"/v1/machines/{mid}/bookings"
    by_hours = {"start": "2025-03-03T00:00:00+09:00", "hours": 12, "job_ref": "JOB-1"}
    timed = {"start": "2025-03-04T00:00:00Z", "end": "2025-03-04T08:00:00Z", "job_ref": "JOB-2"}
    r1 = client.post(url, json=by_hours, headers=shop.headers)
    assert r1.status_code == 201 and r1.json()["start"] == "2025-03-02T15:00:00Z"
    assert client.post(url, json=timed, headers=shop.headers).status_code == 201
    r = client.post(url, json=by_hours, headers=shop.headers)
    assert r.status_code == 409 and "JOB-1" in r.json()["message"]
    listed = client.get(url, headers=shop.headers).json()["items"]
    assert [b["job_ref"] for b in listed] == ["JOB-2", "JOB-1"]
    assert listed[1]["hours"] == 12 and listed[0]["end"] == "2025-03-04T08:00:00Z"
    bid = r1.json()["id"]
    assert client.delete(f"{url}/{bid}", headers=shop.headers).status_code == 204
    assert client.delete(f"{url}/{bid}", headers=shop.headers).status_code == 404


@pytest.mark.parametrize(
    "bad",
    [
        {"start": "2025-03-03T00:00:00Z", "end": "2025-03-03T08:00:00Z", "hours": 8},
        {"start": "2025-03-03T00:00:00Z"},
        {"start": "2025-03-03T08:00:00Z", "end": "2025-03-03T07:00:00Z"},
        {"start": "2025-03-03T00:00:00", "hours": 3},
        {"start": "2025-03-03T00:00:00Z", "hours": -1},
    ],
)
def test_invalid_bookings_are_refused(client: TestClient, ctx: Any, bad: dict[str, Any]) -> None:
    shop = make_org(ctx, "shop")
    mid = new_machine(client, shop)
    r = client.post(
        f"/v1/machines/{mid}/bookings", json={**bad, "job_ref": "J"}, headers=shop.headers
    )
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_deleting_a_machine_removes_its_data(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    mid = new_machine(client, shop)
    assert post(client, shop, mid, day_of_events()[:5]).json()["accepted"] == 5
    booking = {"start": "2025-03-03T00:00:00Z", "hours": 4, "job_ref": "J1"}
    client.post(f"/v1/machines/{mid}/bookings", json=booking, headers=shop.headers)
    assert client.delete(f"/v1/machines/{mid}", headers=shop.headers).status_code == 204
    assert client.get(f"/v1/machines/{mid}/events", headers=shop.headers).status_code == 404


def test_text_a_database_cannot_hold_is_rejected(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    mid = new_machine(client, shop)
    evs = [
        {"event_id": "n1", "timestamp": "2025-03-03T01:00:00Z", "program": "O1\x002"},
        {"event_id": "n\x002", "timestamp": "2025-03-03T01:00:01Z", "execution": "READY"},
        {"event_id": "ok", "timestamp": "2025-03-03T01:00:02Z", "execution": "READY"},
    ]
    body = post(client, shop, mid, evs).json()
    assert body["accepted"] == 1 and [r["index"] for r in body["rejected"]] == [0, 1]
    assert "NUL" in body["rejected"][0]["reason"]


def test_a_machine_deleted_mid_batch_is_a_404_not_a_500(client: TestClient, ctx: Any) -> None:
    """The PostgreSQL COPY fast path: a foreign-key failure becomes a typed 404, nothing stored."""
    from platform_api.errors import NotFound
    from platform_api.machines.repository import insert_events

    with ctx.db.session() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("the COPY fast path runs on PostgreSQL only")
        stored = parse_event_json(
            {"event_id": "gone-1", "timestamp": "2025-03-03T01:00:00Z", "execution": "READY"},
            shop="s",
            machine="m",
        )
        from platform_api.machines.ingest import _row, content_hash

        with pytest.raises(NotFound) as exc:
            insert_events(
                session,
                machine_id="mac_deleted_meanwhile",
                rows=[_row(stored, content_hash(stored))],
                received_at=datetime.now(UTC),
            )
        assert exc.value.http_status == 404 and "nothing of this batch" in exc.value.message
