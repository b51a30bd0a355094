"""Statutory deadlines: one calendar month to the corresponding day, or the month's last day; extensions."""

from __future__ import annotations

from datetime import date

import pytest

from joinedup.lifecycle import add_months, due_date
from joinedup.lifecycle.deadlines import days_left


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 15), date(2026, 2, 15)),
        (date(2026, 1, 31), date(2026, 2, 28)),  # no 31 February: the month's last day
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2028, 1, 30), date(2028, 2, 29)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),  # across the year end
        (date(2028, 2, 29), date(2028, 3, 29)),
    ],
)
def test_one_calendar_month_from_receipt(received: date, due: date) -> None:
    assert due_date(received) == due


def test_extensions_count_from_receipt_not_from_the_clamped_deadline() -> None:
    assert due_date(date(2026, 1, 31), 1) == date(2026, 3, 31)
    assert due_date(date(2026, 1, 31), 2) == date(2026, 4, 30)
    assert due_date(date(2027, 11, 30), 2) == date(2028, 2, 29)  # lands on a leap day


def test_no_more_than_two_further_months() -> None:
    with pytest.raises(ValueError):
        due_date(date(2026, 1, 1), 3)


def test_add_months_and_days_left() -> None:
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert days_left(date(2026, 2, 28), date(2026, 3, 2)) == -2
