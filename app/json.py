"""Fast JSON for responses, logs and the audit log."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, uuid.UUID | dt.date):
        return str(value)
    raise TypeError(type(value).__name__)


def dumps(value: Any) -> bytes:
    """Serialise to JSON bytes; keys sorted so the same value always gives the same bytes."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS)


loads = orjson.loads
