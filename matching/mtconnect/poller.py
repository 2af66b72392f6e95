"""Polling one agent: ``/current`` then ``/sample?from=``, resumable by a ``PollerState``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from matching.errors import AgentUnreachable, InvalidDocument, MatchingError
from matching.events import MachineEvent
from matching.mtconnect.document import MAX_SEQUENCE, Header
from matching.mtconnect.probe import ProbeDocument, parse_probe
from matching.mtconnect.streams import Observation, StreamsDocument, parse_streams

Fetch = Callable[[str], bytes]
T = TypeVar("T")


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


#: Longest instanceId taken (the column holding it is 64 wide; cppagent sends a uint64).
MAX_INSTANCE_ID_LEN = 64


def header_problem(header: Header) -> str | None:
    """Why an agent's header cannot be trusted, or None: an instanceId that is empty, too long
    or not printable; sequences outside 0..MAX_SEQUENCE; first > last + 1 or next > last + 1."""
    iid = header.instance_id
    if not iid.strip() or len(iid) > MAX_INSTANCE_ID_LEN or not iid.isprintable():
        return f"instanceId is not 1-{MAX_INSTANCE_ID_LEN} printable characters"
    first, last, nxt = header.first_sequence, header.last_sequence, header.next_sequence
    for name, value in (("firstSequence", first), ("lastSequence", last), ("nextSequence", nxt)):
        if value is not None and not 0 <= value <= MAX_SEQUENCE:
            return f"{name} is outside 0..{MAX_SEQUENCE}"
    if last is not None:
        if first is not None and first > last + 1:
            return f"firstSequence {first} is beyond lastSequence {last} + 1"
        if nxt is not None and nxt > last + 1:
            return f"nextSequence {nxt} is beyond lastSequence {last} + 1"
    return None


def sample_problem(doc: StreamsDocument, requested: int) -> str | None:
    """Why a ``/sample?from=requested`` answer cannot be trusted, or None.

    Besides ``header_problem``: a nextSequence before ``requested`` (going backwards), and any
    observation outside ``[requested, nextSequence)`` or past lastSequence. An answer read past
    the agent's buffer (requested < firstSequence) is not a problem here: that is counted as lost.
    """
    h = doc.header
    problem = header_problem(h)
    if problem is not None:
        return problem
    if h.next_sequence is not None and h.next_sequence < requested:
        return f"nextSequence {h.next_sequence} goes back before from={requested}"
    for o in doc.observations:
        if not 0 <= o.sequence <= MAX_SEQUENCE:
            return f"observation {o.data_item_id!r} has a sequence outside 0..{MAX_SEQUENCE}"
        if o.sequence < requested:
            return f"observation sequence {o.sequence} goes back before from={requested}"
        if h.next_sequence is not None and o.sequence >= h.next_sequence:
            return f"observation sequence {o.sequence} is not before nextSequence {h.next_sequence}"
        if h.last_sequence is not None and o.sequence > h.last_sequence:
            return f"observation sequence {o.sequence} is beyond lastSequence {h.last_sequence}"
    return None


@dataclass(frozen=True)
class PollResult:
    """One poll: the events read and what happened.

    kind: "current" (first read or resync), "sample" (resumed from next_sequence).
    agent_restarted: the instanceId changed, sequences were reset and /current read again.
    lost: sequences that fell out of the agent's buffer before we read them (0 if none).
    resync_reason: why a /sample answer was thrown away for a fresh /current (its sequence
    numbers made no sense); None if it was not.
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
    resync_reason: str | None = None


class MTConnectPoller:
    """Polls one MTConnect agent for one shop; resumable by its ``state``.

    base_url: the agent root (``http://host:5000``, optionally with a device path).
    fetch: ``fetch(url) -> bytes``; raise on network errors or HTTP error statuses (time and
    size limits belong to it: ``platform_api.ingest.agent_http.AgentHttp`` has them).
    count: observations per ``/sample`` request. state: a saved ``PollerState`` to resume from.
    fmt: "xml" or "json" (adds ``format=json``, which cppagent 2.x understands).

    Protocol: the first poll reads ``/current`` (the latest value of every item) and remembers
    ``nextSequence``; later polls read ``/sample?from=next&count=N``. If the answer carries a
    different instanceId, the agent restarted: its sequence numbers mean something else now,
    so the poller resets and reads ``/current`` again. If ``next`` fell out of the agent's
    buffer (``next < firstSequence``), the gap is counted as lost and ``/current`` resyncs.
    A ``/sample`` whose sequences make no sense (``sample_problem``) is thrown away and
    ``/current`` read instead (``resync_reason`` says why); a ``/current`` whose header makes no
    sense (``header_problem``) is an ``InvalidDocument``: nothing of it is kept.
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
                f"could not read {url}: {str(err)[:300]}; check the agent URL and that it is "
                "running",
                detail={"url": url},
            ) from None

    def _read(self, url: str, parse: Callable[[bytes], T]) -> T:
        data = self._get(url)
        try:
            return parse(data)
        except MatchingError:
            raise
        except Exception as err:  # a document no parser rule foresaw: refused, never a crash
            raise InvalidDocument(
                f"the answer of {url} could not be read ({type(err).__name__})",
                detail={"url": url},
            ) from None

    def _streams(self, url: str) -> StreamsDocument:
        return self._read(
            url,
            lambda data: parse_streams(
                data, shop=self.shop, probe=self.probe_document, machine_ids=self.machine_ids
            ),
        )

    def probe(self) -> ProbeDocument:
        """Read ``/probe``; remembered to pick each device's state items."""
        self.probe_document = self._read(self._url("probe"), parse_probe)
        return self.probe_document

    def poll(self) -> PollResult:
        """Read what is new since the last poll (see the class docstring)."""
        urls: list[str] = []
        st = self.state
        if st.next_sequence is None or st.instance_id is None:
            return self._resync(urls)
        url = self._url("sample", **{"from": st.next_sequence, "count": self.count})
        urls.append(url)
        doc = self._streams(url)
        h = doc.header
        problem = header_problem(h)
        if problem is None and h.instance_id != st.instance_id:
            return self._resync(urls, agent_restarted=True)
        if problem is None:
            problem = sample_problem(doc, st.next_sequence)
        if problem is not None:
            return self._resync(urls, reason=problem)
        if h.first_sequence is not None and st.next_sequence < h.first_sequence:
            return self._resync(urls, lost=h.first_sequence - st.next_sequence)
        nxt = h.next_sequence
        if nxt is None:
            nxt = max((o.sequence for o in doc.observations), default=st.next_sequence - 1) + 1
        self.state = PollerState(h.instance_id, nxt)
        return PollResult(
            "sample",
            doc.events,
            h,
            skipped=doc.skipped,
            urls=tuple(urls),
            observations=doc.observations,
        )

    def _resync(
        self,
        urls: list[str],
        *,
        agent_restarted: bool = False,
        lost: int = 0,
        reason: str | None = None,
    ) -> PollResult:
        url = self._url("current")
        urls.append(url)
        doc = self._streams(url)
        problem = header_problem(doc.header)
        if problem is not None:
            raise InvalidDocument(
                f"the agent's /current cannot be trusted: {problem}", detail={"url": url}
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
            resync_reason=reason,
        )

    def _remember(self, header: Header) -> None:
        nxt = header.next_sequence
        if nxt is None and header.last_sequence is not None:
            nxt = header.last_sequence + 1
        self.state = PollerState(header.instance_id, nxt)
