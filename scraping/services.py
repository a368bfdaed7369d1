"""Scrape runs: create, crawl in a child process, stage items, load them into the warehouse.

Used alike by `manage.py crawl`, the Celery tasks and the admin:

    run = create_run("boxscores", {"date": "2018-01-01"})   # BadArguments on a mistake
    run = run_crawl(run)                                     # blocks; live progress on the row
    summary = load_staged(run)                               # upsert into Team/Player/Game/PlayerGameLog
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from operations import progress as job_progress
from scraping.crawler.arguments import BadArguments, normalise_args  # noqa: F401  (re-exported)
from scraping.crawler.items import PlayerLineItem
from scraping.models import LoadStatus, PageKind, ScrapeRun, StagedGame, StagedLine
from scraping.warehouse import load_staged  # noqa: F401  (re-exported: scraping.services.load_staged)

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 80
LOG_TAIL_CHARS = 12_000
# A crawl is stopped after this long (the Celery task's own limits are a little longer, and all
# of them stay below RabbitMQ's 30-minute consumer_timeout).
CRAWL_TIMEOUT = 23 * 60


# --- runs --------------------------------------------------------------------------------------


def create_run(spider: str, args: dict | None = None, task_id: str | None = None) -> ScrapeRun:
    """A queued ScrapeRun with checked, completed arguments; raises BadArguments."""
    normalised = normalise_args(spider, args or {})
    return ScrapeRun.objects.create(spider=spider, args=normalised, task_id=task_id)


def run_for_task(spider: str, args: dict, task_id: str) -> ScrapeRun:
    """The run of a Celery task: created once, reset when the task is delivered again."""
    run = ScrapeRun.objects.filter(task_id=task_id).first()
    if run is None:
        try:
            return create_run(spider, args, task_id=task_id)
        except BadArguments as exc:
            ScrapeRun.objects.create(
                spider=spider if spider in ScrapeRun.Spider.values else "",
                args={k: str(v) for k, v in args.items()},
                task_id=task_id,
                status=ScrapeRun.Status.FAILED,
                message=str(exc),
                percent=100,
                started_at=timezone.now(),
                finished_at=timezone.now(),
            )
            raise
    reset_run(run)
    return run


def _start_over(run: ScrapeRun) -> dict:
    """Drop the staging rows of a run's earlier attempt; returns its crawl counts as they start."""
    run.staged_lines.all().delete()
    run.staged_games.all().delete()
    return {"percent": 0, "pages": 0, "items": 0, "errors": 0, "error_list": []}


def reset_run(run: ScrapeRun) -> None:
    """Forget a run's earlier attempt (redelivered task): staging rows and counts."""
    with transaction.atomic():
        ScrapeRun.objects.filter(pk=run.pk).update(
            **_start_over(run),
            status=ScrapeRun.Status.QUEUED,
            stage="",
            message="",
            started_at=None,
            finished_at=None,
            log_tail="",
            summary={},
            loaded_at=None,
            load_task_id="",
        )
    run.refresh_from_db()


def mark_running(run_id: int, pid: int | None = None) -> ScrapeRun:
    """Called by the child process as it starts; staging rows of an earlier attempt are dropped."""
    run = ScrapeRun.objects.get(pk=run_id)
    with transaction.atomic():
        job_progress.start(
            run,
            **_start_over(run),
            started_at=timezone.now(),
            stage="crawling",
            message=f"crawler process {pid}" if pid else "",
        )
    run.refresh_from_db()
    return run


def record_progress(
    run_id: int, pages: int, items: int, errors: int, error_list: list | None = None, message: str | None = None
) -> None:
    """A running crawl's counts, and what it is doing when worth telling (`message`)."""
    fields = {"pages": pages, "items": items, "errors": errors}
    if error_list is not None:
        fields["error_list"] = error_list
    job_progress.report(ScrapeRun(pk=run_id), message=message[:2000] if message is not None else None, **fields)


