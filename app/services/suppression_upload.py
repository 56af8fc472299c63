"""Uploading a suppression list's entries: NDJSON or CSV, read as it arrives, applied in one transaction.

Each line names one person by any of: `email`, `phone`, or `first_name`, `last_name`, `street_address` and
`postal_code` together (`city` and `country` may come along and are not used); it becomes one entry per kind
given. The digests of the whole upload gather in a temporary table of the transaction; only then is the list
changed: a replacement removes the entries not in the upload and adds those new to it (an unchanged entry is
left alone, so a monthly refresh writes, and audits, only what changed), an addition only adds. Nothing is
committed before the last line, so the check sees the old list or the new one, never half of it. A bad line is
reported by number, never by its values; with `on_error=abort` (the default) one bad line changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func

from app import ndjson
from app.actor import Actor
from app.audit import seal
from app.errors import Unprocessable
from app.models.base import utcnow
from app.models.suppression import EntryKind, SuppressionEntry, SuppressionList
from app.ndjson import LineReport
from app.services import suppression
from app.services.suppression import BATCH, POSTAL_FIELDS, Matcher, email_key, phone_key, postal_key
from app.tenancy import scoped

MAX_LINE = 4096  # bytes; no person's details are longer
IDENTIFIERS = ("email", "phone", *POSTAL_FIELDS)
IGNORED = ("city", "country")
_NO_IDENTIFIER = "give email, phone, or first_name, last_name, street_address and postal_code"

_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS suppression_upload "
    "(digest bytea PRIMARY KEY, kind text NOT NULL) ON COMMIT DROP"
)
_STAGE_BATCH = text(
    "INSERT INTO suppression_upload (digest, kind) "
    "SELECT * FROM unnest(CAST(:digests AS bytea[]), CAST(:kinds AS text[])) ON CONFLICT DO NOTHING"
)
_NEW = text(
    """
    SELECT u.digest, u.kind FROM suppression_upload u
    WHERE u.digest > :after AND NOT EXISTS (
        SELECT 1 FROM suppression_entry e
        WHERE e.controller_id = :controller_id AND e.digest = u.digest AND e.list_id = :list_id
    )
    ORDER BY u.digest LIMIT :limit
    """
)
_GONE = text("NOT EXISTS (SELECT 1 FROM suppression_upload u WHERE u.digest = suppression_entry.digest)")


@dataclass
class UploadReport(LineReport):
    """What the upload did, line by line where it did not."""

    added: int = 0
    removed: int = 0
    kept: int = 0


def _problem(loc: str | None, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": [loc] if loc else [], "msg": msg, "type": kind}


Entries = list[tuple[bytes, EntryKind]]
Problems = list[dict[str, Any]]


def entries_of(item: dict[str, Any], matcher: Matcher) -> tuple[Entries, Problems]:
    """One person's entries, or what is wrong with the line (where, never the value)."""
    problems = [
        _problem(k, "not a field of a suppression entry", "extra_forbidden")
        for k in item
        if k not in IDENTIFIERS + IGNORED
    ]
    values: dict[str, str] = {}
    for key in IDENTIFIERS:
        value = item.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str) or "\x00" in value:
            problems.append(_problem(key, "give text", "string_type"))
            continue
        values[key] = value
    found: list[tuple[bytes, EntryKind]] = []
    for key, kind, make in (("email", EntryKind.email, email_key), ("phone", EntryKind.phone, phone_key)):
        if key in values:
            try:
                found.append((matcher.digest(kind, make(values[key])), kind))
            except ValueError as exc:
                problems.append(_problem(key, str(exc)))
    if any(k in values for k in POSTAL_FIELDS):
        try:
            normal = postal_key(*(values.get(k, "") for k in POSTAL_FIELDS))
            found.append((matcher.digest(EntryKind.postal_address, normal), EntryKind.postal_address))
        except ValueError as exc:
            problems.append(_problem(None, str(exc)))
    if problems:
        return [], problems
    return found, [] if found else [_problem(None, _NO_IDENTIFIER, "missing")]


def _ndjson_item(raw: bytes) -> dict[str, Any] | list[dict[str, Any]]:
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [_problem(None, "not a JSON object", "json_invalid")]
    return item if isinstance(item, dict) else [_problem(None, "not a JSON object", "json_invalid")]


