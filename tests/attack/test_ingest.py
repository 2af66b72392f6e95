"""Machine data attacked as hostile users and faulty machines would: over REST and MQTT, on
SQLite and PostgreSQL, with real commits, a real Mosquitto started here with the platform's
generated password file and ACL, and the answers counted against the database rows.

Issue 16 (points 1-3, machine events), issue 13 point 7 and issue 12 (two prefixes, one broker).
The slow variant (30,000 messages in 3 s) is ``bench/attack_ingest.py``.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from platform_api.db.models import MachineEventRow
from platform_api.ingest.broker import (
    INGEST_USER,
    ManagedBroker,
    mosquitto_binary,
    mqtt_password,
    shop_ids,
    wait_for_port,
)
from platform_api.ingest.mqtt import MqttIngest
from platform_api.main import create_app
from platform_api.settings import Settings
from tests.platform_api.conftest import create_pg_database, drop_pg_database
from tests.platform_api.factories import Org, make_org

SECRET = "attack-ingest-secret-" + "k" * 24  # fixed: the tests derive the same passwords
SYSTEM_BROKER = ("127.0.0.1", 1883)
VF2 = {
    "name": "Haas VF-2",
    "machine_type": "3-axis",
    "axes": 3,
    "envelope_mm": {"x": 762, "y": 406, "z": 508},
    "hourly_rate_jpy": 6000,
}
WAIT_S = 60.0  # upper bound when waiting on a state; the tests end as soon as it is reached

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Platform:
    client: TestClient
    ctx: Any
    prefix: str

    def machine(self, shop: Org) -> str:
        r = self.client.post("/v1/machines", json=VF2, headers=shop.headers)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def rows(self, machine_id: str | None = None) -> int:
        with self.ctx.db.session() as session:
            stmt = select(func.count()).select_from(MachineEventRow)
            if machine_id is not None:
                stmt = stmt.where(MachineEventRow.machine_id == machine_id)
            return int(session.exec(stmt).one())


def _platform(url: str, data_dir: Path, **extra: Any) -> Iterator[Platform]:
    prefix = f"atk{secrets.token_hex(4)}"
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        analysis_workers=0,
        job_worker=False,
        rate_limit_per_minute=1e6,
        rate_limit_burst=1_000_000,
        secret_key=SECRET,
        mqtt_prefix=prefix,
        **extra,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Platform(client, client.app.state.ctx, prefix)  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    """The app on a fresh database of each backend, committing for real, no MQTT of its own."""
    url = f"sqlite:///{tmp_path / 'atk.db'}" if request.param == "sqlite" else create_pg_database()
    try:
        yield from _platform(url, tmp_path)
    finally:
        if request.param == "postgresql":
            drop_pg_database(url)


@pytest.fixture
def broker(platform: Platform, tmp_path: Path) -> Iterator[ManagedBroker]:
    """Mosquitto on a free port with the platform's generated users and ACL."""
    b = ManagedBroker(
        tmp_path / "mosquitto",
        secret=SECRET.encode(),
        prefix=platform.prefix,
        port=free_port(),
        shops=lambda: shop_ids(platform.ctx.db),
        refresh_seconds=3600,  # the tests call refresh() themselves
    )
    b.start()
    try:
        yield b
    finally:
        b.stop()
    assert b.broker is None


def connect(
    port: int, user: str | None, password: str | None, *, host: str = "127.0.0.1"
) -> tuple[mqtt.Client, str]:
    """An MQTT v5 client (its PUBACKs carry the broker's reason) and the CONNACK reason."""
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"atk-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv5,
    )
    c.max_inflight_messages_set(1000)
    connack: list[str] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: connack.append(str(rc))
    if user is not None:
        c.username_pw_set(user, password)
    c.connect(host, port)
    c.loop_start()
    wait_for(lambda: bool(connack), "CONNACK", 10)
    return c, connack[0]


def publish_all(c: mqtt.Client, topic: str, payloads: list[bytes]) -> list[str]:
    """Publish QoS 1 and wait for every PUBACK; the reason of each."""
    reasons: dict[int, str] = {}
    c.on_publish = lambda _c, _u, mid, rc, _p: reasons.__setitem__(mid, str(rc))
    mids = [c.publish(topic, p, qos=1).mid for p in payloads]
    wait_for(lambda: all(m in reasons for m in mids), f"{len(mids)} PUBACKs")
    return [reasons[m] for m in mids]


