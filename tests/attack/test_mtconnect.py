"""Hostile and broken MTConnect agents on loopback: each costs the poller a bounded wait and a
typed, counted failure; absurd sequence numbers cost a counted fresh /current; every accepted
event is stored exactly once; the agent's state is shown to its shop only."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from matching.errors import AgentTimeout, AgentUnreachable, InvalidDocument
from matching.mtconnect.health import Backoff
from platform_api.db.models import MachineEventRow
from platform_api.ingest.agent_http import AgentHttp, HttpLimits
from platform_api.ingest.mtconnect import MTConnectIngest
from tests.matching.agent import ReplayAgent
from tests.platform_api.factories import Org, make_org

MTC = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mtconnect"
#: Time limits of the hostile cases: small, so a stalled agent costs the suite little.
FAST = HttpLimits(connect_timeout=1.0, read_timeout=1.0, total_timeout=0.6, max_redirects=3,
                  max_bytes=1_000_000)  # fmt: skip
#: Slack allowed past a time limit before a cut-off counts as late (thread wake-up, a loaded CI).
LATE = 1.5
MODES = ("hang", "drip", "redirect_loop", "garbage", "http_500", "huge", "empty")


class HostileAgent(ReplayAgent):
    """The NIST replay agent, but every path except /probe misbehaves as ``mode`` says
    (None: behaves). ``sample_edit`` / ``current_edit`` rewrite those documents' bytes."""

    def __init__(self, mtc: Path, *, drip_gap: float = 0.1) -> None:
        self.mode: str | None = None
        self.sample_edit: Callable[[bytes, int], bytes] | None = None
        self.current_edit: Callable[[bytes], bytes] | None = None
        self.release = threading.Event()
        self.drip_gap = drip_gap
        self.hits = 0
        super().__init__(mtc)

    def __exit__(self, *exc: object) -> None:
        self.release.set()  # hanging and dripping handlers end now
        super().__exit__(*exc)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self
        base = super()._handler()

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:  # noqa: N802
                agent.hits += 1
                if agent.mode is None or self.path.startswith("/probe"):
                    return self._behave()
                getattr(self, "_" + agent.mode)()

            def _behave(self) -> None:
                if self.path.startswith("/sample") and agent.sample_edit is not None:
                    start = int(re.search(r"from=(\d+)", self.path).group(1))  # type: ignore[union-attr]
                    self._send(agent.sample_edit(agent.sample(start, 30), start))
                elif self.path.startswith("/current") and agent.current_edit is not None:
                    self._send(agent.current_edit(agent.current()))
                else:
                    super().do_GET()

            def _send(self, body: bytes, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _hang(self) -> None:
                agent.release.wait(30)

            def _drip(self) -> None:
                head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<MTConnectStreams>"
                try:
                    for i in range(100000):
                        self.wfile.write(head[i : i + 1] if i < len(head) else b" ")
                        self.wfile.flush()
                        if agent.release.wait(agent.drip_gap):
                            return
                except OSError:
                    return  # the client hung up: what it should do

            def _redirect_loop(self) -> None:
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _garbage(self) -> None:
                self.wfile.write(b"\x00\xffMTC\r\n\r\ngarbage")

            def _http_500(self) -> None:
                self._send(b"oops", status=500)

            def _huge(self) -> None:
                self.send_response(200)
                self.end_headers()  # no length: read until close, and it never ends
                try:
                    while not agent.release.is_set():
                        self.wfile.write(b"<x/>" * 65536)
                except OSError:
                    return

            def _empty(self) -> None:
                return  # close without a byte

        return Handler


@pytest.fixture
def agent() -> Iterator[HostileAgent]:
    with HostileAgent(MTC) as a:
        yield a


def _ingest(ctx: Any, shop: Org, url: str, limits: HttpLimits = FAST) -> MTConnectIngest:
    return MTConnectIngest(
        ctx.db,
        ctx.metrics,
        agent_url=url,
        shop_id=shop.id,
        fetch=AgentHttp(limits),
        count=30,
        backoff=Backoff(base=0.01, cap=0.05),
        seed=7,
    )


def _stored(ctx: Any, machines: dict[str, str]) -> int:
    from sqlmodel import col, func, select

    with ctx.db.session() as session:
        return session.exec(
            select(func.count()).where(col(MachineEventRow.machine_id).in_(machines.values()))
        ).one()


def _clean_count(ctx: Any, url: str) -> int:
    """Events a well-behaved run of the same agent stores (in a shop of its own)."""
    shop = make_org(ctx, "shop")
    run = _ingest(ctx, shop, url)
    machines = run.setup()
    totals = run.run(interval=0.01, until_idle=True)
    assert _stored(ctx, machines) == totals.accepted > 0
    return totals.accepted


# -- the HTTP client's limits, one misbehaviour at a time -----------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_each_misbehaviour_is_a_typed_error_within_the_time_limit(
    agent: HostileAgent, mode: str
) -> None:
    agent.mode = mode
    fetch = AgentHttp(FAST)
    t0 = time.monotonic()
    expected = {"hang": AgentTimeout, "drip": AgentTimeout, "huge": InvalidDocument}
    with pytest.raises(expected.get(mode, AgentUnreachable)) as info:
        fetch(agent.url + "/current")
    assert time.monotonic() - t0 < FAST.total_timeout + LATE
    reasons = {"hang": "total_timeout", "drip": "total_timeout", "redirect_loop":
               "too_many_redirects", "garbage": "bad_http", "http_500": "http_status",
               "huge": "too_large", "empty": "bad_http"}  # fmt: skip
    assert info.value.detail["reason"] == reasons[mode]
    if mode == "redirect_loop":
        assert agent.hits == FAST.max_redirects + 1


