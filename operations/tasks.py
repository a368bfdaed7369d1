"""Housekeeping tasks that belong to no single app, and the retry policy shared by
tasks that talk to the database."""

from __future__ import annotations

import socket
import time

from celery import shared_task
from django.db import connection
from django.db.utils import InterfaceError, OperationalError

# A task that loses its database connection (PostgreSQL restart, pg_terminate_backend,
# a failover) is retried with backoff on a fresh connection instead of failing.
DATABASE_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(bind=True, name="operations.tasks.ping", **DATABASE_RETRY)
def ping(self, payload=None, hold_seconds: float = 0):
    """Round-trip check: proves a worker took the task and can reach the database.

    `hold_seconds` keeps the task busy between two queries, for fault drills (a killed
    connection, a time limit, a killed worker)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if hold_seconds:
        time.sleep(hold_seconds)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        database_ok = cursor.fetchone()[0] == 1
    return {
        "payload": payload,
        "worker": socket.gethostname(),
        "database": database_ok,
        "vendor": connection.vendor,
        "retries": self.request.retries,
    }


@shared_task(name="operations.tasks.cleanup_task_results", soft_time_limit=600, time_limit=660)
def cleanup_task_results(older_than_days: int = 30, batch_size: int = 5000) -> dict:
    """Delete finished TaskResult rows older than N days, in batches so no long lock is held."""
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_results.models import TaskResult

    cutoff = timezone.now() - timedelta(days=older_than_days)
    finished = TaskResult.objects.filter(date_done__lt=cutoff, status__in=["SUCCESS", "FAILURE", "REVOKED"])
    deleted = 0
    while True:
        ids = list(finished.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return {"deleted": deleted, "cutoff": cutoff.isoformat()}
        deleted += TaskResult.objects.filter(pk__in=ids).delete()[0]
