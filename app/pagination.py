"""Cursor pagination: opaque cursors over a stable sort key, and the `next` link."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from typing import TypeVar

from starlette.datastructures import URL

from app.errors import BadRequest

T = TypeVar("T")


def encode_cursor(*parts: object) -> str:
    """Pack the sort key of the last row into an opaque cursor."""
    raw = "|".join(p.isoformat() if isinstance(p, dt.datetime) else str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_INVALID = "The cursor is not valid; start again without it."


def _unpack(cursor: str, *parsers: Callable[[str], object]) -> tuple[object, ...]:
    """The parts of a cursor, each read by its parser; 400 for anything this service did not issue."""
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        if len(parts) != len(parsers):
            raise ValueError(cursor)
        return tuple(parse(part) for parse, part in zip(parsers, parts, strict=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(_INVALID) from exc


def decode_time_id(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """Unpack a (created_at, id) cursor."""
    when, ident = _unpack(cursor, dt.datetime.fromisoformat, uuid.UUID)
    assert isinstance(when, dt.datetime)
    assert isinstance(ident, uuid.UUID)
    return when, ident


def decode_date_id(cursor: str) -> tuple[dt.date, uuid.UUID]:
    """Unpack a (date, id) cursor."""
    day, ident = _unpack(cursor, dt.date.fromisoformat, uuid.UUID)
    assert isinstance(day, dt.date)
    assert isinstance(ident, uuid.UUID)
    return day, ident


def decode_uuid(cursor: str) -> uuid.UUID:
    """Unpack an id cursor."""
    try:
        return uuid.UUID(cursor)
    except ValueError as exc:
        raise BadRequest(_INVALID) from exc


def decode_int(cursor: str) -> int:
    """Unpack an integer cursor."""
    (value,) = _unpack(cursor, int)
    assert isinstance(value, int)
    if not 0 <= value < 2**63:
        raise BadRequest(_INVALID)
    return value


def next_link(url: URL, cursor: str | None) -> str | None:
    """The URL of the next page: the same query with the new cursor."""
    if cursor is None:
        return None
    return str(url.include_query_params(cursor=cursor))


def cut(rows: list[T], limit: int, url: URL, cursor_of: Callable[[T], str]) -> tuple[list[T], str | None]:
    """Split a fetch of `limit + 1` rows into the page and the link to the next one (None on the last)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, next_link(url, cursor_of(rows[-1]))
