"""Honest about data (issue 16): each result says how fresh its data was (`data_through`, the date of
the player's last game the features used, and `days_since_last_game`), and each request keeps the
product's today it was asked on (`as_of`), which a request without a date is resolved against."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0007_step_count_from_model_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="prediction",
            name="data_through",
            field=models.DateField(
                blank=True, help_text="Date of the player's last game the features used.", null=True
            ),
        ),
        migrations.AddField(
            model_name="prediction",
            name="days_since_last_game",
            field=models.PositiveIntegerField(
                blank=True, help_text="Days from data_through to the game's date.", null=True
            ),
        ),
        migrations.AddField(
            model_name="predictionrequest",
            name="as_of",
            field=models.DateField(
                blank=True,
                help_text="The product's today when it was asked (AS_OF_DATE, or today in UTC): without a date, the request means the next game on or after it.",
                null=True,
            ),
        ),
    ]
