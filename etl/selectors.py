"""Reads of the etl app."""

from __future__ import annotations

from etl.models import PlayerGameLog


def loaded_seasons() -> list[str]:
    """Seasons with game lines in the warehouse, oldest first ('2015-16', ...)."""
    return list(PlayerGameLog.objects.order_by("season").values_list("season", flat=True).distinct())
