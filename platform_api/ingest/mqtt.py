"""MQTT subscriber: machine states on ``{prefix}/{shop}/{machine}/state`` into the database.

Payload: one JSON event or an array of them, as for ``POST /v1/machines/{id}/events``
(``event_id``, ``timestamp`` and MTConnect values). The shop and machine come from the topic.

Two walls against forged reports. The broker (``platform_api.ingest.broker``) lets a shop's
user publish only under ``{prefix}/{its shop id}/+/state`` and refuses anonymous clients; the
subscriber then checks the prefix and shape of every topic and that its machine is one of the
topic's shop's machines, and rejects (and counts) anything else.

Nothing stops the stream: a message over the size limit or nested too deep is refused before
it is parsed, a message that is not JSON or names a foreign machine is rejected and counted,
bad events inside a good message are rejected one by one (with their index and reason in the
log) and the others stored, and a message that makes the database raise on its own (while
the database answers otherwise) is rejected as poison.

Delivery: QoS 1 with manual acknowledgement. The network thread only queues messages; a writer
thread takes them in batches (up to ``batch_messages``, waiting ``linger`` seconds for more),
stores a whole batch in ONE transaction and acknowledges its messages, in arrival order, only
after the commit. A crash in between makes the broker deliver them again, and the event ids
make that harmless. The broker's in-flight window (``max_inflight_messages``) bounds how many
unacknowledged messages wait here; the rest wait in its queue (``max_queued_messages``, which
must hold a burst: the platform's broker config sets both). While the database is away the
writer retries with backoff and acknowledges nothing. With ``MITSUMORI_MQTT_CLIENT_ID`` set
the session is persistent: messages published while the subscriber is down wait at the
broker. The subscription is shared (``$share/{prefix}/...``), so the subscribers of several
API workers of one platform divide its messages between them, and platforms with other
prefixes on the same broker never see each other's.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from matching.errors import InvalidEvent
from matching.mqtt_messages import MAX_MESSAGE_BYTES, load_message, parse_mqtt_topic
from platform_api.db.session import Database
from platform_api.machines import ingest
from platform_api.machines import repository as machines_repository
from platform_api.metrics import Metrics

log = logging.getLogger("mitsumori.mqtt")
MAX_PAYLOAD = MAX_MESSAGE_BYTES
#: Events in one message (an edge gateway's buffered backlog); more is refused as a whole.
MAX_MESSAGE_EVENTS = 20_000
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


@dataclass
class BatchOutcome:
    """What a batch of messages became: message and event counts, the rejection reasons."""

    stored: int = 0
    rejected: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected_events: int = 0
    reasons: list[str] = field(default_factory=list)
    reports: list[ingest.StoreReport] = field(default_factory=list)

    def refuse(self, reason: str, n_events: int) -> None:
        self.rejected += 1
        self.rejected_events += n_events
        self.reasons.append(reason)


def store_messages(
    db: Database,
    metrics: Metrics | None,
    messages: Sequence[tuple[str, bytes]],
    *,
    prefix: str,
    max_bytes: int = MAX_PAYLOAD,
) -> BatchOutcome:
    """Validate ``(topic, payload)`` messages and store their events in ONE transaction.

    Events of the same machine across the batch go to the database together (one insert, one
    status fold). Metrics are counted only once the transaction has committed, so a batch that
    raises (and is retried) is not counted twice.
    """
    out = BatchOutcome()
    by_machine: dict[tuple[str, str], list[tuple[str, list[Any]]]] = defaultdict(list)
    for topic, payload in messages:
        try:
            shop, machine = parse_mqtt_topic(topic, prefix=prefix)
            items = load_message(payload, max_bytes=max_bytes)
            if len(items) > MAX_MESSAGE_EVENTS:
                raise InvalidEvent(f"{len(items)} events in one message, over {MAX_MESSAGE_EVENTS}")
        except InvalidEvent as err:
            out.refuse(f"{topic[:200]}: {err.message}", 1)
            continue
        by_machine[(shop, machine)].append((topic, items))
    with db.session() as session:
        for (shop, machine), msgs in by_machine.items():
            m = machines_repository.get_owned(session, org_id=shop, machine_id=machine)
            if m is None:
                for topic, items in msgs:
                    out.refuse(
                        f"{topic[:200]}: machine {machine[:60]!r} is not a machine of shop "
                        f"{shop[:60]!r}",
                        len(items),
                    )
                continue
            flat = [item for _, items in msgs for item in items]
            good, bad = ingest.parse_payloads(flat, shop=shop, machine=machine, source="mqtt")
            report = ingest.store_events(session=session, machine_id=m.id, events=good)
            report.rejected += bad
            out.stored += len(msgs)
            out.accepted += report.accepted
            out.duplicates += report.duplicates
            out.rejected_events += len(report.rejected)
            out.reasons += [f"{machine[:60]} event {r.reason}" for r in report.rejected[:3]]
            report.stored = []  # the events themselves are not needed after the fold
            out.reports.append(report)
    count(metrics, out)
    return out


def count(metrics: Metrics | None, out: BatchOutcome) -> None:
    """Add a committed batch to ``mitsumori_mqtt_messages_total`` and the event counters."""
    if metrics is None:
        return
    for report in out.reports:
        ingest.count(metrics, "mqtt", report)
    if out.stored:
        metrics.mqtt_messages.labels(outcome="stored").inc(out.stored)
    if out.rejected:
        metrics.mqtt_messages.labels(outcome="rejected").inc(out.rejected)
        refused = out.rejected_events - sum(len(r.rejected) for r in out.reports)
        if refused:
            metrics.machine_events.labels(source="mqtt", outcome="rejected").inc(refused)


def store_message(
    db: Database, metrics: Metrics | None, topic: str, payload: bytes, *, prefix: str
) -> BatchOutcome:
    """One message in its own transaction (``store_messages`` of one)."""
    return store_messages(db, metrics, [(topic, payload)], prefix=prefix)


class MqttIngest:
    """The subscriber: paho's network thread queues messages, a writer thread stores them in
    batches and acknowledges each batch after its commit (see the module docstring).

    stats counts messages ``stored`` / ``rejected`` / ``error`` (poison) and events
    ``accepted`` / ``duplicates`` / ``rejected_events``, plus ``batches`` (transactions);
    ``last_rejection`` keeps the latest reason, ``recent_rejections`` the last hundred.
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
        batch_messages: int = 1000,
        linger: float = 0.02,
        max_bytes: int = MAX_PAYLOAD,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.address = parse_url(url)
        self.prefix = prefix
        self.client_id = client_id
        self.qos = qos
        self.batch_messages = batch_messages
        self.linger = linger
        self.max_bytes = max_bytes
        self.stats: Counter[str] = Counter()
        self.last_rejection: str | None = None
        self.recent_rejections: deque[str] = deque(maxlen=100)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None
        self._unsubscribed = threading.Event()

    @property
    def topic(self) -> str:
        return f"{self.prefix}/+/+/state"

    @property
    def subscription(self) -> str:
        """A shared subscription named after the prefix: API workers of one platform split its
        messages (each stored once); a platform with another prefix is another group."""
        return f"$share/{self.prefix}/{self.topic}"

    @property
    def pending(self) -> int:
        """Messages received and not yet stored (nor acknowledged)."""
        return self._queue.qsize()

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
        client.on_unsubscribe = lambda *_: self._unsubscribed.set()
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._stopping.clear()
        self._writer = threading.Thread(target=self._write_loop, name="mitsumori-mqtt", daemon=True)
        self._writer.start()
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()
        self._client = client

    def stop(self, timeout: float = 5.0) -> None:
        """Store and acknowledge what has arrived, then disconnect.

        A clean session unsubscribes first (no new messages come, the ones in flight are
        stored); a persistent session keeps its subscription, and what is not acknowledged
        when the timeout runs out is delivered again on the next connect.
        """
        client = self._client
        if client is None:
            return
        deadline = time.monotonic() + timeout
        if self.client_id is None and self.subscribed.is_set():
            client.unsubscribe(self.subscription)
            self._unsubscribed.wait(min(1.0, timeout))
        self.wait_idle(max(0.0, deadline - time.monotonic()))
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(max(0.1, deadline - time.monotonic()))
        self._client = None
        client.disconnect()
        client.loop_stop()
        self.connected.clear()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once subscribed (tests and the CLI wait for it)."""
        return self.subscribed.wait(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every message received so far is stored and acknowledged."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self.connected.set()
        client.subscribe(self.subscription, qos=self.qos)
        log.info("MQTT subscribed to %s on %s:%d", self.topic, *self._where())

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        if any(getattr(r, "is_failure", False) for r in reasons):
            log.warning("MQTT broker refused the subscription to %s", self.subscription)
            return
        self.subscribed.set()

    def _on_disconnect(self, *_: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()

    def _where(self) -> tuple[str, int]:
        return self.address.host, self.address.port

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(msg)  # stored and acknowledged by the writer thread

    # --- the writer thread -------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + self.linger
            while len(batch) < self.batch_messages:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                self._flush(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _flush(self, batch: list[mqtt.MQTTMessage]) -> None:
        """Store ``batch`` in one transaction and acknowledge it; isolate a poison message."""
        try:
            out = store_messages(
                self.db, self.metrics, _messages(batch), prefix=self.prefix,
                max_bytes=self.max_bytes,
            )  # fmt: skip
        except Exception:
            log.exception("storing a batch of %d MQTT messages failed", len(batch))
            for msg in batch:  # one by one: find the message that fails, or wait for the DB
                if not self._flush_one(msg):
                    return  # stopping while the database is away: leave them for redelivery
            return
        self._record(out)
        self._ack(batch)

    def _flush_one(self, msg: mqtt.MQTTMessage) -> bool:
        """Store one message; False if the subscriber stops before the database is back."""
        attempt = 0
        while True:
            attempt += 1
            try:
                out = store_messages(
                    self.db, self.metrics, _messages([msg]), prefix=self.prefix,
                    max_bytes=self.max_bytes,
                )  # fmt: skip
                break
            except Exception as err:
                if attempt >= STORE_ATTEMPTS and self._database_answers():
                    # the database works, only this message makes it raise: poison
                    log.exception("MQTT message on %s cannot be stored: rejected", msg.topic)
                    out = BatchOutcome()
                    out.refuse(f"{msg.topic[:200]}: cannot be stored ({type(err).__name__})", 1)
                    with self._lock:
                        self.stats["error"] += 1
                    if self.metrics is not None:
                        self.metrics.mqtt_messages.labels(outcome="error").inc()
                    break
                if self._stopping.wait(min(30.0, 0.5 * 2 ** min(attempt, 6))):
                    return False
        self._record(out)
        self._ack([msg])
        return True

    def _database_answers(self) -> bool:
        try:
            self.db.ping()
        except Exception:
            return False
        return True

    def _record(self, out: BatchOutcome) -> None:
        with self._lock:
            self.stats["batches"] += 1
            self.stats["stored"] += out.stored
            self.stats["rejected"] += out.rejected
            self.stats["accepted"] += out.accepted
            self.stats["duplicates"] += out.duplicates
            self.stats["rejected_events"] += out.rejected_events
            if out.reasons:
                self.last_rejection = out.reasons[-1]
                self.recent_rejections.extend(out.reasons)
        for reason in out.reasons[:5]:
            log.info("MQTT rejected: %s", reason)

    def _ack(self, batch: list[mqtt.MQTTMessage]) -> None:
        client = self._client
        if client is None:
            return
        for msg in batch:
            if msg.qos > 0:
                client.ack(msg.mid, msg.qos)


def _messages(batch: Sequence[mqtt.MQTTMessage]) -> list[tuple[str, bytes]]:
    return [(m.topic, bytes(m.payload)) for m in batch]
