"""SHDR adapter text (``timestamp|key|value|...``) replayed as state events."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from matching.errors import InvalidEvent
from matching.events import MachineEvent, parse_timestamp
from matching.mtconnect.document import int_or_none, is_number
from matching.mtconnect.probe import DeviceInfo

_SHDR_FALLBACK_KEYS = {
    "avail": "availability",
    "availability": "availability",
    "execution": "execution",
    "exec": "execution",
    "mode": "controller_mode",
    "controller_mode": "controller_mode",
    "functional_mode": "functional_mode",
    "fmode": "functional_mode",
    "part_count": "part_count",
    "partcount": "part_count",
    "program": "program",
}
_ASSET_COMMANDS = {"@ASSET@", "@UPDATE_ASSET@", "@REMOVE_ASSET@", "@REMOVE_ALL_ASSETS@"}
_MULTILINE = re.compile(r"--multiline--(\w+)\s*$")


@dataclass(frozen=True)
class ShdrReplay:
    """Result of ``parse_shdr``.

    events: state events (UTC, rebased where the recording jumped back); lines: data lines
    read; segments: runs found (1 + number of backward jumps rebased); offsets: the shift
    applied to each segment; skipped: (line number, reason) for lines that could not be used.
    """

    events: tuple[MachineEvent, ...]
    lines: int
    segments: int
    offsets: tuple[timedelta, ...]
    skipped: tuple[tuple[int, str], ...]


def parse_shdr(
    text: str,
    *,
    shop: str,
    machine: str,
    device: DeviceInfo | None = None,
    source: str = "shdr",
    rebase_after: timedelta | None = timedelta(seconds=60),
    gap: timedelta = timedelta(seconds=1),
) -> ShdrReplay:
    """State events from SHDR adapter text (``timestamp|key|value|key|value...`` lines).

    device: the adapter's device model (from ``parse_probe``); it tells which keys are state
    items and which are conditions (``key|level|code|severity|qualifier|text``, six fields) or
    messages (three). Without it common key names (avail, execution, mode...) are used.

    Backward time: a recording of several runs concatenated starts each run with its own clock,
    so time jumps back by minutes or hours. A jump back of more than ``rebase_after`` starts a
    new segment, shifted to begin ``gap`` after the latest time seen so far (as an adapter
    replaying it live would stamp it). Smaller jumps (threads stamping out of order by a few
    milliseconds) are kept as they are: the timeline sorts events anyway. ``rebase_after=None``
    keeps every original timestamp. Asset commands and multi-line asset bodies are skipped.
    """
    key_fields, conditions, messages = _shdr_keys(device)
    events: list[MachineEvent] = []
    skipped: list[tuple[int, str]] = []
    offsets: list[timedelta] = [timedelta(0)]
    latest: datetime | None = None
    data_lines = 0
    in_block: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if in_block is not None:
            if line.strip() == in_block:
                in_block = None
            continue
        if not line.strip() or line.startswith("*"):
            continue  # blank, or protocol commands such as "* PING" / "*adapterVersion:..."
        tokens = line.split("|")
        m = _MULTILINE.search(line)
        if m is not None:
            in_block = m.group(0).strip()
        if len(tokens) < 2:
            skipped.append((lineno, "no '|' separated fields"))
            continue
        if tokens[1] in _ASSET_COMMANDS:
            continue
        try:
            ts = parse_timestamp(tokens[0], assume_utc=True)
        except InvalidEvent as err:
            skipped.append((lineno, err.message))
            continue
        data_lines += 1
        shifted = ts + offsets[-1]
        if latest is not None and rebase_after is not None and latest - shifted > rebase_after:
            offsets.append(latest + gap - ts)
            shifted = ts + offsets[-1]
        latest = shifted if latest is None else max(latest, shifted)
        values: dict[str, Any] = {}
        i = 1
        while i < len(tokens):
            key = tokens[i]
            if key in conditions or (
                device is None
                and key not in key_fields
                and i + 5 < len(tokens)
                and tokens[i + 1] in ("NORMAL", "WARNING", "FAULT")
            ):
                i += 6  # a condition: key|level|native code|severity|qualifier|text
                continue
            if key in messages:
                i += 3
                continue
            value = tokens[i + 1] if i + 1 < len(tokens) else ""
            f = key_fields.get(key)
            if f is not None:
                if f == "part_count":
                    n = int_or_none(float(value)) if is_number(value) else None
                    if n is not None:
                        values[f] = n
                else:
                    values[f] = value.strip()
            i += 2
        if not values:
            continue
        try:
            events.append(
                MachineEvent(
                    shop=shop,
                    machine=machine,
                    timestamp=shifted,
                    source=source,
                    event_id=f"shdr:{machine}:{lineno}",
                    **values,
                )
            )
        except InvalidEvent as err:
            skipped.append((lineno, err.message))
    return ShdrReplay(tuple(events), data_lines, len(offsets), tuple(offsets), tuple(skipped))


def _shdr_keys(device: DeviceInfo | None) -> tuple[dict[str, str], set[str], set[str]]:
    if device is None:
        return dict(_SHDR_FALLBACK_KEYS), set(), set()
    fields: dict[str, str] = {}
    state = device.state_items()
    conditions: set[str] = set()
    messages: set[str] = set()
    for di in device.data_items:
        keys = {di.id} | ({di.name} if di.name else set())
        if di.id in state:
            for k in keys:
                fields[k] = state[di.id]
        if di.category == "CONDITION":
            conditions |= keys
        elif di.type == "MESSAGE":
            messages |= keys
    return fields, conditions, messages
