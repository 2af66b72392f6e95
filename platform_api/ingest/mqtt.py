"""MQTT subscriber: machine states on ``{prefix}/{shop}/{machine}/state`` into the database.

Payload: one JSON event or an array of them, as for ``POST /v1/machines/{id}/events``
(``event_id``, ``timestamp`` and MTConnect values). The shop and machine come from the topic;
a message whose machine is not one of that shop's is rejected and counted (the broker's ACL
already lets each shop publish only under its own prefix, see ``docs/mqtt.md``; this check
also stops a shop from reporting for a machine id it does not own). Bad events are rejected
one by one and counted in ``mitsumori_machine_events_total{source="mqtt"}``; nothing stops
the subscriber.

Delivery: QoS 1 with manual acknowledgement. A message is acknowledged only after its events
are committed (or it is refused for good), so a crash between the two makes the broker send it
again, and the event ids make that harmless. With ``MITSUMORI_MQTT_CLIENT_ID`` set the session
is persistent: messages published while the subscriber is down wait at the broker. The
subscription is shared (``$share/mitsumori/...``), so the subscribers of several API workers
divide the messages between them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from matching.errors import InvalidEvent
from matching.events import parse_mqtt_topic
from platform_api.db.session import Database
from platform_api.machines import ingest
from platform_api.machines import repository as machines_repository
from platform_api.metrics import Metrics

log = logging.getLogger("mitsumori.mqtt")
MAX_PAYLOAD = 1 << 20
STORE_ATTEMPTS = 3


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://[user:password@]host[:port]`` (port 1883 by default)."""
    u = urlparse(url if "://" in url else f"mqtt://{url}")
    if u.scheme not in ("mqtt", "tcp") or not u.hostname:
        raise ValueError(f"MQTT URL {url!r} is not mqtt://host[:port]")
    return BrokerAddress(u.hostname, u.port or 1883, u.username, u.password)


@dataclass(frozen=True)
class MessageOutcome:
    """What one message became: stored (with event counts) or rejected (with the reason)."""

    stored: bool
    accepted: int = 0
    duplicates: int = 0
    rejected_events: int = 0
    reason: str | None = None


def store_message(
    db: Database, metrics: Metrics | None, topic: str, payload: bytes, *, prefix: str
) -> MessageOutcome:
    """Validate and store one message in its own transaction (see the module docstring)."""
    try:
        shop, machine = parse_mqtt_topic(topic, prefix=prefix)
        if len(payload) > MAX_PAYLOAD:
            raise InvalidEvent(f"payload over {MAX_PAYLOAD} bytes")
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidEvent(f"payload on {topic} is not JSON: {err}") from None
    except InvalidEvent as err:
        return _refused(metrics, err.message, 1)
    items: list[Any] = data if isinstance(data, list) else [data]
    with db.session() as session:
        m = machines_repository.get_owned(session, org_id=shop, machine_id=machine)
        if m is None:
            return _refused(
                metrics, f"machine {machine!r} is not a machine of shop {shop!r}", len(items)
            )
        good, bad = ingest.parse_payloads(items, shop=shop, machine=machine, source="mqtt")
        report = ingest.store_events(session=session, machine_id=m.id, events=good)
        report.rejected += bad
    ingest.count(metrics, "mqtt", report)
    if metrics is not None:
        metrics.mqtt_messages.labels(outcome="stored").inc()
    return MessageOutcome(True, report.accepted, report.duplicates, len(report.rejected))


def _refused(metrics: Metrics | None, reason: str, n_events: int) -> MessageOutcome:
    if metrics is not None:
        metrics.mqtt_messages.labels(outcome="rejected").inc()
        metrics.machine_events.labels(source="mqtt", outcome="rejected").inc(n_events)
    return MessageOutcome(False, rejected_events=n_events, reason=reason)


class MqttIngest:
    """The subscriber: a paho network thread that stores each message as it arrives.

    stats counts messages ``stored`` / ``rejected`` / ``error`` and events ``accepted`` /
    ``duplicates`` / ``rejected_events``; ``last_rejection`` keeps the latest reason.
    """

    def __init__(
        self,
        db: Database,
        metrics: Metrics | None,
        *,
        url: str,
        prefix: str = "mitsumori",
        client_id: str | None = None,
        qos: int = 1,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.address = parse_url(url)
        self.prefix = prefix
        self.client_id = client_id
        self.qos = qos
        self.stats: Counter[str] = Counter()
        self.last_rejection: str | None = None
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None

    @property
    def topic(self) -> str:
        return f"{self.prefix}/+/+/state"

    @property
    def subscription(self) -> str:
        """A shared subscription: API workers subscribed together split the messages (each
        stored once) instead of all receiving each of them."""
        return f"$share/mitsumori/{self.topic}"

    def start(self) -> None:
        """Connect in the background (retrying while the broker is away) and subscribe."""
        persistent = self.client_id is not None
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id or f"mitsumori-{uuid.uuid4().hex[:12]}",
            clean_session=not persistent,
            manual_ack=True,
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()
        self._client = client

    def stop(self, timeout: float = 5.0) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        self.connected.clear()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once subscribed (tests and the CLI wait for it)."""
        return self.subscribed.wait(timeout)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self.connected.set()
        client.subscribe(self.subscription, qos=self.qos)
        log.info("MQTT subscribed to %s on %s:%d", self.topic, *self._where())

    def _on_subscribe(self, *_: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, *_: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()

    def _where(self) -> tuple[str, int]:
        return self.address.host, self.address.port

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                out = store_message(
                    self.db, self.metrics, msg.topic, bytes(msg.payload), prefix=self.prefix
                )
                break
            except Exception:  # the database is away: retry, then leave it for redelivery
                log.exception("storing an MQTT message failed (attempt %d)", attempt)
                if attempt == STORE_ATTEMPTS:
                    with self._lock:
                        self.stats["error"] += 1
                    if self.metrics is not None:
                        self.metrics.mqtt_messages.labels(outcome="error").inc()
                    return  # not acknowledged: the broker sends it again after a reconnect
                time.sleep(0.5 * attempt)
        with self._lock:
            if out.stored:
                self.stats["stored"] += 1
            else:
                self.stats["rejected"] += 1
                self.last_rejection = out.reason
                log.info("MQTT message on %s rejected: %s", msg.topic, out.reason)
            self.stats["accepted"] += out.accepted
            self.stats["duplicates"] += out.duplicates
            self.stats["rejected_events"] += out.rejected_events
        if msg.qos > 0:
            client.ack(msg.mid, msg.qos)
