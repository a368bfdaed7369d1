"""The daily pipeline's job row: yesterday's box scores -> load -> today's slate, one row per day.

`DailyRun` (operations.models.Job) is what staff follow on the Pipeline page: step i of 3 (crawl,
load, slate), the reason when a step failed, and links to the scrape run, the slate and the
Celery task of every step. One row per day (`date` is unique): running the same day again reuses
its row (predictions.daily_services.submit_daily).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from operations.models import Job
from predictions.fields import json_object, link

STEPS = ("crawl", "load", "slate")


class DailyRun(Job):
    # {step: Celery task id}: "start" (the scheduled or admin task that submitted the run), then one per step.
    TASK_FIELDS = {"*": "task_ids"}
    TASK_KEYS = ("start", *STEPS)
    task_id = None

    date = models.DateField(
        unique=True,
        help_text="The product's today: the slate's day. The box scores crawled are those of the day before.",
    )
    token = models.CharField(
        max_length=36, blank=True, help_text="The current attempt's token: a step of an older attempt stops quietly."
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times this day was run.")
    crawl_args = json_object("Extra spider arguments (base_url of a mirror).")
    task_ids = json_object("Celery task id of each step.")
    scrape_run = link("scraping.ScrapeRun", "The crawl of yesterday's box scores.")
    slate = link("predictions.Slate", "Today's slate, computed in the last step.")
    summary = json_object("What each step did: pages and games crawled, warehouse counts, slate size.")
    requested_by = link(settings.AUTH_USER_MODEL)

    class Meta:
        ordering = ["-date"]

    def task_pairs(self) -> list[tuple[str, str]]:
        """The steps' task ids in the order they run (a JSON column keeps no key order)."""
        ids = self.task_ids or {}
        return [(key, ids[key]) for key in self.TASK_KEYS if ids.get(key)]

    def __str__(self):
        return f"daily run of {self.date} ({self.status})"

    @property
    def box_score_date(self):
        import datetime as dt

        return self.date - dt.timedelta(days=1)
