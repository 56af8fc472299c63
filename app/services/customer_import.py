"""Bulk import of customers: NDJSON lines, each upserted by its external id, in one audited transaction.

Every line is a whole customer, as `PUT /v1/customers/by-external-id/{external_id}` takes it (its `external_id`
in the line): a new external id creates, a known one replaces. A line that is not JSON, not a valid customer,
longer than MAX_LINE (or than the PUT's body may be), or not allowed (the person erased, or restricted and the
line changes more than the contested fields) is reported with its number and applies nothing; every other line
applies whole.
Nothing is committed before the last line: an import cut short (a dropped connection, a killed process) leaves
the register as it was. With `on_error=abort`, one bad line applies none.

The lines are handled in batches: one query finds the batch's known external ids, the ORM writes it, its audit
events are encrypted and set aside (`app.audit.seal`) and the batch leaves the session, so memory stays flat
however long the import. The events join the audit chain at commit, so other writers of the register are not
held up while the import runs; writers of its external ids wait for it (an import of over `SMALL` lines: writers
of any external id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app import ndjson
from app.actor import Actor
from app.audit import seal
from app.errors import DomainError, message_of
from app.models.customers import Customer, CustomerCreate, CustomerFields, CustomerKind
from app.ndjson import LineReport
from app.services.customers import apply, check_editable, lock_external_ids, record_sources
from app.validators import has_nul

BATCH = 1000
# The longest line taken (unless a JSON body may not be as long): the largest valid customer, every character of
# every field written as a \\u escape of a surrogate pair, is about 36 KiB. A line is parsed in one call that
# holds the interpreter, so its length bounds the pause it can cause (a few ms at this size, not 20 at 1 MiB).
MAX_LINE = 128 * 1024
SLICE = 20  # customers built, flushed and sealed between two turns of the event loop
MAX_UNKNOWN = 10  # a line's unknown fields named; a line of ten thousand keys is not answered with each
SMALL = 100  # an import of up to this many ids locks each; a larger one, every external id of the controller
_KNOWN = text(
    "SELECT c.* FROM unnest(CAST(:ids AS text[])) AS wanted(external_id) CROSS JOIN LATERAL "
    "(SELECT * FROM customer WHERE controller_id = :controller_id AND external_id = wanted.external_id "
    "FOR UPDATE) AS c"
)
_FIELDS = tuple(CustomerFields.model_fields)
_TAKEN = frozenset(CustomerCreate.model_fields)
_EXTRA = "Extra inputs are not permitted"  # pydantic's words, as a JSON body's unknown field gets them


@dataclass
class ImportReport(LineReport):
    """What the import did, line by line where it did not."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    # As in every 422: where and what, never the value (it may be personal data).
    return [{"loc": [str(p) for p in e["loc"]], "msg": message_of(e), "type": e["type"]} for e in exc.errors()]


def parse(line: bytes) -> CustomerCreate | list[dict[str, Any]]:
    """One line as a customer, or what is wrong with it; safe in a worker thread."""
    if has_nul(line):
        return [{"loc": [], "msg": "a NUL character (\\u0000) cannot be stored", "type": "string_nul"}]
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError:
        return [{"loc": [], "msg": "not a JSON object", "type": "json_invalid"}]
    if not isinstance(raw, dict):
        return [{"loc": [], "msg": "not a JSON object", "type": "json_invalid"}]
    # Fields the model does not have, found here and named a few: validated whole, each would be an error of its
    # own, and listing a hundred thousand of them held the interpreter for a second.
    unknown = list(islice((key for key in raw if key not in _TAKEN), MAX_UNKNOWN))
    if unknown:
        problems = [{"loc": [key], "msg": _EXTRA, "type": "extra_forbidden"} for key in unknown]
        known = {key: value for key, value in raw.items() if key in _TAKEN}
        try:
            CustomerCreate.model_validate(known)
        except ValidationError as exc:
            return _problems(exc) + problems
        return problems
    try:
        data = CustomerCreate.model_validate(raw)
    except ValidationError as exc:
        return _problems(exc)
    if not data.external_id:
        return [{"loc": ["external_id"], "msg": "each line needs its external_id", "type": "missing"}]
    return data


