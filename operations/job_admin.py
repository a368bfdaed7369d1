"""The admin side of a job (operations.models.Job): one mixin for every app's job admin.

It adds `task_results` (each of the job's Celery tasks linked to its TaskResult, or to the
TaskResult list searched by its id while the task is still queued; fetched for a whole changelist
page in one query) and `progress` (step i of n, stage, percent)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join

from operations.links import task_links

# The job fields every job admin shows, in this order.
JOB_FIELDS = (
    "status",
    "stage",
    "step_index",
    "step_count",
    "percent",
    "message",
    "created_at",
    "started_at",
    "finished_at",
)


class JobAdminMixin:
    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        for row, links in zip(rows, task_links([row.task_pairs() for row in rows]), strict=True):
            row._task_links = links
        return changelist

    @admin.display(description="task results")
    def task_results(self, obj):
        links = getattr(obj, "_task_links", None)
        if links is None:
            links = task_links([obj.task_pairs()])[0]
        if not links:
            return "–"
        return format_html_join(
            ", ", '{}: <a href="{}">{}</a>', ((link["label"], link["url"], link["task_id"][:8]) for link in links)
        )

    @admin.display(description="progress", ordering="percent")
    def progress(self, obj):
        step = f"{obj.step_index}/{obj.step_count} " if obj.step_count else ""
        if obj.status == obj.Status.RUNNING:
            return f"{step}{obj.stage} {obj.percent}%".strip()
        return f"{obj.percent}%"
