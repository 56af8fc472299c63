"""Legal deadlines: GDPR Art. 12(3) periods counted by Regulation (EEC, Euratom) No 1182/71, Finnish holidays."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

# GDPR Art. 12(3): one month from receipt, extendable once by up to two further months.
ANSWER_MONTHS = 1
MAX_EXTENSION_MONTHS = 2
HELSINKI = ZoneInfo("Europe/Helsinki")


@lru_cache(maxsize=64)
def _finnish_holidays(year: int) -> frozenset[dt.date]:
    # Includes Midsummer Eve and Christmas Eve, on which a Finnish time limit does not end either (Act 150/1930).
    return frozenset(holidays.country_holidays("FI", years=year))


def is_working_day(day: dt.date) -> bool:
    """Not a Saturday, a Sunday or a Finnish public holiday."""
    return day.weekday() < 5 and day not in _finnish_holidays(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """The day itself if it is a working day, else the first working day after it (Reg. 1182/71 Art. 3(4))."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def period_end(received: dt.date, months: int) -> dt.date:
    """The last day of a period of `months` months that starts with an event on `received`.

    Reg. 1182/71 Art. 3(1): the day of the event is not counted. Art. 3(2)(c): the period ends on the same date
    of the last month, or on that month's last day when the date does not exist there. Art. 3(4): a period ending
    on a Saturday, Sunday or public holiday ends on the next working day.
    """
    if months < 1:
        raise ValueError("a period is at least one month")
    return next_working_day(received + relativedelta(months=months))


def answer_due(received: dt.date, *, extension_months: int = 0, paused_days: int = 0) -> dt.date:
    """When the answer to a request received on `received` is due, with an extension of 0 to 2 months.

    `paused_days` are days the clock stood still (waiting for proof of identity): they are added to the
    period before its end is moved off a weekend or holiday.
    """
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise ValueError("an extension is of one or two further months")
    if paused_days < 0:
        raise ValueError("a pause cannot be negative")
    if paused_days == 0:
        return period_end(received, ANSWER_MONTHS + extension_months)
    end = received + relativedelta(months=ANSWER_MONTHS + extension_months) + dt.timedelta(days=paused_days)
    return next_working_day(end)


def local_date(moment: dt.datetime) -> dt.date:
    """The Finnish calendar day of a moment: a letter stamped 23:30 UTC in winter arrived the next day."""
    return moment.astimezone(HELSINKI).date()


def today() -> dt.date:
    """Today in Finland."""
    return dt.datetime.now(HELSINKI).date()


def is_overdue(due: dt.date, today: dt.date) -> bool:
    """Overdue from the day after the deadline: the due day itself is still in time."""
    return today > due
