"""Celery tasks of the daily pipeline (thin: the work is in predictions.daily_services).

    daily_pipeline  (predictions queue)  what beat and the admin send: works out today, submits the run
    daily_crawl     (scraping queue)     step 1: yesterday's box scores into staging
    daily_load      (etl queue)          step 2: staged rows into the warehouse, one transaction
    daily_slate     (predictions queue)  step 3: today's slate

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


@shared_task(
    bind=True,
    name="predictions.tasks.daily_crawl",
    queue=queue_name("scraping"),
    soft_time_limit=CRAWL_SOFT_LIMIT,
    time_limit=CRAWL_HARD_LIMIT,
)
def daily_crawl(self, run_id: int, token: str):
    return _step(self, run_id, token, 1, "crawl box scores", lambda run: services.crawl(run, task_id=self.request.id))


@shared_task(
    bind=True,
    name="predictions.tasks.daily_load",
    queue=queue_name("etl"),
    soft_time_limit=LOAD_SOFT_LIMIT,
    time_limit=LOAD_HARD_LIMIT,
)
def daily_load(self, run_id: int, token: str):
    return _step(self, run_id, token, 2, "load into the warehouse", services.load)


@shared_task(
    bind=True,
    name="predictions.tasks.daily_slate",
    queue=queue_name("predictions"),
    soft_time_limit=SLATE_SOFT_LIMIT,
    time_limit=SLATE_HARD_LIMIT,
)
def daily_slate(self, run_id: int, token: str):
    return _step(self, run_id, token, 3, "today's slate", lambda run: services.slate(run, task_id=self.request.id))
