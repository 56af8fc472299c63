"""Per-subject keys for the audit log: each data subject's values are encrypted (AES-GCM) under a key of
their own, stored wrapped by the master key; erasure destroys the key, so the chain stays verifiable while
the erased values can never be read again."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Iterable
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from app.models.audit import SubjectKey


class KeyRing:
    """Wraps and unwraps per-subject data keys with the master key."""

    def __init__(self, master_key: bytes) -> None:
        self._master = AESGCM(master_key)
        self._head_key = hmac.new(master_key, b"rekisteri audit head", hashlib.sha256).digest()
        self._match_root = hmac.new(master_key, b"rekisteri suppression match", hashlib.sha256).digest()

    def match_key(self, controller_id: uuid.UUID) -> bytes:
        """A controller's key for the keyed digests of its suppression entries (as stable as the master key)."""
        return hmac.new(self._match_root, controller_id.bytes, hashlib.sha256).digest()

    def head_mac(self, controller_id: uuid.UUID, seq: int, head_hash: bytes) -> bytes:
        """Seal a chain head: only a holder of the master key can move it."""
        message = controller_id.bytes + seq.to_bytes(8, "big") + head_hash
        return hmac.new(self._head_key, message, hashlib.sha256).digest()

    @staticmethod
    def _aad(controller_id: uuid.UUID, subject_id: uuid.UUID) -> bytes:
        return controller_id.bytes + subject_id.bytes

    def wrap(self, controller_id: uuid.UUID, subject_id: uuid.UUID, data_key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._master.encrypt(nonce, data_key, self._aad(controller_id, subject_id))

    def unwrap(self, controller_id: uuid.UUID, subject_id: uuid.UUID, wrapped: bytes) -> bytes:
        return self._master.decrypt(wrapped[:12], wrapped[12:], self._aad(controller_id, subject_id))


def encrypt(data_key: bytes, entity_id: uuid.UUID, plaintext: bytes) -> bytes:
    """AES-GCM with a fresh nonce, bound to the entity."""
    nonce = os.urandom(12)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, entity_id.bytes)


def decrypt(data_key: bytes, entity_id: uuid.UUID, ciphertext: bytes) -> bytes:
    """Reverse `encrypt`."""
    return AESGCM(data_key).decrypt(ciphertext[:12], ciphertext[12:], entity_id.bytes)


def subject_keys(
    session: Session,
    keyring: KeyRing,
    controller_id: uuid.UUID,
    subject_ids: Iterable[uuid.UUID],
    *,
    create: bool,
) -> dict[uuid.UUID, bytes | None]:
    """Return each subject's data key (None once destroyed), creating missing ones when asked."""
    wanted = set(subject_ids)
    if not wanted:
        return {}
    table = SubjectKey.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    rows = conn.execute(
        select(table.c.subject_id, table.c.wrapped_key).where(
            table.c.controller_id == controller_id, table.c.subject_id.in_(wanted)
        )
    ).all()
    found: dict[uuid.UUID, bytes | None] = {
        r.subject_id: None if r.wrapped_key is None else keyring.unwrap(controller_id, r.subject_id, r.wrapped_key)
        for r in rows
    }
    missing = wanted - found.keys()
    if missing and create:
        new_keys = {sid: AESGCM.generate_key(bit_length=256) for sid in missing}
        conn.execute(
            insert(table),
            [
                {
                    "controller_id": controller_id,
                    "subject_id": sid,
                    "wrapped_key": keyring.wrap(controller_id, sid, k),
                }
                for sid, k in new_keys.items()
            ],
        )
        found.update(new_keys)
    return found


def destroy_subject_key(session: Session, controller_id: uuid.UUID, subject_id: uuid.UUID) -> None:
    """Destroy a subject's key: the values in their audit events become unreadable for good."""
    # An upsert: a subject with no key yet gets a destroyed one, so none can be made for them later.
    session.connection().execute(
        text(
            "INSERT INTO subject_key (controller_id, subject_id, wrapped_key, destroyed_at) "
            "VALUES (:c, :s, NULL, now()) ON CONFLICT (controller_id, subject_id) "
            "DO UPDATE SET wrapped_key = NULL, destroyed_at = now()"
        ),
        {"c": controller_id, "s": subject_id},
    )


def check_master_key(session: Session) -> None:
    """Refuse to run with a master key other than the one the stored subject keys were wrapped with."""
    row = (
        session.connection()
        .execute(
            text("SELECT controller_id, subject_id, wrapped_key FROM subject_key WHERE wrapped_key IS NOT NULL LIMIT 1")
        )
        .first()
    )
    if row is None:
        return
    try:
        default_keyring().unwrap(row.controller_id, row.subject_id, row.wrapped_key)
    except InvalidTag:
        raise RuntimeError(
            "REKISTERI_MASTER_KEY is not the key this database's audit keys were made with; "
            "start with the original key (see docs/operator.md)"
        ) from None


@lru_cache
def default_keyring() -> KeyRing:
    """The key ring built from the configured master key."""
    from app.config import get_settings

    return KeyRing(get_settings().master_key_bytes())
