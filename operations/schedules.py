"""Beat schedules (django-celery-beat `PeriodicTask`s) staff find in admin, created idempotently.

Each app declares its schedules as specs in its jobs.py; `ensure_periodic_tasks` creates the missing ones and
leaves existing ones alone, so what staff changed (enabled, crontab, arguments) survives every
`manage.py setup_schedules` / `bootstrap`. Crontabs are in UTC like beat itself.
"""

from __future__ import annotations

import json

DAILY = {"day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}

# Housekeeping. Each app registers its own schedules in its jobs.py (operations.registry).
OPERATIONS_SCHEDULES = [
    {
        "name": "Clean up old task results",
        "task": "operations.tasks.cleanup_task_results",
        "kwargs": {"older_than_days": 30},
        "crontab": {"minute": "15", "hour": "3", **DAILY},
        "enabled": True,
        "description": (
            "Daily: deletes finished TaskResult rows older than 30 days, in batches of 5,000, so the "
            "results table stays small. Prediction requests, scrape, load and training runs are kept."
        ),
    },
]


def ensure_periodic_tasks(
    specs: list[dict], periodic_task_model=None, crontab_model=None, periodic_tasks_model=None
) -> list[tuple[str, bool]]:
    """Create the periodic tasks of `specs` that do not exist yet (disabled unless the spec says
    enabled); returns [(name, created)]. Takes historical models when run from a migration."""
    if periodic_task_model is None:
        from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

        periodic_task_model, crontab_model, periodic_tasks_model = PeriodicTask, CrontabSchedule, PeriodicTasks
    results = []
    for spec in specs:
        if periodic_task_model.objects.filter(name=spec["name"]).exists():
            results.append((spec["name"], False))
            continue
        crontab = crontab_model.objects.filter(timezone="UTC", **spec["crontab"]).first()
        if crontab is None:
            crontab = crontab_model.objects.create(timezone="UTC", **spec["crontab"])
        periodic_task_model.objects.create(
            name=spec["name"],
            task=spec["task"],
            crontab=crontab,
            kwargs=json.dumps(spec["kwargs"]),
            enabled=spec.get("enabled", False),
            description=spec["description"],
        )
        results.append((spec["name"], True))
    if periodic_tasks_model is not None and any(created for _, created in results):
        _mark_changed(periodic_tasks_model)
    return results


def _mark_changed(periodic_tasks_model) -> None:
    """Tell a running beat to reload its schedule (what PeriodicTask.save() does)."""
    from django.utils import timezone

    periodic_tasks_model.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def ensure_all_schedules() -> list[tuple[str, bool]]:
    """Every schedule the apps registered (operations.registry): the crontab specs, created when
    missing, then each app's own setup (the prediction sweeper's interval entry)."""
    from operations import registry

    results = ensure_periodic_tasks(registry.schedules())
    for setup in registry.schedule_setups():
        results.extend(setup())
    return results
