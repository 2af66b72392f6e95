"""Row identifiers and opaque pagination cursors.

Ids are ``<prefix>_<12 hex ms timestamp><16 hex random>``: unique without a database round trip,
readable in logs (``part_...``, ``quo_...``), and ordered by creation time when compared as
strings, so a list's cursor is simply the last id it returned.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time

from platform_api.errors import InvalidRequest


def new_id(prefix: str) -> str:
    """A new id with ``prefix``; later ids sort after earlier ones (1 ms resolution)."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def encode_cursor(last_id: str) -> str:
    """Opaque cursor for the page after ``last_id``."""
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The id a cursor points after; ``InvalidRequest`` for a cursor this API did not issue."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    prefix, _, rest = raw.partition("_")
    if not prefix.isalpha() or len(rest) != 28 or any(c not in "0123456789abcdef" for c in rest):
        raise InvalidRequest(
            "cursor is not one this API returned; pass next_cursor from the previous page",
            detail={"cursor": cursor[:64]},
        )
    return raw
