"""Links between jobs and Celery tasks, both ways: a job's tasks to their TaskResults (the
Pipeline page, every job admin) and a TaskResult back to the jobs it belongs to (its admin page)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django_celery_results.models import TaskResult

from operations import registry


def task_links(groups: list[list[tuple[str, str | None]]]) -> list[list[dict]]:
    """Links from job rows to their TaskResults, one query for all rows: for each row's
    [(label, task_id)], [{label, url, task_id}]. A task with no TaskResult row yet (still queued)
    links to the list searched by its id."""
    groups = [[(label, task_id) for label, task_id in pairs if task_id] for pairs in groups]
    task_ids = [task_id for pairs in groups for _, task_id in pairs]
    results = dict(TaskResult.objects.filter(task_id__in=task_ids).values_list("task_id", "pk")) if task_ids else {}
    changelist = reverse("admin:django_celery_results_taskresult_changelist")
    return [
        [
            {
                "label": label,
                "task_id": task_id,
                "url": task_result_admin_url(results[task_id]) if task_id in results else f"{changelist}?q={task_id}",
            }
            for label, task_id in pairs
        ]
        for pairs in groups
    ]


def jobs_of_task(task_id: str) -> list[dict]:
    """The job rows a task belongs to (the way back from a TaskResult): [{label, url}]."""
    links = []
    for kind in registry.job_kinds():
        meta = kind.model._meta
        for job in kind.model._default_manager.filter(kind.model.task_query(task_id, list(kind.task_keys)))[:5]:
            try:
                url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[job.pk])
            except NoReverseMatch:
                url = None
            links.append({"label": kind.label_of(job), "url": url})
    return links


def task_result_admin_url(task_result_pk: int) -> str | None:
    try:
        return reverse("admin:django_celery_results_taskresult_change", args=[task_result_pk])
    except NoReverseMatch:
        return None
