"""Scheduled scrapes in django-celery-beat: created disabled, idempotent, staff edits kept."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

NAMES = ["Scrape this and next month's schedule", "Scrape yesterday's box scores"]


def setup_schedules() -> str:
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_setup_schedules_creates_disabled_utc_crawls_once():
    PeriodicTask.objects.filter(name__in=NAMES).delete()  # the data migration made them already
    assert "created (disabled)" in setup_schedules()
    tasks = {task.name: task for task in PeriodicTask.objects.filter(name__in=NAMES)}
    assert sorted(tasks) == NAMES
    for task in tasks.values():
        assert task.task == "scraping.tasks.crawl" and task.enabled is False
        assert str(task.crontab.timezone) == "UTC" and task.description
    box = tasks["Scrape yesterday's box scores"]
    assert json.loads(box.kwargs) == {"spider": "boxscores"}  # the task works out yesterday itself
    assert (box.crontab.minute, box.crontab.hour, box.crontab.day_of_week) == ("0", "10", "*")
    schedule = tasks["Scrape this and next month's schedule"]
    assert json.loads(schedule.kwargs) == {"spider": "schedule", "month": "current,next"}

    box.enabled, box.crontab.hour = True, "11"
    box.crontab.save()
    box.save()
    output = setup_schedules().splitlines()
    assert all(any(line.startswith(f"{name}: already exists") for line in output) for name in NAMES)
    box.refresh_from_db()
    assert box.enabled is True and box.crontab.hour == "11"
    assert PeriodicTask.objects.filter(name__in=NAMES).count() == 2