def finish_run(
    run_id: int, *, pages: int, items: int, errors: int, error_list: list, finish_reason: str, stop_message: str = ""
) -> ScrapeRun:
    """Final counts and status: failed when the crawl did not finish normally or when it
    produced errors and nothing usable; otherwise succeeded (page errors stay counted).
    `stop_message` says why a crawl stopped early (e.g. the site cannot be reached)."""
    if finish_reason != "finished":
        status = ScrapeRun.Status.FAILED
        message = stop_message or f"crawl stopped: {finish_reason or 'unknown reason'}"
    elif errors and not items:
        status, message = ScrapeRun.Status.FAILED, f"{errors} error(s) and no items"
    else:
        status = ScrapeRun.Status.SUCCEEDED
        message = f"{errors} page/item error(s)" if errors else ""
    # A crawl's progress is not measured in percent: a finished one shows 100 %.
    job_progress.report(
        ScrapeRun(pk=run_id),
        status=status,
        message=message,
        stage="done",
        percent=100,
        pages=pages,
        items=items,
        errors=errors,
        error_list=error_list,
        finished_at=timezone.now(),
    )
    return ScrapeRun.objects.get(pk=run_id)


def fail_run(run: ScrapeRun, message: str) -> ScrapeRun:
    job_progress.fail(run, message[:2000], percent=100)
    run.refresh_from_db()
    return run


# --- the child process -----------------------------------------------------------------------


def database_url() -> str:
    """DATABASE_URL of the database this process uses right now (the test database in tests)."""
    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    auth = quote(cfg.get("USER") or "", safe="")
    if cfg.get("PASSWORD"):
        auth += ":" + quote(cfg["PASSWORD"], safe="")
    host = cfg.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}@{host}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


def log_path(run: ScrapeRun) -> Path:
    folder = Path(settings.VAR_DIR) / "scrape-logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"run-{run.pk}.log"


def read_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - LOG_TAIL_CHARS * 2))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])[-LOG_TAIL_CHARS:]


