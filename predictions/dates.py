"""Reading a calendar date typed by a user (API body, query filters, `manage.py predict`).

A date in the right shape that is not on the calendar (`2024-02-30`) is told apart from a
malformed one, so the user learns that the day does not exist rather than that the format
is wrong.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
FORMAT_HINT = "Use YYYY-MM-DD, e.g. 2024-03-01."


class NotADate(ValueError):
    """The text is no calendar date; the message says why, worded for the user."""


def parse_iso_date(text: str) -> dt.date:
    """`YYYY-MM-DD` as a date; NotADate saying whether the shape is wrong or the day does not exist."""
    text = str(text).strip()
    match = ISO_DATE.match(text)
    if not match:
        raise NotADate(f"{text!r} is not a date. {FORMAT_HINT}" if text else f"A date is required. {FORMAT_HINT}")
    year, month, day = (int(part) for part in match.groups())
    if year < 1:
        raise NotADate(f"{text} does not exist: there is no year 0.")
    if not 1 <= month <= 12:
        raise NotADate(f"{text} does not exist: there is no month {month} (months are 01 to 12).")
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise NotADate(f"{text} does not exist: {calendar.month_name[month]} {year} has {days} days.")
    return dt.date(year, month, day)


def product_today() -> dt.date:
    """The product's "today": settings.AS_OF_DATE when set (replaying a loaded season), else today in UTC.

    >>> from django.test import override_settings
    >>> with override_settings(AS_OF_DATE="2024-03-15"):
    ...     product_today()
    datetime.date(2024, 3, 15)
    """
    from django.conf import settings
    from django.utils import timezone

    configured = settings.AS_OF_DATE
    if configured:
        return dt.date.fromisoformat(str(configured))
    return timezone.now().date()
