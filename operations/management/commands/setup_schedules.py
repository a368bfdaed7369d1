"""manage.py setup_schedules: create every beat schedule of the project in django-celery-beat."""

from django.core.management.base import BaseCommand

from operations.schedules import ensure_all_schedules


class Command(BaseCommand):
    help = (
        "Create the project's periodic tasks: task-result cleanup (enabled), loading new game-log files, "
        "weekly retraining, yesterday's box scores and this/next month's schedule scrapes (disabled: staff "
        "enable them in admin), and the prediction sweeper. Idempotent: existing entries are left as they are."
    )

    def handle(self, *args, **options):
        from django_celery_beat.models import PeriodicTask

        for name, created in ensure_all_schedules():
            enabled = PeriodicTask.objects.filter(name=name).values_list("enabled", flat=True).first()
            state = "created" if created else "already exists, left as it is"
            self.stdout.write(f"{name}: {state} ({'enabled' if enabled else 'disabled'})")
