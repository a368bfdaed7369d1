"""A beat scheduler that is safe to start twice.

Two `celery beat` processes on one schedule would send every periodic task twice. This
DatabaseScheduler only sends while it holds a lock: a PostgreSQL advisory lock on a
dedicated connection (or an exclusive file lock on the embedded SQLite default). A second
beat stands by, checking every few seconds, and takes over when the first one dies (its
lock goes with its connection). `beat_sync_every = 1` persists each run's `last_run_at`
at once, so the beat taking over does not re-send what was just sent.
"""

from __future__ import annotations

import datetime
import fcntl
import logging

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6E62616265617400  # "nbabeat"
STANDBY_RECHECK_SECONDS = 2.0


class PostgresLock:
    """A session-level advisory lock on its own connection (not Django's, which beat recycles)."""

    def __init__(self, database: dict):
        self.conninfo = {
            "host": database.get("HOST") or "127.0.0.1",
            "port": database.get("PORT") or 5432,
            "dbname": database["NAME"],
            "user": database.get("USER") or None,
            "password": database.get("PASSWORD") or None,
            "connect_timeout": 5,
        }
        self.connection = None
        self.held = False

    def acquire_or_keep(self) -> bool:
        import psycopg

        try:
            if self.connection is None or self.connection.closed:
                self.held = False
                self.connection = psycopg.connect(
                    autocommit=True, **{k: v for k, v in self.conninfo.items() if v is not None}
                )
            if self.held:
                self.connection.execute("SELECT 1")
            else:
                self.held = self.connection.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]).fetchone()[
                    0
                ]
        except psycopg.Error as exc:
            logger.warning("beat lock: database unavailable (%s); not sending tasks", exc)
            self.close()
        return self.held

    def close(self):
        self.held = False
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:
                pass
            self.connection = None


class FileLock:
    """An exclusive lock on a file under VAR_DIR, for the embedded SQLite default."""

    def __init__(self, path):
        self.handle = open(path, "a+")
        self.held = False

    def acquire_or_keep(self) -> bool:
        if not self.held:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
            except BlockingIOError:
                pass
        return self.held

    def close(self):
        self.handle.close()
        self.held = False


def beat_lock():
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        return PostgresLock(database)
    return FileLock(settings.VAR_DIR / "beat.lock")


class SingleBeatDatabaseScheduler(DatabaseScheduler):
    """DatabaseScheduler that sends tasks only while it holds the beat lock."""

    def __init__(self, *args, **kwargs):
        self.lock = beat_lock()
        self.leading = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if not self.lock.acquire_or_keep():
            if self.leading:
                logger.warning("beat lock lost: standing by, sending nothing")
            elif not getattr(self, "_announced_standby", False):
                logger.warning("another beat holds the lock: standing by, sending nothing")
                self._announced_standby = True
            self.leading = False
            return min(self.max_interval, STANDBY_RECHECK_SECONDS)
        if not self.leading:
            logger.info("beat lock acquired: this beat sends periodic tasks")
            self.leading = True
            self._last_full_sync = datetime.datetime.min  # re-read last_run_at written by the previous leader
        return super().tick(*args, **kwargs)

    def close(self):
        try:
            super().close()
        finally:
            self.lock.close()