class _Csv:
    """CSV with a header row naming its columns; comma or (as spreadsheets in Finland write it) semicolon."""

    def __init__(self, header: bytes) -> None:
        line = header.decode("utf-8-sig", errors="replace").rstrip("\r")
        self.delimiter = ";" if ";" in line and "," not in line else ","
        self.columns = [c.strip().lower() for c in next(csv.reader([line], delimiter=self.delimiter))]
        unknown = [c for c in self.columns if c not in IDENTIFIERS + IGNORED]
        if unknown or len(set(self.columns)) != len(self.columns) or not set(self.columns) & set(IDENTIFIERS):
            raise Unprocessable(
                "The CSV header must name its columns, each once, from: " + ", ".join(IDENTIFIERS + IGNORED) + ".",
                loc=("body", "1"),
            )

    def item(self, raw: bytes) -> dict[str, Any] | list[dict[str, Any]]:
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            return [_problem(None, "not UTF-8 text", "unicode_error")]
        row = next(csv.reader([line], delimiter=self.delimiter), [])
        if len(row) != len(self.columns):
            return [_problem(None, f"give {len(self.columns)} columns, as the header names", "csv_columns")]
        return dict(zip(self.columns, row, strict=True))


async def _read(
    chunks: AsyncIterator[bytes], csv_body: bool, report: UploadReport, matcher: Matcher
) -> AsyncIterator[list[tuple[bytes, EntryKind]]]:
    """The body's entries, a batch at a time; bad lines go to the report."""
    reader: _Csv | None = None
    batch: list[tuple[bytes, EntryKind]] = []
    async for line in ndjson.lines(chunks, max_line=MAX_LINE):
        if csv_body and reader is None:
            if line.data is None:
                raise Unprocessable(f"The CSV header is longer than {MAX_LINE} bytes.", loc=("body", "1"))
            reader = _Csv(line.data)
            continue
        report.lines += 1
        if line.data is None:
            report.refuse(line.number, [_problem(None, f"longer than {MAX_LINE} bytes", "too_long")])
            continue
        item = reader.item(line.data) if reader is not None else _ndjson_item(line.data)
        found, problems = entries_of(item, matcher) if isinstance(item, dict) else ([], item)
        if problems:
            report.refuse(line.number, problems)
            continue
        batch.extend(found)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _add_new(*, session: AsyncSession, actor: Actor, found: SuppressionList) -> int:
    """Insert the staged entries the list does not hold yet, `BATCH` at a time, each batch audited; how many."""
    added_count = 0
    after = b""
    while True:
        rows = list(
            await session.execute(
                _NEW, {"after": after, "controller_id": actor.controller_id, "list_id": found.id, "limit": BATCH}
            )
        )
        if not rows:
            return added_count
        # Ids and times given, not defaulted: the model's default factories cost more than the rest of a row.
        now = utcnow()
        added = [
            SuppressionEntry(
                controller_id=actor.controller_id,
                id=uuid.uuid4(),
                list_id=found.id,
                kind=EntryKind(row.kind),
                digest=bytes(row.digest),
                created_at=now,
            )
            for row in rows
        ]
        session.add_all(added)
        await session.flush()
        await session.run_sync(seal)
        for entry in added:
            session.expunge(entry)
        added_count += len(added)
        after = bytes(rows[-1].digest)


async def upload(
    *,
    session: AsyncSession,
    actor: Actor,
    list_id: Any,
    chunks: AsyncIterator[bytes],
    csv_body: bool,
    replace: bool,
    abort_on_error: bool,
    list_date: dt.date | None = None,
) -> tuple[SuppressionList, UploadReport]:
    """Replace the list's entries with the body's (or add them); the list stays locked until commit."""
    found = await suppression.get_list(session=session, actor=actor, list_id=list_id, for_update=True)
    report = UploadReport()
    await session.execute(text(_STAGE))
    await session.execute(text("TRUNCATE suppression_upload"))
    matcher = Matcher(actor.controller_id)
    async for batch in _read(chunks, csv_body, report, matcher):
        await session.execute(_STAGE_BATCH, {"digests": [d for d, _ in batch], "kinds": [k.value for _, k in batch]})
    if abort_on_error and report.failed:
        return found, report
    uploaded = await session.scalar(text("SELECT count(*) FROM suppression_upload")) or 0
    if replace:
        gone = scoped(SuppressionEntry, actor).where(SuppressionEntry.list_id == found.id, _GONE)
        report.removed = await suppression.delete_entries(session=session, entries=gone)
    report.added = await _add_new(session=session, actor=actor, found=found)
    report.kept = uploaded - report.added
    found.entry_count = (
        await session.scalar(
            scoped(SuppressionEntry, actor, func.count()).where(col(SuppressionEntry.list_id) == found.id)
        )
        or 0
    )
    if list_date is not None:
        found.list_date = list_date
    if report.added or report.removed or list_date is not None:
        suppression.touch(found)
    await session.flush()
    return found, report
