"""EtlRun takes the shared job fields (operations.models.Job): error -> message; the old
started_at (set at creation) becomes created_at, and started_at is the start of the work."""

from django.db import migrations, models


def fill(apps, schema_editor):
    EtlRun = apps.get_model("etl", "EtlRun")
    for run in EtlRun.objects.all().only("pk", "created_at", "status", "rows_done", "rows_total").iterator():
        percent = (
            100 if run.status == "succeeded" else (int(100 * run.rows_done / run.rows_total) if run.rows_total else 0)
        )
        EtlRun.objects.filter(pk=run.pk).update(started_at=run.created_at, percent=percent)


class Migration(migrations.Migration):
    dependencies = [("etl", "0005_game_fewer_indexes")]
    operations = [
        migrations.RenameField("etlrun", "error", "message"),
        migrations.RenameField("etlrun", "started_at", "created_at"),
        migrations.AlterModelOptions(
            name="etlrun",
            options={"ordering": ["-created_at"], "verbose_name": "ETL run"},
        ),
        migrations.AddField(
            model_name="etlrun",
            name="percent",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="etlrun",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="etlrun",
            name="step_count",
            field=models.PositiveSmallIntegerField(default=0, help_text="Steps in all (0: not counted in steps)."),
        ),
        migrations.AddField(
            model_name="etlrun",
            name="step_index",
            field=models.PositiveSmallIntegerField(default=0, help_text="1-based index of the current step."),
        ),
        migrations.AlterField(
            model_name="etlrun",
            name="message",
            field=models.TextField(blank=True, help_text="Why the job failed, or a short note."),
        ),
        migrations.AlterField(
            model_name="etlrun",
            name="stage",
            field=models.CharField(blank=True, help_text="What the job is doing (or did last).", max_length=64),
        ),
        migrations.AlterField(
            model_name="etlrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                ],
                db_index=True,
                default="queued",
                max_length=9,
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
