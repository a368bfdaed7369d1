"""Run a real Celery worker as a child process of the test session."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from nbaproject.testing.commands import celery_command, worker_command

BASE_DIR = Path(settings.BASE_DIR)


def database_url_for_current_connection() -> str:
    """The DATABASE_URL of the database the tests use right now (the test database)."""
    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    return f"postgres://{cfg['USER']}{password}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


def worker_environment(**overrides) -> dict[str, str]:
    """Environment for a child process that must see the same database and broker as the tests."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="nbaproject.settings",
        DATABASE_URL=database_url_for_current_connection(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_QUEUE_PREFIX=settings.CELERY_QUEUE_PREFIX,
        VAR_DIR=str(settings.VAR_DIR),
        MODEL_DIR=str(settings.MODEL_DIR),
        DEBUG="1",
        PYTHONUNBUFFERED="1",
        C_FORCE_ROOT="1",
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


class ProcessGroup:
    """A child process started in a session of its own (`start_new_session=True`), so stopping it
    reaches its children too: SIGTERM to the group, SIGKILL after `stop_timeout`. A context manager
    around `start()` and `stop()`."""

    process: subprocess.Popen | None = None
    stop_timeout: float = 20

    def start(self):
        raise NotImplementedError

    def stop(self, timeout: float | None = None) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        timeout = self.stop_timeout if timeout is None else timeout
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class CeleryProcess(ProcessGroup):
    """A `celery` child process; `start()` returns once its log shows `ready_marker`."""

    ready_marker = ""

    def __init__(self, **env_overrides):
        self.env = worker_environment(**env_overrides)
        self.log_path = Path(tempfile.mkstemp(prefix=f"celery-{type(self).__name__}-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 60) -> CeleryProcess:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(), cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{type(self).__name__} exited with {self.process.returncode}:\n{self.log()}")
            if self.ready_marker in self.log():
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{type(self).__name__} not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        """Pids of the children of the main process (a worker's pool processes)."""
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]


class WorkerProcess(CeleryProcess):
    """`celery worker` on the given queues (all by default)."""

    ready_marker = " ready."

    def __init__(self, queues=None, concurrency=1, pool="prefork", name=None, extra_args=(), **env_overrides):
        self.name = name or f"test{os.getpid()}-{int(time.time() * 1000) % 100000}"
        # libpq names every connection of the worker's processes after it (pg_stat_activity.application_name).
        env_overrides.setdefault("PGAPPNAME", self.application_name)
        super().__init__(**env_overrides)
        # Its queues' broker-side names follow the prefix of its own environment (a test may give
        # a worker queues of its own with CELERY_QUEUE_PREFIX).
        prefix = self.env["CELERY_QUEUE_PREFIX"]
        self.queues = [prefix + name for name in (queues or settings.QUEUE_NAMES)]
        self.concurrency = concurrency
        self.pool = pool
        self.extra_args = list(extra_args)

    @property
    def hostname(self) -> str:
        return f"{self.name}@{os.uname().nodename}"

    @property
    def application_name(self) -> str:
        return f"celery {self.name}"[:63]

    def database_sessions(self) -> list[dict]:
        """The PostgreSQL sessions this worker's processes hold open now (empty on SQLite)."""
        if connection.vendor != "postgresql":
            return []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, state, backend_start, left(query, 200) FROM pg_stat_activity WHERE application_name = %s",
                [self.application_name],
            )
            return [
                {"pid": pid, "state": state, "backend_start": start.isoformat(), "last_query": query}
                for pid, state, start, query in cursor.fetchall()
            ]

    def command(self) -> list[str]:
        return worker_command(self.queues, self.concurrency, self.pool, f"{self.name}@%h", "info", self.extra_args)


class BeatProcess(CeleryProcess):
    """`celery beat` with the project's scheduler, ticking at least every `max_interval` seconds."""

    ready_marker = "beat: Starting..."

    def __init__(self, max_interval: float = 1, **env_overrides):
        super().__init__(**env_overrides)
        self.max_interval = max_interval
        self.pidfile = Path(tempfile.mkdtemp(prefix="celerybeat-")) / "beat.pid"

    def command(self) -> list[str]:
        return celery_command(
            "beat", "-l", "info", "--max-interval", str(self.max_interval), "--pidfile", str(self.pidfile)
        )
