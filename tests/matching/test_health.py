"""Backoff waits and the agent health transitions, on plain values."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from matching.errors import MatchingError
from matching.mtconnect.health import MAX_ERROR_LEN, AgentHealth, Backoff

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def test_backoff_grows_to_its_cap_with_jitter_from_the_seed() -> None:
    b = Backoff(base=2.0, factor=2.0, cap=60.0, jitter=0.5)
    waits = [b.delay(n, random.Random(1)) for n in range(1, 12)]
    raw = [min(60.0, 2.0 * 2 ** (n - 1)) for n in range(1, 12)]
    for w, r in zip(waits, raw, strict=True):
        assert r * 0.5 <= w <= r
    a, c = random.Random(3), random.Random(3)
    assert [b.delay(n, a) for n in range(1, 6)] == [b.delay(n, c) for n in range(1, 6)]
    assert b.delay(10**9, random.Random(0)) <= 60.0  # no float overflow after many failures
    assert Backoff(jitter=0.0).delay(1, random.Random(0)) == 2.0


@pytest.mark.parametrize(
    "kwargs", [{"base": 0}, {"factor": 0.5}, {"cap": 1.0, "base": 2.0}, {"jitter": 1.0}]
)
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(MatchingError):
        Backoff(**kwargs)


def test_health_goes_ok_backing_off_error_and_back() -> None:
    h = AgentHealth().failed(now=T0, error="x\x00" * 5000, delay=4.0, timeout=True)
    assert h.status == "backing_off" and h.next_attempt_at == T0 + timedelta(seconds=4)
    assert h.last_error is not None and len(h.last_error) == MAX_ERROR_LEN
    assert "\x00" not in h.last_error
    h = h.failed(now=T0, error="down", delay=8.0)
    assert (h.failures, h.consecutive_failures, h.timeouts) == (2, 2, 1)
    assert h.stopped().status == "error" and h.stopped().next_attempt_at is None
    ok = h.succeeded(now=T0, resynced=True)
    assert ok.status == "ok" and ok.consecutive_failures == 0 and ok.failures == 2
    assert ok.resyncs == 1 and ok.polls == 1 and ok.stopped() == ok
