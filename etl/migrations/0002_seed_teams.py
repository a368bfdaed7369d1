"""Seed the 30 franchises and their aliases (idempotent)."""
from django.db import migrations


def seed(apps, schema_editor):
    from etl.teams import seed_teams

    seed_teams(apps.get_model("etl", "Team"), apps.get_model("etl", "TeamAlias"))


class Migration(migrations.Migration):
    dependencies = [("etl", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
