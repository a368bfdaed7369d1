"""Table and column names for raw SQL come from the models, and a wrong name fails loudly."""

from __future__ import annotations

import pytest
from django.db import connection

from etl.schema import GAMES, LINES, Table
from etl.selectors import loaded_seasons
from etl.services import load_gamelogs, refresh_warehouse_statistics


def test_names_come_from_the_models():
    assert str(LINES) == "etl_playergamelog" and f"{GAMES}" == "etl_game"
    assert (LINES.team, LINES.column("team_id"), LINES.pts) == ("team_id", "team_id", "pts")
    assert GAMES.column("home") == "home_id"
    assert LINES.columns("player_id", "game", "pts") == "player_id, game_id, pts"


def test_a_name_the_model_does_not_have_fails_at_once():
    with pytest.raises(KeyError, match=r"PlayerGameLog \(etl_playergamelog\) has no field or column 'points'"):
        LINES.columns("player_id", "points")
    with pytest.raises(AttributeError, match="has no field or column 'home_team'"):
        GAMES.home_team  # noqa: B018


@pytest.mark.django_db
def test_raw_sql_written_with_the_names_runs(one_day):
    load_gamelogs([one_day])
    refresh_warehouse_statistics()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {LINES} l JOIN {GAMES} g ON g.{GAMES.id} = l.{LINES.game} "
            f"WHERE l.{LINES.team} = g.{GAMES.home}"
        )
        home_lines = cursor.fetchone()[0]
    from etl.models import PlayerGameLog

    assert home_lines == PlayerGameLog.objects.filter(is_home=True).count() > 0
    assert loaded_seasons() == ["2023-24"]


def test_every_concrete_field_is_known():
    from etl.models import PlayerGameLog

    table = Table(PlayerGameLog)
    assert [table.column(f.name) for f in PlayerGameLog._meta.concrete_fields] == [
        f.column for f in PlayerGameLog._meta.concrete_fields
    ]
