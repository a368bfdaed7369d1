"""Loads of real slices: counts, idempotence, corrections, and how NBA.com lines meet rows
other sources (basketball-reference scraping) created first."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from etl.models import EtlRun, Game, Player, PlayerGameLog, Team
from etl.services import load_gamelogs
from etl.tests.conftest import field, lines_between, with_field, write_lines

pytestmark = pytest.mark.django_db

DAY = ("2024-01-26", "2024-01-26")


def games_on_day() -> int:
    return len({field(line, "GAME_ID") for line in lines_between(*DAY)})


@pytest.mark.smoke
def test_load_then_reload_on_this_database(one_day):
    """Runs on the embedded default (SQLite) too: same counts on both backends."""
    lines = len(lines_between(*DAY))
    first = load_gamelogs([one_day])
    assert first == {
        "read": lines,
        "inserted": lines,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "teams_created": 0,
        "players_created": first["players_created"],
        "games_created": games_on_day(),
        "games_updated": 0,
    }
    assert first["players_created"] == len({field(line, "PLAYER_ID") for line in lines_between(*DAY)})
    second = load_gamelogs([one_day])
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, lines)
    luka = PlayerGameLog.objects.get(player__name="Luka Dončić")
    assert (luka.pts, luka.opponent.code, luka.is_home, luka.date) == (73, "ATL", False, dt.date(2024, 1, 26))
    run = EtlRun.objects.order_by("-pk").first()
    assert run.status == EtlRun.Status.SUCCEEDED and run.counts["unchanged"] == lines
    assert run.rows_done == run.rows_total == lines


def test_a_corrected_line_is_the_only_update(tmp_path, late_january):
    load_gamelogs([late_january])
    lines = lines_between("2024-01-20", "2024-01-31")
    index = next(
        i
        for i, line in enumerate(lines)
        if field(line, "PLAYER_NAME") == "Joel Embiid" and field(line, "GAME_DATE") == "2024-01-22"
    )
    corrected = lines[index]
    for column in ("FTM", "FTA", "PTS"):  # one more free throw made: 71 points, the score follows
        corrected = with_field(corrected, column, str(int(field(corrected, column)) + 1))
    lines[index] = corrected
    summary = load_gamelogs([write_lines(tmp_path / "corrected.csv", lines)])
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 1, len(lines) - 1)
    assert summary["games_updated"] == 1 and summary["games_created"] == 0
    embiid = PlayerGameLog.objects.select_related("game").get(player__name="Joel Embiid", date=dt.date(2024, 1, 22))
    assert (embiid.pts, embiid.ftm) == (71, int(field(corrected, "FTM")))
    assert embiid.game.home_score == sum(
        int(field(line, "PTS"))
        for line in lines
        if field(line, "GAME_ID") == embiid.game.nba_game_id and field(line, "TEAM_ABBREVIATION") == "PHI"
    )


def test_files_load_in_one_call_and_a_later_file_wins(tmp_path, one_day):
    lines = lines_between(*DAY)
    changed = [with_field(lines[0], "PLUS_MINUS", str(int(field(lines[0], "PLUS_MINUS")) + 1)), *lines[1:]]
    later = write_lines(tmp_path / "later.csv", changed)
    summary = load_gamelogs([one_day, later])
    assert summary["read"] == 2 * len(lines)
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (len(lines), 1, len(lines) - 1)
    line = PlayerGameLog.objects.get(player__nba_id=int(field(lines[0], "PLAYER_ID")), date=dt.date(2024, 1, 26))
    assert line.plus_minus == int(field(changed[0], "PLUS_MINUS"))


def test_a_scheduled_game_from_basketball_reference_becomes_final(one_day):
    atlanta, dallas = Team.objects.get(code="ATL"), Team.objects.get(code="DAL")
    scheduled = Game.objects.create(
        season="2023-24",
        date=dt.date(2024, 1, 26),
        home=atlanta,
        away=dallas,
        start_time="7:30p",
        bref_game_id="202401260ATL",
    )
    summary = load_gamelogs([one_day])
    assert summary["games_created"] == games_on_day() - 1 and summary["games_updated"] == 1
    scheduled.refresh_from_db()
    assert scheduled.status == Game.Status.FINAL
    assert (scheduled.away_score, scheduled.home_score) == (148, 143)
    assert scheduled.nba_game_id and scheduled.start_time == "7:30p"
    assert scheduled.player_logs.count() == len(
        [line for line in lines_between(*DAY) if field(line, "GAME_ID") == scheduled.nba_game_id]
    )


def test_a_player_known_only_to_basketball_reference_gets_his_nba_id(one_day):
    scraped = Player.objects.create(name="Luka Dončić", bref_id="doncilu01")
    summary = load_gamelogs([one_day])
    scraped.refresh_from_db()
    assert scraped.nba_id == 1629029
    assert Player.objects.filter(normalised_name="luka doncic").count() == 1
    assert summary["players_created"] == len({field(line, "PLAYER_ID") for line in lines_between(*DAY)}) - 1


def test_lines_scraped_from_basketball_reference_are_kept(one_day):
    load_gamelogs([one_day])
    luka = PlayerGameLog.objects.get(player__name="Luka Dončić")
    PlayerGameLog.objects.filter(pk=luka.pk).update(source="bref", seconds=44 * 60 + 31, starter=True)
    summary = load_gamelogs([one_day])
    assert summary["updated"] == 0
    luka.refresh_from_db()
    assert (luka.seconds, luka.starter, luka.source) == (44 * 60 + 31, True, "bref")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the index rebuild is PostgreSQL's bulk path")
def test_a_bulk_load_rebuilds_the_indexes_and_loads_the_same(late_january):
    def indexes():
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'etl_playergamelog'")
            return {name for (name,) in cursor.fetchall()}

    before = indexes()
    assert {"pgl_unique_game_player", "pgl_player_date", "pgl_team_date"} <= before
    summary = load_gamelogs([late_january], bulk=True)
    assert indexes() == before
    assert summary["inserted"] == summary["read"] == len(lines_between("2024-01-20", "2024-01-31"))
    assert PlayerGameLog.objects.get(player__name="Joel Embiid", date=dt.date(2024, 1, 22)).pts == 70
    again = load_gamelogs([late_january], bulk=True)
    assert again["unchanged"] == again["read"] and again["inserted"] == 0


@pytest.mark.django_db(transaction=True)  # the load's transaction is the outermost: the games' keys are dropped
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the index rebuild is PostgreSQL's bulk path")
def test_a_bulk_load_checks_the_games_teams_at_the_end_and_keeps_their_foreign_keys(late_january, monkeypatch):
    from etl import bulk

    added_back = []
    add_foreign_keys = bulk.add_foreign_keys
    monkeypatch.setattr(
        bulk, "add_foreign_keys", lambda model, keys: (added_back.extend(keys), add_foreign_keys(model, keys))
    )

    def foreign_keys():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'etl_game'::regclass AND contype = 'f'"
            )
            return set(cursor.fetchall())

    before = foreign_keys()
    assert len(before) == 2 and all("DEFERRABLE INITIALLY DEFERRED" in definition for _, definition in before)
    summary = load_gamelogs([late_january], bulk=True)
    assert set(added_back) == before  # dropped for the load (no check per game) ...
    assert foreign_keys() == before  # ... and added back, with the same names and definitions
    assert summary["games_created"] == Game.objects.count() > 0


def test_progress_is_reported_up_to_the_total(one_day):
    reports = []
    load_gamelogs([one_day], progress=lambda done, total: reports.append((done, total)))
    total = len(lines_between(*DAY))
    assert reports[0] == (0, total) and reports[-1] == (total, total)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_skip_loaded_leaves_out_files_already_loaded(one_day, late_january):
    load_gamelogs([one_day])
    summary = load_gamelogs([one_day, late_january], skip_loaded=True)
    assert summary["read"] == len(lines_between("2024-01-20", "2024-01-31"))
    run = EtlRun.objects.order_by("-pk").first()
    assert run.counts["files_skipped"] == 1 and str(late_january) in run.source and str(one_day) not in run.source
