"""Machine events: state mapping, JSON parsing, rejection with reasons, idempotent ingest."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from matching.capacity import state_timeline
from matching.errors import InvalidEvent
from matching.event_log import EventLog, dedupe_events
from matching.events import MachineEvent, derive_state, parse_event_json, parse_timestamp

T0 = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "state"),
    [
        ({"availability": None}, "offline"),
        ({"availability": "UNAVAILABLE", "execution": "ACTIVE"}, "offline"),
        ({"availability": "AVAILABLE", "execution": "ACTIVE"}, "productive"),
        (
            {"availability": "AVAILABLE", "execution": "ACTIVE", "functional_mode": "PRODUCTION"},
            "productive",
        ),
        ({"availability": "AVAILABLE", "execution": "FEED_HOLD"}, "productive"),
        ({"availability": "AVAILABLE", "execution": "ACTIVE", "functional_mode": "SETUP"}, "setup"),
        (
            {
                "availability": "AVAILABLE",
                "execution": "ACTIVE",
                "functional_mode": "PROCESS_DEVELOPMENT",
            },
            "setup",
        ),
        (
            {"availability": "AVAILABLE", "execution": "ACTIVE", "controller_mode": "MANUAL"},
            "setup",
        ),
        ({"availability": "AVAILABLE", "execution": "READY"}, "standby"),
        ({"availability": "AVAILABLE", "execution": "PROGRAM_COMPLETED"}, "standby"),
        ({"availability": "AVAILABLE", "execution": "READY", "functional_mode": "SETUP"}, "setup"),
        ({"availability": "AVAILABLE", "execution": "STOPPED"}, "down"),
        (
            {"availability": "AVAILABLE", "execution": "ACTIVE", "functional_mode": "MAINTENANCE"},
            "down",
        ),
        ({"availability": "AVAILABLE"}, "standby"),
    ],
)
def test_derive_state_follows_the_documented_table(values: dict, state: str) -> None:
    assert derive_state(**values) == state


def test_parse_event_json_normalises_and_converts_to_utc() -> None:
    ev = parse_event_json(
        {
            "id": 17,
            "timestamp": "2025-03-03T09:00:00+09:00",
            "execution": "active",
            "mode": "automatic",
        },
        shop="s1",
        machine="m1",
        source="mqtt",
    )
    assert ev.event_id == "17"
    assert ev.timestamp == T0
    assert ev.execution == "ACTIVE" and ev.controller_mode == "AUTOMATIC"
    assert ev.source == "mqtt"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"event_id": "a", "timestamp": "2025-03-03T00:00:00", "execution": "ACTIVE"}, "timezone"),
        ({"event_id": "a", "timestamp": "yesterday", "execution": "ACTIVE"}, "ISO 8601"),
        ({"timestamp": "2025-03-03T00:00:00Z", "execution": "ACTIVE"}, "event_id is required"),
        ({"event_id": "a", "timestamp": "2025-03-03T00:00:00Z", "execution": "RUNNING"}, "READY"),
        ({"event_id": "a", "timestamp": "2025-03-03T00:00:00Z", "exec": "ACTIVE"}, "unknown field"),
        ({"event_id": "a", "timestamp": "2025-03-03T00:00:00Z"}, "reports nothing"),
        ({"event_id": "a", "timestamp": "2025-03-03T00:00:00Z", "part_count": -1}, "part_count"),
        (
            {
                "event_id": "a",
                "timestamp": "2025-03-03T00:00:00Z",
                "machine": "other",
                "execution": "READY",
            },
            "does not match",
        ),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(payload: object, words: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        parse_event_json(payload, shop="s1", machine="m1")
    assert words in err.value.message
    assert err.value.code == "invalid_event"


def test_parse_timestamp_handles_seven_digit_fractions_and_assumed_utc() -> None:
    ts = parse_timestamp("2022-08-08T13:51:34.7167146Z")
    assert ts == datetime(2022, 8, 8, 13, 51, 34, 716714, tzinfo=UTC)
    assert parse_timestamp("2025-02-28T04:00:57.652046", assume_utc=True).tzinfo is UTC
    with pytest.raises(InvalidEvent):
        parse_timestamp("2025-02-28T04:00:57.652046")


def _shift_events() -> list[MachineEvent]:
    """A day of one machine: on, run, pause, run, complete, off."""
    seq = [
        (0, {"availability": "AVAILABLE", "execution": "READY"}),
        (30, {"execution": "ACTIVE", "functional_mode": "SETUP"}),
        (60, {"functional_mode": "PRODUCTION"}),
        (150, {"execution": "FEED_HOLD"}),
        (155, {"execution": "ACTIVE"}),
        (240, {"execution": "PROGRAM_COMPLETED", "part_count": 12}),
        (241, {"execution": "READY"}),
        (300, {"execution": "STOPPED"}),
        (330, {"execution": "READY"}),
        (480, {"availability": "UNAVAILABLE"}),
    ]
    return [
        MachineEvent("s1", "m1", T0 + timedelta(minutes=m), "rest", f"e{i}", **v)
        for i, (m, v) in enumerate(seq)
    ]


def test_duplicates_and_out_of_order_events_change_nothing() -> None:
    events = _shift_events()
    reference = state_timeline(events)
    # productive from 60 to 240 minutes (the feed hold stays productive): 3 h
    assert sum(s.hours for s in reference if s.state == "productive") == pytest.approx(3.0)
    assert sum(s.hours for s in reference if s.state == "down") == pytest.approx(0.5)
    rng = random.Random(7)
    for _ in range(20):
        noisy = events + rng.sample(events, 5)  # re-sent copies
        # the same report through another path (new id, same content) is also a duplicate
        e = rng.choice(events)
        noisy.append(
            MachineEvent(
                e.shop,
                e.machine,
                e.timestamp,
                "mqtt",
                "other-" + e.event_id,
                **{
                    f: getattr(e, f)
                    for f in (
                        "availability",
                        "execution",
                        "controller_mode",
                        "functional_mode",
                        "part_count",
                        "program",
                    )
                },
            )
        )
        rng.shuffle(noisy)
        log = EventLog()
        n_new = log.add_many(noisy)
        assert n_new == len(events)
        assert log.counts["duplicate"] == 6
        assert state_timeline(log.events("m1")) == reference
        assert dedupe_events(noisy) == tuple(sorted(events, key=lambda x: x.sort_key))


def test_timeline_states_in_order() -> None:
    spans = state_timeline(_shift_events())
    assert [s.state for s in spans] == [
        "standby",
        "setup",
        "productive",
        "standby",
        "down",
        "standby",
    ]
    assert spans[0].start == T0 and spans[-1].end == T0 + timedelta(minutes=480)


def test_ingest_batch_counts_rejections_and_never_stops() -> None:
    log = EventLog()
    now = datetime(2025, 3, 3, 12, tzinfo=UTC)
    batch = [
        {"event_id": "1", "timestamp": "2025-03-03T01:00:00Z", "availability": "AVAILABLE"},
        {"event_id": "2", "timestamp": "2025-03-03T01:00:00", "execution": "ACTIVE"},  # naive
        {"event_id": "3", "timestamp": "2025-03-03T02:00:00Z", "execution": "SPINNING"},
        {"event_id": "4", "timestamp": "2025-03-03T03:00:00Z", "execution": "ACTIVE"},
        {"event_id": "1", "timestamp": "2025-03-03T01:00:00Z", "availability": "AVAILABLE"},
        {"event_id": "1", "timestamp": "2025-03-03T05:00:00Z", "execution": "READY"},  # id reuse
        {"event_id": "5", "timestamp": "2025-03-05T00:00:00Z", "execution": "READY"},  # future
        "garbage",
    ]
    report = log.ingest(batch, shop="s1", machine="m1", now=now)
    assert report.accepted == 2 and report.duplicates == 1
    assert [r.index for r in report.rejected] == [1, 2, 5, 6, 7]
    assert "timezone" in report.rejected[0].reason
    assert "already used" in report.rejected[2].reason
    assert "future" in report.rejected[3].reason
    assert log.counts == {"accepted": 2, "duplicate": 1, "rejected": 5}
    # a restart rebuilds the same state from the stored accepted events
    again = EventLog()
    again.add_many(log.events())
    assert state_timeline(again.events("m1")) == state_timeline(log.events("m1"))


def test_event_rejects_naive_and_non_utc_is_normalised() -> None:
    with pytest.raises(InvalidEvent, match="no timezone"):
        MachineEvent("s", "m", datetime(2025, 1, 1), "rest", "x", execution="READY")
    jst = timezone(timedelta(hours=9))
    ev = MachineEvent("s", "m", datetime(2025, 1, 1, 9, tzinfo=jst), "rest", "x", execution="READY")
    assert ev.timestamp == datetime(2025, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(InvalidEvent, match="source"):
        MachineEvent("s", "m", T0, "carrier-pigeon", "x", execution="READY")


def test_mqtt_topic_and_message() -> None:
    from matching.mqtt_messages import parse_mqtt_message, parse_mqtt_topic

    assert parse_mqtt_topic("mitsumori/shop-7/vmc-2/state") == ("shop-7", "vmc-2")
    for bad in (
        "mitsumori/shop-7/state",
        "other/s/m/state",
        "mitsumori/s/m/events",
        "mitsumori/+/m/state",
    ):
        with pytest.raises(InvalidEvent, match="topic"):
            parse_mqtt_topic(bad)
    evs = parse_mqtt_message(
        "mitsumori/s1/m1/state",
        b'[{"event_id": "a", "timestamp": "2025-03-03T00:00:00Z", "execution": "ACTIVE"},'
        b' {"event_id": "b", "timestamp": "2025-03-03T00:05:00Z", "execution": "READY"}]',
    )
    assert [(e.shop, e.machine, e.source, e.execution) for e in evs] == [
        ("s1", "m1", "mqtt", "ACTIVE"),
        ("s1", "m1", "mqtt", "READY"),
    ]
    with pytest.raises(InvalidEvent, match="not JSON"):
        parse_mqtt_message("mitsumori/s1/m1/state", b"\xff\xfe")
    with pytest.raises(InvalidEvent, match="does not match"):
        parse_mqtt_message(
            "mitsumori/s1/m1/state",
            b'{"event_id": "a", "timestamp": "2025-03-03T00:00:00Z", "shop": "s2", '
            b'"execution": "READY"}',
        )
