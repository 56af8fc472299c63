"""Suppression lists: do-not-contact registers the marketing check screens against, their entries kept as
keyed digests of what identifies a person (docs/marketing.md, "Suppression lists").

An entry is one e-mail address, one phone number, or one name at one postal address, normalised and then
hashed with a key of the controller's own (derived from the master key, so never stored): the table holds no
readable personal data, yet the check finds a match with one index lookup, and the person's own details, which
the register holds, find their entries again for an access answer or an erasure. The values themselves, once
uploaded, are never kept, logged or audited.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.actor import Actor
from app.audit import seal
from app.errors import NotFound, PreconditionFailed
from app.models.base import utcnow
from app.models.customers import Customer
from app.models.marketing import Channel
from app.models.suppression import (
    EntryKind,
    SuppressionEntry,
    SuppressionList,
    SuppressionListCreate,
    SuppressionListUpdate,
    SuppressionMatch,
)
from app.subject_keys import default_keyring
from app.tenancy import scoped
from app.validators import normalise_phone

BATCH = 2000  # entries written, deleted or looked up at a time

# --- what identifies a person -------------------------------------------------------------------------------


def email_key(value: str) -> str:
    """An e-mail address as matched: trimmed, lower case (as the register and the campaign check keep it)."""
    normal = value.strip().lower()
    if "@" not in normal or any(c.isspace() for c in normal):
        raise ValueError("not an e-mail address")
    return normal


def phone_key(value: str) -> str:
    """A phone number as matched: E.164, Finnish by default (as the register keeps it)."""
    normal = normalise_phone(value)
    if not normal:
        raise ValueError("not a phone number")
    return normal


POSTAL_FIELDS = ("first_name", "last_name", "street_address", "postal_code")


def _folded(value: str) -> str:
    # NFKC then casefold: "Meikäläinen" typed with a combining diaeresis, or "STRASSE" and "Straße", match.
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def postal_key(first_name: str, last_name: str, street_address: str, postal_code: str) -> str:
    """A name at a postal address as matched: each part folded, whitespace collapsed."""
    parts = [_folded(p) for p in (first_name, last_name, street_address, postal_code)]
    if not all(parts):
        raise ValueError("a name and address needs first_name, last_name, street_address and postal_code")
    return "\x1f".join(parts)


class Matcher:
    """Keyed digests of a controller's identifiers: BLAKE2b keyed with the controller's own match key."""

    def __init__(self, controller_id: uuid.UUID) -> None:
        self._key = default_keyring().match_key(controller_id)

    def digest(self, kind: EntryKind, normal: str) -> bytes:
        return hashlib.blake2b(f"{kind.value}:{normal}".encode(), key=self._key, digest_size=32).digest()

    def person(self, who: Any) -> dict[bytes, EntryKind]:
        """The digests of what the register holds of a person (a customer or a row with the same fields)."""
        found: dict[bytes, EntryKind] = {}
        postal = [getattr(who, f) for f in POSTAL_FIELDS]
        for kind, normal in (
            (EntryKind.email, _or_none(email_key, who.email)),
            (EntryKind.phone, _or_none(phone_key, who.phone)),
            (EntryKind.postal_address, _or_none(postal_key, *postal) if all(postal) else None),
        ):
            if normal is not None:
                found[self.digest(kind, normal)] = kind
        return found


def _or_none(normalise: Callable[..., str], *values: str | None) -> str | None:
    """The normal form of a value the register holds, or None where it has none fit to match."""
    if any(v is None for v in values):
        return None
    try:
        return normalise(*values)
    except ValueError:
        return None


# --- matching -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing:
    """A list an entry is on, as the check needs it."""

    name: str
    channels: frozenset[str]


Hits = Mapping[bytes, list[Listing]]

_HITS = text(
    """
    SELECT e.digest, l.name, l.channels
    FROM suppression_entry e
    JOIN suppression_list l ON l.controller_id = e.controller_id AND l.id = e.list_id
    WHERE e.controller_id = :controller_id AND e.digest = ANY(:digests) AND l.channels && CAST(:channels AS text[])
    ORDER BY l.name
    """
)


async def hits(
    *, session: AsyncSession, actor: Actor, digests: Collection[bytes], channels: Iterable[Channel]
) -> dict[bytes, list[Listing]]:
    """The lists, by name, that hold each of the digests and forbid any of the channels; one query."""
    if not digests:
        return {}
    rows = await session.execute(
        _HITS,
        {"controller_id": actor.controller_id, "digests": list(digests), "channels": [c.value for c in channels]},
    )
    found: dict[bytes, list[Listing]] = {}
    for row in rows:
        found.setdefault(bytes(row.digest), []).append(Listing(row.name, frozenset(row.channels)))
    return found


def suppressing(found: Hits, digests: Iterable[bytes], channel: Channel) -> str | None:
    """The name of the first list (by name) that holds any of the digests and forbids the channel."""
    names = [listing.name for d in digests for listing in found.get(d, ()) if channel.value in listing.channels]
    return min(names) if names else None


# --- the lists ----------------------------------------------------------------------------------------------


async def create_list(*, session: AsyncSession, actor: Actor, data: SuppressionListCreate) -> SuppressionList:
    """Make an empty list."""
    found = SuppressionList(
        controller_id=actor.controller_id,
        name=data.name,
        source=data.source,
        list_date=data.list_date,
        channels=[c.value for c in data.channels],
    )
    session.add(found)
    await session.flush()
    return found


async def list_lists(
    *, session: AsyncSession, actor: Actor, after: uuid.UUID | None, limit: int
) -> list[SuppressionList]:
    """The controller's lists, by id."""
    query = scoped(SuppressionList, actor)
    if after is not None:
        query = query.where(SuppressionList.id > after)
    return list(await session.scalars(query.order_by(col(SuppressionList.id)).limit(limit)))


