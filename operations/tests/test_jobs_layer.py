"""The jobs layer: every app plugs its job kind in through its own jobs.py (operations names no
app), progress is one UPDATE of the given fields, a TaskResult links back to the job of any kind,
and the beat rows of the renamed housekeeping tasks follow them."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from operations import progress, registry
from operations.dashboard import collect_jobs
from operations.links import jobs_of_task
from operations.models import Job

pytestmark = [pytest.mark.django_db]

# Named by label: operations (and its tests' imports) name no app.
JOB_MODELS = {
    "etl.EtlRun",
    "scraping.ScrapeRun",
    "mlmodels.TrainingRun",
    "predictions.PredictionRequest",
    "predictions.Slate",
    "predictions.DailyRun",
}


def test_each_app_registers_its_job_kind_schedules_and_actions_in_its_jobs_module():
    assert {kind.model._meta.label for kind in registry.job_kinds()} == JOB_MODELS
    assert all(issubclass(kind.model, Job) for kind in registry.job_kinds())
    actions = registry.actions()
    assert (actions["load-bundled"].task, actions["retrain"].task, actions["daily"].task) == (
        "etl.tasks.load_gamelogs",
        "mlmodels.tasks.train",
        "predictions.tasks.daily_pipeline",
    )
    assert {spec["task"] for spec in registry.schedules()} >= {
        "operations.tasks.cleanup_task_results",
        "etl.tasks.load_gamelogs",
        "scraping.tasks.crawl",
        "mlmodels.tasks.train",
        "predictions.tasks.daily_pipeline",
    }


def test_progress_report_is_one_update_of_only_the_given_fields(django_assert_num_queries):
    EtlRun = apps.get_model("etl", "EtlRun")
    run = EtlRun.objects.create(source="a.csv", status=Job.Status.RUNNING)
    EtlRun.objects.filter(pk=run.pk).update(message="written meanwhile by someone else")

    with django_assert_num_queries(1):
        progress.report(run, stage="loaded a.csv", step=(2, 5), percent=40.7, rows_done=10)

    run.refresh_from_db()
    assert (run.stage, run.step_index, run.step_count, run.percent, run.rows_done) == ("loaded a.csv", 2, 5, 40, 10)
    assert run.message == "written meanwhile by someone else"

    progress.fail(run, "the file has no MATCHUP column")
    run.refresh_from_db()
    assert (run.status, run.message, run.is_finished) == ("failed", "the file has no MATCHUP column", True)
    assert run.finished_at is not None


def test_start_keeps_the_first_start_and_succeed_completes():
    TrainingRun = apps.get_model("mlmodels", "TrainingRun")
    run = TrainingRun.objects.create()
    assert run.status == Job.Status.QUEUED and run.started_at is None
    run.start(stage="loading")
    first_start = run.started_at
    run.start(stage="loading again")  # a redelivered task
    run.succeed(stage="done")
    run.refresh_from_db()
    assert (run.status, run.percent, run.stage, run.started_at) == ("succeeded", 100, "done", first_start)
    assert run.finished_at >= run.started_at


def test_a_task_result_links_back_to_the_job_of_every_kind():
    EtlRun, ScrapeRun, PredictionRequest = (
        apps.get_model(label) for label in ("etl.EtlRun", "scraping.ScrapeRun", "predictions.PredictionRequest")
    )
    load = EtlRun.objects.create(source="a.csv", task_id="task-1")
    scrape = ScrapeRun.objects.create(spider="boxscores", task_id="crawl-1", load_task_id="task-1")
    user = User.objects.create_user("carol")
    request = PredictionRequest.objects.create(user=user, player_input="Luka", task_ids={"keras": "task-1"})

    labels = {link["label"] for link in jobs_of_task("task-1")}

    assert labels == {f"ETL run {load.pk}", f"scrape run {scrape.pk} (boxscores)", f"prediction request {request.pk}"}
    assert {link["label"] for link in jobs_of_task("crawl-1")} == {f"scrape run {scrape.pk} (boxscores)"}
    rows = {(row["kind"], row["id"]): row for row in collect_jobs()}
    assert rows[("scrape", str(scrape.pk))]["task_links"][1]["label"] == "load"
    assert rows[("prediction", str(request.pk))]["task_links"] == [
        {"label": "keras", "task_id": "task-1", "url": "/admin/django_celery_results/taskresult/?q=task-1"}
    ]


def test_beat_rows_of_the_moved_housekeeping_tasks_are_renamed():
    migration = importlib.import_module("operations.migrations.0001_rename_periodic_tasks")
    every_day = IntervalSchedule.objects.create(every=1, period="days")
    PeriodicTask.objects.create(name="old cleanup", task="nbaproject.tasks.cleanup_task_results", interval=every_day)

    migration.rename(apps, None)

    assert PeriodicTask.objects.get(name="old cleanup").task == "operations.tasks.cleanup_task_results"


def test_every_job_admin_lists_and_shows_its_task_results(client):
    EtlRun, ScrapeRun, TrainingRun = (
        apps.get_model(label) for label in ("etl.EtlRun", "scraping.ScrapeRun", "mlmodels.TrainingRun")
    )
    jobs = [
        EtlRun.objects.create(source="a.csv", task_id="etl-task"),
        ScrapeRun.objects.create(spider="schedule", task_id="crawl-task", load_task_id="load-task"),
        TrainingRun.objects.create(task_id="train-task", status=Job.Status.RUNNING, stage="keras", percent=50),
    ]
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    for job in jobs:
        meta = job._meta
        listing = client.get(f"/admin/{meta.app_label}/{meta.model_name}/")
        page = client.get(f"/admin/{meta.app_label}/{meta.model_name}/{job.pk}/change/")
        for response in (listing, page):
            assert response.status_code == 200
            for _, task_id in job.task_pairs():
                assert f"?q={task_id}".encode() in response.content  # queued: linked to the search by its id
