"""manage.py setup_schedules: create the scheduled scrapes (disabled) in django-celery-beat."""
from django.core.management.base import BaseCommand

from scraping.schedules import ensure_schedules


class Command(BaseCommand):
    help = ("Create the periodic scrapes (yesterday's box scores every morning, this and next month's schedule "
            "daily) as disabled django-celery-beat tasks; staff enable them in admin. Idempotent.")

    def handle(self, *args, **options):
        for name, created in ensure_schedules():
            state = "created (disabled)" if created else "already exists, left as it is"
            self.stdout.write(f"{name}: {state}")
