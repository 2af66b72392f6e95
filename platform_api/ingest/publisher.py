"""The demo's live machines: a thread that publishes each machine's state changes over MQTT.

``make run`` starts ``mitsumori serve`` with ``MITSUMORI_DEMO_PUBLISHER=1``: the API's lifespan
runs this publisher next to the MQTT subscriber, so the demo machines report through the broker
exactly as a shop's gateway would, and it stops with the server. ``mitsumori demo publish``
runs it alone.

Each machine alternates between running a job (ACTIVE in PRODUCTION, part count rising) and
waiting (READY, now and then a SETUP), with a busy share drawn per machine from its seeded
history's range (35-85 %); a report goes out about every ``mean_seconds``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from sqlmodel import col, select

from matching.events import format_timestamp
from platform_api.db.models import Machine, MachineStatus, Organization
from platform_api.db.session import Database
from platform_api.ingest.mqtt import parse_url

log = logging.getLogger("mitsumori.demo")


@dataclass
class LiveMachine:
    shop: str
    machine: str
    busy: float
    running: bool
    part_count: int
    n: int = 0


class DemoPublisher:
    """Publishes live states of every machine of every shop (refreshing the list each minute)."""

    def __init__(
        self,
        db: Database,
        *,
        url: str,
        prefix: str = "mitsumori",
        mean_seconds: float = 3.0,
        seed: int = 0,
        password_of: Callable[[str], str] | None = None,
    ) -> None:
        """password_of: a shop's broker password; when given, each shop's machines are
        published by a client logged in as that shop (a broker with the platform's ACL lets
        nothing else through), else by one client with the URL's credentials."""
        self.db = db
        self.address = parse_url(url)
        self.prefix = prefix
        self.mean_seconds = mean_seconds
        self.rng = random.Random(seed)
        self.machines: dict[str, LiveMachine] = {}
        self.published = 0
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self.password_of = password_of
        self._shop_clients: dict[str, mqtt.Client] = {}

    def connect(self) -> None:
        """Connect to the broker in the background (paho retries while it is away)."""
        self._client = self._connect(self.address.username, self.address.password)

    def _connect(self, username: str | None, password: str | None) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"mitsumori-demo-{uuid.uuid4().hex[:8]}"
        )
        if username:
            client.username_pw_set(username, password)
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()
        return client

    def client_for(self, shop: str) -> mqtt.Client:
        """The client that publishes ``shop``'s machines."""
        if self.password_of is None:
            assert self._client is not None
            return self._client
        client = self._shop_clients.get(shop)
        if client is None:
            client = self._shop_clients[shop] = self._connect(shop, self.password_of(shop))
        return client

    def start(self) -> None:
        """Connect and publish from a background thread until ``stop()``."""
        self.connect()
        self._thread = threading.Thread(target=self._loop, name="mitsumori-demo", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for client in [self._client, *self._shop_clients.values()]:
            if client is not None:
                client.disconnect()
                client.loop_stop()

    def refresh(self) -> None:
        """Pick up machines added since (their part counters continue from the stored one)."""
        with self.db.session() as session:
            rows = session.exec(
                select(Machine, MachineStatus)
                .join(Organization, col(Organization.id) == col(Machine.org_id))
                .outerjoin(MachineStatus, col(MachineStatus.machine_id) == col(Machine.id))
                .where(Organization.kind == "shop")
            ).all()
        for m, st in rows:
            if m.id in self.machines:
                continue
            latest = (st.latest if st is not None else {}).get("part_count") or {}
            self.machines[m.id] = LiveMachine(
                shop=m.org_id,
                machine=m.id,
                busy=self.rng.uniform(0.35, 0.85),
                running=False,
                part_count=int(latest.get("value", 0)),
            )

    def step(self, lm: LiveMachine, now: datetime) -> dict[str, Any]:
        """The next report of one machine (a state change)."""
        lm.n += 1
        event: dict[str, Any] = {
            "event_id": f"live-{uuid.uuid4().hex[:16]}",
            "timestamp": format_timestamp(now),
            "availability": "AVAILABLE",
            "controller_mode": "AUTOMATIC",
        }
        if lm.running:
            lm.running = self.rng.random() < lm.busy  # another job follows, or the machine waits
            lm.part_count += self.rng.randint(1, 5)
            event.update(execution="PROGRAM_COMPLETED", part_count=lm.part_count)
            if lm.running:
                event.update(execution="ACTIVE", functional_mode="PRODUCTION")
        else:
            lm.running = self.rng.random() < lm.busy
            if lm.running:
                event.update(
                    execution="ACTIVE",
                    functional_mode="PRODUCTION",
                    program=f"O{self.rng.randint(1000, 9999)}",
                )
            else:
                setup = self.rng.random() < 0.2
                event.update(execution="READY", functional_mode="SETUP" if setup else "PRODUCTION")
        return event

    def publish_round(self) -> int:
        """One report for each machine; how many went out."""
        now = datetime.now(UTC)
        sent = 0
        for lm in list(self.machines.values()):
            topic = f"{self.prefix}/{lm.shop}/{lm.machine}/state"
            info = self.client_for(lm.shop).publish(topic, json.dumps(self.step(lm, now)), qos=1)
            sent += int(info.rc == mqtt.MQTT_ERR_SUCCESS)
        self.published += sent
        return sent

    def _loop(self) -> None:
        last_refresh = -1e9
        while not self.stopping.is_set():
            try:
                if time.monotonic() - last_refresh > 60:
                    self.refresh()
                    last_refresh = time.monotonic()
                self.publish_round()
            except Exception:  # the database or broker is away: say so, keep going
                log.exception("demo publisher round failed")
            self.stopping.wait(self.rng.uniform(0.5, 1.5) * self.mean_seconds)