def test_a_byte_a_second_is_cut_off_at_the_total_limit(agent: HostileAgent) -> None:
    """Each byte comes well within the read timeout: only the total bound can stop it."""
    agent.mode, agent.drip_gap = "drip", 1.0
    limits = HttpLimits(read_timeout=3.0, total_timeout=2.5)
    t0 = time.monotonic()
    with pytest.raises(AgentTimeout, match="within 2.5 s"):
        AgentHttp(limits)(agent.url + "/current")
    assert limits.total_timeout <= time.monotonic() - t0 < limits.total_timeout + LATE


def test_a_silent_agent_is_cut_at_the_read_timeout(agent: HostileAgent) -> None:
    agent.mode = "hang"
    limits = HttpLimits(read_timeout=0.3, total_timeout=10.0)
    t0 = time.monotonic()
    with pytest.raises(AgentTimeout, match="sent nothing for 0.3 s") as info:
        AgentHttp(limits)(agent.url + "/current")
    assert info.value.detail["reason"] == "read_timeout"
    assert time.monotonic() - t0 < limits.read_timeout + LATE


def test_a_declared_huge_body_is_refused_before_reading(agent: HostileAgent) -> None:
    with pytest.raises(InvalidDocument, match="announces"):
        AgentHttp(HttpLimits(max_bytes=1000))(agent.url + "/probe")  # 40 kB, Content-Length


