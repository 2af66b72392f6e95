"""Cursor pagination over time-ordered string ids (newest first)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlmodel import Session

from platform_api.ids import decode_cursor, encode_cursor

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: last page)."""

    items: list[T]
    next_cursor: str | None = Field(default=None, examples=["cGFydF8wMTkzYjE..."])


def paginate(
    session: Session, stmt: Any, id_column: Any, *, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Rows of ``stmt`` after ``cursor``, newest first, and the cursor of the next page."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after)
    rows = list(session.exec(stmt.order_by(id_column.desc()).limit(limit + 1)).all())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].id)
    return rows, None
