"""The real 2023-24 season, loaded from the bundled file, answers known facts exactly."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F, Q, Sum

from etl.models import Game, Player, PlayerGameLog, Team
from etl.services import load_gamelogs
from etl.tests.conftest import season_lines, season_path

pytestmark = pytest.mark.django_db


def line_of(name: str, day: dt.date) -> PlayerGameLog:
    return PlayerGameLog.objects.select_related("team", "opponent", "game__home", "game__away").get(
        player__name=name, date=day
    )


def test_first_load_counts_every_line_of_the_file(loaded_season):
    lines = len(season_lines()[1])
    assert loaded_season["read"] == lines == 26401
    assert loaded_season["rejected"] == 0
    assert loaded_season["inserted"] + loaded_season["unchanged"] == lines
    assert PlayerGameLog.objects.filter(season="2023-24").count() == lines
    assert Game.objects.filter(season="2023-24").count() == 1230


def test_doncic_scored_73_at_atlanta(loaded_season):
    line = line_of("Luka Dončić", dt.date(2024, 1, 26))
    assert line.pts == 73
    assert (line.team.code, line.opponent.code, line.is_home) == ("DAL", "ATL", False)
    assert (line.game.home.code, line.game.away.code) == ("ATL", "DAL")
    assert line.game.bref_id() == "202401260ATL"
    assert line.player.normalised_name == "luka doncic"


def test_embiid_scored_70_at_home_against_san_antonio(loaded_season):
    line = line_of("Joel Embiid", dt.date(2024, 1, 22))
    assert line.pts == 70
    assert (line.team.code, line.opponent.code, line.is_home) == ("PHI", "SAS", True)


@pytest.mark.parametrize(
    "name,points",
    [
        ("Luka Dončić", 2370),
        ("Joel Embiid", 1353),
        ("Nikola Jokić", 2085),
        ("Giannis Antetokounmpo", 2222),
        ("Shai Gilgeous-Alexander", 2254),
    ],
)
def test_season_points_match_basketball_reference_totals(loaded_season, name, points):
    total = PlayerGameLog.objects.filter(player__name=name, season="2023-24").aggregate(total=Sum("pts"))["total"]
    assert total == points


def test_home_away_and_opponent_come_from_the_matchup(loaded_season):
    lines = PlayerGameLog.objects.filter(season="2023-24")
    home_side = Q(is_home=True, team=F("game__home"), opponent=F("game__away"))
    away_side = Q(is_home=False, team=F("game__away"), opponent=F("game__home"))
    assert lines.exclude(home_side | away_side).count() == 0
    # Both sides of every game are present.
    assert lines.filter(is_home=True).values("game").distinct().count() == 1230
    assert lines.filter(is_home=False).values("game").distinct().count() == 1230


def test_nba_com_codes_map_to_the_teams_basketball_reference_knows(loaded_season):
    codes = {
        code
        for (code,) in Team.objects.filter(
            id__in=PlayerGameLog.objects.filter(season="2023-24").values("team")
        ).values_list("code")
    }
    assert len(codes) == 30
    brooklyn = Team.objects.get(code="BKN")
    assert brooklyn.bref_code == "BRK"
    nets_home = Game.objects.filter(home=brooklyn, season="2023-24")
    assert nets_home.count() == 41
    assert all(game.bref_id().endswith("BRK") for game in nets_home.select_related("home"))
    assert Game.objects.filter(home__bref_code="PHO", season="2023-24").count() == 41
    assert Game.objects.filter(home__bref_code="CHO", season="2023-24").count() == 41


def test_final_scores_are_the_sums_of_the_players_points(loaded_season):
    games = Game.objects.filter(season="2023-24").annotate(
        home_points=Sum("player_logs__pts", filter=Q(player_logs__team=F("home"))),
        away_points=Sum("player_logs__pts", filter=Q(player_logs__team=F("away"))),
    )
    assert games.count() == 1230
    assert games.exclude(home_points=F("home_score"), away_points=F("away_score")).count() == 0
    assert set(games.values_list("status", flat=True)) == {Game.Status.FINAL}
    dallas_at_atlanta = Game.objects.get(date=dt.date(2024, 1, 26), home__code="ATL")
    assert (dallas_at_atlanta.away_score, dallas_at_atlanta.home_score) == (148, 143)
    assert dallas_at_atlanta.nba_game_id and dallas_at_atlanta.nba_game_id.startswith("00223")


def test_overtimes_agree_with_the_team_minutes_of_another_source(loaded_season):
    # Counts from the team results file (rpcaraher/NBA-Data-325: team minutes per game), 2023-24.
    counts = dict(
        Game.objects.filter(season="2023-24").values_list("overtimes").annotate(n=Sum(1)).values_list("overtimes", "n")
    )
    assert counts == {0: 1171, 1: 51, 2: 8}
    double = Game.objects.get(nba_game_id="0022300214")
    assert double.overtimes == 2
    assert sorted([double.home_score, double.away_score]) == [137, 140]


def test_every_line_points_at_existing_rows(loaded_season):
    # The line table's keys carry no database constraint: the loader is what keeps them whole.
    lines = PlayerGameLog.objects.all()
    assert lines.exclude(player__in=Player.objects.all()).count() == 0
    assert lines.exclude(game__in=Game.objects.all()).count() == 0
    assert lines.exclude(team__in=Team.objects.all()).count() == 0
    assert lines.exclude(opponent__in=Team.objects.all()).count() == 0


def test_second_load_changes_nothing(loaded_season):
    again = load_gamelogs([season_path()])
    assert again["inserted"] == again["updated"] == again["rejected"] == 0
    assert again["unchanged"] == again["read"] == 26401
    assert again["players_created"] == again["games_created"] == again["games_updated"] == 0
    assert PlayerGameLog.objects.filter(season="2023-24").count() == 26401


def test_minutes_become_seconds(loaded_season):
    line = line_of("Luka Dončić", dt.date(2024, 1, 26))
    assert line.seconds == 45 * 60  # MIN 45 in the file
    assert line.starter is None and line.source == "nba"
