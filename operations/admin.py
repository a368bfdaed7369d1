"""TaskResult admin: runtime, queue, filters and search that staff need, and links to the
job rows (prediction requests, scrape/ETL/training runs) a task belongs to."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django_celery_beat.admin import PeriodicTaskAdmin as StockPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask
from django_celery_results.admin import TaskResultAdmin as StockTaskResultAdmin
from django_celery_results.models import TaskResult

from operations.dashboard import _queue_of, _runtime_seconds
from operations.links import jobs_of_task
from operations.staff_actions import record, start_task

admin.site.unregister(TaskResult)


@admin.register(TaskResult)
class TaskResultAdmin(StockTaskResultAdmin):
    list_display = ("task_id", "task_name", "status_badge", "worker", "queue", "runtime", "date_created", "date_done")
    list_filter = ("status", "task_name", "worker", "date_created", "date_done")
    search_fields = ("task_id", "task_name", "task_args", "task_kwargs")
    date_hierarchy = "date_created"
    list_per_page = 100
    actions = ["revoke_tasks"]

    @admin.action(description="Revoke (and terminate if running) the selected tasks", permissions=["change"])
    def revoke_tasks(self, request, queryset):
        from nbaproject.celery import app

        unfinished = [row for row in queryset if row.status not in ("SUCCESS", "FAILURE", "REVOKED")]
        for row in unfinished:
            app.control.revoke(row.task_id, terminate=True, signal="SIGTERM")
            record(request.user, f"Revoked {row.task_name or 'task'} (was {row.status}) [task {row.task_id}]", row)
        skipped = queryset.count() - len(unfinished)
        self.message_user(
            request,
            f"Revoked {len(unfinished)} task(s); skipped {skipped} already finished.",
            messages.SUCCESS if unfinished else messages.WARNING,
        )

    @admin.display(description="state", ordering="status")
    def status_badge(self, obj):
        colour = {
            "FAILURE": "#ba2121",
            "SUCCESS": "#2e7d32",
            "STARTED": "#1565c0",
            "PROGRESS": "#1565c0",
            "RETRY": "#ef6c00",
            "REVOKED": "#6d4c41",
        }.get(obj.status, "#555")
        return format_html('<b style="color:{}">{}</b>', colour, obj.status)

    @admin.display(description="queue")
    def queue(self, obj):
        return _queue_of(obj) or "–"

    @admin.display(description="runtime (s)")
    def runtime(self, obj):
        seconds = _runtime_seconds(obj)
        return "–" if seconds is None else f"{seconds:.3f}"

    def get_readonly_fields(self, request, obj=None):
        return ["belongs_to", *[f.name for f in TaskResult._meta.fields]]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return [(None, {"fields": ["belongs_to"]}), *fieldsets]

    @admin.display(description="belongs to")
    def belongs_to(self, obj):
        links = jobs_of_task(obj.task_id)
        if not links:
            return "–"
        return format_html_join(", ", '<a href="{}">{}</a>', ((link["url"], link["label"]) for link in links))

    def has_add_permission(self, request):
        return False


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(StockPeriodicTaskAdmin):
    """django-celery-beat's admin, whose "Run selected tasks" is recorded and shown on Pipeline."""

    @admin.action(description="Run selected tasks now")
    def run_tasks(self, request, queryset):
        self.celery_app.loader.import_default_modules()
        missing = [task.task for task in queryset if task.task not in self.celery_app.tasks]
        if missing:
            self.message_user(request, f"task {missing[0]!r} not found", level=messages.ERROR)
            return
        for task in queryset:
            options = {"headers": {"periodic_task_name": task.name}}
            if task.queue:
                options["queue"] = task.queue
            start_task(
                request.user,
                task.task,
                args=json.loads(task.args or "[]"),
                kwargs=json.loads(task.kwargs or "{}"),
                options=options,
                obj=task,
                description=f"Ran periodic task '{task.name}' now",
            )
        self.message_user(
            request, f"{queryset.count()} task(s) queued; follow them on the Pipeline page.", messages.SUCCESS
        )
