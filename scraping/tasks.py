"""Celery tasks of the scraping app.

`crawl` runs on the `scraping` queue (routed by settings); `load_staged` on the `etl` queue.
Both are idempotent: a redelivered crawl resets its ScrapeRun and crawls again, and loading the
same staged rows twice changes nothing the second time.
"""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

# Hard limits stay below RabbitMQ's 30-minute consumer_timeout (late acks).
CRAWL_SOFT_LIMIT = 24 * 60
CRAWL_HARD_LIMIT = 25 * 60
LOAD_SOFT_LIMIT = 15 * 60
LOAD_HARD_LIMIT = 16 * 60


class CrawlFailed(Exception):
    """The crawl ran but failed (recorded on its ScrapeRun)."""


def etl_queue() -> str:
    return settings.CELERY_QUEUE_PREFIX + "etl"


@shared_task(bind=True, name="scraping.tasks.crawl", soft_time_limit=CRAWL_SOFT_LIMIT, time_limit=CRAWL_HARD_LIMIT)
def crawl(self, spider: str, **args):
    """Crawl `spider` with `args` in a child process, then queue the load of what it staged.

    crawl("boxscores")                      -> yesterday's games (US Eastern date)
    crawl("boxscores", date="2018-01-01")   -> that day's games
    crawl("schedule", month="current,next") -> this and next month's schedule
    The ScrapeRun (task_id = this task's id) shows progress; the task state is PROGRESS with
    pages/items/errors while it runs.
    """
    from scraping import services

    run = services.run_for_task(spider, args, task_id=self.request.id)  # BadArguments -> failed run

    def progress(current):
        if self.request.id and not self.request.called_directly:
            self.update_state(
                state="PROGRESS",
                meta={
                    "run_id": current.pk,
                    "status": current.status,
                    "pages": current.pages,
                    "items": current.items,
                    "errors": current.errors,
                },
            )

    try:
        run = services.run_crawl(run, on_progress=progress, timeout=services.CRAWL_TIMEOUT)
    except SoftTimeLimitExceeded:
        services.fail_run(run, "task time limit reached")
        raise
    result = {
        "run_id": run.pk,
        "status": run.status,
        "pages": run.pages,
        "items": run.items,
        "errors": run.errors,
        "load_task_id": None,
    }
    if run.items:
        result["load_task_id"] = load_staged.delay(run.pk).id
        run.__class__.objects.filter(pk=run.pk).update(load_task_id=result["load_task_id"])
    if run.status == run.Status.FAILED:
        raise CrawlFailed(f"scrape run #{run.pk} failed: {run.message}")
    return result


# The load is ETL work: it runs on the etl queue (a task option wins over the app's routes).
@shared_task(
    name="scraping.tasks.load_staged", queue=etl_queue(), soft_time_limit=LOAD_SOFT_LIMIT, time_limit=LOAD_HARD_LIMIT
)
def load_staged(run_id: int):
    """Upsert the staged rows of ScrapeRun `run_id` into the warehouse (etl queue)."""
    from scraping import services
    from scraping.models import ScrapeRun

    run = ScrapeRun.objects.get(pk=run_id)
    return {"run_id": run_id, **services.load_staged(run)}
