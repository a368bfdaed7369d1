"""Broken input: a file that cannot be read as a whole loads nothing and says why; bad rows
are quarantined with their reason and line while the rest loads, and a game is never half-loaded."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.db.models import Q, Sum

from etl.gamelogs import GamelogFormatError
from etl.models import EtlRun, Game, PlayerGameLog, QuarantinedRow
from etl.services import load_gamelogs
from etl.tests.conftest import field, lines_between, season_lines, with_field, write_lines

pytestmark = pytest.mark.django_db

DAY = ("2024-01-26", "2024-01-26")


def games_of(lines) -> list[str]:
    return list(dict.fromkeys(field(line, "GAME_ID") for line in lines))


def test_missing_column_names_file_and_column_and_loads_nothing(tmp_path, one_day):
    header, _ = season_lines()
    columns = header.split(",")
    drop = columns.index("MATCHUP")
    broken = tmp_path / "no_matchup.csv"
    broken.write_text(
        "\n".join(
            ",".join(v for i, v in enumerate(line.split(",")) if i != drop) for line in [header, *lines_between(*DAY)]
        )
        + "\n"
    )
    with pytest.raises(GamelogFormatError, match=r"no_matchup\.csv: missing column MATCHUP"):
        load_gamelogs([one_day, broken])  # the good file first: it must not be loaded either
    assert PlayerGameLog.objects.count() == 0 and Game.objects.count() == 0
    run = EtlRun.objects.get()
    assert run.status == EtlRun.Status.FAILED and "MATCHUP" in run.message


def test_unreadable_files_are_refused_with_a_reason(tmp_path):
    with pytest.raises(GamelogFormatError, match="no such file"):
        load_gamelogs([tmp_path / "nowhere.csv"])
    damaged = tmp_path / "damaged.csv.gz"
    damaged.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(GamelogFormatError, match="damaged gzip"):
        load_gamelogs([damaged])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(GamelogFormatError, match="empty file"):
        load_gamelogs([empty])
    assert PlayerGameLog.objects.count() == 0


def test_bad_rows_are_quarantined_and_their_games_held_back(tmp_path):
    lines = lines_between(*DAY)
    games = games_of(lines)
    assert len(games) >= 5
    first = {game: [i for i, line in enumerate(lines) if field(line, "GAME_ID") == game][0] for game in games}
    lines[first[games[0]]] = with_field(lines[first[games[0]]], "GAME_DATE", "2024-02-30")
    lines[first[games[1]]] = with_field(lines[first[games[1]]], "MIN", "-5")
    lines[first[games[3]]] = with_field(lines[first[games[3]]], "TEAM_ABBREVIATION", "XYZ")
    duplicated = lines[first[games[2]]]
    lines.append(duplicated)
    path = write_lines(tmp_path / "broken.csv", lines)

    summary = load_gamelogs([path])

    held_back = [line for line in lines if field(line, "GAME_ID") in games[:2] + games[3:4]]
    assert summary["read"] == len(lines)
    assert summary["rejected"] == len(held_back) + 1  # the duplicate copy too
    assert summary["inserted"] == len(lines) - summary["rejected"]
    reasons = dict(QuarantinedRow.objects.values_list("line_number", "reason"))
    assert "GAME_DATE is not a date" in reasons[first[games[0]] + 2]
    assert "MIN is negative" in reasons[first[games[1]] + 2]
    assert "unknown team code 'XYZ'" in reasons[first[games[3]] + 2]
    assert reasons[len(lines) + 1].startswith("duplicate row")
    held = QuarantinedRow.objects.filter(reason__startswith="held back with its game")
    assert held.count() == len(held_back) - 3
    assert QuarantinedRow.objects.get(line_number=len(lines) + 1).raw_line == duplicated
    # Games with a bad line are not loaded at all; the others are whole, scores included.
    assert not Game.objects.filter(nba_game_id__in=games[:2] + games[3:4]).exists()
    loaded = Game.objects.filter(nba_game_id__in=games[2:3] + games[4:]).annotate(
        home_points=Sum("player_logs__pts", filter=Q(player_logs__team_id=models_f("home_id")))
    )
    assert loaded.count() == len(games) - 3
    for game in loaded:
        expected = sum(
            int(field(line, "PTS"))
            for line in set(lines)
            if field(line, "GAME_ID") == game.nba_game_id and field(line, "MATCHUP").split(" ")[1] == "vs."
        )
        assert game.home_score == game.home_points == expected


def models_f(name):
    from django.db.models import F

    return F(name)


def test_reloading_a_broken_file_quarantines_each_line_once(tmp_path):
    lines = lines_between(*DAY)
    lines[0] = with_field(lines[0], "PTS", "abc")
    path = write_lines(tmp_path / "broken.csv", lines)
    first = load_gamelogs([path])
    second = load_gamelogs([path])
    assert first["rejected"] == second["rejected"] > 0
    assert second["inserted"] == second["updated"] == 0
    assert QuarantinedRow.objects.count() == first["rejected"]
    assert QuarantinedRow.objects.filter(run=EtlRun.objects.order_by("-pk").first()).count() == first["rejected"]


def bad_values() -> list:
    """The table of bad_values.csv: a column, a bad value for it ({team}: the line's own team) and
    the reason the loader gives."""
    with (Path(__file__).parent / "bad_values.csv").open(newline="") as table:
        return [pytest.param(*row.values(), id=row["reason"]) for row in csv.DictReader(table)]


@pytest.mark.parametrize("column,value,reason", bad_values())
def test_each_kind_of_bad_value_has_its_reason(tmp_path, column, value, reason):
    lines = lines_between(*DAY)
    lines[0] = with_field(lines[0], column, value.format(team=field(lines[0], "TEAM_ABBREVIATION")))
    summary = load_gamelogs([write_lines(tmp_path / "bad.csv", lines)])
    assert summary["rejected"] >= 1
    assert reason in QuarantinedRow.objects.get(line_number=2).reason


def test_a_line_with_a_wrong_number_of_fields_is_quarantined(tmp_path):
    lines = lines_between(*DAY)
    lines[5] = lines[5] + ",extra"
    summary = load_gamelogs([write_lines(tmp_path / "bad.csv", lines)])
    row = QuarantinedRow.objects.get(line_number=7)
    assert row.reason == "expected 31 fields, found 32" and row.raw_line == lines[5]
    game = field(lines[5], "GAME_ID")
    assert not Game.objects.filter(nba_game_id=game).exists()
    assert summary["inserted"] == len([line for line in lines if field(line, "GAME_ID") != game])


def test_the_same_player_twice_with_different_numbers_holds_the_game_back(tmp_path):
    lines = lines_between(*DAY)
    lines.append(with_field(lines[0], "PLUS_MINUS", "99"))
    load_gamelogs([write_lines(tmp_path / "twice.csv", lines)])
    reasons = set(QuarantinedRow.objects.values_list("reason", flat=True))
    assert "the same player twice in this game with different numbers" in reasons
    assert not Game.objects.filter(nba_game_id=field(lines[0], "GAME_ID")).exists()


def test_a_gz_file_that_is_not_gzip_is_named_so(tmp_path):
    """A .csv.gz that holds something else (here an error page saved under that name)."""
    page = tmp_path / "player_logs_2024-25.csv.gz"
    page.write_text("<!DOCTYPE html><html><body>Access denied</body></html>\n")
    with pytest.raises(GamelogFormatError, match=r"player_logs_2024-25\.csv\.gz: not a gzip file") as raised:
        load_gamelogs([page])
    assert "missing column" not in str(raised.value)
    assert PlayerGameLog.objects.count() == 0


def test_rejected_rows_are_counted_by_reason_on_the_run(tmp_path):
    lines = lines_between(*DAY)
    games = games_of(lines)
    first = {game: [i for i, line in enumerate(lines) if field(line, "GAME_ID") == game][0] for game in games}
    lines[first[games[0]]] = with_field(lines[first[games[0]]], "PTS", "250")
    lines[first[games[1]]] = with_field(lines[first[games[1]]], "PTS", "abc")
    lines.append(lines[first[games[2]]])
    summary = load_gamelogs([write_lines(tmp_path / "broken.csv", lines)])

    by_reason = EtlRun.objects.get().counts["rejected_by_reason"]
    in_game = {game: sum(field(line, "GAME_ID") == game for line in lines) for game in games[:2]}
    assert by_reason == {
        "PTS is above 100": 1,
        "PTS is not a number": 1,
        "duplicate row (the same line appears earlier)": 1,
        "held back with its game (another line of the game was rejected)": in_game[games[0]] + in_game[games[1]] - 2,
    }
    assert sum(by_reason.values()) == summary["rejected"]
