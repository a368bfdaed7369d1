"""Celery tasks of the daily pipeline (thin: the work is in predictions.daily_services).

    daily_pipeline  (predictions queue)  what beat and the admin send: works out today, submits the run
    daily_crawl     (scraping queue)     step 1: yesterday's box scores into staging
    daily_load      (etl queue)          step 2: staged rows into the warehouse, one transaction
    daily_slate     (predictions queue)  step 3: today's slate
    sweep_lost_daily_runs (predictions queue, beat every 15 min)  starts again a day whose chain was lost

A step that fails records the reason on the DailyRun and raises, which stops the chain. Each step
is idempotent (a redelivered crawl resets its scrape run, the load upserts, the slate replaces its
rows), as acks_late redelivery needs. Registered by predictions/jobs.py, which imports this module.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.utils import InterfaceError, OperationalError

from nbaproject.celery import queue_name
from predictions import daily_services as services
from predictions.dates import NotADate, parse_iso_date
from scraping.tasks import CRAWL_HARD_LIMIT, CRAWL_SOFT_LIMIT, LOAD_HARD_LIMIT, LOAD_SOFT_LIMIT

logger = logging.getLogger(__name__)
SLATE_SOFT_LIMIT, SLATE_HARD_LIMIT = 10 * 60, 11 * 60


def _step(task, run_id: int, token: str, index: int, label: str, work):
    """Claim the run for this step, do the work; a database hiccup retries, anything else fails the run."""
    try:
        run = services.claim(run_id, token, index, label)
        if run is None:
            return {"daily_run": run_id, "skipped": True}
        return work(run)
    except services.StepFailed:
        raise
    except (OperationalError, InterfaceError) as exc:
        if task.request.retries < 3:
            raise task.retry(exc=exc, countdown=2 * (task.request.retries + 1)) from None
        services.fail_unexpected(run_id, services.STEPS[index - 1], exc)
        raise
    except BaseException as exc:  # time limits included: the run must not stay "running"
        logger.exception("daily run %s failed in %s", run_id, label)
        services.fail_unexpected(run_id, services.STEPS[index - 1], exc)
        raise


@shared_task(bind=True, name="predictions.tasks.daily_pipeline", soft_time_limit=60, time_limit=90)
def daily_pipeline(self, date: str | None = None, base_url: str | None = None):
    """Start the daily pipeline of `date` (YYYY-MM-DD; default: the product's today). Sent by the
    schedule "daily: yesterday's box scores -> load -> today's slate" and the Pipeline page's button."""
    try:
        day = parse_iso_date(date) if date else None
    except NotADate as exc:
        raise ValueError(str(exc)) from None
    run, started = services.submit_daily(day, base_url=base_url, start_task_id=self.request.id)
    return {
        "daily_run": run.pk,
        "date": run.date.isoformat(),
        "started": started,
        "status": run.status if started else f"already {run.status}: {services.describe(run)}",
    }


# Each step's task: its label, soft and hard time limits, and the work (given the run and this task's
# id); it is named and queued as predictions.daily_services publishes it (STEP_TASKS, STEP_QUEUES).
STEP_SPECS = {
    "crawl": ("crawl box scores", CRAWL_SOFT_LIMIT, CRAWL_HARD_LIMIT, services.crawl),
    "load": ("load into the warehouse", LOAD_SOFT_LIMIT, LOAD_HARD_LIMIT, lambda run, _task_id: services.load(run)),
    "slate": ("today's slate", SLATE_SOFT_LIMIT, SLATE_HARD_LIMIT, services.slate),
}


def _step_task(index: int, name: str):
    """The task of step `index` (1-3) of the chain."""
    label, soft_limit, hard_limit, work = STEP_SPECS[name]

    @shared_task(
        bind=True,
        name=services.STEP_TASKS[name],
        queue=queue_name(services.STEP_QUEUES[name]),
        soft_time_limit=soft_limit,
        time_limit=hard_limit,
    )
    def step_task(self, run_id: int, token: str):
        return _step(self, run_id, token, index, label, lambda run: work(run, self.request.id))

    return step_task


daily_crawl, daily_load, daily_slate = (_step_task(index, name) for index, name in enumerate(services.STEPS, start=1))


@shared_task(name="predictions.tasks.sweep_lost_daily_runs", soft_time_limit=60, time_limit=90)
def sweep_lost_daily_runs():
    """Sent by the schedule "daily: start again the days whose chain was lost" (services.sweep_lost_daily_runs)."""
    return services.sweep_lost_daily_runs()
