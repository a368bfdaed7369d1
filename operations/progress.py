"""The one way a job reports progress: tasks, commands and threads all call these.

Each call is one UPDATE of the given fields on the job's row (no read, no transaction), so it is
safe from a helper thread with its own connection (the ETL's reporter) and cheap enough to call
per step; the instance is updated too. Extra keyword arguments are the kind's own counters
(rows_done, epoch, pages...). A job that needs more in the same statement (a prediction's step
also appends its event) writes its own statement with the same column names.
"""

from __future__ import annotations

from django.utils import timezone

from operations import logs

STAGE_MAX = 64


def _write(job, fields: dict) -> None:
    type(job)._default_manager.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def report(
    job,
    *,
    stage: str | None = None,
    step: tuple[int, int] | None = None,
    percent: float | None = None,
    message: str | None = None,
    **counters,
) -> None:
    """Record where a job is: its stage, step i of n, percent (0-100) and/or a message."""
    fields = dict(counters)
    if stage is not None:
        fields["stage"] = stage[:STAGE_MAX]
    if step is not None:
        fields["step_index"], fields["step_count"] = step
    if percent is not None:
        fields["percent"] = max(0, min(100, int(percent)))
    if message is not None:
        fields["message"] = message
    if fields:
        _write(job, fields)


def start(job, **changes) -> None:
    """The job is running now (its start time is kept when it has one, unless `started_at` is given).
    From here on, this thread's (or task's) log lines name the job (operations.logs)."""
    logs.bind(kind_of(job), job.pk)
    changes.setdefault("started_at", job.started_at or timezone.now())
    report(job, status=job.Status.RUNNING, finished_at=None, **changes)


def succeed(job, **changes) -> None:
    changes.setdefault("percent", 100)
    report(job, status=job.Status.SUCCEEDED, finished_at=timezone.now(), **changes)


def fail(job, message: str, **changes) -> None:
    report(job, status=job.Status.FAILED, finished_at=timezone.now(), message=message, **changes)


def kind_of(job) -> str:
    """The job's kind as the Pipeline page names it ("etl", "training"...), or its model's name."""
    from operations.registry import job_kinds

    for kind in job_kinds():
        if isinstance(job, kind.model):
            return kind.kind_of(job)
    return job._meta.model_name