async def get_list(
    *, session: AsyncSession, actor: Actor, list_id: uuid.UUID, for_update: bool = False
) -> SuppressionList:
    """One list; locked for the rest of the transaction when it is to change."""
    query = scoped(SuppressionList, actor).where(SuppressionList.id == list_id)
    found = await session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound("No such suppression list.")
    return found


def touch(found: SuppressionList) -> None:
    """Mark a change of the list or its entries (a new ETag)."""
    found.version += 1
    found.updated_at = utcnow()


async def update_list(
    *, session: AsyncSession, actor: Actor, list_id: uuid.UUID, data: SuppressionListUpdate, versions: set[int] | None
) -> SuppressionList:
    """Change a list's name, source, date or channels; `versions` are those If-Match accepts (None: any)."""
    found = await get_list(session=session, actor=actor, list_id=list_id, for_update=True)
    if versions is not None and found.version not in versions:
        raise PreconditionFailed("The list has changed since you read it; read it again (ETag).")
    values = data.model_dump(exclude_unset=True)
    if values.get("name") is None:
        values.pop("name", None)
    if values.get("channels") is None:
        values.pop("channels", None)
    else:
        values["channels"] = [c.value for c in data.channels or ()]
    changed = {k: v for k, v in values.items() if getattr(found, k) != v}
    for key, value in changed.items():
        setattr(found, key, value)
    if changed:
        touch(found)
    await session.flush()
    return found


async def delete_entries(*, session: AsyncSession, entries: Any) -> int:
    """Delete the entries a statement selects, a batch at a time in the order of their ids, each audited (its
    event set aside until commit, the batch let go); return how many."""
    removed, after = 0, None
    while True:
        query = entries if after is None else entries.where(SuppressionEntry.id > after)
        batch = list(await session.scalars(query.order_by(col(SuppressionEntry.id)).limit(BATCH)))
        if not batch:
            return removed
        for entry in batch:
            await session.delete(entry)
        await session.flush()
        await session.run_sync(seal)
        for entry in batch:
            session.expunge(entry)
        removed += len(batch)
        after = batch[-1].id


async def delete_list(*, session: AsyncSession, actor: Actor, list_id: uuid.UUID) -> None:
    """Delete a list and every entry on it."""
    found = await get_list(session=session, actor=actor, list_id=list_id, for_update=True)
    await delete_entries(
        session=session, entries=scoped(SuppressionEntry, actor).where(SuppressionEntry.list_id == list_id)
    )
    await session.delete(found)
    await session.flush()


# --- a person's entries: access and erasure -----------------------------------------------------------------


async def matches_of(*, session: AsyncSession, actor: Actor, customer: Customer) -> list[SuppressionMatch]:
    """The entries on the controller's lists that match the person (GDPR Art. 15(1)(g): and where they came from)."""
    mine = Matcher(actor.controller_id).person(customer)
    if not mine:
        return []
    rows = await session.execute(
        scoped(SuppressionEntry, actor, SuppressionEntry, SuppressionList)
        .join(
            SuppressionList,
            (col(SuppressionList.controller_id) == col(SuppressionEntry.controller_id))
            & (col(SuppressionList.id) == col(SuppressionEntry.list_id)),
        )
        .where(col(SuppressionEntry.digest).in_(list(mine)))
        .order_by(col(SuppressionList.name), col(SuppressionEntry.kind))
    )
    return [
        SuppressionMatch(
            list_name=lst.name,
            source=lst.source,
            list_date=lst.list_date,
            channels=[Channel(c) for c in lst.channels],
            matched_on=entry.kind,
            added_at=entry.created_at,
        )
        for entry, lst in rows
    ]


async def forget_person(*, session: AsyncSession, actor: Actor, customer: Customer) -> int:
    """Erase the entries that match the person (GDPR Art. 17); return how many.

    Call it while the customer still holds their e-mail, phone, name and address, before they are erased: the
    entries are found by them. Another person's entry with the same details goes too; the list's next
    replacement brings it back.
    """
    mine = list(Matcher(actor.controller_id).person(customer))
    if not mine:
        return 0
    matching = scoped(SuppressionEntry, actor).where(col(SuppressionEntry.digest).in_(mine))
    # The lists first, then their entries: the order an upload takes its locks in.
    list_ids = sorted(set(await session.scalars(matching.with_only_columns(col(SuppressionEntry.list_id)))))
    lists = [await get_list(session=session, actor=actor, list_id=i, for_update=True) for i in list_ids]
    # The lists' locks (taken above) guard their entries: an upload replaces them under the same locks. Entries
    # are never updated, so the API's role has no UPDATE on them, which FOR UPDATE would need.
    entries = list(await session.scalars(matching))
    for entry in entries:
        await session.delete(entry)
    for found in lists:
        found.entry_count -= sum(1 for e in entries if e.list_id == found.id)
        touch(found)
    await session.flush()
    return len(entries)
