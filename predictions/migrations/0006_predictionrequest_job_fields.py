"""PredictionRequest takes the shared job fields (operations.models.Job): step -> stage (the step
running or last run), error -> message."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("predictions", "0005_cache_table")]
    operations = [
        migrations.RenameField("predictionrequest", "step", "stage"),
        migrations.RenameField("predictionrequest", "error", "message"),
        migrations.AlterField(
            model_name="predictionrequest",
            name="message",
            field=models.TextField(blank=True, help_text="Why the job failed, or a short note."),
        ),
        migrations.AlterField(
            model_name="predictionrequest",
            name="percent",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="predictionrequest",
            name="stage",
            field=models.CharField(blank=True, help_text="What the job is doing (or did last).", max_length=64),
        ),
        migrations.AlterField(
            model_name="predictionrequest",
            name="step_index",
            field=models.PositiveSmallIntegerField(default=0, help_text="1-based index of the current step."),
        ),
    ]
