"""A slate's last sign of life and its sweeps (the slate sweeper), and the sweeper's beat entry."""

from django.db import migrations, models


def create_schedule(apps, schema_editor):
    from predictions.slate_services import ensure_sweeper_schedule

    ensure_sweeper_schedule(
        apps.get_model("django_celery_beat", "PeriodicTask"), apps.get_model("django_celery_beat", "IntervalSchedule")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0011_dailyrun"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="slate",
            name="progressed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Last sign of life (queued, planned, a game done, swept): the sweeper takes over a slate silent for SLATES_STUCK_TIMEOUT s.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="slate",
            name="sweeps",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Times the sweeper re-published its lost work."
            ),
        ),
        migrations.RunPython(create_schedule, migrations.RunPython.noop),
    ]
