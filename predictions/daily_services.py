"""The daily pipeline: crawl yesterday's box scores, load them, compute today's slate with them.

    run, started = submit_daily()             # today = predictions.dates.product_today() (AS_OF_DATE)
    run, started = submit_daily(date(2018, 1, 2), base_url="http://127.0.0.1:8765")

A Celery chain across three queues, one task per step (predictions/daily_tasks.py calls the step
functions below): crawl (scraping queue) -> load (etl queue) -> slate (predictions queue). The run
is one `DailyRun` row per day, showing step i of 3 on the Pipeline page.

- A failed step fails the run with a readable reason ("crawl failed: cannot reach HOST: connection
  refused") and stops the chain: no later step runs.
- The load is one transaction: every staged game and its lines, or nothing (a game the warehouse
  refuses rolls the whole load back and fails the run). It is also idempotent (upserts).
- Idempotent per day: running a day again reuses its DailyRun (a new attempt on the same row) and
  re-crawls, re-loads (nothing changes the second time) and recomputes the same slate (its rows are
  replaced). While the day's run is queued or running, asking again starts nothing and returns it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from nbaproject.celery import app, queue_name
from operations import progress
from predictions import slate_services, sweeping
from predictions.daily_models import STEPS, DailyRun
from predictions.dates import product_today
from predictions.slate_models import Slate

logger = logging.getLogger(__name__)

# A queued or running DailyRun untouched this long lost its chain (a worker gone for good): asking
# again starts a new attempt. Above the three steps' hard time limits together (25 + 16 + 11 min).
STALE_AFTER = dt.timedelta(hours=2)
# A day whose chain was lost this many times (a worker that dies on it) is failed by the sweeper instead.
MAX_LOST_ATTEMPTS = 3
STEP_PERCENT = {1: (0, 33), 2: (33, 66), 3: (66, 100)}  # each step's share of the run's percent
# The chain's tasks (predictions/daily_tasks.py), published by name: this module imports no task module.
STEP_TASKS = {
    "crawl": "predictions.tasks.daily_crawl",
    "load": "predictions.tasks.daily_load",
    "slate": "predictions.tasks.daily_slate",
}
STEP_QUEUES = {"crawl": "scraping", "load": "etl", "slate": "predictions"}  # in chain order


class StepFailed(Exception):
    """A step failed; the reason is on the DailyRun (status failed) and the chain stops here."""


# --- submit -------------------------------------------------------------------------------------


def is_stale(run: DailyRun) -> bool:
    since = run.started_at or run.created_at
    return (
        run.status in (DailyRun.Status.QUEUED, DailyRun.Status.RUNNING)
        and since is not None
        and timezone.now() - since > STALE_AFTER
    )


def submit_daily(
    day: dt.date | None = None, *, user=None, base_url: str | None = None, start_task_id: str | None = None
) -> tuple[DailyRun, bool]:
    """Start the daily pipeline of `day` (default: the product's today); returns (run, started).

    One DailyRun per day: a new day creates it; a finished one (succeeded or failed) is run again
    on the same row (with the crawl arguments it had, unless `base_url` is given); a queued or running
    one is returned as it is (started=False), unless its chain was lost (STALE_AFTER). The chain is
    published after the transaction commits."""
    day = day or product_today()
    token = str(uuid.uuid4())
    task_ids = {step: str(uuid.uuid4()) for step in STEPS}
    if start_task_id:
        task_ids = {"start": start_task_id, **task_ids}
    with transaction.atomic():
        run, created = DailyRun.objects.select_for_update().get_or_create(date=day)
        if not created and run.status in (DailyRun.Status.QUEUED, DailyRun.Status.RUNNING) and not is_stale(run):
            return run, False
        DailyRun.objects.filter(pk=run.pk).update(
            status=DailyRun.Status.QUEUED,
            token=token,
            attempts=run.attempts + 1,
            task_ids=task_ids,
            crawl_args={"base_url": base_url} if base_url else run.crawl_args,  # a re-run keeps its mirror
            stage="queued",
            step_index=0,
            step_count=len(STEPS),
            percent=0,
            message="",
            summary={},
            scrape_run=None,
            slate=None,
            started_at=None,
            finished_at=None,
            requested_by=user if user is not None and user.pk else None,
        )
        run.refresh_from_db()
        transaction.on_commit(lambda: publish(run.pk, token, task_ids))
    return run, True


def publish(run_id: int, token: str, task_ids: dict) -> None:
    """Send the chain crawl -> load -> slate, each step with its task id known in advance."""
    from celery import chain

    steps = chain(
        *(
            app.signature(STEP_TASKS[name], args=(run_id, token), immutable=True).set(
                task_id=task_ids[name], queue=queue_name(queue)
            )
            for name, queue in STEP_QUEUES.items()
        )
    )
    try:
        steps.apply_async(retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2})
    except Exception as exc:  # broker down: the run says so and can be run again
        logger.warning("daily run %s not published: %s", run_id, exc)
        fail(DailyRun(pk=run_id), f"not queued: the broker is unavailable ({exc}); run it again later")


def sweep_lost_daily_runs(limit: int = 20) -> dict:
    """Start again each day whose chain was lost (queued or running for STALE_AFTER: a worker gone
    for good, messages the broker lost), so no day stays "running" on the Pipeline page; a day that
    was lost MAX_LOST_ATTEMPTS times is failed with the reason instead. Safe to run from several
    places at once: the run is locked and `submit_daily` checks again. Returns the days restarted,
    failed, and not restarted (started again by someone else meanwhile). A restart the broker
    refuses fails the run saying so, as `submit_daily` does."""
    cutoff = timezone.now() - STALE_AFTER
    lost = Q(status__in=(DailyRun.Status.QUEUED, DailyRun.Status.RUNNING)) & (
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff)
    )

    def give_up_or_restart(run: DailyRun):
        if run.attempts < MAX_LOST_ATTEMPTS:
            return None
        hours = int(STALE_AFTER.total_seconds() // 3600)
        fail(run, f"gave up: its chain was lost {run.attempts} times (no end after {hours} h); run the day again")
        return sweeping.GAVE_UP

    def restart(run: DailyRun, _what) -> bool:
        run, started = submit_daily(run.date)
        if started:
            logger.info("daily run of %s lost its chain: attempt %s started", run.date, run.attempts)
        return started

    restarted, failed, not_restarted = sweeping.sweep(DailyRun, lost, limit, give_up_or_restart, restart)
    days = dict(DailyRun.objects.filter(pk__in=restarted + failed + not_restarted).values_list("pk", "date"))
    return {
        name: [days[pk].isoformat() for pk in pks]
        for name, pks in (("restarted", restarted), ("failed", failed), ("not_restarted", not_restarted))
    }


# --- steps (called by the tasks) ----------------------------------------------------------------


def claim(run_id: int, token: str, step: int, label: str) -> DailyRun | None:
    """The run, marked at `step`, if this chain is its current attempt and has not moved past the step
    (a redelivered step after the next one began, or a step of an older attempt, stops quietly)."""
    run = DailyRun.objects.filter(pk=run_id).first()
    if run is None or run.token != token or run.is_finished or run.step_index > step:
        logger.info("daily run %s: step %s of an old attempt or already done, skipped", run_id, step)
        return None
    low, _ = STEP_PERCENT[step]
    progress.start(run, stage=label, step=(step, len(STEPS)), percent=low)
    return run


def fail(run: DailyRun, message: str) -> None:
    progress.fail(run, message[:2000])


def step_failed(run: DailyRun, message: str) -> StepFailed:
    fail(run, message)
    return StepFailed(message)


def crawl(run: DailyRun, task_id: str) -> dict:
    """Step 1 (scraping queue): the box scores of the day before the run's date, crawled in a child
    process into staging rows (scraping.services), linked to the run."""
    from scraping import services as scraping
    from scraping.crawler.arguments import BadArguments

    args = {**run.crawl_args, "date": run.box_score_date.isoformat()}
    try:
        scrape = scraping.run_for_task("boxscores", args, task_id=task_id)
    except BadArguments as exc:
        raise step_failed(run, f"crawl failed: {exc}") from None
    DailyRun.objects.filter(pk=run.pk).update(scrape_run=scrape)

    def show(current):
        progress.report(run, message=f"{current.pages} pages, {current.items} games, {current.errors} errors")

    scrape = scraping.run_crawl(scrape, on_progress=show, timeout=scraping.CRAWL_TIMEOUT)
    if scrape.status != scrape.Status.SUCCEEDED:
        raise step_failed(run, f"crawl failed: {scrape.message or 'the crawl did not finish'}")
    counts = {"pages": scrape.pages, "games_crawled": scrape.items, "crawl_errors": scrape.errors}
    note = f"crawl: {scrape.errors} page error(s) (see scrape run #{scrape.pk})" if scrape.errors else ""
    progress.report(run, percent=STEP_PERCENT[1][1], message=note, summary={**run.summary, **counts})
    return {"daily_run": run.pk, "scrape_run": scrape.pk, **counts}


def load(run: DailyRun) -> dict:
    """Step 2 (etl queue): the staged games and lines into the warehouse in one transaction; a game the
    warehouse refuses rolls all of them back (nothing half-loaded) and fails the run."""
    from scraping.models import LoadStatus, ScrapeRun
    from scraping.services import load_staged

    scrape = ScrapeRun.objects.get(pk=run.scrape_run_id) if run.scrape_run_id else None
    if scrape is None:
        raise step_failed(run, "load failed: the crawl's scrape run is gone")
    problems: list[tuple[str, str]] = []
    with transaction.atomic():
        counts = load_staged(scrape)
        if counts.get("errors"):
            problems = list(
                scrape.staged_games.filter(load_status=LoadStatus.ERROR).values_list("bref_game_id", "load_message")[:3]
            )
            transaction.set_rollback(True)
    if problems or counts.get("errors"):
        total = scrape.staged_games.count()
        detail = "; ".join(f"{game}: {reason}" for game, reason in problems)
        raise step_failed(
            run,
            f"load failed: {counts['errors']} of {total} games could not be loaded ({detail}); "
            f"nothing was loaded. Scrape run #{scrape.pk} keeps the staged rows.",
        )
    summary = {**run.summary, **{f"load_{key}": value for key, value in counts.items()}}
    progress.report(run, percent=STEP_PERCENT[2][1], summary=summary)
    return {"daily_run": run.pk, **counts}


def slate(run: DailyRun, task_id: str) -> dict:
    """Step 3 (predictions queue): today's slate with the fresh data. The day's slate for the active
    models and no out list (one per date, model versions and out set) is created or reused and
    computed again, game by game, with the slate's own functions (the same numbers as the slate job
    and single predictions)."""
    try:
        versions = slate_services.active_versions()
    except slate_services.NoActiveModels as exc:
        raise step_failed(run, f"slate failed: {exc}") from None
    day_slate, _ = Slate.objects.get_or_create(
        date=run.date,
        versions_key=slate_services.versions_key(versions),
        out_key=slate_services.NO_OUT_LIST,  # the day's plain slate: who is out not known
        defaults={"model_versions": versions, "task_id": task_id},
    )
    DailyRun.objects.filter(pk=run.pk).update(slate=day_slate)
    low, high = STEP_PERCENT[3]
    try:
        game_ids = slate_services.plan(day_slate.pk)
        for done, game_id in enumerate(game_ids, start=1):
            slate_services.compute_game(day_slate.pk, game_id)
            progress.report(
                run,
                percent=low + (high - low - 1) * done / len(game_ids),
                message=f"slate: {done} of {len(game_ids)} games",
            )
        result = slate_services.summarize(day_slate.pk)
    except slate_services.NoActiveModels as exc:
        slate_services.fail(day_slate.pk, str(exc))
        raise step_failed(run, f"slate failed: {exc}") from None
    except Exception as exc:
        slate_services.fail(day_slate.pk, f"the daily run failed during the slate ({type(exc).__name__})")
        raise
    summary = {**run.summary, "slate_games": result["games"], "slate_players": result["players"]}
    progress.succeed(run, stage="done", message="", summary=summary)
    return {"daily_run": run.pk, **result}


def fail_unexpected(run_id: int, what: str, exc: BaseException) -> None:
    """An error no step expected (a bug, the database gone for good): the run fails saying where."""
    run = DailyRun.objects.filter(pk=run_id).first()
    if run is not None and not run.is_finished:
        fail(run, f"{what} failed: internal error ({type(exc).__name__}: {str(exc)[:200]})")


# --- reads ----------------------------------------------------------------------------------------


def describe(run: DailyRun) -> str:
    """One line for the terminal and the admin: where the run is or how it ended."""
    step = f"step {run.step_index} of {run.step_count} ({run.stage})" if run.step_index else run.stage
    text = f"daily run of {run.date}: {run.status}, {step}, {run.percent}%"
    return text + (f": {run.message}" if run.message else "")
