"""NBA seasons: '2023-24' labels, basketball-reference end years (2024) and dates."""

from __future__ import annotations

import datetime as dt
import re

_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


def season_label(end_year: int) -> str:
    """2024 -> '2023-24' (basketball-reference names a season by the year it ends)."""
    return f"{end_year - 1}-{end_year % 100:02d}"


def season_end_year(label: str) -> int:
    """'2023-24' -> 2024; raises ValueError on anything else."""
    match = _LABEL.match(label or "")
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise ValueError(f"not a season label like '2023-24': {label!r}")
    return int(match.group(1)) + 1


def season_for_date(day: dt.date) -> str:
    """The season a date belongs to: seasons roll over on 1 August, except 2020, whose
    bubble restart and playoffs ran to mid-October."""
    if day.year == 2020 and day.month in (8, 9, 10):
        return "2019-20"
    return season_label(day.year + 1) if day.month >= 8 else season_label(day.year)
