"""The operations app: the staff Pipeline page, staff actions, the TaskResult/PeriodicTask admin,
beat schedules, the single beat, the result backend and housekeeping tasks.

It names no other app: each app declares its job kinds, schedules and staff actions in its own
`<app>/jobs.py`, imported here by `autodiscover_modules("jobs")` (see operations.registry)."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OperationsConfig(AppConfig):
    default = True
    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("jobs")
        from operations import (
            heartbeats,  # noqa: F401  (connects the workers' heartbeat signals)
            logs,
        )

        logs.connect_celery_signals()  # log lines about a task's job carry its id


class OperationsAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the staff Pipeline page added (the site is operations.admin_site)."""

    default = False
    default_site = "operations.admin_site.NbaAdminSite"
