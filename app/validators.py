"""Validation of the identifiers a Finnish register holds: Y-tunnus, phone numbers, countries, e-mail addresses."""

from __future__ import annotations

import re
from typing import Annotated

import phonenumbers
import pycountry
from pydantic import EmailStr, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from stdnum.fi import ytunnus


class InvalidValue(ValueError):
    """A value refused in the service's own words, which never quote it: its message is shown as written.

    Any other message (a library's) may quote the value, which may be personal data, and is shown redacted
    (app.errors.message_of); a message of ours must not lose its words to that, as "not" in "not a phone number"
    would to the value "not known".
    """


# The form written on documents, 1234567-8 (old ids have six digits); stdnum alone would also take 12345678 or
# FI12345678 (the VAT number).
_BUSINESS_ID = re.compile(r"^(\d{6,7})-(\d)$")


def business_id_is_valid(value: str) -> bool:
    """Tell whether a Y-tunnus has the right form and check digit."""
    match = _BUSINESS_ID.match(value)
    return match is not None and ytunnus.is_valid(match.group(1).zfill(7) + match.group(2))


def normalise_business_id(value: str | None) -> str | None:
    """Validate a Y-tunnus; old six-digit ids get their leading zero."""
    if value is None:
        return None
    value = value.strip()
    if not business_id_is_valid(value):
        raise InvalidValue("not a valid Finnish business ID (Y-tunnus): wrong form or check digit")
    digits, check = value.split("-")
    return f"{digits.zfill(7)}-{check}"


def normalise_phone(value: str | None) -> str | None:
    """Parse a phone number (Finnish by default) and return it in E.164."""
    if value is None:
        return None
    try:
        parsed = phonenumbers.parse(value, "FI")
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_country(value: str | None) -> str | None:
    """Accept an ISO 3166-1 alpha-2 code, in any case."""
    if value is None:
        return None
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidValue("not an ISO 3166-1 alpha-2 country code")
    return code


# email-validator's sentences name what is wrong, then may quote the address: its characters, a label, a count.
_QUOTE_FOLLOWS = re.compile(r": | \(")


def _unquoted(reason: str) -> str:
    """email-validator's sentence up to where it would quote the address."""
    reason = reason.removeprefix("After Unicode normalization: ")
    return _QUOTE_FOLLOWS.split(reason, maxsplit=1)[0].rstrip(".") + "."


def _email_in_own_words(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    try:
        return handler(value)
    except ValidationError as exc:
        reasons = [str(e["ctx"]["reason"]) for e in exc.errors() if "reason" in e.get("ctx", {})]
        if not reasons:
            raise  # not text at all: pydantic's own message, which quotes nothing
        raise InvalidValue(f"not a valid e-mail address: {_unquoted(reasons[0])}") from None


# An e-mail address as pydantic's EmailStr checks it (email-validator, syntax only), refused in the service's words.
Email = Annotated[EmailStr, WrapValidator(_email_in_own_words)]


def has_nul(data: bytes) -> bool:
    """Tell whether JSON text holds a NUL character (PostgreSQL cannot store it), raw or as \\u0000 (not \\\\u0000).

    In time linear in the text and at the speed of a byte search (no step per byte in Python, nor a regular
    expression tried at every position, which took 50 ms a MiB on the event loop): inside a JSON string each
    backslash begins an escape, so once every escaped backslash (a pair) is taken out, an odd backslash before
    `u0000` is all that is left of a NUL's escape.
    """
    if b"\x00" in data:
        return True
    return b"\\u0000" in data and b"\\u0000" in data.replace(b"\\\\", b"")
