"""Reads do not write: GET capacity, GET profile and a match store no derived cache (the cache
refresher does), so each is safe to retry and to cache; what they answer is what the refresher
then stores. And the ranker is never trained inside a request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from matching.simulate_machines import simulate_machine_events
from platform_api.caches.refresher import refresh_all
from platform_api.machines import ingest
from platform_api.matches.ranker import RankerStore
from tests.platform_api.factories import make_org
from tests.platform_api.market import buyer_part, machine_body, make_shop
from tests.platform_api.matches.test_matching import spec

# Request bookkeeping every authenticated request writes: the key's last use, its rate bucket.
BOOKKEEPING = {"api_keys", "rate_buckets"}
_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
# Spare hours come from the cached load rounded to 5 digits, and today's working hours shrink
# as the clock moves between two reads: equal within this many hours.
SPARE_HOURS_ATOL = 0.01
SPARE_FIELDS = {"days", "totals", "by_class", "spare_hours_total"}


@contextmanager
def writes(engine: Any) -> Iterator[list[str]]:
    """Tables written (INSERT/UPDATE/DELETE) through ``engine`` inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        m = _WRITE.match(statement)
        if m and m.group(2).lower() not in BOOKKEEPING:
            seen.append(m.group(2).lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _busy_shop(client: TestClient, ctx: Any) -> tuple[Any, list[str]]:
    shop, ids = make_shop(ctx, client, "Busy", machines=(machine_body("3-axis"),
                          machine_body("5-axis", (650, 650, 500))))  # fmt: skip
    now = datetime.now(UTC)
    for seed, mid in enumerate(ids):
        events = simulate_machine_events(
            shop=shop.id, machine=mid, start=now - timedelta(days=14), days=14,
            utilisation=0.7, seed=seed,
        )  # fmt: skip
        with ctx.db.session() as session:
            rep = ingest.store_events(
                session=session, machine_id=mid, events=list(enumerate(events)), now=now
            )
        assert rep.accepted > 50
    return shop, ids


def test_gets_and_a_match_write_no_cache(client: TestClient, ctx: Any, api: Any) -> None:
    shop, ids = _busy_shop(client, ctx)
    buyer = make_org(ctx, "buyer")
    part = buyer_part(client, buyer)
    r = client.post(
        "/v1/quotes",
        json={"part_id": part, "material": "A5052", "quantity": 10, "shop": shop.id},
        headers=buyer.headers,
    )
    assert r.status_code == 201, r.text
    reads = [
        (f"/v1/shops/{shop.id}/capacity", shop.headers),
        (f"/v1/machines/{ids[0]}/capacity", shop.headers),
        (f"/v1/shops/{shop.id}/profile", buyer.headers),
        (f"/v1/shops/{shop.id}/profile", shop.headers),
    ]
    with writes(api.engine) as written:
        first = [client.get(url, headers=h) for url, h in reads]
        again = [client.get(url, headers=h) for url, h in reads]
    assert [r.status_code for r in first + again] == [200] * 8
    assert written == [], f"GETs wrote {sorted(set(written))}"
    # the same answer twice (retry-safe), apart from the clock (a machine's timeline window
    # slides with it; its spare hours are compared after the refresh below)
    for i in (0, 2, 3):
        _assert_close(_timeless(first[i].json()), _timeless(again[i].json()))

    with writes(api.engine) as written:
        m = client.post("/v1/match", json=spec(part), headers=buyer.headers)
    assert m.status_code == 200, m.text
    assert set(written) <= {"matches"}, f"a match wrote {sorted(set(written))}"

    # the refresher stores what the reads derived: the answers do not move
    report = refresh_all(ctx.db, models=ctx.models)
    assert report.profiles >= 1 and report.loads == len(ids) and report.failed == []
    for i, (url, headers) in enumerate(reads[:2]):
        now = client.get(url, headers=headers).json()
        _assert_close(_timeless(first[i].json()), _timeless(now), keys=SPARE_FIELDS)
    prof = client.get(reads[2][0], headers=buyer.headers).json()
    assert _timeless(prof) == _timeless(first[2].json())
    # and, up to date, the next pass has nothing to do
    again_report = refresh_all(ctx.db, models=ctx.models)
    assert (again_report.profiles, again_report.loads) == (0, 0)


# Fields that name the moment of the read, not what was read.
CLOCK_FIELDS = {"computed_at", "window_start", "window_end", "staleness_hours"}


def _assert_close(a: Any, b: Any, *, keys: set[str] | None = None, at: str = "") -> None:
    """Equal, floats within ``SPARE_HOURS_ATOL``; with ``keys``, only those of the top level."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), at
        for k in a if keys is None else keys & set(a):
            _assert_close(a[k], b[k], at=f"{at}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), at
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, at=f"{at}[{n}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert b == pytest.approx(a, abs=SPARE_HOURS_ATOL), at
    else:
        assert a == b, at


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def test_a_missing_ranker_is_a_typed_503_not_a_training(
    client: TestClient, ctx: Any, tmp_path: Path
) -> None:
    shop, _ = make_shop(ctx, client, "Any", machines=(machine_body("3-axis"),))
    buyer = make_org(ctx, "buyer")
    part = buyer_part(client, buyer)
    missing = tmp_path / "no-ranker.joblib"
    saved = ctx.ranker
    ctx.ranker = RankerStore(missing)
    try:
        r = client.post("/v1/match", json=spec(part), headers=buyer.headers)
    finally:
        ctx.ranker = saved
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["error"] == "ranker_unavailable"
    assert "mitsumori ranker build" in body["message"]
    assert not missing.exists()  # nothing was trained in the request
