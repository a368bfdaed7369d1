"""etl.lines: the one upsert of game lines, and the one rule for which source's line wins,
followed alike by the bulk loader (NBA.com files) and by upsert_lines (scraped lines)."""

from __future__ import annotations

import pytest

from etl.lines import LINE_FIELDS, may_replace, sources_kept_from, upsert_lines
from etl.models import PlayerGameLog
from etl.services import load_gamelogs

pytestmark = pytest.mark.django_db


def as_values(log: PlayerGameLog, **changes) -> dict:
    return {
        "player_id": log.player_id,
        "game_id": log.game_id,
        **{field: getattr(log, field) for field in LINE_FIELDS},
        **changes,
    }


def test_the_rule():
    assert may_replace("nba", "bref") and may_replace("bref", "bref") and may_replace("nba", "nba")
    assert not may_replace("bref", "nba")
    assert sources_kept_from("nba") == ["bref"] and sources_kept_from("bref") == []
    with pytest.raises(ValueError, match="unknown line source 'espn'"):
        upsert_lines([], source="espn")


def test_upsert_creates_updates_and_leaves_equal_lines_alone(one_day):
    load_gamelogs([one_day])
    first, second = PlayerGameLog.objects.order_by("pk")[:2]
    values = [as_values(first), as_values(second)]
    PlayerGameLog.objects.filter(pk=second.pk).delete()

    counts = upsert_lines(values, source="nba")
    assert (counts["created"], counts["updated"], counts["unchanged"], counts["kept"]) == (1, 0, 1, 0)

    counts = upsert_lines([as_values(first, pts=first.pts + 2, fgm=first.fgm + 1, fga=first.fga + 1)], source="nba")
    assert counts["updated"] == 1
    assert PlayerGameLog.objects.get(pk=first.pk).pts == first.pts + 2


def test_a_scraped_line_wins_over_the_bundled_one_on_both_paths(one_day):
    load_gamelogs([one_day])
    log = PlayerGameLog.objects.order_by("pk").first()
    exact = as_values(log, seconds=log.seconds + 17, starter=True)
    assert upsert_lines([exact], source="bref")["updated"] == 1
    log.refresh_from_db()
    assert (log.source, log.seconds, log.starter) == ("bref", exact["seconds"], True)

    # The NBA.com line of the same (player, game) leaves it alone, through either path.
    assert upsert_lines([as_values(log, seconds=log.seconds - 17, starter=None)], source="nba")["kept"] == 1
    reload = load_gamelogs([one_day])
    assert reload["updated"] == 0
    log.refresh_from_db()
    assert (log.source, log.seconds, log.starter) == ("bref", exact["seconds"], True)
