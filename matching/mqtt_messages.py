"""MQTT state messages: the topic that names shop and machine, and size and depth limits.

A message is checked against its limits before it is parsed, so a hostile payload costs
milliseconds; its items then become ``MachineEvent`` values through ``parse_event_json``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from matching.errors import InvalidEvent
from matching.events import MachineEvent, parse_event_json, short_repr

MQTT_PREFIX = "mitsumori"


def parse_mqtt_topic(topic: str, *, prefix: str = MQTT_PREFIX) -> tuple[str, str]:
    """(shop, machine) of a state topic ``{prefix}/{shop}/{machine}/state``.

    The broker's ACL lets a shop publish only under ``{prefix}/{its shop id}/#``; the
    subscriber checks the topic shape again and takes shop and machine from the topic, so a
    payload cannot claim another shop's machine (``parse_event_json`` rejects a mismatch).
    """
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != prefix or parts[3] != "state" or not all(parts[1:3]):
        raise InvalidEvent(
            f"topic {topic!r} is not {prefix}/{{shop}}/{{machine}}/state",
            detail={"topic": topic},
        )
    if any(c in p for p in parts[1:3] for c in "+#"):
        raise InvalidEvent(f"topic {topic!r} has MQTT wildcards in the shop or machine")
    return parts[1], parts[2]


#: Bytes of one MQTT message (a 9,000-event array is about 1.5 MiB).
MAX_MESSAGE_BYTES = 4 * 2**20
#: Nesting of a message's JSON: an array of objects is depth 2; anything past this is hostile.
MAX_JSON_DEPTH = 8
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(payload: bytes) -> int:
    """Deepest nesting of brackets in ``payload`` outside JSON strings, without parsing it.

    Linear in the size (a regular expression and numpy), so a 100,000-deep document costs
    milliseconds instead of a recursion error in the parser.
    """
    import numpy as np

    brackets = _JSON_STRING.sub(b"", payload).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    b = np.frombuffer(brackets, dtype=np.uint8)
    steps = (b == ord("[")).astype(np.int64) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(steps).max())


def load_message(
    payload: bytes | str,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> list[Any]:
    """The JSON items of one message (an object or an array of them), limits checked first.

    Raises ``InvalidEvent`` for a payload over ``max_bytes``, nested deeper than ``max_depth``,
    not UTF-8 or not JSON. Items are not validated here (``parse_event_json`` does, one by one).
    """
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(data) > max_bytes:
        raise InvalidEvent(
            f"message of {len(data)} bytes is over the limit of {max_bytes}",
            detail={"bytes": len(data), "limit": max_bytes},
        )
    depth = json_depth(data)
    if depth > max_depth:
        raise InvalidEvent(
            f"message JSON is nested {depth} deep, over the limit of {max_depth}",
            detail={"depth": depth, "limit": max_depth},
        )
    try:
        items = json.loads(data)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise InvalidEvent(f"message is not JSON: {short_repr(str(err), 120)}") from None
    return items if isinstance(items, list) else [items]


def parse_mqtt_message(
    topic: str, payload: bytes | str, *, prefix: str = MQTT_PREFIX
) -> tuple[MachineEvent, ...]:
    """Events of one MQTT message: a JSON object or an array of them (``source="mqtt"``).

    Raises ``InvalidEvent`` (with the reason) for a bad topic, an oversized, too deep or
    non-JSON payload or a bad event.
    """
    shop, machine = parse_mqtt_topic(topic, prefix=prefix)
    items = load_message(payload)
    return tuple(parse_event_json(d, shop=shop, machine=machine, source="mqtt") for d in items)
