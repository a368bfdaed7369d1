"""Reads of the etl app."""
from __future__ import annotations

from django.urls import reverse

from etl.models import EtlRun


def dashboard_jobs(limit: int = 20) -> list[dict]:
    """Recent ETL runs for the staff Pipeline page (register "etl.selectors.dashboard_jobs" in
    settings.DASHBOARD_JOB_SOURCES)."""
    from django_celery_results.models import TaskResult

    runs = list(EtlRun.objects.order_by("-started_at")[:limit])
    results = dict(TaskResult.objects.filter(task_id__in=[r.task_id for r in runs if r.task_id])
                   .values_list("task_id", "pk"))
    jobs = []
    for run in runs:
        links = []
        if run.task_id:
            url = (reverse("admin:django_celery_results_taskresult_change", args=[results[run.task_id]])
                   if run.task_id in results else
                   reverse("admin:django_celery_results_taskresult_changelist") + f"?q={run.task_id}")
            links.append({"label": "load", "url": url, "task_id": run.task_id})
        files = [line.rsplit("/", 1)[-1] for line in run.source.splitlines() if line.strip()]
        title = f"load {files[0]}" + (f" (+{len(files) - 1} files)" if len(files) > 1 else "") if files else "load"
        counts = run.counts or {}
        jobs.append({
            "kind": "etl",
            "id": str(run.pk),
            "title": title,
            "status": run.status,
            "step": run.stage if run.status == EtlRun.Status.RUNNING else
            ", ".join(f"{key} {counts[key]}" for key in ("read", "inserted", "updated", "rejected") if key in counts),
            "percent": run.percent,
            "started": run.started_at.isoformat(),
            "finished": run.finished_at.isoformat() if run.finished_at else None,
            "error": run.error or None,
            "admin_url": reverse("admin:etl_etlrun_change", args=[run.pk]),
            "task_links": links,
        })
    return jobs
