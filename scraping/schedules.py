"""The scrapes staff can schedule in admin (django-celery-beat), created disabled.

`ensure_schedules()` is idempotent: it creates what is missing and leaves what staff changed
(enabled, crontab, arguments) alone. Used by `manage.py setup_schedules` and a data migration.
"""

from __future__ import annotations

SCHEDULES = [
    {
        "name": "Scrape yesterday's box scores",
        "task": "scraping.tasks.crawl",
        "kwargs": {"spider": "boxscores"},
        # 10:00 UTC = 5-6 am US Eastern: every game of the previous US evening has ended.
        "crontab": {"minute": "0", "hour": "10", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        "description": (
            "Every morning: crawls basketball-reference's box scores of yesterday's games (US Eastern date; "
            "the task works the date out itself) and loads games and player lines into the warehouse. "
            'Each run appears under Scraping > Scrape runs. Add "date": "YYYY-MM-DD" to the keyword '
            "arguments to re-scrape a given day."
        ),
    },
    {
        "name": "Scrape this and next month's schedule",
        "task": "scraping.tasks.crawl",
        "kwargs": {"spider": "schedule", "month": "current,next"},
        "crontab": {"minute": "30", "hour": "9", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        "description": (
            "Daily: crawls this and next month's schedule pages, so upcoming games exist as scheduled games "
            "(the prediction API needs them) and finished ones get their final score. Months without NBA "
            "games (August, September, usually July) are skipped."
        ),
    },
]


def ensure_schedules(periodic_task_model=None, crontab_model=None, periodic_tasks_model=None) -> list[tuple[str, bool]]:
    """Create the scheduled scrapes that do not exist yet (disabled); returns [(name, created)]."""
    from operations.schedules import ensure_periodic_tasks

    return ensure_periodic_tasks(SCHEDULES, periodic_task_model, crontab_model, periodic_tasks_model)
