"""Reads of the etl app."""
from __future__ import annotations

from django.urls import reverse

from etl.models import EtlRun, PlayerGameLog


def dashboard_jobs(limit: int = 20) -> list[dict]:
    """Recent ETL runs for the staff Pipeline page (register "etl.selectors.dashboard_jobs" in
    settings.DASHBOARD_JOB_SOURCES)."""
    from nbaproject.dashboard import task_links

    runs = list(EtlRun.objects.order_by("-started_at")[:limit])
    jobs = []
    for run, links in zip(runs, task_links([[("load", run.task_id)] for run in runs])):
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


def loaded_seasons() -> list[str]:
    """Seasons with game lines in the warehouse, oldest first ('2015-16', ...)."""
    return list(PlayerGameLog.objects.order_by("season").values_list("season", flat=True).distinct())
