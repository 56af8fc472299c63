"""Whether a profile may be published: every item GDPR Art. 13 and 14 require of a privacy notice, and no text
the law has overtaken (docs/privacy-notice.md lists the rules).

A profile that validates (app/models/profile.py) is well formed; one with no problems here is complete. The
rules are the team's agreed reading of Art. 13-14; each names its source, and a test per rule
(tests/test_profile_check.py) fails without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from app.errors import Unprocessable, message_of
from app.models.controllers import ProfileProblem
from app.models.profile import ProfileContent
from app.models.profile_base import LocalText

Loc = list[str | int]


class IncompleteProfile(Unprocessable):
    """A profile with problems: 422, one error item per problem (its `loc` in the request body), nothing
    published."""

    def __init__(self, found: list[ProfileProblem]) -> None:
        super().__init__(
            f"The profile cannot be published: {len(found)} item(s) the privacy notice needs are missing or "
            "outdated (GDPR Art. 13-14). Nothing was published; save it as a draft to keep working on it."
        )
        self.problems = found
        # As the request validation's errors are: each part of `loc` a string.
        self.errors = [
            {"loc": [str(part) for part in ["body", *p.loc]], "msg": p.message, "type": p.kind, "article": p.article}
            for p in found
        ]


def _missing(loc: Loc, article: str, message: str) -> ProfileProblem:
    return ProfileProblem(kind="missing", loc=loc, article=article, message=message)


# --- rules 1-9: what must be stated -----------------------------------------------------------------------


def _controller(profile: ProfileContent) -> Iterator[ProfileProblem]:
    """Rule 1. Art. 13(1)(a): the identity and the contact details of the controller."""
    who, article = profile.controller, "GDPR Art. 13(1)(a)"
    for field, words in (("street_address", "a street address"), ("postal_code", "a postal code"), ("city", "a city")):
        if not getattr(who, field):
            yield _missing(["controller", field], article, f"Give the controller's postal address: {words}.")
    if not (who.email or who.phone):
        yield _missing(["controller", "email"], article, "Give the controller's e-mail address or telephone number.")


def _dpo(profile: ProfileContent) -> Iterator[ProfileProblem]:
    """Rule 2. Art. 13(1)(b), 37(7): the officer's contact. Our choice: a notice also says when none is appointed,
    `{ appointed = false }`, for silence reads as an omission."""
    if profile.dpo is None:
        yield _missing(
            ["dpo"],
            "GDPR Art. 13(1)(b), 37(7)",
            "State the data protection officer's contact details, or `{ appointed = false }` if none is appointed.",
        )


def _purposes(profile: ProfileContent) -> Iterator[ProfileProblem]:
    """Rule 3. Art. 13(1)(c)-(d), 6(1), 6(3): each purpose with its basis, the interest for (f), the law for (c)/(e)."""
    purposes = profile.notice.purposes
    if not purposes:
        yield _missing(["notice", "purposes"], "GDPR Art. 13(1)(c)", "State the purposes of the processing.")
    for index, purpose in enumerate(purposes):
        loc: Loc = ["notice", "purposes", index]
        if purpose.basis is None:
            yield _missing(
                [*loc, "basis"],
                "GDPR Art. 13(1)(c), 6(1)",
                "State the purpose's legal basis: consent, contract, legal_obligation, vital_interests, public_task "
                "or legitimate_interests.",
            )
        elif purpose.basis == "legitimate_interests" and purpose.legitimate_interest is None:
            yield _missing(
                [*loc, "legitimate_interest"],
                "GDPR Art. 13(1)(d)",
                "State the legitimate interest pursued, in words.",
            )
        elif purpose.basis in ("legal_obligation", "public_task") and purpose.law is None:
            # Art. 6(3): the basis of (c) and (e) is laid down by Union or Member State law; the notice names it.
            yield _missing([*loc, "law"], "GDPR Art. 6(3)", "Name the law that lays down the obligation or the task.")


def _recipients(profile: ProfileContent) -> Iterator[ProfileProblem]:
    """Rules 4 and 5. Art. 13(1)(e): the recipients; Art. 30(1)(d), 15(1)(c): what each receives and why;
    Art. 13(1)(f), 44-49: the safeguard of each transfer outside the EU/EEA."""
    if not (profile.recipients or profile.notice.recipient_categories):
        yield _missing(
            ["recipients"],
            "GDPR Art. 13(1)(e)",
            "Name the recipients of the data in `recipients`, or their categories in `notice.recipient_categories`.",
        )
    for index, recipient in enumerate(profile.recipients):
        loc: Loc = ["recipients", index]
        if not recipient.data:
            yield _missing([*loc, "data"], "GDPR Art. 30(1)(d), 15(1)(c)", "State the data this recipient receives.")
        if recipient.purpose is None:
            yield _missing([*loc, "purpose"], "GDPR Art. 30(1)(d), 15(1)(c)", "State why this recipient receives it.")
        if recipient.outside_eea and recipient.transfer is None:
            yield _missing(
                [*loc, "transfer"],
                "GDPR Art. 13(1)(f), 44-49",
                "The recipient is outside the EU/EEA: state the transfer mechanism (adequacy, sccs, bcrs or "
                "derogation) and a link to it.",
            )


def _notice(profile: ProfileContent) -> Iterator[ProfileProblem]:
    """Rules 6-9. Art. 13(2)(a), (e), (f), 14(1)(d), 14(2)(f)."""
    body = profile.notice
    stated: list[tuple[str, object, str, str]] = [
        ("retention", body.retention, "GDPR Art. 13(2)(a)", "State how long the data is kept, per category."),
        (
            "provision_requirement",
            body.provision_requirement,
            "GDPR Art. 13(2)(e)",
            "State whether giving the data is a statutory or contractual requirement, whether the person must give "
            "it, and what follows if they do not.",
        ),
        (
            "automated_decisions",
            body.automated_decisions,
            "GDPR Art. 13(2)(f)",
            "State whether there is automated decision-making or profiling, if only to say there is none.",
        ),
        ("data_categories", body.data_categories, "GDPR Art. 14(1)(d)", "State the categories of data held."),
        ("sources", body.sources, "GDPR Art. 14(2)(f)", "State where the data comes from."),
    ]
    for key, value, article, message in stated:
        if not value:
            yield _missing(["notice", key], article, message)


# --- rule 10: what the law has overtaken ---------------------------------------------------------------------

# One entry per phrase family: its name, the patterns (matched case-insensitively, sentence by sentence, in each
# language a text is given in; Finnish by stems, for its inflection), the source, the reason the admin is shown,
# and for the cookie families the word a sentence must have to be about cookies at all.
_S = r"[^.!?]{0,80}?"
_COOKIES = r"cookie|eväst|\bkak(a|or|an|orna)\b"
OUTDATED: tuple[tuple[str, tuple[str, ...], str, str, str | None], ...] = (
    (
        "cookie consent by using the site",
        (
            rf"\bby (continuing to )?(us|brows|visit)\w*{_S}\b(site|website|page|service)s?\b{_S}"
            r"\b(accept|agree|consent)",
            rf"\bkäyttämällä{_S}(sivusto|sivu|verkkosivu|verkkopalvelu|palvelu){_S}hyväksy",
            rf"\bgenom att (använda|besöka|fortsätta){_S}(webbplats|sida|sajt|tjänst){_S}(godkänn|samtyck|accepter)",
        ),
        "Act 917/2014 § 205; CJEU C-673/17 Planet49",
        "Consent to cookies must be given before they are set, specifically and actively; using the site is not "
        "consent. Say what is asked and how consent is given and withdrawn.",
        _COOKIES,
    ),
    (
        "refusing cookies through browser settings",
        (
            rf"\b(refus|block|disabl|reject|prevent|declin|turn\w* off){_S}\bbrowser(s|'s)?\b{_S}settings",
            rf"\b(refus|block|disabl|reject|prevent|declin|turn\w* off){_S}\bsettings of (your|the) browser",
            rf"\bbrowser(s|'s)?\s+settings{_S}\b(accept|consent|allow)",
            rf"\b(estä|estet|kiel|hylä|hylk|poist\w* käytöstä){_S}(selaime\w*\s+asetu|selainasetu)",
            rf"(selaime\w*\s+asetu|selainasetu){_S}\b(estä|estet|kiel|hylä|hylk|hyväks|sall|suostu)",
            rf"\b(blocker|förhindr|neka|avvis|stäng\w* av){_S}webbläsar\w*\s+inställning",
            rf"webbläsar\w*\s+inställning{_S}\b(godkänn|samtyck|tillåt)",
        ),
        "Act 917/2014 § 205; CJEU C-673/17 Planet49",
        "Browser settings are not how consent to cookies is given or refused: consent is asked before cookies are "
        "set, and a person who does not give it gets none.",
        _COOKIES,
    ),
    (
        "the visitor cannot be identified",
        (
            r"\b(cannot|can ?not|can't)\s+be\s+identified",
            r"\bei\s+(voida|voi|pystytä|pysty)\s+tunnist",
            r"\bkan\s+inte\s+identifier",
            r"\bgår\s+inte\s+att\s+identifiera",
        ),
        "GDPR recital 30; CJEU C-582/14 Breyer",
        "Cookie and other online identifiers are personal data when they single out a person: do not say the "
        "visitor cannot be identified.",
        _COOKIES,
    ),
    (
        "the Personal Data Act",
        (r"\bhenkilötietola[ik]", r"\bpersonuppgiftslag", r"\bpersonal data act\b"),
        "Data Protection Act 1050/2018, which repealed the Personal Data Act 523/1999",
        "The Personal Data Act (523/1999) was repealed on 1 January 2019; cite the GDPR and the Data Protection Act "
        "(1050/2018).",
        None,
    ),
    (
        "processed within the limits of the law",
        (
            r"\bkäsitel[^.!?]{0,160}?\b(sallimissa|edellyttämissä|puitteissa)\b",
            r"\bprocess[^.!?]{0,40}?\bwithin the (limits|framework|bounds)\b",
            r"\bbehandl[^.!?]{0,40}?\binom (ramen|gränserna|de gränser)\b",
        ),
        "GDPR Art. 6(1), 13(1)(c)",
        "Being within the limits of the law is not a legal basis: give each purpose its Art. 6(1) basis.",
        None,
    ),
    (
        "the Ombudsman's old address",
        (r"\bratapihantie",),
        "GDPR Art. 13(2)(d), 77",
        "The Office of the Data Protection Ombudsman is at Lintulahdenkuja 4, 00530 Helsinki (postal address "
        "PL 800, 00531 Helsinki); the service states its contact details itself.",
        None,
    ),
    (
        "a required form for requests",
        (
            r"\ballekirjoitettava\b",
            r"\ballekirjoitetulla\b[^.!?]{0,40}\bpyyn",
            r"\bomakätisesti allekirjoit",
            r"\bsuomeksi tai englanniksi\b",
            r"\bsuomen tai englannin kielellä",
            r"\b(ska|måste)\s+(vara\s+)?(egenhändigt\s+)?undertecknad",
            r"\bpå finska eller engelska\b",
            r"\bmust be (personally |hand-?)?signed\b",
            r"\bin finnish or english\b",
        ),
        "GDPR Art. 12(2), 12(6)",
        "The GDPR requires no form, signature or language of a request: a request by letter, e-mail, phone or in "
        "person is valid; the identity is checked only where there is reasonable doubt.",
        None,
    ),
)
_COMPILED = tuple(
    (
        name,
        tuple(re.compile(p, re.IGNORECASE) for p in patterns),
        article,
        reason,
        re.compile(topic, re.IGNORECASE) if topic else None,
    )
    for name, patterns, article, reason, topic in OUTDATED
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _says(text: str, patterns: tuple[re.Pattern[str], ...], topic: re.Pattern[str] | None) -> bool:
    """Whether a sentence of the text (about the topic, if one is given) matches one of the patterns."""
    sentences = (s for s in _SENTENCE_END.split(text) if topic is None or topic.search(s))
    return any(p.search(sentence) for sentence in sentences for p in patterns)


def _texts(value: object, loc: Loc) -> Iterator[tuple[Loc, LocalText]]:
    """Every text of the profile (each LocalText), with where it is."""
    if isinstance(value, LocalText):
        yield loc, value
    if isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from _texts(getattr(value, name), [*loc, field.alias or name])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, [*loc, index])


def outdated(profile: ProfileContent) -> list[ProfileProblem]:
    """Rule 10: the texts, in every language given, that repeat what the law has overtaken."""
    found = []
    for loc, text in _texts(profile, []):
        for lang in ("fi", "sv", "en"):
            own = getattr(text, lang)
            for name, patterns, article, reason, topic in _COMPILED:
                if own and _says(own, patterns, topic):
                    message = f"Outdated: {name}. {reason}"
                    found.append(ProfileProblem(kind="outdated", loc=[*loc, lang], article=article, message=message))
    return found


def problems(profile: ProfileContent) -> list[ProfileProblem]:
    """Everything that keeps the profile from being published; none means it is complete."""
    found: list[ProfileProblem] = []
    for rule in (_controller, _dpo, _purposes, _recipients, _notice):
        found += rule(profile)
    return found + outdated(profile)


def require_complete(profile: ProfileContent) -> None:
    """Refuse (422, every problem listed) a profile that is not complete."""
    found = problems(profile)
    if found:
        raise IncompleteProfile(found)


def of_stored(profile: dict[str, Any]) -> list[ProfileProblem]:
    """The problems of a profile as kept (a published version, a draft). One kept before today's schema that no
    longer validates against it lists why, as `invalid`, without quoting its values."""
    try:
        checked = ProfileContent.model_validate({k: v for k, v in profile.items() if k != "slug"})
    except ValidationError as exc:
        return [
            ProfileProblem(kind="invalid", loc=list(e["loc"]), article="", message=message_of(e)) for e in exc.errors()
        ]
    return problems(checked)
