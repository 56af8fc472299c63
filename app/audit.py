"""The single audited write path: change capture, per-subject encryption, hash chain.

Every flush of a register table passes `_capture` (an ORM event, so no service can forget it), and every
commit passes `_seal`, which encrypts the captured values with the data subject's key and appends them to
the controller's hash chain (a long transaction sets its batches aside with `seal`, to be chained at commit).
Bulk ORM statements, which would skip the capture, are refused, and a deferred trigger in PostgreSQL refuses
to commit any change of a register row that has no audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import column, event, insert, inspect, select, table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import ORMExecuteState, Session

from app.actor import attached
from app.json import dumps, loads
from app.models.api_keys import ApiKey
from app.models.audit import AuditAction, AuditEvent, AuditHead
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import Customer
from app.models.marketing import MarketingEvent
from app.models.notices import PrivacyNotice
from app.models.orders import Order
from app.models.requests import SubjectRequest
from app.models.suppression import SuppressionEntry, SuppressionList
from app.models.webhooks import Webhook
from app.subject_keys import decrypt, default_keyring, encrypt, subject_keys

GENESIS = b"\x00" * 32


@dataclass(frozen=True)
class Audited:
    """How a table is audited: its entity name, whose data it is, and fields never recorded."""

    entity: str
    subject: Callable[[Any], uuid.UUID | None]
    omit: frozenset[str] = frozenset()


AUDITED: dict[type, Audited] = {
    Customer: Audited("customer", lambda c: c.id, frozenset({"version"})),
    Order: Audited("order", lambda o: o.customer_id, frozenset({"version"})),
    ApiKey: Audited("api_key", lambda _: None, frozenset({"key_hash", "last_used_at"})),
    Controller: Audited("controller", lambda _: None),
    PrivacyNotice: Audited("privacy_notice", lambda _: None),
    MarketingEvent: Audited("marketing_event", lambda m: m.customer_id),
    Webhook: Audited("webhook", lambda _: None, frozenset({"secret_encrypted"})),
    # A request's values are the person's: under their key, or the request's own until it is linked.
    SubjectRequest: Audited("request", lambda r: r.customer_id or r.id, frozenset({"version"})),
    SuppressionList: Audited("suppression_list", lambda _: None, frozenset({"version"})),
    # Who is on a list is recorded nowhere readable: the event says which list and what kind, not the digest
    # (an erased person's entries leave nothing behind that their details would find again).
    SuppressionEntry: Audited("suppression_entry", lambda _: None, frozenset({"digest"})),
}


@dataclass
class PendingEvent:
    controller_id: uuid.UUID
    entity: str
    entity_id: uuid.UUID
    action: AuditAction
    subject_id: uuid.UUID | None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)


def _pending(session: Session) -> list[PendingEvent]:
    pending: list[PendingEvent] = session.info.setdefault("audit_pending", [])
    return pending


def _columns(obj: Any) -> list[str]:
    return [attr.key for attr in inspect(obj).mapper.column_attrs]


def _capture(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Turn the session's pending inserts, updates and deletes of audited rows into events."""
    pending = _pending(session)
    for obj in session.new:
        spec = AUDITED.get(type(obj))
        if spec:
            values = {k: {"new": getattr(obj, k)} for k in _columns(obj) if k not in spec.omit}
            pending.append(_event(obj, spec, AuditAction.create, values))
    for obj in session.dirty:
        spec = AUDITED.get(type(obj))
        if not spec or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        values = {}
        for key in _columns(obj):
            history = state.attrs[key].history
            if key in spec.omit or not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old != new:
                values[key] = {"old": old, "new": new}
        if values:
            pending.append(_event(obj, spec, AuditAction.update, values))
    for obj in session.deleted:
        spec = AUDITED.get(type(obj))
        if spec:
            values = {k: {"old": getattr(obj, k)} for k in _columns(obj) if k not in spec.omit}
            pending.append(_event(obj, spec, AuditAction.delete, values))


def _event(obj: Any, spec: Audited, action: AuditAction, values: dict[str, dict[str, Any]]) -> PendingEvent:
    controller_id = obj.id if isinstance(obj, Controller) else obj.controller_id
    return PendingEvent(controller_id, spec.entity, obj.id, action, spec.subject(obj), values)


