"""Create the scheduled scrapes (disabled) so staff find them in admin right after migrating."""
from django.db import migrations


def create_schedules(apps, schema_editor):
    from scraping.schedules import ensure_schedules

    ensure_schedules(apps.get_model("django_celery_beat", "PeriodicTask"),
                     apps.get_model("django_celery_beat", "CrontabSchedule"),
                     apps.get_model("django_celery_beat", "PeriodicTasks"))


class Migration(migrations.Migration):
    dependencies = [
        ("scraping", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