def _too_long(max_line: int) -> list[dict[str, Any]]:
    return [{"loc": [], "msg": f"longer than {max_line} bytes", "type": "too_long"}]


async def _hashed(chunks: AsyncIterator[bytes], digest: Any) -> AsyncIterator[bytes]:
    """The body's chunks as they are, fed to `digest` as they pass."""
    async for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _apply_line(
    *, session: AsyncSession, actor: Actor, known: dict[str, Customer], data: CustomerCreate, report: ImportReport
) -> None:
    values: dict[str, Any] = dict.fromkeys(_FIELDS) | data.model_dump(exclude_unset=True)
    values["kind"] = values.get("kind") or CustomerKind.private
    customer = known.get(data.external_id or "")
    if customer is None:
        # Validated once already, as the line: a table model is built without validating again.
        customer = Customer(**values, controller_id=actor.controller_id)
        record_sources(customer, values)
        session.add(customer)
        known[data.external_id or ""] = customer
        report.created += 1
        return
    # The line was validated whole (CustomerCreate), so once allowed it applies whole.
    check_editable(customer, {k for k, v in values.items() if getattr(customer, k) != v})
    if apply(customer, values):
        report.updated += 1
    else:
        report.unchanged += 1


async def _apply_batch(
    *, session: AsyncSession, actor: Actor, batch: list[tuple[int, CustomerCreate]], report: ImportReport
) -> None:
    ids = list({data.external_id for _, data in batch})
    # One unique-index lookup an id, whatever the planner knows of the table: a register being filled by an
    # import has no statistics yet, and `external_id IN (...)` was then planned as a scan of every row of the
    # controller (through the phone index) for each batch.
    known = {
        c.external_id: c
        for c in await session.scalars(
            select(Customer).from_statement(_KNOWN), {"ids": ids, "controller_id": actor.controller_id}
        )
    }
    # A slice at a time between two turns of the event loop: building, flushing and sealing a whole batch in
    # one go held the loop for half a second; a slice takes a few milliseconds.
    for start in range(0, len(batch), SLICE):
        for number, data in batch[start : start + SLICE]:
            try:
                _apply_line(session=session, actor=actor, known=known, data=data, report=report)
            except DomainError as exc:
                report.refuse(number, [{"loc": [], "msg": exc.detail, "type": exc.slug}])
        await session.flush()
        await session.run_sync(seal)
    session.expunge_all()


async def run(
    *,
    session: AsyncSession,
    actor: Actor,
    chunks: AsyncIterator[bytes],
    abort_on_error: bool,
    digest: Any,
    max_line: int,
) -> ImportReport:
    """Import the NDJSON body, feeding its bytes to `digest` (the Idempotency-Key's fingerprint).

    A line over `max_line` bytes is refused unread (`too_long`). The lines are parsed in a worker thread
    (app/ndjson.py); the event loop only applies them, a batch at a time.
    """
    report = ImportReport()
    batch: list[tuple[int, CustomerCreate]] = []
    locked = False  # the external-id locks: another import, PUT or POST of these ids waits until this commits
    async for number, parsed in ndjson.parsed(_hashed(chunks, digest), max_line=max_line, parse=parse):
        report.lines += 1
        if parsed is None:
            parsed = _too_long(max_line)
        if isinstance(parsed, list):
            report.refuse(number, parsed)
            continue
        if abort_on_error and report.failed:
            continue  # nothing will be applied: only find the other bad lines
        batch.append((number, parsed))
        if len(batch) >= BATCH:
            if not locked:  # more batches may follow: every id's lock now, before any row lock
                await lock_external_ids(session=session, actor=actor, external_ids=None)
                locked = True
            await _apply_batch(session=session, actor=actor, batch=batch, report=report)
            batch = []
    if batch and not (abort_on_error and report.failed):
        if not locked:  # the whole import is this batch: a small one locks its ids only
            ids = {data.external_id for _, data in batch if data.external_id}
            await lock_external_ids(session=session, actor=actor, external_ids=ids if len(ids) <= SMALL else None)
        await _apply_batch(session=session, actor=actor, batch=batch, report=report)
    return report
