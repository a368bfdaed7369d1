"""The standard deploy steps are enough: `manage.py migrate` on a fresh database gives a working API
(the throttles' cache table included), without `createcachetable` or `make run`."""

from __future__ import annotations

from nbaproject.testing.commands import fresh_environment, run_manage

API_PROBE = """
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
for url in ("/api/v1/", "/api/v1/teams/"):
    print(url, client.get(url).status_code)
"""


def test_migrate_alone_gives_an_api_that_answers(tmp_path):
    env = fresh_environment(tmp_path, CELERY_QUEUE_PREFIX="test.")  # a new deploy: new SQLite database, no .env
    migrate = run_manage("migrate", "--noinput", "-v0", env=env, timeout=300)
    assert migrate.returncode == 0, migrate.stderr

    probe = run_manage("shell", "-v0", "-c", API_PROBE, env=env)

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["/api/v1/", "200", "/api/v1/teams/", "200"], probe.stdout + probe.stderr
    assert "nbaproject_cache" not in probe.stderr
