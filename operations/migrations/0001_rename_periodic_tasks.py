"""Housekeeping tasks moved from nbaproject.tasks to operations.tasks: point existing beat
entries at the new names. Frozen strings, no live code: this migration's effect never changes."""

from django.db import migrations

RENAMED = {
    "nbaproject.tasks.cleanup_task_results": "operations.tasks.cleanup_task_results",
    "nbaproject.tasks.ping": "operations.tasks.ping",
}


def rename(apps, schema_editor, mapping=RENAMED):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    changed = 0
    for old, new in mapping.items():
        changed += PeriodicTask.objects.filter(task=old).update(task=new)
    if changed:  # tell a running beat to reload its schedule
        from django.utils import timezone

        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(rename, rename_back)]