def test_bounded_redirects_still_reach_a_real_agent(agent: HostileAgent) -> None:
    with HostileAgent(MTC) as hop:
        hop.mode = "redirect_once"

        def redirect_once(self: Any) -> None:
            self.send_response(307)
            self.send_header("Location", agent.url + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        hop._server.RequestHandlerClass._redirect_once = redirect_once  # type: ignore[attr-defined]
        body = AgentHttp(FAST)(hop.url + "/current")
    assert body == agent.current()


# -- the ingest: sequences, backoff, state, counts ---------------------------------------------


def _absurd_next(body: bytes, start: int) -> bytes:
    return re.sub(rb'(next|last)Sequence="\d+"', rb'\1Sequence="' + b"9" * 30 + b'"', body)


def _negative_first(body: bytes, start: int) -> bytes:
    return re.sub(rb'firstSequence="\d+"', b'firstSequence="-5"', body)


def _backwards(body: bytes, start: int) -> bytes:
    return re.sub(rb'nextSequence="\d+"', f'nextSequence="{start - 10}"'.encode(), body)


def _beyond_next(body: bytes, start: int) -> bytes:
    return re.sub(rb'nextSequence="\d+"', f'nextSequence="{start}"'.encode(), body)


def _absurd_observation(body: bytes, start: int) -> bytes:
    return re.sub(rb'sequence="\d+"', b'sequence="' + b"1" * 40 + b'"', body, count=1)


@pytest.mark.parametrize(
    "edit", [_absurd_next, _negative_first, _backwards, _beyond_next, _absurd_observation]
)
def test_insane_sequences_resync_and_each_event_is_stored_once(
    client: Any, ctx: Any, agent: HostileAgent, edit: Callable[[bytes, int], bytes]
) -> None:
    clean = _clean_count(ctx, agent.url)
    shop = make_org(ctx, "shop")
    run = _ingest(ctx, shop, agent.url)
    machines = run.setup()
    run.poll_once()  # /current
    run.poll_once()  # a sane /sample
    agent.sample_edit = edit
    res = run.poll_once()
    assert res.kind == "current" and res.resync_reason is not None
    assert run.health.status == "ok" and run.health.resyncs == 1
    agent.sample_edit = None
    totals = run.run(interval=0.01, until_idle=True)
    assert totals.errors == 0
    assert _stored(ctx, machines) == clean  # none lost, none twice
    (row,) = client.get(f"/v1/shops/{shop.id}/mtconnect-agents", headers=shop.headers).json()[
        "items"
    ]
    assert row["status"] == "ok" and row["resyncs"] == 1 and row["failures"] == 0
    assert row["next_sequence"] == agent.sequences[-1] + 1
    assert row["events"] == clean


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: re.sub(rb'nextSequence="\d+"', b'nextSequence="' + b"9" * 30 + b'"', b),
        lambda b: re.sub(rb'instanceId="\d+"', b'instanceId="' + b"x" * 500 + b'"', b),
        lambda b: b"<MTConnectStreams><Header",
        lambda b: b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["absurd_next", "long_instance", "truncated", "deep_json"],
)
def test_an_untrustworthy_current_stores_nothing_and_backs_off(
    client: Any, ctx: Any, agent: HostileAgent, edit: Callable[[bytes], bytes]
) -> None:
    shop = make_org(ctx, "shop")
    run = _ingest(ctx, shop, agent.url)
    machines = run.setup()
    agent.current_edit = edit
    with pytest.raises(InvalidDocument):
        run.poll_once()
    assert _stored(ctx, machines) == 0
    h = run.health
    assert h.status == "backing_off" and h.failures == 1 and h.next_attempt_at is not None
    assert run.poller is not None and run.poller.state.next_sequence is None
    agent.current_edit = None
    run.poll_once()
    assert run.health.status == "ok" and run.health.consecutive_failures == 0
    assert _stored(ctx, machines) > 0


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_agent_backs_off_with_seeded_jitter_and_recovers(
    client: Any, ctx: Any, agent: HostileAgent, mode: str
) -> None:
    clean = _clean_count(ctx, agent.url)
    shop = make_org(ctx, "shop")
    run = _ingest(ctx, shop, agent.url)
    machines = run.setup()
    agent.mode = mode
    rng, expected = random.Random(7), []
    for n in range(1, 4):
        with pytest.raises((AgentUnreachable, InvalidDocument)):
            run.poll_once()
        expected.append(run.backoff.delay(n, rng))
        h = run.health
        assert h.status == "backing_off" and h.consecutive_failures == n
        assert run.last_delay == expected[-1]  # the same seed, the same waits
        assert h.next_attempt_at is not None and h.last_error_at is not None
        waited = (h.next_attempt_at - h.last_error_at).total_seconds()
        assert waited == pytest.approx(expected[-1], abs=1e-6)
    assert expected[0] < expected[2] <= run.backoff.cap  # grows, capped
    assert run.health.timeouts == (3 if mode in ("hang", "drip") else 0)
    listed = client.get(f"/v1/shops/{shop.id}/mtconnect-agents", headers=shop.headers).json()
    (row,) = listed["items"]
    assert row["status"] == "backing_off" and row["failures"] == 3 and row["last_error"]
    assert _stored(ctx, machines) == 0

    agent.mode = None  # the agent is fixed
    totals = run.run(interval=0.01, until_idle=True)
    assert totals.errors == 3 and _stored(ctx, machines) == clean == totals.accepted
    (row,) = client.get(f"/v1/shops/{shop.id}/mtconnect-agents", headers=shop.headers).json()[
        "items"
    ]
    assert row["status"] == "ok" and row["consecutive_failures"] == 0 and row["failures"] == 3
    assert row["last_success_at"] is not None and row["next_attempt_at"] is None


