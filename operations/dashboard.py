"""What the staff Pipeline page shows, as one JSON-serialisable snapshot.

Sources: each app's own job rows (the truth about queued and running work, which
TaskResult cannot know), recent TaskResult rows, the broker's queue depths and the
workers' own answer to `inspect`. Every part degrades to an error message instead of
failing the page: a down broker or no workers is exactly what staff need to see.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django_celery_results.models import TaskResult

from nbaproject.celery import app, queue_name
from operations import registry
from operations.links import task_links, task_result_admin_url
from operations.staff_actions import recent_actions

logger = logging.getLogger(__name__)

RECENT_TASKS = 50
INSPECT_TIMEOUT = 1.0
INSPECT_CACHE_SECONDS = 2


def pipeline_snapshot() -> dict:
    return {
        "generated_at": timezone.now().isoformat(),
        "jobs": collect_jobs(),
        "task_results": recent_task_results(),
        "counts_last_hour": task_counts_since(timezone.now() - timedelta(hours=1)),
        "queues": queue_depths(),
        "workers": workers_cached(),
        "staff_actions": recent_actions(),
    }


def collect_jobs() -> list[dict]:
    """Active and recent jobs of every registered job kind (operations.registry), newest first."""
    jobs: list[dict] = []
    for kind in registry.job_kinds():
        try:
            jobs.extend(job_rows(kind))
        except Exception as exc:  # one broken kind must not hide the others
            name = kind.model._meta.label
            logger.exception("dashboard job kind %s failed", name)
            jobs.append(
                {
                    "kind": kind.model._meta.app_label,
                    "id": name,
                    "title": f"{name} failed: {exc}",
                    "status": "failed",
                    "percent": None,
                    "started_at": None,
                    "message": str(exc),
                    "task_links": [],
                }
            )
    return sorted(jobs, key=lambda job: job.get("started_at") or "", reverse=True)


def jobs_of_model(model) -> list[dict]:
    """The Pipeline page's rows of the job kind registered for `model`."""
    [kind] = [kind for kind in registry.job_kinds() if kind.model is model]
    return job_rows(kind)


def job_rows(kind) -> list[dict]:
    """The Pipeline page's rows of one job kind, with their task links (one query for all rows)."""
    rows = kind.recent()
    meta = kind.model._meta
    out = []
    for job, links in zip(rows, task_links([job.task_pairs() for job in rows]), strict=True):
        out.append(
            {
                "kind": kind.kind_of(job),
                "id": str(job.pk),
                "title": kind.title(job),
                "status": job.status,
                "stage": kind.stage_of(job),
                "percent": kind.percent_of(job),
                "started_at": (job.started_at or job.created_at).isoformat(),
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                "message": kind.message_of(job),
                "admin_url": reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[job.pk]),
                "task_links": links,
            }
        )
    return out


def _runtime_seconds(row: TaskResult) -> float | None:
    if row.date_started and row.date_done:
        return round((row.date_done - row.date_started).total_seconds(), 3)
    return None


def _queue_of(row: TaskResult) -> str | None:
    try:
        return json.loads(row.meta or "{}").get("queue")
    except (TypeError, ValueError):
        return None


def recent_task_results(limit: int = RECENT_TASKS) -> list[dict]:
    rows = TaskResult.objects.order_by("-date_created").only(
        "id",
        "task_id",
        "task_name",
        "task_args",
        "task_kwargs",
        "status",
        "worker",
        "meta",
        "date_created",
        "date_started",
        "date_done",
        "result",
        "traceback",
    )[:limit]
    out = []
    for row in rows:
        error = None
        if row.status in ("FAILURE", "REVOKED") and row.result:
            try:
                payload = json.loads(row.result)
                error = f"{payload.get('exc_type', '')}: {payload.get('exc_message', '')}".strip(": ")
            except (TypeError, ValueError, AttributeError):
                error = str(row.result)[:300]
        out.append(
            {
                "task_id": row.task_id,
                "name": row.task_name,
                "args": row.task_args,
                "kwargs": row.task_kwargs,
                "state": row.status,
                "worker": row.worker,
                "queue": _queue_of(row),
                "created": row.date_created.isoformat() if row.date_created else None,
                "runtime": _runtime_seconds(row),
                "error": error,
                "admin_url": task_result_admin_url(row.pk),
            }
        )
    return out


def task_counts_since(since) -> dict[str, int]:
    counts = TaskResult.objects.filter(date_created__gte=since).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in counts}


