"""Statutory deadlines: one calendar month from receipt, extendable by up to two further months (UK GDPR Art. 12(3)).

A month from a date is the same day of the month after; where that month has no
such day (31 January → February) it is the month's last day (28 or 29 February).
"""

from __future__ import annotations

import calendar
from datetime import date

#: The one month every request is answered within, and the most it can be extended by.
BASE_MONTHS = 1
MAX_EXTENSION_MONTHS = 2


def add_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, to the corresponding day or the month's last day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def due_date(received: date, extension_months: int = 0) -> date:
    """When a request received on ``received`` must be answered, given the extension granted."""
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise ValueError(f"extension of {extension_months} months: at most {MAX_EXTENSION_MONTHS}")
    # Counted from receipt each time, so 31 Jan + 1 + 2 months is 30 April, not 28 April (28 Feb + 2).
    return add_months(received, BASE_MONTHS + extension_months)


def days_left(due: date, today: date) -> int:
    """Days until ``due`` (negative when overdue)."""
    return (due - today).days