def close(c: mqtt.Client) -> None:
    c.disconnect()
    c.loop_stop()


def shop_login(broker: ManagedBroker, shop: Org) -> tuple[mqtt.Client, str]:
    """Connect as ``shop`` once the broker has reloaded its users (SIGHUP is asynchronous)."""
    broker.refresh()
    result: list[tuple[mqtt.Client, str]] = []

    def ok() -> bool:
        c, rc = connect(broker.port, shop.id, broker.password_of(shop.id))
        if rc == "Success":
            result.append((c, rc))
            return True
        close(c)
        return False

    wait_for(ok, "the broker to know the new shop", 10)
    return result[0]


def subscriber(p: Platform, url: str, **kw: Any) -> MqttIngest:
    sub = MqttIngest(p.ctx.db, p.ctx.metrics, url=url, prefix=p.prefix, **kw)
    sub.start()
    assert sub.wait_ready(10), "the subscriber did not subscribe"
    return sub


def ev(i: int, **values: Any) -> dict[str, Any]:
    base = {"event_id": f"e{i}", "timestamp": f"2025-03-03T{i // 3600 % 24:02d}:"
            f"{i // 60 % 60:02d}:{i % 60:02d}Z"}  # fmt: skip
    return {**base, "execution": "ACTIVE" if i % 2 else "READY", "part_count": i, **values}


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


# --- REST --------------------------------------------------------------------------------------


