"""Work staff start from admin: sent as Celery tasks after the request's transaction commits,
each recorded as an admin LogEntry that names its task id, so the Pipeline page can list
"who started what" with the task's live state, including while it is still queued (when no
TaskResult row exists yet)."""

from __future__ import annotations

import re
import uuid

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from nbaproject.celery import app
from operations import registry
from operations.links import task_links

TASK_MARK = re.compile(r"\[task ([0-9a-f-]{36})\]")


def pipeline_actions() -> dict[str, registry.PipelineAction]:
    """The Pipeline page's buttons, as the apps registered them in their jobs.py (slug -> action)."""
    return registry.actions()


def start_task(
    user, task_name: str, *, args=(), kwargs=None, description: str, obj=None, options: dict | None = None
) -> str:
    """Send `task_name` once the current transaction commits and record it; returns the task id."""
    task_id = str(uuid.uuid4())
    signature = app.signature(task_name, args=tuple(args), kwargs=kwargs or {}, options=options or {})
    transaction.on_commit(lambda: signature.apply_async(task_id=task_id))
    record(user, f"{description} [task {task_id}]", obj)
    return task_id


def task_action(description: str, task_name: str, call, done: str):
    """An admin action that sends `task_name` for each selected row (`start_task`, recorded on the
    row): `call(row)` gives its (args, kwargs, history line); `done`, formatted with how many were
    sent, is the message shown."""

    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        sent = 0
        for row in queryset:
            args, kwargs, line = call(row)
            start_task(request.user, task_name, args=args, kwargs=kwargs, obj=row, description=line)
            sent += 1
        modeladmin.message_user(request, done.format(sent), messages.SUCCESS)

    return action


def record(user, message: str, obj=None) -> LogEntry:
    """An admin history entry (on `obj` when given, so it also shows in that object's history)."""
    return LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else None,
        object_repr=(str(obj) if obj is not None else message)[:200],
        action_flag=CHANGE,
        change_message=message,
    )


def recent_actions(limit: int = 15) -> list[dict]:
    """The latest staff actions that started or stopped tasks, with each task's current state."""
    from django_celery_results.models import TaskResult

    entries = list(
        LogEntry.objects.select_related("user")
        .filter(change_message__contains="[task ")
        .order_by("-action_time")[:limit]
    )
    task_ids = {entry.pk: TASK_MARK.findall(entry.change_message) for entry in entries}
    states = dict(
        TaskResult.objects.filter(task_id__in=[t for ids in task_ids.values() for t in ids]).values_list(
            "task_id", "status"
        )
    )
    links = task_links([[("task", task_id) for task_id in task_ids[entry.pk]] for entry in entries])
    out = []
    for entry, entry_links in zip(entries, links, strict=True):
        ids = task_ids[entry.pk]
        out.append(
            {
                "time": entry.action_time.isoformat(),
                "user": entry.user.get_username(),
                "action": TASK_MARK.sub("", entry.change_message).strip(),
                "states": [states.get(task_id, "QUEUED") for task_id in ids],
                "task_links": entry_links,
            }
        )
    return out
