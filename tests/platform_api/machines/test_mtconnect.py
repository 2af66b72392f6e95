"""``mitsumori ingest mtconnect`` against real HTTP agents: the NIST test-bed documents and the
Okuma SHDR recording replayed through our test agent; resume after a restart, agent restarts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from matching.capacity import StateSpan, state_timeline
from matching.errors import AgentUnreachable
from matching.events import Snapshot
from matching.mtconnect.probe import parse_probe
from matching.mtconnect.streams import parse_streams
from platform_api.db.models import MtconnectAgent
from platform_api.db.session import Database
from platform_api.ingest.mtconnect import MTConnectIngest
from platform_api.machines import ingest
from platform_api.machines import repository as machines_repository
from tests.matching.agent import ReplayAgent
from tests.platform_api.factories import Org, make_org
from tests.platform_api.machines.shdr_agent import ShdrAgent

MTC = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "mtconnect"


@pytest.fixture
def fetch() -> Iterator[Callable[[str], bytes]]:
    with httpx.Client(timeout=5.0) as c:
        yield lambda url: c.get(url).raise_for_status().content


def _ingest(ctx: Any, shop: Org, url: str, fetch: Callable[[str], bytes], count: int) -> Any:
    return MTConnectIngest(
        ctx.db, ctx.metrics, agent_url=url, shop_id=shop.id, fetch=fetch, count=count
    )


def _stored(ctx: Any, machine_id: str, shop: str) -> list[Any]:
    with ctx.db.session() as session:
        rows = machines_repository.events_between(
            session, machine_id=machine_id, start=None, end=None
        )
        return [ingest.row_to_event(r, shop=shop) for r in rows]


def _busy(spans: tuple[StateSpan, ...]) -> list[float]:
    """Seconds of each machining cycle (contiguous productive / setup spans)."""
    out: list[list[Any]] = []
    for s in spans:
        if s.state in ("productive", "setup"):
            if out and out[-1][1] == s.start:
                out[-1][1] = s.end
            else:
                out.append([s.start, s.end])
    return [(b - a).total_seconds() for a, b in out]


def test_nist_devices_become_machines_and_a_restart_resumes(
    client: Any, ctx: Any, fetch: Callable[[str], bytes]
) -> None:
    shop = make_org(ctx, "shop")
    with ReplayAgent(MTC) as agent:
        run = _ingest(ctx, shop, agent.url, fetch, count=30)
        machines = run.setup()
        assert len(machines) == 8
        listed = client.get("/v1/machines?limit=50", headers=shop.headers).json()["items"]
        by_uuid = {m["mtconnect_device_uuid"]: m for m in listed}
        probe = parse_probe((MTC / "nist_smstestbed" / "devices-1-3-smstestbed.xml").read_bytes())
        for dev in probe.devices:
            m = by_uuid[dev.uuid]
            assert m["id"] == machines[dev.uuid] and m["name"] == dev.name
            expected = dev.machine_class if dev.machine_class != "unknown" else "other"
            assert m["machine_type"] == expected
            assert m["envelope_source"] == "typical"  # this model has no axis LENGTH
        first = run.poll_once()
        assert first.kind == "current" and first.accepted > 0
        second = run.poll_once()
        assert second.kind == "sample" and second.observations == 30
        saved = run.poller.state.next_sequence
        del run  # the process stops here; what it read is in the database

        again = _ingest(ctx, shop, agent.url, fetch, count=30)
        assert again.setup() == machines  # the same machines, none created twice
        agent.requests.clear()
        res = again.poll_once()
        assert res.kind == "sample"
        assert agent.requests[-1] == f"/sample?from={saved}&count=30"
        totals = again.run(interval=0.01, until_idle=True)
        assert totals.observations == len(agent.sequences) - 30  # all after the first run's
    with ctx.db.session() as session:
        row = machines_repository.agent_for(session, org_id=shop.id, base_url=agent.url)
        assert row is not None and row.next_sequence == agent.sequences[-1] + 1
        assert row.instance_id == "1683217207" and row.polls >= 4
    # the stored events give each machine the state its /current document says
    direct = parse_streams(
        (MTC / "nist_smstestbed" / "streams-1-3-smstestbed-current.xml").read_bytes(),
        shop=shop.id,
        probe=probe,
        machine_ids=machines,
    )
    for uuid, mid in machines.items():
        snap = Snapshot()
        for e in sorted((e for e in direct.events if e.machine == mid), key=lambda e: e.sort_key):
            snap = snap.apply(e)
        got = client.get(f"/v1/machines/{mid}", headers=shop.headers).json()
        assert got["state"] == snap.state, uuid
    gf = machines[probe.device("GFAgie01").uuid]
    assert client.get(f"/v1/machines/{gf}", headers=shop.headers).json()["state"] == "productive"


def test_okuma_shdr_replay_through_an_agent(
    client: Any, ctx: Any, fetch: Callable[[str], bytes]
) -> None:
    shop = make_org(ctx, "shop")
    with ShdrAgent(MTC) as agent:
        run = _ingest(ctx, shop, agent.url, fetch, count=7)
        machines = run.setup()
        okuma = machines["OKUMA.123456"]
        m = client.get(f"/v1/machines/{okuma}", headers=shop.headers).json()
        assert m["machine_type"] == "mill-turn" and m["envelope_source"] == "probe"
        assert m["envelope_mm"] == {"x": 650.0, "y": 650.0, "z": 650.0}
        totals = run.run(interval=0.01, until_idle=True)
        assert totals.observations == len(agent.obs)
        stored = _stored(ctx, okuma, shop.id)
        assert totals.accepted == len(stored) and totals.rejected == 0
        # the cycles read back from the database are the recording's own
        direct = state_timeline(
            [e.__class__(**{**e.__dict__, "shop": shop.id, "machine": okuma})
             for e in agent.replay.events]
        )  # fmt: skip
        assert _busy(state_timeline(stored)) == pytest.approx(_busy(direct), abs=1e-3)
        assert len(_busy(direct)) == 4

        agent.restart()  # a new instanceId; sequences start again from 1
        res = run.poll_once()
        assert res.agent_restarted and res.kind == "current"
        assert res.accepted == 0 and res.duplicates > 0  # the same values, new ids
        run.run(interval=0.01, until_idle=True)
        assert len(_stored(ctx, okuma, shop.id)) == len(stored)  # nothing doubled
    with ctx.db.session() as session:
        row = machines_repository.agent_for(session, org_id=shop.id, base_url=agent.url)
        assert row is not None and row.restarts == 1 and row.instance_id == agent.instance_id
    cap = client.get(f"/v1/machines/{okuma}/capacity", headers=shop.headers).json()
    assert cap["last_seen"] is not None and cap["stale"]  # a 2022 recording: stale now
    assert cap["trust"] < 0.01


def test_a_restart_mid_stream_loses_nothing(
    client: Any, ctx: Any, fetch: Callable[[str], bytes]
) -> None:
    shop = make_org(ctx, "shop")
    with ShdrAgent(MTC) as agent:
        run = _ingest(ctx, shop, agent.url, fetch, count=5)
        okuma = run.setup()["OKUMA.123456"]
        for _ in range(3):
            run.poll_once()
        with ctx.db.session() as session:
            saved = session.get(MtconnectAgent, run.agent_id)
            assert saved is not None
            next_seq = saved.next_sequence
        assert next_seq == agent.current_upto + 1 + 10
        agent.requests.clear()
        resumed = _ingest(ctx, shop, agent.url, fetch, count=5)
        resumed.setup()
        resumed.run(interval=0.01, until_idle=True)
        assert agent.requests[1] == f"/sample?from={next_seq}&count=5"
        assert not any(r.startswith("/current") for r in agent.requests)
    stored = _stored(ctx, okuma, shop.id)
    every = {(e.timestamp, e.event_id) for e in stored}
    assert len(every) == len(stored) == len({e.content_key for e in stored})
    assert len(stored) == len(agent.obs)  # each observation once: none lost, none twice


def test_an_unreachable_agent_is_reported_and_retried(client: Any, ctx: Any) -> None:
    shop = make_org(ctx, "shop")

    def down(url: str) -> bytes:
        raise httpx.ConnectError("connection refused")

    run = MTConnectIngest(
        ctx.db, ctx.metrics, agent_url="http://127.0.0.1:9", shop_id=shop.id, fetch=down
    )
    with pytest.raises(AgentUnreachable, match="check the agent URL"):
        run.setup()


def test_cli_command(fresh_database: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_api.cli import app
    from platform_api.main import create_app  # noqa: F401 - the app the CLI shares a DB with

    engine, data_dir = fresh_database
    db = Database(engine)
    shop = make_org_in(db)
    monkeypatch.setenv("MITSUMORI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("MITSUMORI_DATA_DIR", str(data_dir))
    with ShdrAgent(MTC) as agent:
        args = ["ingest", "mtconnect", "--agent", agent.url, "--shop", shop,
                "--interval", "0.05", "--count", "20", "--until-idle"]  # fmt: skip
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "2 device(s)" in first.output
        stored = re.search(r"(\d+) events stored, 0 duplicates, 0 rejected", first.output)
        assert stored is not None and int(stored.group(1)) >= 29, first.output
        again = CliRunner().invoke(app, args)
        assert again.exit_code == 0 and "0 events stored" in again.output
    bad = CliRunner().invoke(app, ["ingest", "mtconnect", "--agent", agent.url, "--shop", "nope"])
    assert bad.exit_code == 2 and "not_found" in bad.output


def make_org_in(db: Database) -> str:
    from platform_api.orgs import service
    from platform_api.orgs.schemas import OrganizationCreate

    with db.session() as session:
        return service.create_org(
            session=session, body=OrganizationCreate(name="cli shop", kind="shop")
        ).id
