"""Polling one agent: ``/current`` then ``/sample?from=``, resumable by a ``PollerState``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from matching.errors import AgentUnreachable, MatchingError
from matching.events import MachineEvent
from matching.mtconnect.document import Header
from matching.mtconnect.probe import ProbeDocument, parse_probe
from matching.mtconnect.streams import Observation, parse_streams

Fetch = Callable[[str], bytes]


@dataclass
class PollerState:
    """What a poller must remember across restarts (store it next to the accepted events).

    instance_id: the agent instance the sequences belong to; next_sequence: the first sequence
    not yet read (None before the first ``/current``).
    """

    instance_id: str | None = None
    next_sequence: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "next_sequence": self.next_sequence}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> PollerState:
        if not d:
            return cls()
        seq = d.get("next_sequence")
        return cls(
            instance_id=None if d.get("instance_id") is None else str(d["instance_id"]),
            next_sequence=None if seq is None else int(seq),
        )


@dataclass(frozen=True)
class PollResult:
    """One poll: the events read and what happened.

    kind: "current" (first read or resync), "sample" (resumed from next_sequence).
    agent_restarted: the instanceId changed, sequences were reset and /current read again.
    lost: sequences that fell out of the agent's buffer before we read them (0 if none).
    urls: what was fetched. observations: every observation read (for counting and auditing).
    """

    kind: str
    events: tuple[MachineEvent, ...]
    header: Header
    agent_restarted: bool = False
    lost: int = 0
    skipped: tuple[tuple[str, str], ...] = ()
    urls: tuple[str, ...] = field(default_factory=tuple)
    observations: tuple[Observation, ...] = ()


class MTConnectPoller:
    """Polls one MTConnect agent for one shop; resumable by its ``state``.

    base_url: the agent root (``http://host:5000``, optionally with a device path).
    fetch: ``fetch(url) -> bytes``; raise on network errors or HTTP error statuses.
    count: observations per ``/sample`` request. state: a saved ``PollerState`` to resume from.
    fmt: "xml" or "json" (adds ``format=json``, which cppagent 2.x understands).

    Protocol: the first poll reads ``/current`` (the latest value of every item) and remembers
    ``nextSequence``; later polls read ``/sample?from=next&count=N``. If the answer carries a
    different instanceId, the agent restarted: its sequence numbers mean something else now,
    so the poller resets and reads ``/current`` again. If ``next`` fell out of the agent's
    buffer (``next < firstSequence``), the gap is counted as lost and ``/current`` resyncs.
    """

    def __init__(
        self,
        base_url: str,
        shop: str,
        fetch: Fetch,
        *,
        state: PollerState | None = None,
        count: int = 1000,
        fmt: str = "xml",
        machine_ids: Mapping[str, str] | None = None,
    ) -> None:
        if fmt not in ("xml", "json"):
            raise MatchingError(f"fmt must be 'xml' or 'json', got {fmt!r}")
        if count < 1:
            raise MatchingError(f"count must be >= 1, got {count}")
        self.base_url = base_url.rstrip("/")
        self.shop = shop
        self.fetch = fetch
        self.state = state if state is not None else PollerState()
        self.count = count
        self.fmt = fmt
        self.machine_ids = dict(machine_ids or {})
        self.probe_document: ProbeDocument | None = None

    def _url(self, path: str, **params: Any) -> str:
        if self.fmt == "json":
            params["format"] = "json"
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}/{path}{query}"

    def _get(self, url: str) -> bytes:
        try:
            return self.fetch(url)
        except MatchingError:
            raise
        except Exception as err:  # any transport error: the caller retries later
            raise AgentUnreachable(
                f"could not read {url}: {err}; check the agent URL and that it is running",
                detail={"url": url},
            ) from None

    def probe(self) -> ProbeDocument:
        """Read ``/probe``; remembered to pick each device's state items."""
        self.probe_document = parse_probe(self._get(self._url("probe")))
        return self.probe_document

    def poll(self) -> PollResult:
        """Read what is new since the last poll (see the class docstring)."""
        urls: list[str] = []
        st = self.state
        if st.next_sequence is None or st.instance_id is None:
            return self._resync(urls)
        url = self._url("sample", **{"from": st.next_sequence, "count": self.count})
        urls.append(url)
        doc = parse_streams(
            self._get(url), shop=self.shop, probe=self.probe_document, machine_ids=self.machine_ids
        )
        h = doc.header
        if h.instance_id != st.instance_id:
            return self._resync(urls, agent_restarted=True)
        if h.first_sequence is not None and st.next_sequence < h.first_sequence:
            return self._resync(urls, lost=h.first_sequence - st.next_sequence)
        nxt = h.next_sequence
        if nxt is None:
            nxt = max((o.sequence for o in doc.observations), default=st.next_sequence - 1) + 1
        self.state = PollerState(h.instance_id, max(nxt, st.next_sequence))
        return PollResult(
            "sample",
            doc.events,
            h,
            skipped=doc.skipped,
            urls=tuple(urls),
            observations=doc.observations,
        )

    def _resync(
        self, urls: list[str], *, agent_restarted: bool = False, lost: int = 0
    ) -> PollResult:
        url = self._url("current")
        urls.append(url)
        doc = parse_streams(
            self._get(url), shop=self.shop, probe=self.probe_document, machine_ids=self.machine_ids
        )
        self._remember(doc.header)
        return PollResult(
            "current",
            doc.events,
            doc.header,
            agent_restarted=agent_restarted,
            lost=lost,
            skipped=doc.skipped,
            urls=tuple(urls),
            observations=doc.observations,
        )

    def _remember(self, header: Header) -> None:
        nxt = header.next_sequence
        if nxt is None and header.last_sequence is not None:
            nxt = header.last_sequence + 1
        self.state = PollerState(header.instance_id, nxt)
