"""The Celery app. Its configuration lives in Django settings (the CELERY_* names),
including the queues and the routing of each app's tasks."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nbaproject.settings")
os.environ.setdefault("KERAS_BACKEND", "jax")

app = Celery("nbaproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queue_name(name: str) -> str:
    """The broker-side name of one of settings.QUEUE_NAMES (with the configured prefix)."""
    from django.conf import settings

    return settings.CELERY_QUEUE_PREFIX + name
