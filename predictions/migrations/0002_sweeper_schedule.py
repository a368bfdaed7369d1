"""The beat entry that runs predictions.tasks.sweep_stuck_requests every 30 s."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    from predictions.pipeline import ensure_sweeper_schedule

    ensure_sweeper_schedule(
        apps.get_model("django_celery_beat", "PeriodicTask"), apps.get_model("django_celery_beat", "IntervalSchedule")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
