"""Create the scheduled scrapes (disabled) so staff find them in admin right after migrating.

The schedules are frozen here as they were when this migration was written (later changes are
made by `manage.py setup_schedules` / `bootstrap`, which create what is missing), so the
migration does the same thing whatever scraping.schedules becomes. Existing tasks are left alone.
"""

import json

from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    {
        "name": "Scrape yesterday's box scores",
        "task": "scraping.tasks.crawl",
        "kwargs": {"spider": "boxscores"},
        "crontab": {"minute": "0", "hour": "10", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        "description": "Every morning: crawls basketball-reference's box scores of yesterday's games (US Eastern "
        "date; the task works the date out itself) and loads games and player lines into the "
        'warehouse. Each run appears under Scraping > Scrape runs. Add "date": "YYYY-MM-DD" to the '
        "keyword arguments to re-scrape a given day.",
    },
    {
        "name": "Scrape this and next month's schedule",
        "task": "scraping.tasks.crawl",
        "kwargs": {"spider": "schedule", "month": "current,next"},
        "crontab": {"minute": "30", "hour": "9", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        "description": "Daily: crawls this and next month's schedule pages, so upcoming games exist as scheduled "
        "games (the prediction API needs them) and finished ones get their final score. Months "
        "without NBA games (August, September, usually July) are skipped.",
    },
]


def create_schedules(apps, schema_editor):
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab_schedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    created = False
    for spec in SCHEDULES:
        if periodic_task.objects.filter(name=spec["name"]).exists():
            continue
        crontab = crontab_schedule.objects.filter(timezone="UTC", **spec["crontab"]).first()
        if crontab is None:
            crontab = crontab_schedule.objects.create(timezone="UTC", **spec["crontab"])
        periodic_task.objects.create(
            name=spec["name"],
            task=spec["task"],
            crontab=crontab,
            kwargs=json.dumps(spec["kwargs"]),
            enabled=False,
            description=spec["description"],
        )
        created = True
    if created:  # tell a running beat to reload its schedule
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("scraping", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
