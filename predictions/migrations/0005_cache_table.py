"""The database cache's table (settings.CACHES, the API throttles' shared state), created by
`migrate` so that a deploy running only `manage.py migrate` does not answer 500 on every API
request. `createcachetable` skips a table that exists, so databases set up before keep theirs."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    atomic = False  # createcachetable opens its own transaction

    dependencies = [
        ("predictions", "0004_step_starts"),
    ]

    operations = [
        migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=False),
    ]
