"""An agent's health as its poller sees it, and how long to wait after a failure.

``AgentHealth`` is a value: each poll outcome gives a new one (``succeeded``, ``failed``,
``stopped``), which the platform stores next to the poller's sequence and shows per agent.

- ``ok``: the last attempt succeeded.
- ``backing_off``: the last attempt failed; the next is due at ``next_attempt_at``.
- ``error``: the last attempt failed and no further attempt is scheduled (the ingest stopped
  while failing, or gave up after too many failures in a row).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from matching.errors import MatchingError

STATUSES = ("ok", "backing_off", "error")
#: Longest error text kept (a hostile agent can make it as long as it likes).
MAX_ERROR_LEN = 2000


def printable(text: str) -> str:
    """``text`` cut to ``MAX_ERROR_LEN``, with control characters (a NUL from a garbled answer,
    which PostgreSQL text refuses) shown as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text[:MAX_ERROR_LEN])


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter.

    The n-th failure in a row waits ``min(cap, base * factor**(n - 1))`` seconds scaled by a
    factor drawn uniformly from ``[1 - jitter, 1]``, so pollers of many agents that failed
    together do not retry together. Draws come from the ``random.Random`` the caller passes
    (seeded: the same seed gives the same waits).
    """

    base: float = 2.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (self.base > 0 and self.factor >= 1 and self.cap >= self.base):
            raise MatchingError(
                f"backoff needs base > 0, factor >= 1 and cap >= base; got {self.base}, "
                f"{self.factor}, {self.cap}"
            )
        if not 0 <= self.jitter < 1:
            raise MatchingError(f"backoff jitter must be in [0, 1), got {self.jitter}")

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after ``failures`` (>= 1) failures in a row."""
        n = max(1, failures)
        # base * factor**(n-1) overflows a float past ~1000 failures: cap the exponent first.
        steps = 0
        raw = self.base
        while steps < n - 1 and raw < self.cap:
            raw *= self.factor
            steps += 1
        return min(self.cap, raw) * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True)
class AgentHealth:
    """Where polling one agent stands (times are UTC; counters since the agent was added).

    polls: successful polls; failures: failed attempts (timeouts included), of which
    ``timeouts`` were cut off by a time limit; consecutive_failures: failures since the last
    success; resyncs: fresh ``/current`` reads because a ``/sample`` carried sequence numbers
    that made no sense (absurd, negative, going backwards or beyond ``nextSequence``).
    """

    status: str = "ok"
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_success_at: datetime | None = None
    next_attempt_at: datetime | None = None
    consecutive_failures: int = 0
    polls: int = 0
    failures: int = 0
    timeouts: int = 0
    resyncs: int = 0

    def succeeded(self, *, now: datetime, resynced: bool = False) -> AgentHealth:
        """After a poll whose events were stored."""
        return replace(
            self,
            status="ok",
            last_success_at=now,
            next_attempt_at=None,
            consecutive_failures=0,
            polls=self.polls + 1,
            resyncs=self.resyncs + int(resynced),
        )

    def failed(
        self, *, now: datetime, error: str, delay: float | None, timeout: bool = False
    ) -> AgentHealth:
        """After a failed attempt; ``delay`` seconds to the next one (None: no next one)."""
        return replace(
            self,
            status="error" if delay is None else "backing_off",
            last_error=printable(error),
            last_error_at=now,
            next_attempt_at=None if delay is None else now + timedelta(seconds=delay),
            consecutive_failures=self.consecutive_failures + 1,
            failures=self.failures + 1,
            timeouts=self.timeouts + int(timeout),
        )

    def stopped(self) -> AgentHealth:
        """The ingest stops: a failing agent is left in ``error``, with no attempt scheduled."""
        if self.status == "backing_off":
            return replace(self, status="error", next_attempt_at=None)
        return self