def test_rest_bad_values_are_rejected_by_index_and_the_good_ones_stored(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    shop = make_org(platform.ctx, "shop")
    mid = platform.machine(shop)
    events: list[Any] = [
        ev(0),
        {"event_id": "y1", "timestamp": "0001-01-01T00:00:00+14:00", "execution": "ACTIVE"},
        {"event_id": "o25", "timestamp": "2025-03-03T00:00:00+25:00", "execution": "ACTIVE"},
        {"event_id": "o15", "timestamp": "2025-03-03T00:00:00+14:30", "execution": "ACTIVE"},
        {"event_id": "y9", "timestamp": "9999-12-31T23:59:59-14:00", "execution": "ACTIVE"},
        {"event_id": "y69", "timestamp": "1969-12-31T23:59:59Z", "execution": "ACTIVE"},
        {"event_id": "pc", "timestamp": "2025-03-03T00:00:01Z", "part_count": 1e308},
        {"event_id": "pc2", "timestamp": "2025-03-03T00:00:01Z", "part_count": 2**63},
        {"event_id": "pc3", "timestamp": "2025-03-03T00:00:01Z", "part_count": -1},
        1,
        "text",
        None,
        [ev(99)],
        True,
        ev(1, timestamp="2025-03-03T09:00:01+09:00"),  # a real offset: stored (00:00:01Z)
    ]
    body = json.dumps({"events": events}).encode()
    r = platform.client.post(
        f"/v1/machines/{mid}/events",
        content=body,
        headers={**shop.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["index"] for x in out["rejected"]] == list(range(1, 14))
    assert all(x["code"] == "invalid_event" and x["reason"] for x in out["rejected"])
    assert out["accepted"] == 2 and out["duplicates"] == 0
    assert platform.rows(mid) == 2  # the answers and the database agree
    no_tracebacks(caplog)


def test_rest_duplicates_and_out_of_order_are_counted_not_dropped(platform: Platform) -> None:
    shop = make_org(platform.ctx, "shop")
    mid = platform.machine(shop)
    batch = [ev(i) for i in range(200)]
    post = lambda events: platform.client.post(  # noqa: E731
        f"/v1/machines/{mid}/events", json={"events": events}, headers=shop.headers
    ).json()
    first = post(batch[100:][::-1])  # newest first
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (100, 0, [])
    second = post(batch[::-1])  # everything again, plus the older half, out of order
    assert (second["accepted"], second["duplicates"], second["rejected"]) == (100, 100, [])
    reused = post([ev(5, execution="STOPPED")])  # an id already used for another report
    assert reused["accepted"] == 0 and [x["index"] for x in reused["rejected"]] == [0]
    assert platform.rows(mid) == 200 == first["accepted"] + second["accepted"]
    m = platform.client.get(f"/v1/machines/{mid}", headers=shop.headers).json()
    assert m["last_seen"].startswith("2025-03-03T00:03:19")  # the newest event, whatever order


@pytest.mark.parametrize(
    "body",
    [
        b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"{" * 50_000,
        b'{"events": [' + b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"]}",
        b"\xff\xfe\x00",
        b'{"events": 5}',
        b'{"events": []}',
    ],
    ids=["100k-deep", "50k-open", "deep-objects", "not-utf8", "not-a-list", "empty"],
)
def test_rest_hostile_bodies_are_typed_4xx(
    platform: Platform, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    shop = make_org(platform.ctx, "shop")
    mid = platform.machine(shop)
    r = platform.client.post(
        f"/v1/machines/{mid}/events",
        content=body,
        headers={**shop.headers, "Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert set(r.json()) == {"error", "message", "detail"}
    assert platform.rows(mid) == 0
    no_tracebacks(caplog)


# --- MQTT: identity ------------------------------------------------------------------------------


def test_only_a_shops_own_credentials_publish_for_its_machines(
    platform: Platform, broker: ManagedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = make_org(platform.ctx, "shop"), make_org(platform.ctx, "shop")
    ma, mb = platform.machine(a), platform.machine(b)
    pa, pb = shop_login(broker, a), shop_login(broker, b)
    sub = subscriber(platform, broker.ingest_url)
    try:
        anon, rc = connect(broker.port, None, None)
        assert rc == "Not authorized"
        close(anon)
        wrong, rc = connect(broker.port, a.id, "not-the-password")
        assert rc == "Not authorized"
        close(wrong)
        topic_a = f"{platform.prefix}/{a.id}/{ma}/state"
        # B's credentials on A's topic, and A under another prefix: the broker refuses both
        assert publish_all(pb[0], topic_a, [json.dumps(ev(1)).encode()]) == ["Not authorized"]
        other = f"x{platform.prefix}/{a.id}/{ma}/state"
        assert publish_all(pa[0], other, [json.dumps(ev(2)).encode()]) == ["Not authorized"]
        # A under its own prefix with B's machine: the broker lets it through, the subscriber
        # (second wall) refuses it because the machine is not A's
        topic_ab = f"{platform.prefix}/{a.id}/{mb}/state"
        assert publish_all(pa[0], topic_ab, [json.dumps(ev(3)).encode()]) == ["Success"]
        assert publish_all(pa[0], topic_a, [json.dumps(ev(4)).encode()]) == ["Success"]
        wait_for(lambda: sub.stats["stored"] + sub.stats["rejected"] == 2, "2 messages")
        assert sub.wait_idle(10)
    finally:
        sub.stop()
        close(pa[0])
        close(pb[0])
    assert (sub.stats["stored"], sub.stats["rejected"]) == (1, 1)
    assert "is not a machine of shop" in (sub.last_rejection or "")
    assert platform.rows(ma) == 1 and platform.rows(mb) == 0
    # a shop reads its own credentials from the API; a buyer has none
    creds = platform.client.get("/v1/machines/mqtt-credentials", headers=a.headers).json()
    assert creds["username"] == a.id and creds["password"] == broker.password_of(a.id)
    assert creds["topic"] == f"{platform.prefix}/{a.id}/{{machine_id}}/state"
    buyer = make_org(platform.ctx, "buyer")
    assert (
        platform.client.get("/v1/machines/mqtt-credentials", headers=buyer.headers).status_code
        == 403
    )
    # and the buyers' view of the shop names machine classes and counts, not machine ids
    prof = platform.client.get(f"/v1/shops/{a.id}/profile", headers=buyer.headers)
    assert prof.status_code == 200 and ma not in prof.text and "mac_" not in prof.text
    assert prof.json()["machine_classes"] == {"3-axis": 1}
    no_tracebacks(caplog)


# --- MQTT: hostile payloads and bursts ---------------------------------------------------------


def test_poison_messages_never_stop_the_stream(
    platform: Platform, broker: ManagedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """25 messages of 100k-deep JSON, 13 malformed ones, a 1.5 MiB array of 9,000 events and
    50 good events: every good event stored once, every bad message rejected and counted."""
    shop = make_org(platform.ctx, "shop")
    mid = platform.machine(shop)
    pub, _ = shop_login(broker, shop)
    sub = subscriber(platform, broker.ingest_url)
    topic = f"{platform.prefix}/{shop.id}/{mid}/state"
    deep = [b"[" * 100_000 + b"]" * 100_000] * 25
    malformed = [
        b"{not json", b"", b"\xff\xfe", b"[1, 2", b'{"a": "\\ud800"', b"nul\x00l", b"[[[[[[[[[[]",
        b'{"event_id": 1,}', b'"just a string', b"}{", b"[" * 9 + b"]" * 9, b"{" * 20, b"\x00" * 64,
    ]  # fmt: skip
    big = json.dumps(
        [ev(i, program=f"O{i:04d}-" + "x" * 64) for i in range(9000)], separators=(",", ":")
    ).encode()
    assert len(big) > 1.5 * 2**20
    good = [json.dumps(ev(10_000 + i)).encode() for i in range(50)]
    try:
        assert set(publish_all(pub, topic, deep + malformed + [big] + good)) == {"Success"}
        wait_for(lambda: sub.stats["stored"] + sub.stats["rejected"] == 89, "89 messages")
        assert sub.wait_idle(10)
    finally:
        sub.stop()
        close(pub)
    assert sub.stats["rejected"] == 25 + 13 and sub.stats["stored"] == 51
    assert sub.stats["accepted"] == 9050 and sub.stats["error"] == 0
    assert platform.rows(mid) == 9050
    assert any("nested 100000 deep" in r for r in sub.recent_rejections)
    text = platform.client.get("/metrics").text
    assert 'mitsumori_mqtt_messages_total{outcome="rejected"} 38.0' in text
    no_tracebacks(caplog)


def test_a_burst_beyond_the_default_broker_queue_is_stored_in_full(
    platform: Platform, broker: ManagedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """5,000 QoS-1 messages from 4 machines as fast as the client sends them (the default
    Mosquitto queue of 1,000 would drop most): every PUBACKed message is stored, once, in far
    fewer transactions than messages; a quarter of them are re-sends, counted as duplicates."""
    shop = make_org(platform.ctx, "shop")
    machines = [platform.machine(shop) for _ in range(4)]
    pub, _ = shop_login(broker, shop)
    sub = subscriber(platform, broker.ingest_url)
    n = 5000
    sent: dict[int, str] = {}
    pub.on_publish = lambda _c, _u, mid, rc, _p: sent.__setitem__(mid, str(rc))
    try:
        mids = []
        for i in range(n):
            j = i if i % 4 else i // 2  # every 4th message re-sends an earlier event
            topic = f"{platform.prefix}/{shop.id}/{machines[j % 4]}/state"
            mids.append(pub.publish(topic, json.dumps(ev(j)), qos=1).mid)
        wait_for(lambda: len(sent) == n, "every PUBACK")
        wait_for(lambda: sub.stats["stored"] == n, f"{n} messages stored")
        assert sub.wait_idle(10)
    finally:
        sub.stop()
        close(pub)
    assert set(sent.values()) == {"Success"}
    distinct = len({i if i % 4 else i // 2 for i in range(n)})
    assert sub.stats["accepted"] == distinct == platform.rows()
    assert sub.stats["accepted"] + sub.stats["duplicates"] == n
    assert sub.stats["batches"] < n / 5  # many messages per transaction
    no_tracebacks(caplog)


def test_messages_held_while_the_subscriber_is_down_arrive_once(
    platform: Platform, broker: ManagedBroker
) -> None:
    """A persistent session (MITSUMORI_MQTT_CLIENT_ID): published while down, stored once."""
    shop = make_org(platform.ctx, "shop")
    mid = platform.machine(shop)
    pub, _ = shop_login(broker, shop)
    topic = f"{platform.prefix}/{shop.id}/{mid}/state"
    client_id = f"atk-ingest-{secrets.token_hex(4)}"
    try:
        sub = subscriber(platform, broker.ingest_url, client_id=client_id)
        publish_all(pub, topic, [json.dumps(ev(i)).encode() for i in range(100)])
        wait_for(lambda: sub.stats["accepted"] == 100, "100 events")
        sub.stop()
        publish_all(pub, topic, [json.dumps(ev(i)).encode() for i in range(50, 2050)])
        sub = subscriber(platform, broker.ingest_url, client_id=client_id)
        wait_for(lambda: sub.stats["stored"] == 2000, "2,000 held messages")
        sub.stop()
    finally:
        close(pub)
    assert sub.stats["accepted"] == 1950 and sub.stats["duplicates"] == 50
    assert platform.rows(mid) == 2050


# --- several platforms on one broker, and the server's own broker -------------------------------


def test_two_platforms_with_different_prefixes_on_one_broker_ignore_each_other(
    tmp_path: Path,
) -> None:
    """Two servers (own databases, own prefixes) subscribed to the same broker: each stores
    all of its shops' messages and never sees, let alone rejects, the other's."""
    try:
        socket.create_connection(SYSTEM_BROKER, timeout=2).close()
    except OSError as exc:
        pytest.fail(f"the MQTT broker at {SYSTEM_BROKER} is required: {exc}")
    url = f"mqtt://{SYSTEM_BROKER[0]}:{SYSTEM_BROKER[1]}"
    gens = [
        _platform(f"sqlite:///{tmp_path / f'p{k}.db'}", tmp_path / f"p{k}", mqtt_url=url)
        for k in (1, 2)
    ]
    p1, p2 = (next(g) for g in gens)
    try:
        subs = [next(w for w in p.ctx.workers if isinstance(w, MqttIngest)) for p in (p1, p2)]
        assert all(s.wait_ready(10) for s in subs)
        pub, _ = connect(SYSTEM_BROKER[1], None, None, host=SYSTEM_BROKER[0])
        try:
            for k, p in enumerate((p1, p2)):
                shop = make_org(p.ctx, "shop")
                mid = p.machine(shop)
                topic = f"{p.prefix}/{shop.id}/{mid}/state"
                publish_all(pub, topic, [json.dumps(ev(i)).encode() for i in range(30 + k)])
            for k, s in enumerate(subs):
                wait_for(lambda s=s, k=k: s.stats["stored"] == 30 + k, "each platform's own")
                assert s.wait_idle(10)
        finally:
            close(pub)
        time.sleep(0.2)  # a stray delivery would show up as a rejection within this
        assert [(s.stats["stored"], s.stats["rejected"]) for s in subs] == [(30, 0), (31, 0)]
        assert (p1.rows(), p2.rows()) == (30, 31)
    finally:
        for g in gens:
            g.close()


def test_serve_runs_its_own_broker_with_the_acl_and_stops_it(tmp_path: Path) -> None:
    """MITSUMORI_MQTT_MANAGED_PORT: the server starts Mosquitto with the generated ACL, a shop
    publishes with the credentials the API gives it, anonymous clients are refused, and the
    broker ends with the server."""
    port = free_port()
    gen = _platform(f"sqlite:///{tmp_path / 'm.db'}", tmp_path, mqtt_managed_port=port)
    p = next(gen)
    broker = next(w for w in p.ctx.workers if isinstance(w, ManagedBroker))
    try:
        sub = next(w for w in p.ctx.workers if isinstance(w, MqttIngest))
        assert sub.wait_ready(10) and sub.address.username == INGEST_USER
        assert sub.address.password == mqtt_password(SECRET.encode(), INGEST_USER)
        shop = make_org(p.ctx, "shop")
        mid = p.machine(shop)
        creds = p.client.get("/v1/machines/mqtt-credentials", headers=shop.headers).json()
        assert creds["broker"] == f"127.0.0.1:{port}"
        pub, _ = shop_login(broker, shop)
        try:
            topic = creds["topic"].format(machine_id=mid)
            assert publish_all(pub, topic, [json.dumps(ev(1)).encode()]) == ["Success"]
            wait_for(lambda: sub.stats["stored"] == 1, "the message")
        finally:
            close(pub)
        anon, rc = connect(port, None, None)
        close(anon)
        assert rc == "Not authorized"
        process = broker.broker.process  # type: ignore[union-attr]
    finally:
        gen.close()
    assert process.poll() is not None  # mosquitto stopped with the server
    assert not wait_for_port("127.0.0.1", port, 0.2)
