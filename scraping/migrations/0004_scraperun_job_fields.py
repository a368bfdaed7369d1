"""ScrapeRun takes the shared job fields (operations.models.Job): stage, step i of n, percent."""

from django.db import migrations, models


def fill(apps, schema_editor):
    """A finished run showed 100 % (the crawl has no measured progress while it runs)."""
    ScrapeRun = apps.get_model("scraping", "ScrapeRun")
    ScrapeRun.objects.filter(status__in=["succeeded", "failed"]).update(percent=100)


class Migration(migrations.Migration):
    dependencies = [("scraping", "0003_scraperun_load_task_id")]
    operations = [
        migrations.AddField(
            model_name="scraperun",
            name="percent",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="scraperun",
            name="stage",
            field=models.CharField(blank=True, help_text="What the job is doing (or did last).", max_length=64),
        ),
        migrations.AddField(
            model_name="scraperun",
            name="step_count",
            field=models.PositiveSmallIntegerField(default=0, help_text="Steps in all (0: not counted in steps)."),
        ),
        migrations.AddField(
            model_name="scraperun",
            name="step_index",
            field=models.PositiveSmallIntegerField(default=0, help_text="1-based index of the current step."),
        ),
        migrations.AlterField(
            model_name="scraperun",
            name="message",
            field=models.TextField(blank=True, help_text="Why the job failed, or a short note."),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
