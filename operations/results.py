"""The `django-db` result backend, with two fixes this project relies on.

- It retries after *any* lost database connection: the stock backend only retries
  psycopg2's InterfaceError, while psycopg 3 reports a terminated backend as
  OperationalError (e.g. after `pg_terminate_backend` or a PostgreSQL restart).
- It stores the queue a task came from in `TaskResult.meta["queue"]`, so the staff
  dashboard can show it (the stock backend keeps task name, args and worker only).
"""

from __future__ import annotations

from django.db import connections
from django.db.utils import InterfaceError, OperationalError
from django_celery_results.backends.database import DatabaseBackend


class ResultBackend(DatabaseBackend):
    def exception_safe_to_retry(self, exc):
        if isinstance(exc, (InterfaceError, OperationalError)):
            for conn in connections.all(initialized_only=True):
                conn.close()
            return True
        return False

    def _get_meta_from_request(self, request=None):
        meta = dict(super()._get_meta_from_request(request) or {})
        delivery_info = getattr(request, "delivery_info", None) or {}
        queue = delivery_info.get("routing_key")
        if queue:
            meta["queue"] = queue
        return meta
