"""Writing player game lines (PlayerGameLog): the one upsert every source goes through, and the
one rule for which line wins when two sources give the same (player, game).

The bundled NBA.com logs are loaded in bulk by etl.services (COPY and set-based SQL, which asks
`sources_kept_from` what it must not overwrite); scraped box scores and game logs
(scraping.warehouse) call `upsert_lines`. Both follow SOURCE_RANK.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db.models import Q

from etl.models import PlayerGameLog

# Which source's line wins: a line replaces an existing one of the same or a lower rank, never
# a higher one. basketball-reference box scores carry exact seconds and starters, the NBA.com
# logs whole minutes and no starters, so a scraped line is not overwritten by a bundled one.
SOURCE_RANK = {"nba": 1, "bref": 2}
# Made and attempted: field goals, three-pointers, free throws.
SHOOTING = ("fgm", "fga", "fg3m", "fg3a", "ftm", "fta")
# The counted statistics of a player's line (the warehouse's columns), in a box score's order;
# STAT_FIELDS adds the seconds played.
BOX_STATS = ("pts", *SHOOTING, "oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf")
STAT_FIELDS = ("seconds", *BOX_STATS)
# What an upsert writes and compares on an existing line (the key is player + game).
LINE_FIELDS = ("team_id", "opponent_id", "date", "season", "is_home", "starter", *STAT_FIELDS, "plus_minus")


def may_replace(existing_source: str, incoming_source: str) -> bool:
    """Whether a line from `incoming_source` may overwrite one from `existing_source`."""
    return SOURCE_RANK[incoming_source] >= SOURCE_RANK.get(existing_source, 0)


def sources_kept_from(source: str) -> list[str]:
    """The sources whose lines a line from `source` must leave alone (for set-based SQL)."""
    return sorted(other for other in SOURCE_RANK if not may_replace(other, source))


def upsert_lines(lines: Iterable[dict], source: str) -> Counter:
    """Create or update game lines, keyed by (player_id, game_id), each a dict of player_id,
    game_id and LINE_FIELDS. An existing line is updated only where a value differs and when
    SOURCE_RANK lets `source` replace it. One read, one bulk insert, one bulk update.

    Returns the counts: created, updated, unchanged, kept (left alone: a higher-ranked source's).
    """
    if source not in SOURCE_RANK:
        raise ValueError(f"unknown line source {source!r} (known: {', '.join(SOURCE_RANK)})")
    lines = list(lines)
    counts = Counter(created=0, updated=0, unchanged=0, kept=0)
    if not lines:
        return counts
    players_by_game: dict[int, list[int]] = defaultdict(list)
    for line in lines:
        players_by_game[line["game_id"]].append(line["player_id"])
    wanted = Q()
    for game_id, player_ids in players_by_game.items():
        wanted |= Q(game_id=game_id, player_id__in=player_ids)
    existing = {(log.player_id, log.game_id): log for log in PlayerGameLog.objects.filter(wanted)}
    created, updated = [], []
    for line in lines:
        log = existing.get((line["player_id"], line["game_id"]))
        if log is None:
            created.append(
                PlayerGameLog(
                    player_id=line["player_id"],
                    game_id=line["game_id"],
                    source=source,
                    **{field: line[field] for field in LINE_FIELDS},
                )
            )
            continue
        if not may_replace(log.source, source):
            counts["kept"] += 1
            continue
        changed = [field for field in LINE_FIELDS if getattr(log, field) != line[field]]
        if log.source != source:
            changed.append("source")
        if not changed:
            counts["unchanged"] += 1
            continue
        for field in LINE_FIELDS:
            setattr(log, field, line[field])
        log.source = source
        updated.append(log)
    PlayerGameLog.objects.bulk_create(created)
    PlayerGameLog.objects.bulk_update(updated, [*LINE_FIELDS, "source"])
    counts["created"], counts["updated"] = len(created), len(updated)
    return counts
