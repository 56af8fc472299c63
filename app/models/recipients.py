"""Who receives the register's data: the recipients a controller names in its profile (GDPR Art. 13(1)(e)-(f),
15(1)(c), 30(1)(d)-(e)), and where a transfer outside the EU/EEA needs a safeguard (Chapter V)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from app.models.base import WHITE_SPACE
from app.models.customers import CountryCode
from app.models.profile_base import Local, Strict, Text200
from app.validators import normalise_country

# The EU member states and the three EEA EFTA states (EEA Agreement; GDPR applies in all, so no transfer
# mechanism is needed between them).
EEA = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)

# Countries with a European Commission adequacy decision (Art. 45(3)) in force, as listed on the Commission's
# "Adequacy decisions" page: Andorra, Argentina, Canada (commercial organisations under PIPEDA), Faroe Islands,
# Guernsey, Israel, Isle of Man, Japan, Jersey, New Zealand, Republic of Korea, Switzerland, the United
# Kingdom, the United States (only organisations certified under the EU-US Data Privacy Framework, decision
# 2023/1795) and Uruguay. A country outside this list needs another mechanism (Art. 46, 47 or 49).
ADEQUACY = frozenset(["AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "US", "UY"])

# A recipient's key in the register: webhooks, API keys and the disclosure log name it.
RECIPIENT_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
RecipientId = Annotated[str, StringConstraints(pattern=RECIPIENT_ID)]

RecipientCategory = Literal["processor", "controller", "authority", "partner"]

# Art. 45 adequacy decision; Art. 46(2)(c) standard contractual clauses; Art. 47 binding corporate rules;
# Art. 49 a derogation for a specific situation (e.g. explicit consent, a contract with the person).
TransferMechanism = Literal["adequacy", "sccs", "bcrs", "derogation"]


class ProfileTransfer(Strict):
    """The safeguard of a transfer outside the EU/EEA, and where the person can read or get a copy of it
    (Art. 13(1)(f), 15(2))."""

    mechanism: TransferMechanism = Field(
        description="`adequacy` (Art. 45 decision), `sccs` (Art. 46(2)(c) standard contractual clauses), `bcrs` "
        "(Art. 47 binding corporate rules) or `derogation` (Art. 49; say which in `details`)."
    )
    link: str = Field(
        max_length=500,
        pattern=f"^https://[^{WHITE_SPACE}]+$",
        description="Where the safeguard is published or a copy can be asked for (https).",
    )
    details: Local | None = Field(default=None, description="Anything the person should know of the safeguard.")


class ProfileRecipient(Strict):
    """A recipient of the register's data (Art. 4(9)): a processor, a separate controller, an authority or a
    partner. Webhook subscriptions and API keys that take data out of the service name the recipient they
    belong to, and every such disclosure is logged under its `id`."""

    id: str = Field(
        pattern=RECIPIENT_ID,
        description="A short stable key (e.g. `accounting-firm`): webhooks, API keys and disclosure entries name "
        "the recipient by it.",
    )
    name: Text200 = Field(description="The recipient's name, as the person should be told it (CJEU C-154/21).")
    category: RecipientCategory = Field(
        description="`processor` (processes for the controller, Art. 28), `controller` (a separate controller), "
        "`authority`, or `partner` (a business partner that receives the data for its own purposes)."
    )
    data: list[Local] = Field(default_factory=list, description="The categories of data it receives.")
    purpose: Local | None = Field(default=None, description="Why it receives them.")
    country: CountryCode = Field(default="FI", description="Where it processes the data (ISO 3166-1 alpha-2).")
    transfer: ProfileTransfer | None = Field(
        default=None, description="Outside the EU/EEA: the transfer mechanism and a link to it (Chapter V)."
    )

    _country = field_validator("country")(normalise_country)

    @model_validator(mode="after")
    def _transfer_fits_country(self) -> ProfileRecipient:
        if self.transfer is not None and self.country in EEA:
            raise ValueError(f"{self.country} is in the EU/EEA: no transfer mechanism applies; leave `transfer` out")
        if self.transfer is not None and self.transfer.mechanism == "adequacy" and self.country not in ADEQUACY:
            raise ValueError(f"the European Commission has no adequacy decision for {self.country} (Art. 45)")
        return self

    @property
    def outside_eea(self) -> bool:
        """Whether giving it the data is a transfer to a third country (Chapter V)."""
        return self.country not in EEA
