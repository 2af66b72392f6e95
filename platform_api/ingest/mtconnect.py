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
   ids but the same content, and are counted as duplicates.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matching.errors import AgentUnreachable, InvalidDocument, MatchingError
from matching.events import MachineEvent
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
from platform_api.machines.schemas import MachineCreate
from platform_api.metrics import Metrics
from platform_api.orgs import repository as orgs_repository

log = logging.getLogger("mitsumori.mtconnect")
MACHINE_TYPES = ("3-axis", "4-axis", "5-axis", "lathe", "mill-turn")
CLASS_AXES = {"3-axis": 3, "4-axis": 4, "5-axis": 5, "lathe": 2, "mill-turn": 5}


def http_fetch(timeout: float = 10.0) -> tuple[Callable[[str], bytes], Callable[[], None]]:
    """A ``fetch(url) -> bytes`` over one keep-alive httpx client, and its closer."""
    import httpx

    client = httpx.Client(timeout=timeout, follow_redirects=False)

    def fetch(url: str) -> bytes:
        return client.get(url).raise_for_status().content

    return fetch, client.close


def machine_body(device: DeviceInfo) -> tuple[MachineCreate, str]:
    """How a probed device is declared as a machine, and where its envelope came from."""
    mtype = device.machine_class if device.machine_class in MACHINE_TYPES else "other"
    n_axes = sum(1 for a in device.axes if a.role in ("linear", "positioning"))
    axes = CLASS_AXES.get(mtype, max(1, min(n_axes, 13)))
    if device.envelope_mm is not None:
        env, source = device.envelope_mm, "probe"
    else:
        env, source = machines_service.typical_envelope_mm(mtype), "typical"
    controller = " ".join(x for x in (device.manufacturer, device.model) if x) or None
    body = MachineCreate(
        name=device.name[:200] or device.uuid[:200],
        machine_type=mtype,  # type: ignore[arg-type]
        axes=axes,
        envelope_mm={"x": env[0], "y": env[1], "z": env[2]},  # type: ignore[arg-type]
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
    errors: int = 0
    machines: dict[str, str] = field(default_factory=dict)  # device uuid -> machine id

    def add(self, s: PollSummary) -> None:
        self.polls += 1
        self.observations += s.observations
        self.accepted += s.accepted
        self.duplicates += s.duplicates
        self.rejected += s.rejected
        self.restarts += int(s.agent_restarted)
        self.lost += s.lost


class MTConnectIngest:
    """Polls one agent for one shop; the state lives in the database (see module docstring)."""

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
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.agent_url = agent_url.rstrip("/")
        self.shop_id = shop_id
        self.fetch = fetch
        self.fmt = fmt
        self.count = count
        self.agent_id: str | None = None
        self.poller: MTConnectPoller | None = None
        self.totals = RunTotals()

    # -- setup ------------------------------------------------------------------------------

    def setup(self) -> dict[str, str]:
        """Check the shop, load or create the agent row, probe, map devices to machines."""
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
        self.poller = MTConnectPoller(
            self.agent_url, self.shop_id, self.fetch, state=state, count=self.count, fmt=self.fmt
        )
        return self._probe()

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
        """One poll, stored with the poller's new state in one transaction."""
        assert self.poller is not None and self.agent_id is not None
        before = PollerState(self.poller.state.instance_id, self.poller.state.next_sequence)
        try:
            res = self.poller.poll()
            if res.agent_restarted:
                self._probe()  # devices may have changed with the new agent instance
        except (AgentUnreachable, InvalidDocument) as exc:
            self.poller.state = before
            self._count_poll("unreachable" if isinstance(exc, AgentUnreachable) else "invalid")
            self._save_error(exc.message)
            raise
        try:
            summary = self._store(res)
        except BaseException:
            self.poller.state = before  # nothing was committed: read the same again next time
            raise
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
            rejected=len(res.skipped),
            next_sequence=self.poller.state.next_sequence,
        )
        for i, ev in enumerate(res.events):
            if ev.machine in known:
                by_machine[ev.machine].append((i, ev))
            else:
                summary.rejected += 1  # a device the probe did not list
        report = ingest.StoreReport()
        with self.db.session() as session:
            for machine_id, events in by_machine.items():
                report.merge(
                    ingest.store_events(session=session, machine_id=machine_id, events=events)
                )
            row = session.get(MtconnectAgent, self.agent_id)
            assert row is not None
            row.instance_id = self.poller.state.instance_id
            row.next_sequence = self.poller.state.next_sequence
            row.polls += 1
            row.events += report.accepted
            row.restarts += int(res.agent_restarted)
            row.lost += res.lost
            row.last_poll_at = utcnow()
            row.last_error = None
            row.updated_at = row.last_poll_at
            session.add(row)
        summary.accepted = report.accepted
        summary.duplicates = report.duplicates
        summary.rejected += len(report.rejected)
        ingest.count(self.metrics, "mtconnect", report)
        return summary

    def _count_poll(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.mtconnect_polls.labels(outcome=outcome).inc()

    def _save_error(self, message: str) -> None:
        assert self.agent_id is not None
        with self.db.session() as session:
            row = session.get(MtconnectAgent, self.agent_id)
            if row is not None:
                row.last_error = message[:2000]
                row.updated_at = utcnow()
                session.add(row)

    def run(
        self,
        *,
        interval: float = 2.0,
        max_polls: int | None = None,
        until_idle: bool = False,
        stop: threading.Event | None = None,
        echo: Callable[[str], Any] | None = None,
    ) -> RunTotals:
        """Poll every ``interval`` s until ``stop`` is set, ``max_polls`` polls, or (with
        ``until_idle``) a sample poll brings nothing new. An unreachable agent is retried."""
        stop = stop or threading.Event()
        if self.poller is None:
            self.setup()
        backoff = interval
        while not stop.is_set() and (max_polls is None or self.totals.polls < max_polls):
            try:
                s = self.poll_once()
            except (AgentUnreachable, InvalidDocument) as exc:
                self.totals.errors += 1
                if echo:
                    echo(f"agent error ({exc.code}): {exc.message}; retrying in {backoff:.0f} s")
                stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            except MatchingError:
                raise
            backoff = interval
            if echo:
                echo(
                    f"{s.kind}: {s.observations} observations, {s.accepted} new events, "
                    f"{s.duplicates} duplicates, {s.rejected} rejected"
                    + (" (agent restarted)" if s.agent_restarted else "")
                    + (f", {s.lost} lost" if s.lost else "")
                )
            if until_idle and s.kind == "sample" and s.observations == 0:
                break
            if s.observations == 0 or s.kind == "current":
                stop.wait(interval)
        return self.totals
