"""The daily pipeline end to end: yesterday's box scores (the saved pages, served locally) -> the
warehouse -> today's slate, through real workers on the scraping, etl and predictions queues.

"Today" is 2018-01-02 (AS_OF_DATE), so "yesterday" is 2018-01-01, the day of the saved box scores.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import socket

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

from etl import testing as data
from etl.models import Game, PlayerGameLog, Team
from etl.teams import seed_teams
from nbaproject.celery import queue_name
from nbaproject.testing.waiting import wait_for
from operations.dashboard import jobs_of_model
from operations.schedules import ensure_all_schedules
from predictions import daily_services
from predictions.jobs import DAILY_SCHEDULE_NAME, DAILY_SWEEPER_SCHEDULE_NAME
from predictions.models import DailyRun, Slate, SlatePrediction
from predictions.tests.conftest import restore_models
from scraping.models import ScrapeRun
from scraping.tests.bref_server import BrefServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

# Crawls of the session's worker (child processes) run without the politeness delay (as in scraping/tests).
os.environ["SCRAPE_DOWNLOAD_DELAY"] = "0"
os.environ["SCRAPE_RETRY_BACKOFF_BASE"] = "0.2"
os.environ["SCRAPE_PROGRESS_INTERVAL"] = "0.2"

TODAY, YESTERDAY = dt.date(2018, 1, 2), dt.date(2018, 1, 1)
# Box-score pages of 2018-01-01 the local server has (the index also lists CHI and MIN: 404s, counted errors).
SAVED_BOX_SCORES = {"201801010BRK", "201801010TOR"}


@pytest.fixture
def bref_server():
    server = BrefServer().start()
    yield server
    server.stop()


def december_2017(folder) -> str:
    """The bundled 2017-18 lines of December 2017: the history before yesterday."""
    path = folder / "player_logs_2017-18.csv.gz"
    with (
        gzip.open(data.season_file("2017-18"), "rt", newline="") as source,
        gzip.open(path, "wt", newline="") as target,
    ):
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(row for row in reader if "2017-12-01" <= row["GAME_DATE"] < "2018-01-01")
    return path


@pytest.fixture
def daily_world(transactional_db, celery_worker, trained_model_rows, bref_server, tmp_path):
    """December 2017 in the warehouse, January 2018's schedule crawled (the schedule spider: today's games),
    an active model set and a worker. Yesterday's games exist as schedule rows, without lines."""
    from scraping import services as scraping

    restore_models(trained_model_rows)
    data.load_logs([december_2017(tmp_path)])
    schedule = scraping.create_run("schedule", {"season": "2018", "month": "january", "base_url": bref_server.base_url})
    assert scraping.run_crawl(schedule).status == "succeeded"
    scraping.load_staged(schedule)
    # No saved box score's team plays again on 2018-01-02: this one made-up game of today between two of
    # yesterday's teams shows that the slate uses the lines the run has just loaded.
    rematch = Game.objects.create(
        season="2017-18",
        date=TODAY,
        home=Team.objects.get(code="TOR"),
        away=Team.objects.get(code="ORL"),
        status=Game.Status.SCHEDULED,
    )
    assert not PlayerGameLog.objects.filter(date=YESTERDAY).exists()
    return rematch


def wait_run(run_id: int, timeout: float = 300) -> DailyRun:
    wait_for(
        lambda: DailyRun.objects.get(pk=run_id).is_finished,
        timeout,
        f"daily run {run_id} finished",
        describe=lambda: daily_services.describe(DailyRun.objects.get(pk=run_id)),
    )
    return DailyRun.objects.get(pk=run_id)


