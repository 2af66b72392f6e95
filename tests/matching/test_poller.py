"""MTConnectPoller against a real local HTTP agent serving the NIST recordings."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from matching.errors import AgentUnreachable
from matching.event_log import EventLog
from matching.mtconnect.poller import MTConnectPoller, PollerState
from matching.mtconnect.streams import parse_streams
from tests.matching.agent import ReplayAgent


@pytest.fixture
def agent(mtc: Path) -> Iterator[ReplayAgent]:
    with ReplayAgent(mtc) as a:
        yield a


@pytest.fixture
def fetch() -> Iterator[Callable[[str], bytes]]:
    with httpx.Client(timeout=5.0) as client:
        yield lambda url: client.get(url).raise_for_status().content


def _drain(poller: MTConnectPoller, limit: int = 20) -> list[int]:
    seqs: list[int] = []
    for _ in range(limit):
        res = poller.poll()
        if not res.observations:
            break
        seqs += [o.sequence for o in res.observations]
    return seqs


def test_probe_current_then_samples_in_order(
    agent: ReplayAgent, fetch: Callable[[str], bytes], mtc: Path
) -> None:
    poller = MTConnectPoller(agent.url, "nist", fetch, count=30)
    probe = poller.probe()
    assert len(probe.devices) == 8
    first = poller.poll()
    assert first.kind == "current" and not first.agent_restarted
    direct = parse_streams(
        (mtc / "nist_smstestbed" / "streams-1-3-smstestbed-current.xml").read_bytes(),
        shop="nist",
        probe=probe,
    )
    assert first.events == direct.events  # the served document carries the same observations
    assert poller.state.next_sequence == agent.sequences[0]
    seqs = _drain(poller)
    assert seqs == agent.sequences  # every observation once, in order, none lost
    samples = [r for r in agent.requests if r.startswith("/sample")]
    assert samples[0] == f"/sample?from={agent.sequences[0]}&count=30"
    assert len(samples) == 5  # 100 observations by 30, then one empty read


def test_resume_from_saved_state_after_a_restart(
    agent: ReplayAgent, fetch: Callable[[str], bytes]
) -> None:
    a = MTConnectPoller(agent.url, "nist", fetch, count=30)
    a.poll()
    got = [o.sequence for o in a.poll().observations]
    saved = json.dumps(a.state.to_dict())  # what the platform stores with the events
    del a
    b = MTConnectPoller(
        agent.url, "nist", fetch, count=30, state=PollerState.from_dict(json.loads(saved))
    )
    first = b.poll()
    assert first.kind == "sample"  # no /current again: resumed from the sequence
    assert first.urls[0].endswith(f"from={got[-1] + 1}&count=30")
    got += [o.sequence for o in first.observations] + _drain(b)
    assert got == agent.sequences


def test_agent_restart_resets_sequences(agent: ReplayAgent, fetch: Callable[[str], bytes]) -> None:
    poller = MTConnectPoller(agent.url, "nist", fetch, count=30)
    log = EventLog()
    log.add_many(poller.poll().events)
    poller.poll()
    agent.instance_id = "1700000000"  # the agent restarted: its sequences start over
    res = poller.poll()
    assert res.agent_restarted and res.kind == "current"
    assert [u.split("?")[0].rsplit("/", 1)[1] for u in res.urls] == ["sample", "current"]
    assert poller.state.instance_id == "1700000000"
    assert poller.state.next_sequence == agent.sequences[0]
    # events re-read after the restart get new ids, but say the same thing: nothing doubles
    before = len(log)
    assert log.add_many(res.events) == 0
    assert len(log) == before and log.counts["duplicate"] == len(res.events)


def test_buffer_overrun_is_counted_as_lost(
    agent: ReplayAgent, fetch: Callable[[str], bytes]
) -> None:
    poller = MTConnectPoller(agent.url, "nist", fetch, count=10)
    poller.poll()
    poller.poll()
    agent.first_sequence = agent.sequences[50]  # the agent's buffer moved past what we read
    res = poller.poll()
    assert res.lost == agent.sequences[50] - agent.sequences[10]
    assert res.kind == "current"
    assert poller.state.next_sequence == agent.sequences[50]


def test_unreachable_agent_and_http_errors(
    fetch: Callable[[str], bytes], agent: ReplayAgent
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    dead = MTConnectPoller(f"http://127.0.0.1:{port}", "nist", fetch)
    with pytest.raises(AgentUnreachable, match="check the agent URL"):
        dead.poll()
    wrong = MTConnectPoller(agent.url + "/nothing-here", "nist", fetch)
    with pytest.raises(AgentUnreachable, match="404"):
        wrong.poll()
