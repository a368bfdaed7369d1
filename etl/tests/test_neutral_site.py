"""Neutral-site games (international games, the in-season tournament's knockout games): NBA.com
gives both teams' lines the same MATCHUP text (`IND @ SAS` on the Spurs' lines too). The game's
home and away come from that text; each line's own team decides its side."""

from __future__ import annotations

import pytest

from etl.models import Game, PlayerGameLog, QuarantinedRow
from etl.services import load_gamelogs
from etl.tests.conftest import field, lines_between, with_field, write_lines

pytestmark = pytest.mark.django_db

DAY = ("2024-01-26", "2024-01-26")


def split_game(lines: list[str]) -> tuple[str, str, str, list[int], list[int]]:
    """The day's first game: its id, away and home codes, and the indexes of each side's lines."""
    game = field(lines[0], "GAME_ID")
    indexes = [i for i, line in enumerate(lines) if field(line, "GAME_ID") == game]
    home_lines = [i for i in indexes if " vs. " in field(lines[i], "MATCHUP")]
    away_lines = [i for i in indexes if " @ " in field(lines[i], "MATCHUP")]
    away, _, home = field(lines[away_lines[0]], "MATCHUP").split(" ")
    return game, away, home, away_lines, home_lines


def as_neutral_site(lines: list[str], indexes: list[int], matchup: str) -> None:
    for i in indexes:
        lines[i] = with_field(lines[i], "MATCHUP", matchup)


def test_neutral_site_lines_load_with_home_and_away_from_the_matchup(tmp_path):
    lines = lines_between(*DAY)
    game_id, away, home, away_lines, home_lines = split_game(lines)
    as_neutral_site(lines, home_lines, f"{away} @ {home}")  # the home side's lines read like the visitors'

    summary = load_gamelogs([write_lines(tmp_path / "neutral.csv", lines)])

    assert summary["rejected"] == 0 and summary["inserted"] == len(lines)
    game = Game.objects.select_related("home", "away").get(nba_game_id=game_id)
    assert (game.home.code, game.away.code) == (home, away)
    points = {
        side: sum(int(field(lines[i], "PTS")) for i in indexes)
        for side, indexes in (("home", home_lines), ("away", away_lines))
    }
    assert (game.home_score, game.away_score) == (points["home"], points["away"])
    home_logs = PlayerGameLog.objects.filter(game=game, team__code=home)
    assert home_logs.count() == len(home_lines)
    assert set(home_logs.values_list("is_home", "opponent__code")) == {(True, away)}
    assert set(PlayerGameLog.objects.filter(game=game, team__code=away).values_list("is_home", "opponent__code")) == {
        (False, home)
    }


def test_neutral_site_text_written_the_other_way_round_also_loads(tmp_path):
    """`SAS vs. IND` on both teams' lines: the same game, told from the other side."""
    lines = lines_between(*DAY)
    game_id, away, home, away_lines, _home_lines = split_game(lines)
    as_neutral_site(lines, away_lines, f"{home} vs. {away}")
    summary = load_gamelogs([write_lines(tmp_path / "neutral.csv", lines)])
    assert summary["rejected"] == 0
    game = Game.objects.select_related("home", "away").get(nba_game_id=game_id)
    assert (game.home.code, game.away.code) == (home, away)


@pytest.mark.parametrize(
    "case, reason",
    [
        ("both sides claim home", "disagree on its date or teams"),
        ("both sides claim away", "disagree on its date or teams"),
        ("a line's team is not in the matchup", "is not in MATCHUP"),
    ],
)
def test_lines_that_are_still_inconsistent_are_quarantined(tmp_path, case, reason):
    lines = lines_between(*DAY)
    game_id, away, home, away_lines, home_lines = split_game(lines)
    if case == "both sides claim home":
        as_neutral_site(lines, away_lines, f"{away} vs. {home}")
    elif case == "both sides claim away":
        as_neutral_site(lines, home_lines, f"{home} @ {away}")
    else:
        other = next(
            field(line, "TEAM_ABBREVIATION") for line in lines if field(line, "TEAM_ABBREVIATION") not in (home, away)
        )
        lines[home_lines[0]] = with_field(lines[home_lines[0]], "MATCHUP", f"{other} vs. {away}")
        as_neutral_site(lines, home_lines[1:], f"{away} @ {home}")

    summary = load_gamelogs([write_lines(tmp_path / "inconsistent.csv", lines)])

    assert summary["rejected"] == len(away_lines) + len(home_lines)
    assert not Game.objects.filter(nba_game_id=game_id).exists()
    reasons = list(QuarantinedRow.objects.values_list("reason", flat=True))
    assert any(reason in text for text in reasons), reasons