def record(
    session: Session,
    *,
    controller_id: uuid.UUID,
    entity: str,
    entity_id: uuid.UUID,
    action: AuditAction,
    subject_id: uuid.UUID | None,
    changes: dict[str, dict[str, Any]],
) -> None:
    """Record what no row change shows (a disclosure); sealed into the chain with the rest at commit."""
    _pending(session).append(PendingEvent(controller_id, entity, entity_id, action, subject_id, changes))


def _refuse_bulk(state: ORMExecuteState) -> None:
    """Bulk UPDATE/DELETE/INSERT statements bypass change capture: refuse them on audited tables."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    for mapper in state.all_mappers:
        if mapper.class_ in AUDITED:
            raise RuntimeError(f"bulk statements on {mapper.class_.__name__} bypass the audit log")


# --- the chain ------------------------------------------------------------------------------------


def link_hash(prev_hash: bytes, row: dict[str, Any]) -> bytes:
    """The hash of one event: its recorded content and the previous event's hash."""
    content = {
        k: row[k]
        for k in (
            "controller_id",
            "seq",
            "occurred_at",
            "request_id",
            "actor_key_id",
            "actor_name",
            "actor_role",
            "entity",
            "entity_id",
            "action",
            "subject_id",
            "fields",
            "encrypted",
            "changes",
        )
    }
    content["occurred_at"] = row["occurred_at"].astimezone(dt.UTC).isoformat()
    return hashlib.sha256(prev_hash + dumps(content)).digest()


def _lock_key(controller_id: uuid.UUID) -> int:
    return int.from_bytes(controller_id.bytes[:8], "big", signed=True)


_STAGING = table(
    "audit_staging",
    column("n"),
    column("controller_id"),
    column("request_id"),
    column("actor_key_id"),
    column("actor_name"),
    column("actor_role"),
    column("entity"),
    column("entity_id"),
    column("action"),
    column("subject_id"),
    column("fields"),
    column("encrypted"),
    column("changes"),
)
_STAGED_COLUMNS = [c for c in _STAGING.c if c.name != "n"]
_CHAIN_BATCH = 250  # staged rows chained a round trip at a time: hashing 1000 held the event loop 30 ms


def _prepare(session: Session, pending: list[PendingEvent]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The pending events as audit rows, their values encrypted, by controller: all but their place in the chain."""
    keyring = default_keyring()
    actor = attached(session)
    if actor is None:
        raise RuntimeError("a register change without an actor cannot be audited")
    by_controller: dict[uuid.UUID, list[PendingEvent]] = {}
    for ev in pending:
        by_controller.setdefault(ev.controller_id, []).append(ev)
    prepared: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for controller_id, events in by_controller.items():
        keys = subject_keys(
            session, keyring, controller_id, {e.subject_id for e in events if e.subject_id}, create=True
        )
        rows = prepared[controller_id] = []
        for ev in events:
            plain = dumps(ev.changes)
            data_key = keys.get(ev.subject_id) if ev.subject_id else None
            if ev.subject_id and data_key is None:
                # The subject was erased: nothing readable may be written about them any more.
                plain, encrypted = b"{}", False
            elif data_key is not None:
                plain, encrypted = encrypt(data_key, ev.entity_id, plain), True
            else:
                encrypted = False
            rows.append(
                {
                    "controller_id": controller_id,
                    "request_id": session.info.get("request_id"),
                    "actor_key_id": actor.key_id,
                    "actor_name": actor.name,
                    "actor_role": actor.role,
                    "entity": ev.entity,
                    "entity_id": ev.entity_id,
                    "action": ev.action.value,
                    "subject_id": ev.subject_id,
                    "fields": sorted(ev.changes),
                    "encrypted": encrypted,
                    "changes": plain,
                }
            )
    return prepared


def _chain(session: Session, controller_id: uuid.UUID, batches: Iterable[list[dict[str, Any]]]) -> None:
    """Append the rows to the controller's chain, holding its lock until commit: one writer at a time."""
    conn = session.connection()
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(controller_id)})
    last = conn.execute(
        select(table.c.seq, table.c.hash)
        .where(table.c.controller_id == controller_id)
        .order_by(table.c.seq.desc())
        .limit(1)
    ).one_or_none()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    now = utcnow()  # the changes take effect together, at this commit
    for rows in batches:
        if not rows:  # a controller with staged rows only has no pending ones
            continue
        for row in rows:
            seq += 1
            row["seq"], row["occurred_at"], row["prev_hash"] = seq, now, prev
            row["hash"] = prev = link_hash(prev, row)
        conn.execute(insert(table), rows)
    head = pg_insert(AuditHead.__table__).values(  # type: ignore[attr-defined]
        controller_id=controller_id, seq=seq, hash=prev, mac=default_keyring().head_mac(controller_id, seq, prev)
    )
    conn.execute(
        head.on_conflict_do_update(
            index_elements=["controller_id"],
            set_={"seq": head.excluded.seq, "hash": head.excluded.hash, "mac": head.excluded.mac},
        )
    )


