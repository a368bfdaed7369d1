"""The load step: staged rows from real pages -> the same warehouse rows as the bundled data."""

from __future__ import annotations

import pytest
from itemadapter import ItemAdapter

from etl.models import Game, Player, PlayerGameLog
from scraping import services
from scraping.crawler.parsers import parse_boxscore, parse_gamelog, parse_schedule
from scraping.models import LoadStatus, ScrapeRun, StagedLine

NOW = "2026-01-01T00:00:00+00:00"


def staged_run(spider, items) -> ScrapeRun:
    run = ScrapeRun.objects.create(spider=spider, args={}, status=ScrapeRun.Status.SUCCEEDED)
    for item in items:
        services.stage_item(run.pk, ItemAdapter(item).asdict())
    return run


def brk_game(saved_page):
    return parse_boxscore(
        saved_page("boxscores/201801010BRK.html"), "https://x/boxscores/201801010BRK.html", "201801010BRK", NOW
    )


@pytest.mark.django_db
def test_box_score_lands_on_the_bundled_game_players_and_lines(saved_page, bundled_game_0021700545):
    game = bundled_game_0021700545
    players_before = Player.objects.count()
    summary = services.load_staged(staged_run("boxscores", [brk_game(saved_page)]))

    assert Game.objects.filter(date=game.date).count() == 1
    game.refresh_from_db()
    assert (game.bref_game_id, game.nba_game_id, game.home_score, game.away_score, game.overtimes) == (
        "201801010BRK",
        "0021700545",
        98,
        95,
        0,
    )
    assert Player.objects.count() == players_before  # DNP/inactive players are not created
    gordon = Player.objects.get(nba_id=203932)
    assert gordon.bref_id == "gordoaa01"
    line = PlayerGameLog.objects.get(player=gordon, game=game)
    assert (line.seconds, line.pts, line.starter, line.source, line.plus_minus) == (2436, 20, True, "bref", -5)
    assert PlayerGameLog.objects.filter(game=game).count() == 20
    assert summary == {
        "games_created": 0,
        "games_updated": 1,
        "games_unchanged": 0,
        "players_created": 0,
        "players_linked": 20,
        "lines_created": 0,
        "lines_updated": 20,
        "lines_unchanged": 0,
        "not_played": 14,
        "errors": 0,
    }


@pytest.mark.django_db
def test_loading_the_same_page_again_changes_nothing(saved_page, bundled_game_0021700545):
    services.load_staged(staged_run("boxscores", [brk_game(saved_page)]))
    counts = (Game.objects.count(), Player.objects.count(), PlayerGameLog.objects.count())
    summary = services.load_staged(staged_run("boxscores", [brk_game(saved_page)]))
    assert (Game.objects.count(), Player.objects.count(), PlayerGameLog.objects.count()) == counts
    assert (summary["games_unchanged"], summary["lines_unchanged"], summary["players_created"]) == (1, 20, 0)


@pytest.mark.django_db
def test_a_name_spelled_differently_is_matched_by_the_identical_line(saved_page, bundled_game_0021700545):
    Player.objects.filter(name="Wes Iwundu").update(name="Wesley Iwundu", normalised_name="wesley iwundu")
    services.load_staged(staged_run("boxscores", [brk_game(saved_page)]))
    player = Player.objects.get(bref_id="iwundwe01")
    assert player.nba_id == 1628411 and player.name == "Wesley Iwundu"
    assert PlayerGameLog.objects.filter(player__name__icontains="iwundu").count() == 1


@pytest.mark.django_db
def test_did_not_play_rows_stay_in_staging(saved_page, bundled_game_0021700545):
    run = staged_run("boxscores", [brk_game(saved_page)])
    services.load_staged(run)
    doyle = StagedLine.objects.get(run=run, player_name="Milton Doyle")
    assert (doyle.played, doyle.reason, doyle.load_status) == ("dnp", "Did Not Play", LoadStatus.STAGED_ONLY)
    assert not Player.objects.filter(bref_id="doylemi01").exists()
    assert StagedLine.objects.filter(run=run, played="inactive").count() == 9


@pytest.mark.django_db
def test_future_games_are_scheduled_then_a_final_result_updates_the_same_row(saved_page, teams):
    april = parse_schedule(saved_page("schedule_months/NBA_2019_games-april.html"), "u", NOW)
    summary = services.load_staged(staged_run("schedule", april))
    assert summary["games_created"] == 79
    game = Game.objects.get(bref_game_id="201904010BOS")
    assert (game.status, game.home_score, game.away_score, game.start_time, game.away.code) == (
        "scheduled",
        None,
        None,
        "7:30p",
        "MIA",
    )

    played = dict(next(g for g in april if g["bref_game_id"] == "201904010BOS"))
    played.update(status="final", home_score=110, away_score=102, overtimes=0)
    services.load_staged(staged_run("schedule", [played]))
    services.load_staged(staged_run("schedule", april))  # an older capture must not undo the result
    game.refresh_from_db()
    assert (game.status, game.home_score, game.away_score) == ("final", 110, 102)
    assert Game.objects.filter(date=game.date, home=game.home).count() == 1


@pytest.mark.django_db
def test_game_log_rows_create_games_and_lines_once(saved_page, teams):
    rows = parse_gamelog(saved_page("player_gamelogs/westbru01_gamelog_2019.html"), "u", "westbru01", NOW)
    summary = services.load_staged(staged_run("gamelog", rows))
    westbrook = Player.objects.get(bref_id="westbru01")
    assert westbrook.name == "Russell Westbrook"
    logs = PlayerGameLog.objects.filter(player=westbrook)
    assert logs.count() == 78 and sum(log.pts for log in logs.filter(game__season_type="regular")) == 1675
    assert summary["not_played"] == 9 and summary["games_created"] == 87
    opener = Game.objects.get(bref_game_id="201810160GSW")  # Westbrook was inactive: game exists, no line
    assert (opener.away.code, opener.away_score, opener.home_score) == ("OKC", 100, 108)
    again = services.load_staged(staged_run("gamelog", rows))
    assert (again["lines_unchanged"], again["games_unchanged"], again["lines_created"]) == (78, 87, 0)


@pytest.mark.django_db
def test_a_conflicting_game_is_skipped_whole_and_counted(saved_page, bundled_game_0021700545):
    game = bundled_game_0021700545
    Game.objects.filter(pk=game.pk).update(away=game.home.__class__.objects.get(code="MIA"))
    tor = parse_boxscore(saved_page("boxscores/201801010TOR.html"), "u", "201801010TOR", NOW)
    run = staged_run("boxscores", [brk_game(saved_page), tor])
    summary = services.load_staged(run)
    assert summary["errors"] == 1 and summary["games_created"] == 1
    staged = run.staged_games.get(bref_game_id="201801010BRK")
    assert staged.load_status == LoadStatus.ERROR and "another visitor" in staged.load_message
    assert not PlayerGameLog.objects.filter(game=game, source="bref").exists()  # nothing half-written
    assert PlayerGameLog.objects.filter(game__bref_game_id="201801010TOR").count() == 20
