"""The Celery path: crawl tasks through a real worker, each crawl in a fresh child process."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from celery.result import AsyncResult
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

from etl.models import Game, PlayerGameLog
from nbaproject.celery import app, queue_name
from operations.dashboard import jobs_of_model
from scraping.crawler.arguments import nba_today
from scraping.models import ScrapeRun
from scraping.schedules import ensure_schedules
from scraping.tasks import crawl

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_two_crawls_in_a_row_in_the_same_worker_then_the_etl_load(celery_worker, bref_server, teams):
    first = crawl.delay("boxscores", base_url=bref_server.base_url, game="201801010BRK")
    first_result = first.get(timeout=180)
    second = crawl.delay("schedule", base_url=bref_server.base_url, season="2019", month="april")
    second_result = second.get(timeout=180)

    assert (first_result["status"], first_result["items"], first_result["errors"]) == ("succeeded", 1, 0)
    assert (second_result["status"], second_result["items"], second_result["errors"]) == ("succeeded", 79, 0)
    for task, items in ((first, 1), (second, 79)):
        run = ScrapeRun.objects.get(task_id=task.id)  # each run is linked to its TaskResult
        assert (run.status, run.items) == ("succeeded", items)
        row = TaskResult.objects.get(task_id=task.id)
        assert (row.status, row.worker) == ("SUCCESS", celery_worker.hostname)
        assert json.loads(row.meta)["queue"] == queue_name("scraping")

    loads = [AsyncResult(result["load_task_id"]) for result in (first_result, second_result)]
    summaries = [load.get(timeout=180) for load in loads]
    assert summaries[0]["lines_created"] == 20 and summaries[1]["games_created"] == 79
    assert all(json.loads(TaskResult.objects.get(task_id=load.id).meta)["queue"] == queue_name("etl") for load in loads)
    assert PlayerGameLog.objects.filter(game__bref_game_id="201801010BRK").count() == 20
    assert Game.objects.filter(status="scheduled").count() == 79
    assert ScrapeRun.objects.filter(loaded_at__isnull=False).count() == 2

    jobs = {job["title"]: job for job in jobs_of_model(ScrapeRun)}  # the staff Pipeline page's view
    box_job = jobs["boxscores game=201801010BRK"]
    assert box_job["status"] == "succeeded" and box_job["kind"] == "scrape"
    assert [link["task_id"] for link in box_job["task_links"]] == [first.id, first_result["load_task_id"]]
    assert "20 lines changed" in box_job["stage"]


def test_bad_arguments_fail_the_task_with_a_recorded_run(celery_worker):
    result = crawl.delay("boxscores", date="01/01/2018")
    with pytest.raises(Exception, match="use YYYY-MM-DD"):
        result.get(timeout=60)
    run = ScrapeRun.objects.get(task_id=result.id)
    assert run.status == "failed" and "use YYYY-MM-DD" in run.message


def test_the_scheduled_box_score_task_scrapes_yesterday(celery_worker, bref_server, teams):
    ensure_schedules()
    task = PeriodicTask.objects.get(name="Scrape yesterday's box scores")
    kwargs = {**json.loads(task.kwargs), "base_url": bref_server.base_url}
    sent = app.send_task(task.task, kwargs=kwargs)  # what admin's "Run selected tasks" does
    with pytest.raises(Exception, match="failed"):
        sent.get(timeout=180)  # nothing saved for yesterday: the daily index is a 404
    run = ScrapeRun.objects.get(task_id=sent.id)
    yesterday = nba_today() - dt.timedelta(days=1)
    assert run.args["date"] == yesterday.isoformat()
    assert (run.errors, run.error_list[0]["url"]) == (
        1,
        f"{bref_server.base_url}/boxscores/?month={yesterday.month}&day={yesterday.day}&year={yesterday.year}",
    )
    assert TaskResult.objects.get(task_id=sent.id).status == "FAILURE"
