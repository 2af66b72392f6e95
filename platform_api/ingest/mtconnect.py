"""Poll an MTConnect agent for a shop: devices become machines, observations become events.

``mitsumori ingest mtconnect --agent URL --shop SHOP`` runs ``MTConnectIngest``:

1. ``/probe``: each device is matched to the shop's machine with its uuid
   (``machines.mtconnect_device_uuid``) or created, with the travel envelope of the probe's
   axis LENGTH specifications (or the typical one of its class, marked ``typical``).
2. ``matching.mtconnect.poller.MTConnectPoller`` reads ``/current`` then ``/sample?from=`` (XML, or
   JSON with ``--format json``). Each poll's events and the poller's state (agent instanceId,
   next sequence) are committed in ONE transaction, in the ``mtconnect_agents`` row; a restarted
   ingest resumes from that sequence, so nothing is read twice or skipped.
3. An agent restart (new instanceId) is detected by the poller, which reads ``/current`` again;
   the probe is read again too (devices may have changed). Observations re-read then carry new
   ids but the same content, and are counted as duplicates. A ``/sample`` with sequence numbers
   that make no sense is thrown away for a fresh ``/current`` and counted (``resyncs``).
4. Requests go through ``agent_http.AgentHttp`` (connect, read and total time limits, bounded
   redirects and size). A failed poll stores nothing; the agent's health (``ok`` /
   ``backing_off`` / ``error``, last error, last success, next attempt, counters) is saved in
   the same row and shown by ``GET /v1/shops/{shop_id}/mtconnect-agents``; the next attempt
   waits an exponential backoff with jitter drawn from an RNG seeded per agent.
"""

from __future__ import annotations

import logging
import random
import threading
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from matching.errors import AgentTimeout, AgentUnreachable, InvalidDocument, MatchingError
from matching.events import MachineEvent
from matching.mtconnect.health import AgentHealth, Backoff
from matching.mtconnect.poller import MTConnectPoller, PollerState, PollResult
from matching.mtconnect.probe import DeviceInfo
from platform_api.db.models import MtconnectAgent
from platform_api.db.session import Database
from platform_api.db.types import utcnow
from platform_api.errors import NotFound
from platform_api.ids import new_id
from platform_api.machines import ingest
from platform_api.machines import repository as machines_repository
from platform_api.machines import service as machines_service
from platform_api.machines.schemas import Envelope, MachineCreate, MachineType
from platform_api.metrics import Metrics
from platform_api.orgs import repository as orgs_repository

log = logging.getLogger("mitsumori.mtconnect")
MACHINE_TYPES: tuple[MachineType, ...] = ("3-axis", "4-axis", "5-axis", "lathe", "mill-turn")
CLASS_AXES = {"3-axis": 3, "4-axis": 4, "5-axis": 5, "lathe": 2, "mill-turn": 5}


def _known_class(machine_class: str) -> TypeGuard[MachineType]:
    return machine_class in MACHINE_TYPES


def machine_body(device: DeviceInfo) -> tuple[MachineCreate, str]:
    """How a probed device is declared as a machine, and where its envelope came from."""
    mtype: MachineType = device.machine_class if _known_class(device.machine_class) else "other"
    n_axes = sum(1 for a in device.axes if a.role in ("linear", "positioning"))
    axes = CLASS_AXES.get(mtype, max(1, min(n_axes, 13)))
    if device.envelope_mm is not None:
        env, source = device.envelope_mm, "probe"
    else:
        env, source = machines_service.typical_envelope_mm(mtype), "typical"
    controller = " ".join(x for x in (device.manufacturer, device.model) if x) or None
    body = MachineCreate(
        name=device.name[:200] or device.uuid[:200],
        machine_type=mtype,
        axes=axes,
        envelope_mm=Envelope(x=env[0], y=env[1], z=env[2]),
        controller=controller[:120] if controller else None,
        hourly_rate_jpy=machines_service.typical_rate_jpy(mtype),
        mtconnect_device_uuid=device.uuid[:120],
    )
    return body, source


@dataclass
class PollSummary:
    """One poll as stored: kind, events accepted / duplicate / rejected, agent restart, lost."""

    kind: str
    observations: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    agent_restarted: bool = False
    lost: int = 0
    resync_reason: str | None = None
    next_sequence: int | None = None


@dataclass
class RunTotals:
    polls: int = 0
    observations: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    restarts: int = 0
    lost: int = 0
    resyncs: int = 0
    errors: int = 0
    timeouts: int = 0
    machines: dict[str, str] = field(default_factory=dict)  # device uuid -> machine id

    def add(self, s: PollSummary) -> None:
        self.polls += 1
        self.observations += s.observations
        self.accepted += s.accepted
        self.duplicates += s.duplicates
        self.rejected += s.rejected
        self.restarts += int(s.agent_restarted)
        self.lost += s.lost
        self.resyncs += int(s.resync_reason is not None)


