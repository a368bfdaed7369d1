"""The standard deploy steps are enough: `manage.py migrate` on a fresh database gives a working API
(the throttles' cache table included), without `createcachetable` or `make run`."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

API_PROBE = """
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
for url in ("/api/v1/", "/api/v1/teams/"):
    print(url, client.get(url).status_code)
"""


def fresh_env(var_dir) -> dict[str, str]:
    """The environment of a new deploy: an empty VAR_DIR (so a new SQLite database), no .env."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"}}
    env.update(
        ENV_FILE=os.devnull,
        DEBUG="1",
        VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="nbaproject.settings",
        CELERY_QUEUE_PREFIX="test.",
    )
    return env


def test_migrate_alone_gives_an_api_that_answers(tmp_path):
    env = fresh_env(tmp_path)
    manage = [sys.executable, "manage.py"]
    migrate = subprocess.run(
        [*manage, "migrate", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr

    probe = subprocess.run(
        [*manage, "shell", "-v0", "-c", API_PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["/api/v1/", "200", "/api/v1/teams/", "200"], probe.stdout + probe.stderr
    assert "nbaproject_cache" not in probe.stderr