def queue_depths(names: list[str] | None = None, broker_url: str | None = None) -> dict:
    """Messages waiting (and consumers) per queue, straight from the broker."""
    names = names or [queue_name(name) for name in settings.QUEUE_NAMES]
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        files = [p.name for p in folder.glob("*.msg")] if folder.exists() else []
        return {
            "available": True,
            "queues": [
                {"name": name, "messages": sum(1 for f in files if f.endswith(f".{name}.msg")), "consumers": None}
                for name in names
            ],
        }
    try:
        with app.connection_for_read(broker_url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            queues = []
            for name in names:
                channel = conn.channel()
                try:
                    _, messages, consumers = channel.queue_declare(queue=name, passive=True)
                    queues.append({"name": name, "messages": messages, "consumers": consumers})
                except Exception:  # a queue nobody declared yet
                    queues.append({"name": name, "messages": 0, "consumers": 0})
                finally:
                    try:
                        channel.close()
                    except Exception:
                        pass
            return {"available": True, "queues": queues}
    except Exception as exc:
        return {"available": False, "error": f"broker unreachable: {exc.__class__.__name__}: {exc}", "queues": []}


def workers_cached() -> dict:
    """`workers()` at most every INSPECT_CACHE_SECONDS, however many staff pages poll."""
    snapshot = cache.get("dashboard:workers")
    if snapshot is None:
        snapshot = workers()
        cache.set("dashboard:workers", snapshot, INSPECT_CACHE_SECONDS)
    return snapshot


LIVE_INSPECTION_HOWTO = (
    "Live inspection (each worker answering for itself) needs a broker that can broadcast: set "
    "CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// (RabbitMQ). To watch every task as it happens, "
    "also set CELERY_TASK_EVENTS=1 and run Flower (pip install flower; celery -A nbaproject flower)."
)


def workers(broker_url: str | None = None) -> dict:
    """Workers, the queues they serve and what each is running now: from Celery inspect when the
    broker can broadcast, and from the workers' heartbeat files (operations.heartbeats) on any broker.
    A Procfile worker whose queues no running worker serves is listed too: `make run` should have started it."""
    from operations.heartbeats import procfile_workers, read_heartbeats

    ours = {queue_name(name) for name in settings.QUEUE_NAMES}
    beats = {b["hostname"]: b for b in read_heartbeats() if ours.intersection(b.get("queues") or [])}
    live, warning, note = None, None, None
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        note = (
            "The embedded broker cannot ask the workers what they run: shown are the heartbeats each worker "
            f"writes every {settings.WORKER_HEARTBEAT_SECONDS} s and the tasks the database records as started. "
            + LIVE_INSPECTION_HOWTO
        )
    else:
        try:
            with app.connection_for_read(broker_url) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                inspector = app.control.inspect(timeout=INSPECT_TIMEOUT, connection=conn)
                active = inspector.active() or {}
                active_queues = inspector.active_queues() or {}
            live = {
                name: {
                    "queues": [q.get("name") for q in active_queues.get(name, [])],
                    "running": [
                        {
                            "id": t.get("id"),
                            "name": t.get("name"),
                            "args": t.get("args"),
                            "started": t.get("time_start"),
                        }
                        for t in active.get(name, [])
                    ],
                }
                for name in set(active) | set(active_queues)
            }
        except Exception as exc:
            warning = f"broker unreachable: {exc.__class__.__name__}: {exc}"
    started = _started_tasks_by_worker(beats) if live is None else {}
    listed = []
    for name in sorted(set(live or ()) | set(beats)):
        beat = beats.get(name, {})
        if live is not None and name in live:
            state, queues, running = "answering", live[name]["queues"], live[name]["running"]
        else:
            state = "heartbeat" if beat.get("responding") else "not responding"
            queues, running = beat.get("queues", []), started.get(name, [])
        listed.append(
            {
                "name": name,
                "state": state,
                "queues": queues,
                "running": running,
                "pid": beat.get("pid"),
                "concurrency": beat.get("concurrency"),
                "started": beat.get("started"),
                "last_seen": beat.get("last_seen"),
                "age_seconds": beat.get("age_seconds"),
                "procfile": None,
            }
        )
    served = {queue for w in listed if w["state"] in ("answering", "heartbeat") for queue in w["queues"]}
    for expected in procfile_workers():
        row = next((w for w in listed if w["name"] == expected["hostname"]), None)
        if row is not None:
            row["procfile"] = expected["process"]
        elif not set(expected["queues"]) <= served:  # its queues wait for a worker make run should have started
            listed.append(
                {
                    "name": expected["hostname"],
                    "state": "not running",
                    "queues": expected["queues"],
                    "running": [],
                    "pid": None,
                    "concurrency": expected["concurrency"],
                    "started": None,
                    "last_seen": None,
                    "age_seconds": None,
                    "procfile": expected["process"],
                }
            )
    if warning is None and not any(w["state"] in ("answering", "heartbeat") for w in listed):
        warning = "no worker is running: predictions and jobs will wait in their queues (make run starts them)"
    return {"available": live is not None, "workers": listed, "warning": warning, "note": note}


def _started_tasks_by_worker(beats: dict) -> dict[str, list[dict]]:
    """Tasks the result backend records as started on each heartbeat worker since it started."""
    running: dict[str, list[dict]] = {}
    for name, beat in beats.items():
        if not beat.get("responding"):
            continue
        rows = TaskResult.objects.filter(worker=name, status="STARTED")
        if beat.get("started"):
            rows = rows.filter(date_created__gte=beat["started"])
        running[name] = [
            {
                "id": r.task_id,
                "name": r.task_name,
                "args": r.task_args,
                "started": r.date_started.isoformat() if r.date_started else None,
            }
            for r in rows.order_by("date_created")[:20]
        ]
    return running
