"""Real crawls (child processes) against a local server that serves the saved real pages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from etl.models import Game, Player, PlayerGameLog
from nbaproject.testing.waiting import wait_for
from scraping import services
from scraping.models import ScrapeRun, StagedGame, StagedLine
from scraping.tests.bref_server import page

pytestmark = pytest.mark.django_db(transaction=True)


def crawl(server, spider, **args) -> ScrapeRun:
    run = services.create_run(spider, {"base_url": server.base_url, **args})
    return services.run_crawl(run, timeout=120)


def crawl_command(server, *args) -> str:
    out = StringIO()
    call_command("crawl", *args, "--base-url", server.base_url, stdout=out)
    return out.getvalue()


@pytest.mark.smoke
def test_crawl_command_fills_the_warehouse_with_the_days_games(bref_server, teams):
    output = crawl_command(bref_server, "boxscores", "date=2018-01-01")

    run = ScrapeRun.objects.get()
    assert (run.status, run.pages, run.items, run.errors) == ("succeeded", 5, 2, 2)
    # the index links four games; two of them are not among the saved pages (404, counted)
    assert sorted(e["url"].rsplit("/", 1)[1] for e in run.error_list) == ["201801010CHI.html", "201801010MIN.html"]
    assert all("HTTP 404" in e["reason"] for e in run.error_list)
    assert "succeeded" in output and "pages 5, items 2, errors 2" in output and "lines created 40" in output

    brk = Game.objects.get(bref_game_id="201801010BRK")
    assert (brk.away.code, brk.away_score, brk.home.code, brk.home_score, brk.overtimes, brk.status) == (
        "ORL",
        95,
        "BKN",
        98,
        0,
        "final",
    )
    tor = Game.objects.get(bref_game_id="201801010TOR")
    assert (tor.away_score, tor.home_score, tor.overtimes) == (127, 131, 1)
    gordon = PlayerGameLog.objects.get(player__bref_id="gordoaa01", game=brk)
    assert (gordon.pts, gordon.seconds, gordon.reb, gordon.ast, gordon.starter, gordon.is_home) == (
        20,
        2436,
        12,
        0,
        True,
        False,
    )
    for game in (brk, tor):  # every player who played, and his points add up to the final score
        logs = PlayerGameLog.objects.filter(game=game)
        assert logs.count() == 20 and logs.filter(starter=True).count() == 10
        assert sum(log.pts for log in logs.filter(team=game.home)) == game.home_score
        assert sum(log.pts for log in logs.filter(team=game.away)) == game.away_score
    assert not Player.objects.filter(bref_id="doylemi01").exists()  # Did Not Play: staging only
    assert StagedLine.objects.get(run=run, player_bref_id="doylemi01").reason == "Did Not Play"


def test_crawling_again_updates_the_same_rows(bref_server, teams):
    crawl_command(bref_server, "boxscores", "date=2018-01-01")
    counts = (Game.objects.count(), Player.objects.count(), PlayerGameLog.objects.count())
    crawl_command(bref_server, "boxscores", "date=2018-01-01")
    assert (Game.objects.count(), Player.objects.count(), PlayerGameLog.objects.count()) == counts == (2, 40, 40)
    first, second = ScrapeRun.objects.order_by("pk")
    assert (second.pages, second.items, second.errors) == (first.pages, first.items, first.errors)
    assert (second.summary["games_unchanged"], second.summary["lines_unchanged"]) == (2, 40)
    assert second.summary["games_created"] == second.summary["lines_created"] == second.summary["players_created"] == 0


def test_a_scraped_game_lands_on_the_bundled_game(bref_server, bundled_game_0021700545):
    game = bundled_game_0021700545
    crawl_command(bref_server, "boxscores", "game=201801010BRK")
    assert Game.objects.filter(date=game.date, home=game.home).count() == 1
    game.refresh_from_db()
    assert (game.bref_game_id, game.nba_game_id) == ("201801010BRK", "0021700545")
    assert PlayerGameLog.objects.filter(game=game).count() == 20 and Player.objects.count() == 20
    assert PlayerGameLog.objects.filter(game=game, source="bref").count() == 20


def test_an_overtime_game_from_a_2019_capture(bref_server, teams):
    run = crawl(bref_server, "boxscores", game="201701010ATL")
    services.load_staged(run)
    game = Game.objects.get(bref_game_id="201701010ATL")
    assert (game.away.code, game.away_score, game.home.code, game.home_score, game.overtimes) == (
        "SAS",
        112,
        "ATL",
        114,
        1,
    )
    aldridge = PlayerGameLog.objects.get(game=game, player__name="LaMarcus Aldridge")
    assert (aldridge.pts, aldridge.seconds) == (27, 43 * 60 + 27)


def test_a_404_and_an_unknown_player_are_counted_errors(bref_server, teams):
    missing = crawl(bref_server, "boxscores", game="201801010CHI")
    assert (missing.status, missing.pages, missing.items, missing.errors) == ("failed", 1, 0, 1)
    assert "HTTP 404 (Page Not Found (404 error)" in missing.error_list[0]["reason"]
    assert missing.finished_at is not None and "no items" in missing.message

    unknown = crawl(bref_server, "gamelog", player="foobar", season="2020")
    assert (unknown.status, unknown.pages, unknown.items, unknown.errors) == ("failed", 1, 0, 1)
    assert "unknown player" in unknown.error_list[0]["reason"]
    assert "unknown player" in unknown.log_tail


def test_429_then_200_waits_as_retry_after_says(bref_server, teams):
    target = "/boxscores/201801010BRK.html"
    bref_server.script(target, (429, {"Retry-After": "1"}, b"Too Many Requests"))
    seen = []
    run = services.create_run("boxscores", {"base_url": bref_server.base_url, "game": "201801010BRK"})
    run = services.run_crawl(run, on_progress=lambda current: seen.append(current.status), timeout=120)

    assert (run.status, run.pages, run.items, run.errors) == ("succeeded", 1, 1, 0)
    (first, status_1), (second, status_2) = bref_server.hits(target)
    assert (status_1, status_2) == (429, 200)
    assert second - first >= 1.0
    assert "Retry-After" in run.log_tail
    assert "running" in seen and seen[-1] == "succeeded"


def test_server_errors_are_retried_with_backoff_then_given_up(bref_server, teams):
    target = "/boxscores/201801010TOR.html"
    bref_server.script(target, (503, {}, b"unavailable"))
    recovered = crawl(bref_server, "boxscores", game="201801010TOR")
    assert (recovered.status, recovered.errors, recovered.items) == ("succeeded", 0, 1)
    assert [status for _, status in bref_server.hits(target)] == [503, 200]

    bref_server.script(target, *[(500, {}, b"broken")] * 5)  # the first try and four retries
    given_up = crawl(bref_server, "boxscores", game="201801010TOR")
    assert (given_up.status, given_up.errors) == ("failed", 1)
    assert "HTTP 500" in given_up.error_list[0]["reason"]


def test_a_changed_layout_or_inconsistent_page_is_counted_and_nothing_half_written(bref_server, teams):
    brk = page("boxscores/201801010BRK.html").decode()
    brk_moved = brk.replace('id="line_score"', 'id="linescore_v2"')
    bref_server.route("/boxscores/201801010BRK.html", body=brk_moved.encode())
    tor = page("boxscores/201801010TOR.html").decode()
    row = tor.index(">Giannis Antetokounmpo</a>")
    end = tor.index("</tr>", row)
    bref_server.route(
        "/boxscores/201801010TOR.html",
        body=(tor[:row] + tor[row:end].replace('data-stat="pts" >26<', 'data-stat="pts" >62<') + tor[end:]).encode(),
    )

    run = crawl(bref_server, "boxscores", game="201801010BRK,201801010TOR,201701010ATL")
    assert (run.status, run.pages, run.items, run.errors) == ("succeeded", 3, 1, 2)
    reasons = " | ".join(error["reason"] for error in run.error_list)
    assert "layout: no line_score table" in reasons and "antetgi01: 62 pts != 2*FG + 3P + FT" in reasons
    assert list(StagedGame.objects.filter(run=run).values_list("bref_game_id", flat=True)) == ["201701010ATL"]
    services.load_staged(run)
    assert list(Game.objects.values_list("bref_game_id", flat=True)) == ["201701010ATL"]


def test_robots_txt_is_obeyed(bref_server, teams):
    bref_server.robots_txt = b"User-agent: *\nDisallow: /boxscores/\n"
    run = crawl(bref_server, "boxscores", game="201801010BRK")
    assert run.status == "failed" and "robots.txt" in run.error_list[0]["reason"]
    assert bref_server.pages_requested() == []


def test_schedule_of_a_season_follows_the_month_links(bref_server, teams):
    run = crawl(bref_server, "schedule", season="2018")
    # the season page, then its nine months: October, January and April are saved (104 + 216 + 136)
    assert (run.status, run.pages, run.items, run.errors) == ("succeeded", 10, 456, 6)
    assert StagedGame.objects.filter(run=run, season_type="playoffs").count() == 48


def test_future_schedule_games_become_scheduled_games(bref_server, teams):
    run = crawl(bref_server, "schedule", season="2019", month="april")
    assert (run.status, run.items, run.errors) == ("succeeded", 79, 0)
    services.load_staged(run)
    assert Game.objects.filter(status="scheduled", home_score__isnull=True).count() == 79
    game = Game.objects.get(bref_game_id="201904010BOS")
    assert (game.date.isoformat(), game.start_time, game.away.code, game.home.code) == (
        "2019-04-01",
        "7:30p",
        "MIA",
        "BOS",
    )


def test_game_log_crawl_keeps_inactive_rows_in_staging(bref_server, teams):
    run = crawl(bref_server, "gamelog", player="westbru01", season="2019")
    assert (run.status, run.pages, run.items, run.errors) == ("succeeded", 1, 87, 0)
    lines = StagedLine.objects.filter(run=run)
    assert lines.filter(played="inactive").count() == 8
    assert lines.get(played="dnp").reason == "Not With Team"


@pytest.mark.django_db
def test_crawl_command_explains_mistakes():
    with pytest.raises(CommandError, match="unknown spider 'boxes'"):
        call_command("crawl", "boxes")
    with pytest.raises(CommandError, match="use YYYY-MM-DD"):
        call_command("crawl", "boxscores", "date=yesterday-ish")
    with pytest.raises(CommandError, match="key=value"):
        call_command("crawl", "boxscores", "2018-01-01")
    assert not ScrapeRun.objects.exists()


@pytest.mark.reliability
def test_a_crawl_whose_starting_process_dies_stops_on_its_own(bref_server, teams):
    """A killed worker must not leave its crawler running (nor waiting out a long Retry-After)."""
    target = "/boxscores/201801010BRK.html"
    bref_server.script(target, (429, {"Retry-After": "120"}, b"Too Many Requests"))
    run = services.create_run("boxscores", {"base_url": bref_server.base_url, "game": "201801010BRK"})
    env = dict(os.environ, DATABASE_URL=services.database_url())
    env.pop("TEST_EMBEDDED", None)
    parent = subprocess.Popen(
        ["sh", "-c", f"{sys.executable} -m scraping.crawler.runner {run.pk} >/dev/null 2>&1"],
        cwd=settings.BASE_DIR,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(lambda: bref_server.hits(target), 60, "the crawler fetching the page")
        parent.kill()  # like a worker process killed by the OOM killer or a hard time limit
        parent.wait()
        started = time.monotonic()
        wait_for(lambda: run.refresh_from_db() or run.is_finished, 30, "the run finishing", interval=0.2)
        assert (run.status, run.message) == ("failed", "crawl stopped: parent_gone")
        assert time.monotonic() - started < 30  # well before the 120 s Retry-After
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