def test_a_run_that_ends_failing_leaves_the_agent_in_error(
    client: Any, ctx: Any, agent: HostileAgent
) -> None:
    shop = make_org(ctx, "shop")
    run = _ingest(ctx, shop, agent.url)
    run.setup()
    agent.mode = "hang"
    totals = run.run(interval=0.01, max_failures=2)
    assert totals.errors == 2 and totals.timeouts == 2
    (row,) = client.get(f"/v1/shops/{shop.id}/mtconnect-agents", headers=shop.headers).json()[
        "items"
    ]
    assert row["status"] == "error" and row["next_attempt_at"] is None
    assert "did not" in row["last_error"]


def test_agents_are_shown_to_their_own_shop_only(
    client: Any, ctx: Any, agent: HostileAgent
) -> None:
    shop, other, buyer = make_org(ctx, "shop"), make_org(ctx, "shop"), make_org(ctx, "buyer")
    _ingest(ctx, shop, agent.url).setup()
    url = f"/v1/shops/{shop.id}/mtconnect-agents"
    mine = client.get(url, headers=shop.headers)
    assert mine.status_code == 200 and len(mine.json()["items"]) == 1
    refused = client.get(url, headers=other.headers)
    assert refused.status_code == 404 and refused.json()["error"] == "not_found"
    assert agent.url not in refused.text
    assert client.get(url, headers=buyer.headers).status_code == 403
    assert client.get(url).status_code == 401
    assert (
        client.get(f"/v1/shops/{other.id}/mtconnect-agents", headers=other.headers).json()["items"]
        == []
    )


def test_cli_against_a_stalled_agent_is_bounded_and_typed(
    fresh_database: Any, monkeypatch: pytest.MonkeyPatch, agent: HostileAgent
) -> None:
    from typer.testing import CliRunner

    from platform_api.cli import app
    from platform_api.db.session import Database
    from tests.platform_api.machines.test_mtconnect import make_org_in

    engine, data_dir = fresh_database
    shop = make_org_in(Database(engine))
    monkeypatch.setenv("MITSUMORI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("MITSUMORI_DATA_DIR", str(data_dir))
    base = ["ingest", "mtconnect", "--agent", agent.url, "--shop", shop, "--timeout", "0.5"]
    agent.mode = "drip"  # /probe answers, /current drips
    res = CliRunner().invoke(app, [*base, "--interval", "0.05", "--max-failures", "2"])
    assert res.exit_code == 0, res.output
    assert res.output.count("agent error (agent_timeout)") == 2 and "giving up" in res.output
    assert "2 failed poll(s)" in res.output and "Traceback" not in res.output
    with Database(engine).session() as session:
        from sqlmodel import select

        from platform_api.db.models import MtconnectAgent

        row = session.exec(select(MtconnectAgent)).one()
        assert (row.status, row.timeouts, row.failures) == ("error", 2, 2)
    hung = HostileAgent(MTC)
    with hung:
        hung.mode = "hang"

        def hang_probe(self: Any) -> None:
            hung.release.wait(30)

        hung._server.RequestHandlerClass._behave = hang_probe  # type: ignore[attr-defined]
        bad = CliRunner().invoke(app, [*base[:3], hung.url, *base[4:]])
    assert bad.exit_code == 2 and "agent_timeout" in bad.output
    assert "Traceback" not in bad.output
