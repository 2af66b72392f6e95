"""MQTT ingest against the real broker at 127.0.0.1:1883 (unique topic prefixes, cleaned up):
messages stored, a shop's prefix cannot report another shop's machine, bad payloads counted,
QoS 1 messages sent while the API was down delivered when it is back, the demo publisher."""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from platform_api.ingest.mqtt import MqttIngest
from platform_api.ingest.publisher import DemoPublisher
from platform_api.main import create_app
from platform_api.settings import Settings
from tests.platform_api.factories import make_org

BROKER = ("127.0.0.1", 1883)
URL = f"mqtt://{BROKER[0]}:{BROKER[1]}"
VF2 = {
    "name": "Haas VF-2",
    "machine_type": "3-axis",
    "axes": 3,
    "envelope_mm": {"x": 762, "y": 406, "z": 508},
    "hourly_rate_jpy": 6000,
}


@pytest.fixture(scope="module", autouse=True)
def broker() -> None:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as exc:
        pytest.fail(f"the MQTT broker at {BROKER[0]}:{BROKER[1]} is required: {exc}")


@pytest.fixture
def prefix() -> str:
    return f"mtest{secrets.token_hex(4)}"


@pytest.fixture
def publish() -> Iterator[Callable[[str, Any], None]]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{secrets.token_hex(4)}")
    client.connect(*BROKER)
    client.loop_start()

    def send(topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(topic, data, qos=1).wait_for_publish(5)

    yield send
    client.disconnect()
    client.loop_stop()


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the MQTT messages")
        time.sleep(0.05)


def ev(i: int, **values: Any) -> dict[str, Any]:
    return {"event_id": f"m{i}", "timestamp": f"2025-03-03T01:00:{i:02d}Z", **values}


def test_messages_are_stored_and_other_shops_machines_refused(
    client: TestClient, ctx: Any, prefix: str, publish: Callable[[str, Any], None]
) -> None:
    a, b = make_org(ctx, "shop"), make_org(ctx, "shop")
    ma = client.post("/v1/machines", json=VF2, headers=a.headers).json()["id"]
    mb = client.post("/v1/machines", json=VF2, headers=b.headers).json()["id"]
    sub = MqttIngest(ctx.db, ctx.metrics, url=URL, prefix=prefix)
    sub.start()
    try:
        assert sub.wait_ready(10)
        publish(f"{prefix}/{a.id}/{ma}/state", ev(1, availability="AVAILABLE", execution="ACTIVE"))
        publish(f"{prefix}/{a.id}/{mb}/state", ev(2, execution="READY"))  # B's machine
        publish(f"{prefix}/{a.id}/{ma}/state", [ev(3, execution="READY"), ev(4, execution="?")])
        publish(f"{prefix}/{a.id}/{ma}/state", b"{not json")
        publish(f"{prefix}/{a.id}/{ma}/state", ev(1, availability="AVAILABLE", execution="ACTIVE"))
        wait_for(lambda: sub.stats["stored"] + sub.stats["rejected"] == 5)
    finally:
        sub.stop()
    assert sub.stats["stored"] == 3 and sub.stats["rejected"] == 2
    assert sub.stats["accepted"] == 2 and sub.stats["duplicates"] == 1
    assert sub.stats["rejected_events"] == 3  # B's machine, the bad value, the non-JSON message
    assert any("not JSON" in r for r in sub.recent_rejections)
    got = client.get(f"/v1/machines/{ma}/events", headers=a.headers).json()
    assert [(e["event_id"], e["source"]) for e in got] == [("m1", "mqtt"), ("m3", "mqtt")]
    assert client.get(f"/v1/machines/{mb}/events", headers=b.headers).json() == []
    assert client.get(f"/v1/machines/{ma}", headers=a.headers).json()["state"] == "standby"
    text = client.get("/metrics").text
    assert 'mitsumori_mqtt_messages_total{outcome="rejected"}' in text


def test_the_api_subscribes_and_nothing_sent_while_down_is_lost(
    fresh_database: Any, prefix: str, publish: Callable[[str, Any], None]
) -> None:
    engine, data_dir = fresh_database
    client_id = f"mitsumori-test-{secrets.token_hex(4)}"
    settings = Settings(
        data_dir=data_dir,
        database_url=engine.url.render_as_string(hide_password=False),
        analysis_workers=0,
        job_worker=False,
        mqtt_url=URL,
        mqtt_prefix=prefix,
        mqtt_client_id=client_id,
    )
    try:
        with TestClient(create_app(settings)) as c:
            ctx = c.app.state.ctx  # type: ignore[attr-defined]
            sub = next(w for w in ctx.workers if isinstance(w, MqttIngest))
            assert sub.wait_ready(10)
            shop = make_org(ctx, "shop")
            mid = c.post("/v1/machines", json=VF2, headers=shop.headers).json()["id"]
            publish(f"{prefix}/{shop.id}/{mid}/state", ev(1, availability="AVAILABLE"))
            wait_for(lambda: sub.stats["stored"] == 1)
        assert sub._client is None  # the lifespan stopped it with the server
        topic = f"{prefix}/{shop.id}/{mid}/state"
        for i in range(2, 5):  # the API is down: the broker keeps these for its session
            publish(topic, ev(i, execution="ACTIVE" if i % 2 else "READY"))
        with TestClient(create_app(settings)) as c:
            sub = next(w for w in c.app.state.ctx.workers if isinstance(w, MqttIngest))  # type: ignore[attr-defined]
            wait_for(lambda: sub.stats["stored"] == 3)
            got = c.get(f"/v1/machines/{mid}/events", headers=shop.headers).json()
            assert [e["event_id"] for e in got] == ["m1", "m2", "m3", "m4"]
    finally:
        wipe = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        wipe.connect(*BROKER)  # a clean session under the same id drops the broker's copy
        wipe.disconnect()


def test_demo_publisher_makes_machines_report_live(
    client: TestClient, ctx: Any, prefix: str
) -> None:
    shop = make_org(ctx, "shop")
    ids = [client.post("/v1/machines", json=VF2, headers=shop.headers).json()["id"] for _ in "ab"]
    sub = MqttIngest(ctx.db, ctx.metrics, url=URL, prefix=prefix)
    pub = DemoPublisher(ctx.db, url=URL, prefix=prefix, mean_seconds=0.1, seed=1)
    sub.start()
    try:
        assert sub.wait_ready(10)
        pub.start()
        wait_for(lambda: sub.stats["accepted"] >= 6)
    finally:
        pub.stop()
        sub.stop()
    assert sub.stats["rejected"] == 0
    for mid in ids:
        m = client.get(f"/v1/machines/{mid}", headers=shop.headers).json()
        assert m["state"] in ("productive", "standby", "setup")
        events = client.get(f"/v1/machines/{mid}/events", headers=shop.headers).json()
        assert len(events) >= 2 and all(e["source"] == "mqtt" for e in events)


def test_the_okuma_recording_over_mqtt(
    client: TestClient, ctx: Any, prefix: str, publish: Callable[[str, Any], None]
) -> None:
    """The real Okuma adapter recording, one MQTT message per SHDR line, arrives whole."""
    from pathlib import Path

    from matching.capacity import state_timeline
    from matching.mtconnect.probe import parse_probe
    from matching.mtconnect.shdr import parse_shdr
    from platform_api.machines import ingest
    from platform_api.machines import repository as machines_repository

    mtc = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "mtconnect"
    device = parse_probe((mtc / "cppagent_demo" / "Devices.xml").read_bytes()).device("OKUMA")
    shop = make_org(ctx, "shop")
    mid = client.post("/v1/machines", json=VF2, headers=shop.headers).json()["id"]
    replay = parse_shdr(
        (mtc / "cppagent_demo" / "okuma_shdr_2022-08-08.txt").read_text(),
        shop=shop.id,
        machine=mid,
        device=device,
        source="mqtt",
    )
    sub = MqttIngest(ctx.db, ctx.metrics, url=URL, prefix=prefix)
    sub.start()
    try:
        assert sub.wait_ready(10)
        for ev in reversed(replay.events):  # newest first: order must not matter
            payload = {k: v for k, v in ev.to_dict().items() if v is not None}
            for k in ("shop", "machine", "source"):
                payload.pop(k)
            publish(f"{prefix}/{shop.id}/{mid}/state", payload)
        wait_for(lambda: sub.stats["stored"] == len(replay.events))
    finally:
        sub.stop()
    assert sub.stats["accepted"] == len(replay.events) and sub.stats["rejected"] == 0
    with ctx.db.session() as session:
        rows = machines_repository.events_between(session, machine_id=mid, start=None, end=None)
        stored = [ingest.row_to_event(r, shop=shop.id) for r in rows]
    assert state_timeline(stored) == state_timeline(replay.events)
