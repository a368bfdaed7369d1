"""The command lines of the project's child processes (`celery -A nbaproject ...`, `manage.py ...`),
written once for the test harness and the benches. Imports no Django: a bench builds its commands
before it sets Django up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def celery_command(*args: str) -> list[str]:
    """`celery -A nbaproject <args>` with this interpreter."""
    return [sys.executable, "-m", "celery", "-A", "nbaproject", *args]


def worker_command(
    queues: Iterable[str], concurrency: int, pool: str, name: str, loglevel: str = "info", extra_args=()
) -> list[str]:
    """`celery worker` on `queues` (their broker-side names), named `name`, without the start-up
    chatter between workers (mingle, gossip)."""
    return celery_command(
        "worker",
        "-Q",
        ",".join(queues),
        "-c",
        str(concurrency),
        "-P",
        pool,
        "-n",
        name,
        "-l",
        loglevel,
        "--without-mingle",
        "--without-gossip",
        *extra_args,
    )


def fresh_environment(var_dir, **overrides) -> dict[str, str]:
    """The environment of a new deploy: an empty VAR_DIR (so a new SQLite database and the embedded
    broker), no .env, DEBUG on; `overrides` on top."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"}}
    env.update(ENV_FILE=os.devnull, DEBUG="1", VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="nbaproject.settings")
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def run_manage(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`python manage.py <args>` in a child process with `env`, its output captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
