"""TrainingRun takes the shared job fields (operations.models.Job): error -> message, finished ->
finished_at; the old `started` (set at creation) becomes created_at, and started_at is the start of
the work."""

from django.db import migrations, models


def fill(apps, schema_editor):
    TrainingRun = apps.get_model("mlmodels", "TrainingRun")
    TrainingRun.objects.update(started_at=models.F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("mlmodels", "0002_version_run_without_constraint")]
    operations = [
        migrations.RenameField("trainingrun", "error", "message"),
        migrations.RenameField("trainingrun", "finished", "finished_at"),
        migrations.RenameField("trainingrun", "started", "created_at"),
        migrations.AlterModelOptions(
            name="trainingrun",
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="step_count",
            field=models.PositiveSmallIntegerField(default=0, help_text="Steps in all (0: not counted in steps)."),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="step_index",
            field=models.PositiveSmallIntegerField(default=0, help_text="1-based index of the current step."),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="message",
            field=models.TextField(blank=True, help_text="Why the job failed, or a short note."),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="stage",
            field=models.CharField(blank=True, help_text="What the job is doing (or did last).", max_length=64),
        ),
        migrations.AlterField(
            model_name="trainingrun",
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