def warehouse_counts() -> dict:
    return {
        "games": Game.objects.count(),
        "lines": PlayerGameLog.objects.count(),
        "slates": Slate.objects.count(),
        "slate_rows": SlatePrediction.objects.count(),
        "daily_runs": DailyRun.objects.count(),
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_daily_chain_loads_yesterday_then_computes_todays_slate_with_it(daily_world, bref_server):
    rematch = daily_world
    with override_settings(AS_OF_DATE=TODAY.isoformat()):
        run, started = daily_services.submit_daily(base_url=bref_server.base_url)
        again, started_again = daily_services.submit_daily()  # while it runs: the same run, nothing new
    assert started and run.date == TODAY and run.box_score_date == YESTERDAY
    assert (again.pk, started_again) == (run.pk, False)

    run = wait_run(run.pk)

    assert run.status == "succeeded", run.message
    assert (run.step_index, run.step_count, run.stage, run.percent, run.attempts) == (3, 3, "done", 100, 1)
    # Each step ran on its own queue, in a real worker.
    for step, queue in (("crawl", "scraping"), ("load", "etl"), ("slate", "predictions")):
        row = TaskResult.objects.get(task_id=run.task_ids[step])
        assert row.status == "SUCCESS" and json.loads(row.meta)["queue"] == queue_name(queue), step

    # Yesterday's box scores: crawled and loaded (games final, every player who played has his line).
    scrape = run.scrape_run
    assert (scrape.spider, scrape.args["date"], scrape.items, scrape.errors) == ("boxscores", "2018-01-01", 2, 2)
    assert scrape.task_id == run.task_ids["crawl"] and scrape.loaded_at is not None
    played = scrape.staged_lines.filter(played="played")
    for bref_id in SAVED_BOX_SCORES:
        game = Game.objects.get(bref_game_id=bref_id)
        assert game.status == "final" and game.date == YESTERDAY
        assert (
            PlayerGameLog.objects.filter(game=game, source="bref").count()
            == played.filter(bref_game_id=bref_id).count()
            > 15
        )
    assert PlayerGameLog.objects.filter(date=YESTERDAY).count() == played.count()
    assert run.summary["load_lines_created"] == played.count() and run.summary["games_crawled"] == 2

    # Today's slate: every game of today, computed after the load, with yesterday's lines.
    slate = run.slate
    games_today = Game.objects.filter(date=TODAY).count()
    assert games_today == 6  # the five real games of 2018-01-02 (schedule page) and the rematch
    assert (slate.date, slate.status, slate.games_total, slate.games_done) == (
        TODAY,
        "succeeded",
        games_today,
        games_today,
    )
    assert SlatePrediction.objects.filter(slate=slate).count() == run.summary["slate_players"] == slate.players_done
    assert slate.players_done > 5 * 16
    fresh = SlatePrediction.objects.filter(slate=slate, game=rematch, data_through=YESTERDAY)
    assert fresh.count() >= 16  # ORL's and TOR's players: their last game is yesterday's, just loaded
    assert (
        not SlatePrediction.objects.filter(slate=slate)
        .exclude(game=rematch)
        .filter(data_through__gte=YESTERDAY)
        .exists()
    )

    # The Pipeline page: one job with its steps and a link to each step's TaskResult.
    [job] = jobs_of_model(DailyRun)
    assert (job["kind"], job["status"], job["stage"], job["percent"]) == ("daily", "succeeded", "3/3 done", 100)
    assert job["title"] == "daily of 2018-01-02 (box scores of 2018-01-01)"
    assert [link["label"] for link in job["task_links"]] == ["crawl", "load", "slate"]


def test_a_second_run_of_the_same_day_reuses_its_run_and_duplicates_nothing(daily_world, bref_server):
    with override_settings(AS_OF_DATE=TODAY.isoformat()):
        first, _ = daily_services.submit_daily(base_url=bref_server.base_url)
    first = wait_run(first.pk)
    assert first.status == "succeeded", first.message
    before = warehouse_counts()
    rows_before = sorted(SlatePrediction.objects.values_list("player_id", "p10", "p50", "p90"))

    # Again with `manage.py daily` (today from AS_OF_DATE, the mirror kept from the first attempt).
    out = io.StringIO()
    with override_settings(AS_OF_DATE=TODAY.isoformat()):
        call_command("daily", stdout=out)
    text = out.getvalue()
    assert "Daily run of 2018-01-02 (attempt 2): box scores of 2018-01-01" in text
    assert "step 1 of 3 (crawl box scores)" in text and "step 3 of 3" in text
    assert "succeeded, step 3 of 3 (done), 100%" in text and "slate of 2018-01-02: 6 games" in text

    second = DailyRun.objects.get()
    assert (second.pk, second.status, second.attempts, second.slate_id) == (first.pk, "succeeded", 2, first.slate_id)
    assert second.scrape_run_id != first.scrape_run_id  # crawled again...
    assert second.summary["load_lines_created"] == 0 and second.summary["load_games_created"] == 0  # ...same rows
    assert second.summary["load_lines_unchanged"] == first.summary["load_lines_created"]
    assert warehouse_counts() == before
    assert sorted(SlatePrediction.objects.values_list("player_id", "p10", "p50", "p90")) == rows_before


def test_the_schedule_is_disabled_and_runs_now_from_admin(daily_world, bref_server):
    ensure_all_schedules()
    entry = PeriodicTask.objects.get(name=DAILY_SCHEDULE_NAME)
    assert (entry.task, entry.enabled, json.loads(entry.kwargs)) == ("predictions.tasks.daily_pipeline", False, {})
    assert (entry.crontab.hour, entry.crontab.minute, str(entry.crontab.timezone)) == ("10", "30", "UTC")
    # Staff run a given day now (the worker's today is the real date, so the day goes in the arguments).
    entry.kwargs = json.dumps({"date": TODAY.isoformat(), "base_url": bref_server.base_url})
    entry.save()
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client = Client()
    client.force_login(staff)

    response = client.post(
        "/admin/django_celery_beat/periodictask/", {"action": "run_tasks", "_selected_action": [entry.pk]}
    )
    assert response.status_code == 302

    run = wait_for(lambda: DailyRun.objects.filter(date=TODAY).first(), 60, "the daily run created")
    run = wait_run(run.pk)
    assert run.status == "succeeded", run.message
    start = TaskResult.objects.get(task_id=run.task_ids["start"])
    assert start.task_name == "predictions.tasks.daily_pipeline" and start.status == "SUCCESS"
    assert PlayerGameLog.objects.filter(date=YESTERDAY).count() > 30
    # The Pipeline page's button is there for staff, and the run's admin page links its parts.
    assert "Run the daily pipeline now" in client.get("/admin/pipeline/").content.decode()
    page = client.get(f"/admin/predictions/dailyrun/{run.pk}/change/").content.decode()
    assert f"/admin/scraping/scraperun/{run.scrape_run_id}/change/" in page
    assert f"/admin/predictions/slate/{run.slate_id}/change/" in page


def test_the_sweeper_starts_a_lost_day_again_and_gives_up_after_max_attempts(daily_world, bref_server):
    """A run whose chain was lost (still running STALE_AFTER after it started) is started again
    and completes; one lost MAX_LOST_ATTEMPTS times is failed with the reason; a recent one waits."""
    ensure_all_schedules()
    entry = PeriodicTask.objects.get(name=DAILY_SWEEPER_SCHEDULE_NAME)
    assert (entry.task, entry.enabled, entry.crontab.minute) == (
        "predictions.tasks.sweep_lost_daily_runs",
        True,
        "*/15",
    )
    long_ago = timezone.now() - daily_services.STALE_AFTER - dt.timedelta(minutes=1)
    running = {"status": DailyRun.Status.RUNNING, "step_index": 1, "step_count": 3}
    lost = DailyRun.objects.create(
        date=TODAY,
        token="lost",
        attempts=1,
        crawl_args={"base_url": bref_server.base_url},
        started_at=long_ago,
        **running,
    )
    hopeless_day, recent_day = TODAY - dt.timedelta(days=5), TODAY - dt.timedelta(days=6)
    hopeless = DailyRun.objects.create(
        date=hopeless_day, token="x", attempts=daily_services.MAX_LOST_ATTEMPTS, started_at=long_ago, **running
    )
    recent = DailyRun.objects.create(date=recent_day, token="y", attempts=1, started_at=timezone.now(), **running)

    swept = daily_services.sweep_lost_daily_runs()

    assert swept == {"restarted": [TODAY.isoformat()], "failed": [hopeless_day.isoformat()], "not_restarted": []}
    lost = wait_run(lost.pk)
    assert (lost.status, lost.attempts, lost.crawl_args) == ("succeeded", 2, {"base_url": bref_server.base_url})
    assert lost.token != "lost" and PlayerGameLog.objects.filter(date=YESTERDAY).exists()
    hopeless.refresh_from_db()
    assert hopeless.status == "failed" and hopeless.message.startswith("gave up: its chain was lost 3 times")
    recent.refresh_from_db()
    assert (recent.status, recent.attempts, recent.token) == ("running", 1, "y")
    assert daily_services.sweep_lost_daily_runs() == {"restarted": [], "failed": [], "not_restarted": []}


def test_a_failing_crawl_fails_the_run_with_the_reason_and_loads_nothing(transactional_db, celery_worker):
    seed_teams()
    base_url = f"http://127.0.0.1:{closed_port()}"
    with override_settings(AS_OF_DATE=TODAY.isoformat()):
        run, started = daily_services.submit_daily(base_url=base_url)

    run = wait_run(run.pk, timeout=120)

    assert run.status == "failed" and run.step_index == 1
    assert run.message == f"crawl failed: cannot reach {base_url.split('://')[1]}: connection refused"
    assert ScrapeRun.objects.get(pk=run.scrape_run_id).status == "failed"
    assert not Game.objects.exists() and not PlayerGameLog.objects.exists()
    assert not Slate.objects.exists() and run.slate_id is None
    assert TaskResult.objects.get(task_id=run.task_ids["crawl"]).status == "FAILURE"
    # Celery marks the rest of the chain failed without running it: the run never reached step 2.
    later = TaskResult.objects.filter(task_id__in=[run.task_ids["load"], run.task_ids["slate"]])
    assert all(row.status == "FAILURE" and row.date_started is None for row in later)
    [job] = jobs_of_model(DailyRun)
    assert (job["status"], job["message"]) == ("failed", run.message)


def test_a_game_the_warehouse_refuses_rolls_the_whole_load_back(transactional_db, bref_server):
    """The load step is one transaction: one refused game and none of the day's games or lines stay."""
    from scraping import services as scraping

    seed_teams()
    scrape = scraping.create_run(
        "boxscores", {"game": ",".join(sorted(SAVED_BOX_SCORES)), "base_url": bref_server.base_url}
    )
    scrape = scraping.run_crawl(scrape)
    assert (scrape.status, scrape.items) == ("succeeded", 2)
    scrape.staged_games.filter(bref_game_id="201801010TOR").update(home_code="XYZ")  # a team nobody knows
    run = DailyRun.objects.create(date=TODAY, token="t", scrape_run=scrape)
    run = daily_services.claim(run.pk, "t", 2, "load into the warehouse")

    with pytest.raises(daily_services.StepFailed):
        daily_services.load(run)

    run.refresh_from_db()
    assert (run.status, run.step_index) == ("failed", 2)
    assert run.message.startswith(
        "load failed: 1 of 2 games could not be loaded (201801010TOR: unknown team 'XYZ'); nothing was loaded."
    )
    assert not Game.objects.exists() and not PlayerGameLog.objects.exists()  # BRK's game was rolled back too
    scrape.refresh_from_db()
    assert scrape.loaded_at is None and scrape.staged_games.filter(load_status="pending").count() == 2
