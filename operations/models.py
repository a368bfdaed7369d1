"""The one job model every app's job rows share (abstract: each app keeps its own table).

A job is a unit of tracked work staff and users follow: an ETL load, a scrape, a training run,
a prediction request. Each has the same lifecycle and progress fields under the same names, so the
Pipeline page, the TaskResult admin and the progress API (operations.progress) treat them alike.
A new job kind is a model inheriting `Job`, its tasks, and one `register_job_kind` line in
`<app>/jobs.py`.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models


def task_id_field(help_text: str = "Celery task id when run as a task (TaskResult.task_id).", **options):
    """A field holding one Celery task id (a TaskResult's), empty when the work ran outside Celery."""
    return models.CharField(max_length=255, null=True, blank=True, help_text=help_text, **options)


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    TERMINAL: ClassVar[tuple[str, ...]] = (Status.SUCCEEDED, Status.FAILED)
    # {label: field} of the fields holding Celery task ids (TaskResult.task_id): by default the one
    # task in `task_id`. A JSONField maps labels to ids itself (a prediction's task id per step): name
    # it as {"*": field}, and drop `task_id` (`task_id = None`) when the job has no single task.
    TASK_FIELDS: ClassVar[dict[str, str]] = {"task": "task_id"}

    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=64, blank=True, help_text="What the job is doing (or did last).")
    step_index = models.PositiveSmallIntegerField(default=0, help_text="1-based index of the current step.")
    step_count = models.PositiveSmallIntegerField(default=0, help_text="Steps in all (0: not counted in steps).")
    percent = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True, help_text="Why the job failed, or a short note.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    task_id = task_id_field(unique=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def task_pairs(self) -> list[tuple[str, str]]:
        """[(label, task id)] of this job's Celery tasks, the ones it has."""
        pairs = []
        for label, field in self.TASK_FIELDS.items():
            value = getattr(self, field)
            if label == "*":
                pairs.extend((key, task_id) for key, task_id in (value or {}).items() if task_id)
            elif value:
                pairs.append((label, value))
        return pairs

    @classmethod
    def task_query(cls, task_id: str, keys: list[str] | None = None) -> models.Q:
        """Rows this task belongs to. A JSON task-id field is searched under `keys` (its labels)."""
        query = models.Q(pk__in=[])
        for label, field in cls.TASK_FIELDS.items():
            if label == "*":
                for key in keys or ():
                    query |= models.Q(**{f"{field}__{key}": task_id})
            else:
                query |= models.Q(**{field: task_id})
        return query

    # The progress API, as methods (operations.progress holds the functions).
    def report(self, **changes) -> None:
        from operations import progress

        progress.report(self, **changes)

    def start(self, **changes) -> None:
        from operations import progress

        progress.start(self, **changes)

    def succeed(self, **changes) -> None:
        from operations import progress

        progress.succeed(self, **changes)

    def fail(self, message: str, **changes) -> None:
        from operations import progress

        progress.fail(self, message, **changes)
