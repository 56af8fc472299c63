"""Art. 12(3) deadlines counted by Regulation 1182/71 with Finnish public holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from app.services.deadlines import answer_due, is_overdue, is_working_day, local_date, next_working_day, period_end

D = dt.date


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (D(2026, 3, 10), D(2026, 4, 10)),  # a Friday: the same date next month
        (D(2026, 1, 31), D(2026, 3, 2)),  # no 31 February: the 28th, a Saturday, so Monday 2 March
        (D(2027, 1, 29), D(2027, 3, 1)),  # 1.3.: no 29 February in 2027 -> Sun 28 Feb -> Mon 1 Mar
        (D(2028, 1, 31), D(2028, 2, 29)),  # a leap year: 29 February, a Tuesday
        (D(2028, 1, 29), D(2028, 2, 29)),  # the 29th exists in February 2028
        (D(2026, 8, 31), D(2026, 9, 30)),  # 31 September does not exist: 30 September
        (D(2026, 10, 3), D(2026, 11, 3)),  # a Saturday receipt counts from the next day; ends on a Tuesday
    ],
)
def test_one_month(received: dt.date, due: dt.date) -> None:
    assert answer_due(received) == due


@pytest.mark.parametrize(
    ("received", "due", "why"),
    [
        (D(2026, 11, 6), D(2026, 12, 7), "6.12. is Independence Day, a Sunday too: Monday 7.12."),
        (D(2026, 11, 24), D(2026, 12, 28), "24.-26.12. holidays, 27.12. a Sunday"),
        (D(2026, 3, 3), D(2026, 4, 7), "3.4. Good Friday, 4.4. Sat, 5.4. Easter, 6.4. Easter Monday"),
        (D(2026, 5, 19), D(2026, 6, 22), "19.6. Midsummer Eve, 20.6. Midsummer Day, 21.6. Sunday"),
        (D(2026, 4, 1), D(2026, 5, 4), "1.5. May Day, then a weekend"),
        (D(2025, 12, 1), D(2026, 1, 2), "1.1. New Year's Day"),
        (D(2025, 12, 6), D(2026, 1, 7), "6.1. Epiphany"),
        (D(2026, 4, 14), D(2026, 5, 15), "14.5. Ascension Day"),
    ],
)
def test_holidays_and_weekends_move_it_forward(received: dt.date, due: dt.date, why: str) -> None:
    assert answer_due(received) == due, why


def test_the_day_of_receipt_is_not_counted() -> None:
    # Counting the day of receipt would end the month a day earlier, on 14 July.
    assert period_end(D(2026, 6, 15), 1) == D(2026, 7, 15)


def test_extension_counts_from_receipt() -> None:
    received = D(2026, 11, 30)
    assert answer_due(received) == D(2026, 12, 30)
    assert answer_due(received, extension_months=1) == D(2027, 2, 1)  # 30.1.2027 is a Saturday: Monday 1.2.
    assert answer_due(received, extension_months=2) == D(2027, 3, 1)  # 30.2. does not exist: 28.2., a Sunday


def test_extension_limits() -> None:
    with pytest.raises(ValueError, match="one or two"):
        answer_due(D(2026, 1, 1), extension_months=3)
    with pytest.raises(ValueError, match="one or two"):
        answer_due(D(2026, 1, 1), extension_months=-1)


def test_working_days() -> None:
    assert is_working_day(D(2026, 11, 23))  # a Monday
    assert not is_working_day(D(2026, 11, 22))  # a Sunday
    assert not is_working_day(D(2026, 12, 24))  # Christmas Eve
    assert next_working_day(D(2026, 12, 24)) == D(2026, 12, 28)


def test_overdue_from_the_day_after() -> None:
    due = D(2026, 12, 7)
    assert not is_overdue(due, D(2026, 12, 7))
    assert is_overdue(due, D(2026, 12, 8))


def test_paused_days_are_added_before_moving_off_a_holiday() -> None:
    received = D(2026, 11, 16)  # due Wednesday 16.12.2026
    assert answer_due(received) == D(2026, 12, 16)
    # Eight days of waiting for proof of identity: 24.12. is Christmas Eve, then Christmas and a weekend.
    assert answer_due(received, paused_days=8) == D(2026, 12, 28)
    # With an extension the pause is added to the extended period: 16.2.2027 + 3 days = Friday 19.2.
    assert answer_due(received, extension_months=2, paused_days=3) == D(2027, 2, 19)
    with pytest.raises(ValueError, match="negative"):
        answer_due(received, paused_days=-1)


def test_the_finnish_day_of_a_moment() -> None:
    # 22:30 UTC is already the next day in Helsinki, winter (UTC+2) and summer (UTC+3) alike.
    assert local_date(dt.datetime(2026, 1, 14, 22, 30, tzinfo=dt.UTC)) == D(2026, 1, 15)
    assert local_date(dt.datetime(2026, 7, 14, 20, 59, tzinfo=dt.UTC)) == D(2026, 7, 14)
    assert local_date(dt.datetime(2026, 7, 14, 21, 0, tzinfo=dt.UTC)) == D(2026, 7, 15)
