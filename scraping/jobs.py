"""What the scraping app contributes to operations (operations.registry): its job kind (scrape
runs) and the scheduled scrapes (scraping.schedules)."""

from operations.registry import register_job_kind, register_schedules
from scraping.models import ScrapeRun
from scraping.schedules import SCHEDULES


def title(run: ScrapeRun) -> str:
    args = " ".join(f"{key}={value}" for key, value in run.args.items() if key != "base_url")
    return f"{run.spider} {args}".strip()


def stage(run: ScrapeRun) -> str:
    """Pages, items and errors; once loaded, what changed in the warehouse."""
    text = f"{run.pages} pages, {run.items} items, {run.errors} errors"
    if run.loaded_at:
        summary = run.summary or {}
        text += (
            f"; loaded: {summary.get('games_created', 0) + summary.get('games_updated', 0)} games, "
            f"{summary.get('lines_created', 0) + summary.get('lines_updated', 0)} lines changed"
        )
    return text


register_job_kind(
    ScrapeRun,
    kind="scrape",
    title=title,
    stage=stage,
    measured=False,
    message=lambda run: run.message if run.status == ScrapeRun.Status.FAILED else None,
    link_label=lambda run: f"scrape run {run.pk} ({run.spider})",
)

register_schedules(SCHEDULES)