def health_of(row: MtconnectAgent) -> AgentHealth:
    """The health saved in an agent row."""
    return AgentHealth(
        status=row.status,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        last_success_at=row.last_success_at,
        next_attempt_at=row.next_attempt_at,
        consecutive_failures=row.consecutive_failures,
        polls=row.polls,
        failures=row.failures,
        timeouts=row.timeouts,
        resyncs=row.resyncs,
    )


def _save_health(row: MtconnectAgent, health: AgentHealth, now: datetime) -> None:
    row.status = health.status
    row.last_error = health.last_error
    row.last_error_at = health.last_error_at
    row.last_success_at = health.last_success_at
    row.next_attempt_at = health.next_attempt_at
    row.consecutive_failures = health.consecutive_failures
    row.polls = health.polls
    row.failures = health.failures
    row.timeouts = health.timeouts
    row.resyncs = health.resyncs
    row.last_poll_at = now
    row.updated_at = now


class MTConnectIngest:
    """Polls one agent for one shop; the state lives in the database (see module docstring).

    backoff: waits after failures (default: 2 s doubling to 5 min, jitter 50%). seed: the
    jitter's RNG seed (default: derived from the shop and agent URL, so two agents that fail
    together retry apart, and a run is repeatable). clock: now, in UTC (tests may pin it).
    """

    def __init__(
        self,
        db: Database,
        metrics: Metrics | None,
        *,
        agent_url: str,
        shop_id: str,
        fetch: Callable[[str], bytes],
        fmt: str = "xml",
        count: int = 1000,
        backoff: Backoff | None = None,
        seed: int | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.agent_url = agent_url.rstrip("/")
        self.shop_id = shop_id
        self.fetch = fetch
        self.fmt = fmt
        self.count = count
        self.backoff = backoff or Backoff()
        if seed is None:
            seed = zlib.crc32(f"{shop_id} {self.agent_url}".encode())
        self.rng = random.Random(seed)
        self.clock = clock
        self.agent_id: str | None = None
        self.poller: MTConnectPoller | None = None
        self.health = AgentHealth()
        self.last_delay: float | None = None  # seconds before the next attempt, after a failure
        self.totals = RunTotals()

    # -- setup ------------------------------------------------------------------------------

    def setup(self) -> dict[str, str]:
        """Check the shop, load or create the agent row, probe, map devices to machines.

        A probe that fails is saved as the agent's error (nothing retries it) and raised."""
        with self.db.session() as session:
            if orgs_repository.get_org_of_kind(session, self.shop_id, "shop") is None:
                raise NotFound(f"no shop {self.shop_id}", detail={"shop_id": self.shop_id})
            row = machines_repository.agent_for(
                session, org_id=self.shop_id, base_url=self.agent_url
            )
            if row is None:
                row = MtconnectAgent(id=new_id("mta"), org_id=self.shop_id, base_url=self.agent_url)
                session.add(row)
                session.flush()
            self.agent_id = row.id
            state = PollerState(row.instance_id, row.next_sequence)
            self.health = health_of(row)
        self.poller = MTConnectPoller(
            self.agent_url, self.shop_id, self.fetch, state=state, count=self.count, fmt=self.fmt
        )
        try:
            return self._probe()
        except (AgentUnreachable, InvalidDocument) as exc:
            self._failed(exc, retry=False)
            raise

    def _probe(self) -> dict[str, str]:
        assert self.poller is not None
        probe = self.poller.probe()
        mapping: dict[str, str] = {}
        with self.db.session() as session:
            for dev in probe.devices:
                m = machines_repository.by_device_uuid(session, org_id=self.shop_id, uuid=dev.uuid)
                if m is None:
                    body, source = machine_body(dev)
                    m = machines_service.create(
                        session=session, org_id=self.shop_id, body=body, envelope_source=source
                    )
                    log.info("agent device %s is now machine %s (%s)", dev.uuid, m.id, m.name)
                mapping[dev.uuid] = m.id
        self.poller.machine_ids = dict(mapping)
        self.totals.machines = dict(mapping)
        return mapping

    # -- polling ----------------------------------------------------------------------------

    def poll_once(self) -> PollSummary:
        """One poll, stored with the poller's new state and health in one transaction.

        A failure stores no event, saves the health (``backing_off`` until ``last_delay``
        seconds from now) and is raised."""
        assert self.poller is not None and self.agent_id is not None
        before = PollerState(self.poller.state.instance_id, self.poller.state.next_sequence)
        try:
            res = self.poller.poll()
            if res.agent_restarted:
                self._probe()  # devices may have changed with the new agent instance
        except (AgentUnreachable, InvalidDocument) as exc:
            self.poller.state = before
            self._count_poll("unreachable" if isinstance(exc, AgentUnreachable) else "invalid")
            self._failed(exc, retry=True)
            raise
        try:
            summary = self._store(res)
        except BaseException:
            self.poller.state = before  # nothing was committed: read the same again next time
            raise
        self.last_delay = None
        if res.resync_reason is not None:
            log.warning("agent %s: %s; read /current again", self.agent_url, res.resync_reason)
        self._count_poll("agent_restarted" if res.agent_restarted else res.kind)
        self.totals.add(summary)
        return summary

    def _store(self, res: PollResult) -> PollSummary:
        assert self.poller is not None
        by_machine: dict[str, list[tuple[int, MachineEvent]]] = defaultdict(list)
        known = set(self.poller.machine_ids.values())
        summary = PollSummary(
            kind=res.kind,
            observations=len(res.observations),
            agent_restarted=res.agent_restarted,
            lost=res.lost,
            resync_reason=res.resync_reason,
            rejected=len(res.skipped),
            next_sequence=self.poller.state.next_sequence,
        )
        for i, ev in enumerate(res.events):
            if ev.machine in known:
                by_machine[ev.machine].append((i, ev))
            else:
                summary.rejected += 1  # a device the probe did not list
        report = ingest.StoreReport()
        now = self.clock()
        health = self.health.succeeded(now=now, resynced=res.resync_reason is not None)
        with self.db.session() as session:
            for machine_id, events in by_machine.items():
                report.merge(
                    ingest.store_events(session=session, machine_id=machine_id, events=events)
                )
            row = session.get(MtconnectAgent, self.agent_id)
            assert row is not None
            row.instance_id = self.poller.state.instance_id
            row.next_sequence = self.poller.state.next_sequence
            row.events += report.accepted
            row.restarts += int(res.agent_restarted)
            row.lost += res.lost
            _save_health(row, health, now)
            session.add(row)
        self.health = health
        summary.accepted = report.accepted
        summary.duplicates = report.duplicates
        summary.rejected += len(report.rejected)
        ingest.count(self.metrics, "mtconnect", report)
        return summary

    def _count_poll(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.mtconnect_polls.labels(outcome=outcome).inc()

    def _failed(self, exc: MatchingError, *, retry: bool) -> None:
        """Record a failed attempt: the next one waits the backoff (``retry``) or none is due."""
        failures = self.health.consecutive_failures + 1
        delay = self.backoff.delay(failures, self.rng) if retry else None
        self.last_delay = delay
        timeout = isinstance(exc, AgentTimeout)
        self.totals.errors += 1
        self.totals.timeouts += int(timeout)
        now = self.clock()
        self._save(self.health.failed(now=now, error=exc.message, delay=delay, timeout=timeout))

    def _save(self, health: AgentHealth) -> None:
        assert self.agent_id is not None
        now = self.clock()
        with self.db.session() as session:
            row = session.get(MtconnectAgent, self.agent_id)
            if row is not None:
                _save_health(row, health, now)
                session.add(row)
        self.health = health

    def stop(self) -> None:
        """The ingest ends: a failing agent is saved as ``error`` (no attempt is scheduled)."""
        if self.agent_id is not None and self.health.status == "backing_off":
            self._save(self.health.stopped())

    def run(
        self,
        *,
        interval: float = 2.0,
        max_polls: int | None = None,
        max_failures: int | None = None,
        until_idle: bool = False,
        stop: threading.Event | None = None,
        echo: Callable[[str], Any] | None = None,
    ) -> RunTotals:
        """Poll every ``interval`` s until ``stop`` is set, ``max_polls`` attempts,
        ``max_failures`` failures in a row, or (with ``until_idle``) a sample poll brings
        nothing new. A failed poll is retried after the backoff; when the run ends on a failure
        the agent is left in ``error``."""
        stop = stop or threading.Event()
        if self.poller is None:
            self.setup()
        attempts = 0
        try:
            while not stop.is_set() and (max_polls is None or attempts < max_polls):
                attempts += 1
                try:
                    s = self.poll_once()
                except (AgentUnreachable, InvalidDocument) as exc:
                    failures = self.health.consecutive_failures
                    if max_failures is not None and failures >= max_failures:
                        if echo:
                            echo(f"agent error ({exc.code}): {exc.message}; giving up")
                        break
                    delay = self.last_delay or interval
                    if echo:
                        echo(f"agent error ({exc.code}): {exc.message}; retrying in {delay:.1f} s")
                    stop.wait(delay)
                    continue
                if echo:
                    echo(
                        f"{s.kind}: {s.observations} observations, {s.accepted} new events, "
                        f"{s.duplicates} duplicates, {s.rejected} rejected"
                        + (" (agent restarted)" if s.agent_restarted else "")
                        + (f" (resync: {s.resync_reason})" if s.resync_reason else "")
                        + (f", {s.lost} lost" if s.lost else "")
                    )
                if until_idle and s.kind == "sample" and s.observations == 0:
                    break
                if s.observations == 0 or s.kind == "current":
                    stop.wait(interval)
        finally:
            self.stop()
        return self.totals
