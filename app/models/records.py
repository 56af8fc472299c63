"""The record of processing activities (GDPR Art. 30(1)): what the controller's profile says, point by point,
as one published version of the privacy notice said it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models.notices import NoticeLanguage, NoticeText, NoticeVersion
from app.models.profile import LegalBasis
from app.models.recipients import RecipientCategory, TransferMechanism

SCHEMA = "rekisteri.record-of-processing/1"

# The points of Art. 30(1).
Point = Literal["a", "b", "c", "d", "e", "f", "g"]


class RecordMissing(BaseModel):
    """Something the record should say and the profile does not: the gap, where it belongs, and why."""

    point: Point = Field(description="The point of Art. 30(1) it belongs to.")
    item: str = Field(
        description="`controller_contact`, `dpo`, `purposes`, `purpose_basis`, `legitimate_interest`, `law`, "
        "`data_subjects`, `data_categories`, `recipients`, `transfer_safeguard`, `derogation`, `retention` or "
        "`security`."
    )
    path: str = Field(description="Where in the profile it is stated, e.g. `notice.purposes[1].basis`.")
    article: str = Field(description="The provision that asks for it.")
    text: str = Field(description="What is missing, in the record's language.")


class RecordContact(BaseModel):
    name: str | None
    title: str | None
    phone: str | None
    email: str | None


class RecordController(BaseModel):
    """Art. 30(1)(a): the controller's name and contact details."""

    name: str
    business_id: str | None
    address: str | None
    country: str
    country_name: str
    phone: str | None
    email: str | None
    website: str | None


class RecordDpo(BaseModel):
    """Art. 30(1)(a), 37: the data protection officer; `appointed` is null where the profile does not say."""

    appointed: bool | None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None


class RecordPurpose(BaseModel):
    """Art. 30(1)(b): a purpose, with the Art. 6(1) basis it rests on (null: not stated)."""

    purpose: NoticeText
    basis: LegalBasis | None
    article: str | None = Field(description="The point of Art. 6(1), e.g. `6(1)(f)`.")
    basis_text: str | None = Field(description="The basis in words, in the record's language.")
    legitimate_interest: NoticeText | None
    law: NoticeText | None


class RecordRecipient(BaseModel):
    """Art. 30(1)(d): a recipient the profile names."""

    id: str
    name: str
    category: RecipientCategory
    category_text: str
    data: list[NoticeText]
    purpose: NoticeText | None
    country: str
    country_name: str
    outside_eea: bool


class RecordTransfer(BaseModel):
    """Art. 30(1)(e): a recipient in a third country, and the safeguard of the transfer (null: not stated)."""

    recipient: str = Field(description="The recipient's `id`.")
    name: str
    country: str
    country_name: str
    mechanism: TransferMechanism | None
    mechanism_text: str | None
    link: str | None
    details: NoticeText | None


class RecordRetention(BaseModel):
    """Art. 30(1)(f): a time limit for erasure, and whether the service enforces it."""

    category: NoticeText
    period: NoticeText
    enforced: Literal["customer", "orders"] | None = Field(
        description="What the daily retention sweep does by this rule; null: the rule is only stated."
    )
    years: int | None
    enforced_text: str | None


class RecordSecurity(BaseModel):
    """Art. 30(1)(g), 32(1): the controller's measures, and those the service itself applies."""

    manual: NoticeText | None
    electronic: NoticeText | None
    service: list[str] = Field(description="Measures the service applies to the register wherever it runs.")


_TEXT = {"text": "Asiakassuhteen hoitaminen", "lang": "fi"}
_EXAMPLE: dict[str, Any] = {
    "schema": SCHEMA,
    "controller": "sonmark",
    "language": "fi",
    "title": "Seloste käsittelytoimista",
    "register_name": "Asiakasrekisteri",
    "version": 2,
    "notice_date": "2026-11-30",
    "published_at": "2026-11-30T08:00:00Z",
    "controller_details": {
        "name": "SonMark Oy",
        "business_id": "2477816-7",
        "address": "Esimerkkikatu 1, 00100 Helsinki",
        "country": "FI",
        "country_name": "Suomi",
        "phone": "+358 40 1234567",
        "email": "tietosuoja@example.fi",
        "website": None,
    },
    "contact_person": None,
    "dpo": {"appointed": False},
    "purposes": [
        {
            "purpose": _TEXT,
            "basis": "contract",
            "article": "6(1)(b)",
            "basis_text": "Sopimuksen täytäntöönpano tai sopimusta edeltävät toimenpiteet (6 artiklan 1 kohdan b "
            "alakohta)",
            "legitimate_interest": None,
            "law": None,
        }
    ],
    "legal_basis_note": None,
    "data_subjects": [{"text": "Asiakkaat", "lang": "fi"}],
    "data_groups": [],
    "data_categories": [{"text": "Nimi ja yhteystiedot", "lang": "fi"}],
    "recipients": [],
    "recipient_categories": [],
    "recipients_described": [],
    "transfers": [],
    "transfers_described": [],
    "retention": [],
    "security": {"manual": None, "electronic": None, "service": []},
    "missing": [
        {
            "point": "f",
            "item": "retention",
            "path": "notice.retention",
            "article": "GDPR Art. 30(1)(f)",
            "text": "Eri tietoryhmien poistamisen määräajat",
        }
    ],
    "unreadable": [],
    "versions": [{"version": 2, "notice_date": "2026-11-30", "published_at": "2026-11-30T08:00:00Z"}],
}


class RecordOfProcessing(BaseModel):
    """The controller's record of processing activities (Art. 30(1)), drawn from one published version of its
    profile, in one language."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    schema_: str = Field(alias="schema", serialization_alias="schema")
    controller: str = Field(description="The controller's slug.")
    language: NoticeLanguage
    title: str
    register_name: str
    version: int = Field(description="The version of the privacy notice (and profile) the record is drawn from.")
    notice_date: dt.date = Field(description="The date that version was drawn up (laatimispäivä).")
    published_at: dt.datetime
    controller_details: RecordController
    contact_person: RecordContact | None
    dpo: RecordDpo
    purposes: list[RecordPurpose]
    legal_basis_note: NoticeText | None = Field(description="What the profile adds to the bases stated per purpose.")
    data_subjects: list[NoticeText]
    data_groups: list[NoticeText]
    data_categories: list[NoticeText]
    recipients: list[RecordRecipient]
    recipient_categories: list[NoticeText]
    recipients_described: list[NoticeText] = Field(
        description="Recipients and regular disclosures the profile states in words only."
    )
    transfers: list[RecordTransfer]
    transfers_described: list[NoticeText] = Field(description="What the profile says of transfers in words.")
    retention: list[RecordRetention]
    security: RecordSecurity
    missing: list[RecordMissing] = Field(
        description="Each Art. 30(1) item (and legal basis) the profile does not state; empty when complete."
    )
    unreadable: list[str] = Field(
        description="Parts of an earlier version's profile the present schema can no longer read (left out)."
    )
    versions: list[NoticeVersion] = Field(description="Every published version, newest first.")
