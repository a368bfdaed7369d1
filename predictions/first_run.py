"""`make run`'s first start: quick models answer at once, the full ones are trained once on the batch
worker (`manage.py bootstrap` calls this)."""

from __future__ import annotations

import uuid

from django.db import transaction


def queue_full_training_once():
    """Queue one full training run (task mlmodels.tasks.train, ml queue) unless one is already queued,
    running or has succeeded (a failed one is tried again). Returns (run, queued_now). The run row is
    written first under the task's id, so a second call sees it before the worker starts, and the
    task reuses that row (mlmodels.runs.start_run)."""
    from etl.selectors import loaded_seasons
    from mlmodels.models import TrainingRun
    from mlmodels.tasks import train

    with transaction.atomic():
        pending = (
            TrainingRun.objects.select_for_update()
            .filter(
                kind="train",
                quick=False,
                status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING, TrainingRun.Status.SUCCEEDED],
            )
            .order_by("-created_at")
            .first()
        )
        if pending is not None:
            return pending, False
        run = TrainingRun.objects.create(
            kind="train",
            quick=False,
            task_id=str(uuid.uuid4()),
            stage="queued",
            status=TrainingRun.Status.QUEUED,
            seasons=loaded_seasons(),
        )
    try:
        train.apply_async(kwargs={"quick": False}, task_id=run.task_id)
    except Exception as exc:
        run.fail(f"could not queue the task: {exc}")
        raise
    return run, True
