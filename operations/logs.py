"""Logs you can follow: every line written while a job is being handled carries the job's kind and id.

- A context variable holds the job being handled (kind, id). Every log record gets it as
  `job_kind`, `job_id` and `job` ("[prediction 3f2c...] ", or "" outside a job), through a log
  record factory, so library lines (kombu, Django, Celery) carry it too.
- The web process binds it when a request stores a job (predictions.submission) and clears it at
  the end of every HTTP request (JobContextMiddleware); a worker binds it before each task
  (task_prerun: a task declares `job_kind` and the argument holding the id, `job_arg`), or
  when a task starts a job row (operations.progress.start), and clears it after.
- LOG_FORMAT=json writes one JSON object per line (JsonFormatter), in the web process and in
  the workers (Celery's own handlers get the formatter once Celery set them up).

So `grep <request id>` over the web's and the workers' logs tells one request's story.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
from contextlib import contextmanager
from datetime import UTC, datetime

_current: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("nbaproject_job", default=None)
logger = logging.getLogger(__name__)


def bind(kind: str, job_id) -> contextvars.Token:
    """From now on (in this thread or task), log lines are about this job."""
    return _current.set((kind, str(job_id)))


def clear(token: contextvars.Token | None = None) -> None:
    if token is not None:
        try:
            _current.reset(token)
            return
        except ValueError:  # set in another context: clear instead
            pass
    _current.set(None)


def current() -> tuple[str, str] | None:
    return _current.get()


@contextmanager
def job_context(kind: str, job_id):
    token = bind(kind, job_id)
    try:
        yield
    finally:
        clear(token)


# --- Every record carries the job -------------------------------------------------------------------------


def _add_job(record: logging.LogRecord) -> logging.LogRecord:
    job = _current.get()
    record.job_kind, record.job_id = job if job else (None, None)
    record.job = f"[{job[0]} {job[1]}] " if job else ""
    return record


def install_record_factory() -> None:
    """Wrap the log record factory once, so every record (ours and the libraries') gets the job fields."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "adds_job", False):
        return

    def with_job(*args, **kwargs):
        return _add_job(factory(*args, **kwargs))

    with_job.adds_job = True
    logging.setLogRecordFactory(with_job)


install_record_factory()


class JobFormatter(logging.Formatter):
    """A plain formatter whose format may name %(job)s (also for a record made before the factory)."""

    def format(self, record):
        if not hasattr(record, "job"):
            _add_job(record)
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, process, the job
    (job_kind, job_id) and, in a worker, the Celery task (task_name, task_id); exc for a traceback."""

    def format(self, record):
        if not hasattr(record, "job"):
            _add_job(record)
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.processName,
        }
        if record.job_id is not None:
            entry["job_kind"], entry["job_id"] = record.job_kind, record.job_id
        task = _current_task()
        if task is not None:
            entry["task_name"], entry["task_id"] = task.name, task.request.id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _current_task():
    try:
        from celery import current_task

        task = current_task._get_current_object()
    except Exception:
        return None
    return task if task is not None and getattr(task.request, "id", None) else None


# --- Web: a request's lines are about its job only ------------------------------------------------------


class JobContextMiddleware:
    """Clears the job context around every HTTP request (threads of the web server are reused)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _current.set(None)
        try:
            return self.get_response(request)
        finally:
            _current.set(None)


# --- Workers: the task's job, from its arguments -------------------------------------------------------------


def job_of_task(task, args, kwargs) -> tuple[str, str] | None:
    """(kind, id) for a task that declares `job_kind` and `job_arg` (the parameter holding the id)."""
    kind, name = getattr(task, "job_kind", None), getattr(task, "job_arg", None)
    if not kind or not name:
        return None
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except TypeError:
        return None
    value = bound.arguments.get(name)
    return (kind, str(value)) if value is not None else None


def _on_task_prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **extra):
    _current.set(None)
    job = job_of_task(task, args, kwargs)
    if job is not None:
        _current.set(job)
        logger.info("task %s[%s] started", task.name, task_id)


def _on_task_postrun(sender=None, task_id=None, task=None, state=None, **extra):
    if _current.get() is not None:
        logger.info("task %s[%s] ended: %s", task.name, task_id, state)
    _current.set(None)


def _celery_handlers_follow_jobs(logger=None, **extra):
    """Celery set up its own handlers (its format): their lines name the job before the message,
    or, with LOG_FORMAT=json, they write JSON lines."""
    from django.conf import settings

    if logger is None:
        return
    as_json = settings.LOG_FORMAT == "json"
    for handler in logger.handlers:
        formatter = handler.formatter
        if as_json:
            handler.setFormatter(JsonFormatter())
        elif formatter is not None and "%(job)s" not in formatter._fmt:
            formatter._fmt = formatter._style._fmt = formatter._fmt.replace("%(message)s", "%(job)s%(message)s", 1)


def connect_celery_signals() -> None:
    from celery import signals

    signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="operations.logs.prerun")
    signals.task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="operations.logs.postrun")
    signals.after_setup_logger.connect(_celery_handlers_follow_jobs, weak=False, dispatch_uid="operations.logs.root")
    signals.after_setup_task_logger.connect(
        _celery_handlers_follow_jobs, weak=False, dispatch_uid="operations.logs.task"
    )
