"""The marketing rules: may we market to this person on this channel, and why (Act 917/2014 § 200, GDPR
Art. 6, 18, 21); pure functions over the facts `app.services.marketing` reads. docs/marketing.md gives each rule
its source and the choices made."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.models.customers import CustomerKind
from app.models.marketing import Channel, Decision, Reason


@dataclass(frozen=True, slots=True)
class Facts:
    """What the decision about one customer and one channel depends on."""

    kind: CustomerKind
    restricted: bool
    erased: bool
    collected_at_sale: bool
    relationship_ended: bool
    sale_window_months: int
    recent_sale_date: dt.date | None
    prohibited_at: dt.datetime | None
    consented_at: dt.datetime | None
    consent_withdrawn_at: dt.datetime | None
    opt_out_offered_at: dt.datetime | None
    objected_at: dt.datetime | None
    suppressed_by: str | None = None  # the name of a suppression list the person is on


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision without the API schema's cost: a campaign check makes a million of them."""

    allowed: bool
    reason: Reason
    detail: str

    def for_channel(self, channel: Channel) -> Decision:
        return Decision(channel=channel, allowed=self.allowed, reason=self.reason, detail=self.detail)


# Channels where a private person must have said yes first; everywhere else the rule is "until forbidden".
# Act 917/2014 § 200(1): electronic direct marketing (e-mail, SMS) and automated calling systems or voice
# messages to a natural person need their prior consent.
CONSENT_BY_917 = frozenset({Channel.electronic, Channel.automated_calls})
# GDPR Art. 6(1)(a): handing a private person's data to partners for their marketing, or publishing it in a
# list, rests on consent. (Publication "until forbidden" was the repealed Personal Data Act's opt-out model.)
CONSENT_BY_GDPR = frozenset({Channel.partner_disclosure, Channel.list_publication})
CONSENT_CHANNELS = CONSENT_BY_917 | CONSENT_BY_GDPR

_NO_CONSENT = {
    Channel.electronic: "Electronic marketing to a private person needs their prior consent (917/2014 § 200(1)).",
    Channel.automated_calls: "Automated calls and voice messages to a private person need their prior consent "
    "(917/2014 § 200(1)).",
    Channel.partner_disclosure: "Disclosing a private person to partners for their marketing needs their consent "
    "(GDPR Art. 6(1)(a)).",
    Channel.list_publication: "Publishing a private person in a list needs their consent (GDPR Art. 6(1)(a)).",
}
_BUSINESS = {
    # § 200(1) protects natural persons; a contact addressed in their work role may be marketed to on the
    # controller's legitimate interest until they object (GDPR Art. 6(1)(f), Art. 21(2)-(3)).
    Channel.electronic: "A business contact: allowed until prohibited (917/2014 § 200(1) binds marketing to "
    "private persons; GDPR Art. 6(1)(f), Art. 21(2)).",
    Channel.automated_calls: "A business contact: allowed until prohibited (917/2014 § 200(1) binds marketing "
    "to private persons; GDPR Art. 6(1)(f), Art. 21(2)).",
    # Disclosure and publication are no electronic marketing: § 200 does not govern them at all.
    Channel.partner_disclosure: "A business contact: disclosure to partners allowed until the person objects "
    "(GDPR Art. 6(1)(f), Art. 21(2)).",
    Channel.list_publication: "A business contact: publication allowed until the person objects "
    "(GDPR Art. 6(1)(f), Art. 21(2)).",
}

# The kielto-oikeus in the decision's words: what the person forbade, and the article that lets them. Art. 21(2)
# is the objection to direct marketing; market and opinion research is no direct marketing, and the person's
# objection to it rests on Art. 21 as a whole (docs/marketing.md).
_FORBIDDEN = {
    Channel.direct_mail: "addressed direct mail",
    Channel.telemarketing: "telemarketing",
    Channel.automated_calls: "automated calls and voice messages",
    Channel.electronic: "marketing by e-mail, text and picture messages",
    Channel.market_research: "market and opinion research",
    Channel.partner_disclosure: "the disclosure of their data to partners for their marketing",
    Channel.list_publication: "the publication of their data in lists",
    Channel.profiling: "profiling for direct marketing",
}
_PROHIBITED = {
    channel: f"The person forbade {what} (GDPR Art. 21{'' if channel is Channel.market_research else '(2)'})."
    for channel, what in _FORBIDDEN.items()
}


def decide(channel: Channel, facts: Facts | None, *, own_similar_products: bool = False) -> Verdict:
    """The rules, most restrictive first; every answer names its reason."""
    answer = Verdict

    if facts is None:
        return answer(False, Reason.unknown_subject, "No such person in the register: never market by default.")
    if facts.erased:
        return answer(False, Reason.erased, "The person's data was erased (GDPR Art. 17).")
    if facts.restricted:
        return answer(False, Reason.restricted, "Processing is restricted: the data may only be stored (Art. 18).")
    if facts.objected_at is not None:
        return answer(False, Reason.objection, "The person objected to direct marketing (Art. 21(3)).")
    if facts.prohibited_at is not None:
        return answer(False, Reason.prohibited, _PROHIBITED[channel])
    if facts.suppressed_by is not None:
        return suppressed(facts.suppressed_by)
    if channel not in CONSENT_CHANNELS:
        return answer(True, Reason.not_prohibited, "Allowed until the person forbids it.")
    if facts.kind is CustomerKind.business:
        return answer(True, Reason.business_contact, _BUSINESS[channel])
    if facts.consented_at is not None:
        return answer(True, Reason.consent, f"The person consented on {facts.consented_at.date().isoformat()}.")
    if facts.consent_withdrawn_at is not None:
        return answer(False, Reason.consent_withdrawn, "The person withdrew their consent.")
    if channel is Channel.electronic and own_similar_products:
        missing = _not_existing_customer(facts)
        if missing is None:
            assert facts.recent_sale_date is not None
            return answer(
                True,
                Reason.existing_customer,
                f"An existing customer: bought on {facts.recent_sale_date.isoformat()}, the e-mail collected at "
                "the sale with an opt-out offered; for the business's own similar products (917/2014 § 200(2)).",
            )
        return answer(False, Reason.no_consent, f"{_NO_CONSENT[channel]} Not an existing customer: {missing}.")
    return answer(False, Reason.no_consent, _NO_CONSENT[channel])


def suppressed(list_name: str) -> Verdict:
    """The answer for a match on a do-not-contact list (ASML's Kielto register, the controller's own)."""
    # The person said no to the channel through the list: GDPR Art. 21(2)-(3) and, for addressed mail and
    # telemarketing, the direct marketers' self-regulation of screening against ASML's register.
    return Verdict(False, Reason.suppressed, f"On the suppression list {list_name!r}.")


def _not_existing_customer(facts: Facts) -> str | None:
    """Why the existing-customer exception does not apply, or None when it does.

    917/2014 § 200(2): contact details the seller got from its customer in connection with a sale may be used
    for its own similar products, if the customer was offered a free opt-out when they were collected. A sale
    long past is no customer relationship: the profile sets how recent it must be (docs/marketing.md).
    """
    if facts.relationship_ended:
        return "the customer relationship has ended"
    if facts.recent_sale_date is None:
        return f"no sale within {facts.sale_window_months} months"
    if not facts.collected_at_sale:
        return "the contact details were not collected at a sale (source purchase)"
    if facts.opt_out_offered_at is None:
        return "no opt-out was offered when the contact details were collected"
    return None
