"""Reads of the scraping app."""
from __future__ import annotations

from django.urls import reverse

from scraping.models import ScrapeRun


def dashboard_jobs(limit: int = 20) -> list[dict]:
    """Recent scrape runs for the staff Pipeline page (register "scraping.selectors.dashboard_jobs"
    in settings.DASHBOARD_JOB_SOURCES)."""
    from operations.dashboard import task_links

    runs = list(ScrapeRun.objects.order_by("-created_at")[:limit])
    jobs = []
    for run, links in zip(runs, task_links([[("crawl", run.task_id), ("load", run.load_task_id)] for run in runs])):
        step = f"{run.pages} pages, {run.items} items, {run.errors} errors"
        if run.loaded_at:
            summary = run.summary or {}
            step += (f"; loaded: {summary.get('games_created', 0) + summary.get('games_updated', 0)} games, "
                     f"{summary.get('lines_created', 0) + summary.get('lines_updated', 0)} lines changed")
        args = " ".join(f"{key}={value}" for key, value in run.args.items() if key != "base_url")
        jobs.append({
            "kind": "scrape",
            "id": str(run.pk),
            "title": f"{run.spider} {args}".strip(),
            "status": run.status,
            "step": step,
            "percent": 100 if run.is_finished else None,
            "started": (run.started_at or run.created_at).isoformat(),
            "finished": run.finished_at.isoformat() if run.finished_at else None,
            "error": run.message if run.status == ScrapeRun.Status.FAILED else None,
            "admin_url": reverse("admin:scraping_scraperun_change", args=[run.pk]),
            "task_links": links,
        })
    return jobs