def run_crawl(
    run: ScrapeRun,
    *,
    settings_overrides: dict | None = None,
    on_progress: Callable[[ScrapeRun], None] | None = None,
    echo: Callable[[str], None] | None = None,
    timeout: float = CRAWL_TIMEOUT,
    poll: float = 0.5,
) -> ScrapeRun:
    """Run the crawl of `run` in a fresh child process and wait for it.

    `on_progress(run)` is called whenever the counts change, `echo(line)` with each new log
    line. The child is stopped (SIGTERM, then SIGKILL) after `timeout` seconds or when this
    process is interrupted; the run then fails with the reason.
    """
    path = log_path(run)
    cmd = [sys.executable, "-m", "scraping.crawler.runner", str(run.pk)]
    for name, value in (settings_overrides or {}).items():
        cmd += ["-s", f"{name}={value}"]
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "nbaproject.settings"),
    )
    env.setdefault("VAR_DIR", str(settings.VAR_DIR))
    # The child must use exactly this database; the test settings' embedded mode would replace it.
    env.pop("TEST_EMBEDDED", None)
    with path.open("wb") as log:
        child = subprocess.Popen(
            cmd, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    last_counts = None
    echoed = 0
    try:
        while True:
            code = child.poll()
            if echo is not None:
                echoed = _echo_new_lines(path, echoed, echo)
            current = ScrapeRun.objects.get(pk=run.pk)
            counts = (current.status, current.pages, current.items, current.errors, current.message)
            if counts != last_counts:
                last_counts = counts
                if on_progress is not None:
                    on_progress(current)
            if code is not None:
                break
            if time.monotonic() > deadline:
                _stop(child)
                fail_run(run, f"crawl stopped after {timeout:.0f} s (time limit)")
                break
            time.sleep(poll)
    except BaseException as exc:  # task time limit, Ctrl-C: never leave an orphan crawler
        _stop(child)
        fail_run(run, f"interrupted: {type(exc).__name__}")
        ScrapeRun.objects.filter(pk=run.pk).update(log_tail=read_tail(path))
        raise
    if echo is not None:
        _echo_new_lines(path, echoed, echo)
    run.refresh_from_db()
    if child.returncode != 0 and not run.is_finished:
        fail_run(run, f"crawler process exited with code {child.returncode}")
    elif not run.is_finished:
        fail_run(run, "crawler process ended without recording a result")
    ScrapeRun.objects.filter(pk=run.pk).update(log_tail=read_tail(path))
    run.refresh_from_db()
    return run


def _echo_new_lines(path: Path, offset: int, echo: Callable[[str], None]) -> int:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    complete = data.rfind(b"\n") + 1
    for line in data[:complete].decode("utf-8", errors="replace").splitlines():
        echo(line)
    return offset + complete


def _stop(child: subprocess.Popen, grace: float = 10) -> None:
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(grace)
    except ProcessLookupError:
        pass


# --- staging (called in the child process, from the item pipeline) -----------------------------

# A player line's staged columns: every field of the crawler's item but the raw cells (kept apart).
LINE_FIELDS = tuple(field for field in PlayerLineItem.fields if field != "raw")


def _line_values(line: dict) -> dict:
    values = {field: line.get(field) for field in LINE_FIELDS}
    values["reason"] = values["reason"] or ""
    values["opponent_code"] = values["opponent_code"] or ""
    values["raw"] = line.get("raw") or {}
    return values


# A staged row not loaded yet (a row staged again starts over).
PENDING = {"load_status": LoadStatus.PENDING, "load_message": ""}


def _page_values(item: dict) -> dict:
    """The fields every staged row takes from its item (StagedRow): the page, when, the game's date and season."""
    return {
        "source_url": item["source_url"],
        "fetched_at": dt.datetime.fromisoformat(item["fetched_at"]),
        "date": item["date"],
        "season": item["season"],
        "season_type": item.get("season_type") or "",
    }


def stage_item(run_id: int, item: dict) -> None:
    """Write one validated item as staging rows: a game with all its lines in one transaction."""
    page = _page_values(item)
    with transaction.atomic():
        if item.get("kind") == "gamelog":
            StagedLine.objects.update_or_create(
                run_id=run_id,
                kind=PageKind.GAMELOG,
                bref_game_id=item["bref_game_id"],
                player_bref_id=item["player_bref_id"],
                defaults={
                    **_line_values(item),
                    **page,
                    "team_score": item.get("team_score"),
                    "opponent_score": item.get("opponent_score"),
                    **PENDING,
                },
            )
            return
        game, created = StagedGame.objects.update_or_create(
            run_id=run_id,
            kind=item["kind"],
            bref_game_id=item["bref_game_id"],
            defaults={
                **page,
                "start_time": item.get("start_time") or "",
                "home_code": item["home_code"],
                "away_code": item["away_code"],
                "home_score": item.get("home_score"),
                "away_score": item.get("away_score"),
                "overtimes": item.get("overtimes"),
                "status": item["status"],
                "raw": item.get("raw") or {},
                **PENDING,
                "game": None,
            },
        )
        if not created:
            game.lines.all().delete()
        StagedLine.objects.bulk_create(
            StagedLine(
                run_id=run_id,
                staged_game=game,
                kind=PageKind.BOXSCORE,
                bref_game_id=item["bref_game_id"],
                **page,
                **_line_values(line),
            )
            for line in item.get("lines") or []
        )


# --- reporting ------------------------------------------------------------------------------------


def run_summary(run: ScrapeRun) -> str:
    """A few lines describing a run, for the terminal."""
    lines = [
        f"Scrape run #{run.pk} ({run.spider} {' '.join(f'{k}={v}' for k, v in run.args.items())}): "
        f"{run.status}" + (f" ({run.message})" if run.message else ""),
        f"  pages {run.pages}, items {run.items}, errors {run.errors}"
        + (f", took {run.duration.total_seconds():.1f} s" if run.duration else ""),
    ]
    for error in run.error_list[:10]:
        lines.append(f"  error: {error.get('url')}: {error.get('reason')}")
    if run.errors > 10:
        lines.append(f"  ... {run.errors - 10} more errors (see the run in admin)")
    if run.summary:
        lines.append(
            "  warehouse: " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in run.summary.items())
        )
    return "\n".join(lines)
