"""What the two sweepers share (prediction requests: predictions.pipeline; slates:
predictions.slate_services): the pass over the stuck rows, each locked in its own transaction and
published again after the commit, and their beat entry every few seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models, transaction

GAVE_UP = object()  # returned by a sweep's `under_lock`: the row was failed instead of published again


def sweep(
    model: type[models.Model],
    stuck: models.Q,
    limit: int,
    under_lock: Callable[[Any], Any],
    publish: Callable[[Any, Any], bool],
) -> tuple[list, list, list]:
    """Each row matching `stuck`, oldest first (at most `limit`), in a transaction holding its row
    lock (skipped when it moved on meanwhile or another sweeper holds it): `under_lock(row)` fails
    it (returns GAVE_UP) or makes it ready to run again and returns what to publish; after the
    commit, `publish(row, what)` publishes it (False: the broker did not take it). Safe to run from
    several places at once. Returns the pks (published, failed, not published)."""
    candidates = list(model.objects.filter(stuck).order_by("created_at").values_list("pk", flat=True)[:limit])
    published, failed, not_published = [], [], []
    for pk in candidates:
        with transaction.atomic():
            row = model.objects.select_for_update(skip_locked=True).filter(stuck, pk=pk).first()
            if row is None:  # it moved on meanwhile, or another sweeper holds it
                continue
            what = under_lock(row)
        if what is GAVE_UP:
            failed.append(pk)
        elif publish(row, what):
            published.append(pk)
        else:
            not_published.append(pk)
    return published, failed, not_published


def ensure_every(
    name: str, task: str, seconds: int, description: str, periodic_task_model=None, interval_model=None
) -> bool:
    """The beat entry `name` running `task` every `seconds` s, created or brought up to date
    (idempotent); True when it was created. Takes historical models when run from a migration."""
    if periodic_task_model is None:
        from django_celery_beat.models import IntervalSchedule as interval_model
        from django_celery_beat.models import PeriodicTask as periodic_task_model
    interval, _ = interval_model.objects.get_or_create(every=seconds, period="seconds")
    _, created = periodic_task_model.objects.update_or_create(
        name=name,
        defaults={
            "task": task,
            "interval": interval,
            "enabled": True,
            "expire_seconds": seconds * 2,
            "description": description,
        },
    )
    return created