def _staged(session: Session, controller_id: uuid.UUID) -> Iterable[list[dict[str, Any]]]:
    """The rows set aside by `seal`, in the order they were, a batch at a time."""
    conn = session.connection()
    after = 0
    while True:
        rows = conn.execute(
            select(_STAGING.c.n, *_STAGED_COLUMNS)
            .where(_STAGING.c.controller_id == controller_id, _STAGING.c.n > after)
            .order_by(_STAGING.c.n)
            .limit(_CHAIN_BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1].n
        yield [{c.name: getattr(r, c.name) for c in _STAGED_COLUMNS} for r in rows]


def _seal(session: Session) -> None:
    """Before commit: encrypt the pending events and append them, after any set aside, to each controller's chain."""
    session.flush()
    pending = session.info.pop("audit_pending", [])
    staged: set[uuid.UUID] = session.info.pop("audit_staged", set())
    if not pending and not staged:
        return
    prepared = _prepare(session, pending) if pending else {}
    for controller_id in sorted(staged | prepared.keys()):
        earlier = _staged(session, controller_id) if controller_id in staged else ()
        _chain(session, controller_id, itertools.chain(earlier, [prepared.get(controller_id, [])]))


def seal(session: Session) -> None:
    """Encrypt what is pending now and set it aside until commit (a long transaction that writes in batches).

    The rows wait in a temporary table of the transaction and join the chain at commit. The transaction thus
    takes the chain's lock only at its end, after every row lock it needs: a long import holding the lock
    while it waited for a customer's row, which the customer's editor held while it waited for the lock,
    would deadlock. Memory stays flat however many batches there are.
    """
    session.flush()
    pending = session.info.pop("audit_pending", [])
    if not pending:
        return
    conn = session.connection()
    staged: set[uuid.UUID] = session.info.setdefault("audit_staged", set())
    if not staged:
        conn.execute(
            text(
                "CREATE TEMPORARY TABLE IF NOT EXISTS audit_staging (n bigserial PRIMARY KEY, "
                "controller_id uuid NOT NULL, request_id text, actor_key_id uuid, actor_name text NOT NULL, "
                "actor_role text NOT NULL, entity text NOT NULL, entity_id uuid NOT NULL, action text NOT NULL, "
                "subject_id uuid, fields text[] NOT NULL, encrypted boolean NOT NULL, changes bytea NOT NULL) "
                "ON COMMIT DROP"
            )
        )
    for controller_id, rows in _prepare(session, pending).items():
        staged.add(controller_id)
        conn.execute(insert(_STAGING), rows)


def read_changes(row: Any, data_key: bytes | None) -> dict[str, dict[str, Any]] | None:
    """Decrypt an event's changes; None when its subject was erased (key destroyed, values gone)."""
    if row.subject_id is None:
        return loads(row.changes)  # type: ignore[no-any-return]
    if data_key is None or not row.encrypted:
        return None
    return loads(decrypt(data_key, row.entity_id, row.changes))  # type: ignore[no-any-return]


def _reset(session: Session, *_: Any) -> None:
    session.info.pop("audit_pending", None)
    session.info.pop("audit_staged", None)


event.listen(Session, "before_flush", _capture)
event.listen(Session, "before_commit", _seal)
event.listen(Session, "after_rollback", _reset)
event.listen(Session, "do_orm_execute", _refuse_bulk)
