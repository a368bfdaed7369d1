"""Worker heartbeats: what the staff Pipeline page knows about the workers on any broker.

Celery's `inspect` needs a broker that can broadcast (RabbitMQ, Redis); the embedded filesystem
broker cannot. So every worker writes a small JSON file under VAR_DIR/workers/ when it is ready
and every WORKER_HEARTBEAT_SECONDS after (from a thread of the main process: no database
connection, no broker message), and deletes it when it stops. A worker killed outright leaves its
file behind, which then ages: the page shows it as not responding.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from celery import signals

logger = logging.getLogger(__name__)

MISSED_BEATS = 3  # a worker silent for this many heartbeats is shown as not responding
FORGET_AFTER = timedelta(days=1)  # files of workers gone longer than this are deleted


def heartbeat_dir() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "workers"


def _path(hostname: str) -> Path:
    return heartbeat_dir() / (re.sub(r"[^A-Za-z0-9@._-]", "_", hostname) + ".json")


def write_heartbeat(hostname: str, queues: list[str], pid: int, concurrency: int | None, started: datetime) -> None:
    """Write (atomically) this worker's heartbeat, stamped now."""
    folder = heartbeat_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "hostname": hostname,
        "queues": sorted(queues),
        "pid": pid,
        "concurrency": concurrency,
        "started": started.isoformat(),
        "last_seen": datetime.now(UTC).isoformat(),
    }
    path = _path(hostname)
    temporary = path.with_suffix(f".{pid}.tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, path)


def remove_heartbeat(hostname: str) -> None:
    _path(hostname).unlink(missing_ok=True)


def read_heartbeats(now: datetime | None = None) -> list[dict]:
    """Every worker's last heartbeat, with `age_seconds` and `responding` (heard from within
    MISSED_BEATS beats); files older than FORGET_AFTER are deleted."""
    from django.conf import settings

    now = now or datetime.now(UTC)
    folder = heartbeat_dir()
    beats = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            record = json.loads(path.read_text())
            last_seen = datetime.fromisoformat(record["last_seen"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being replaced, or not ours
        age = now - last_seen
        if age > FORGET_AFTER:
            path.unlink(missing_ok=True)
            continue
        record["age_seconds"] = round(max(age.total_seconds(), 0.0), 1)
        record["responding"] = (
            age.total_seconds() <= MISSED_BEATS * settings.WORKER_HEARTBEAT_SECONDS
            and not _gone_from_this_machine(record)
        )
        beats.append(record)
    return beats


def _gone_from_this_machine(record: dict) -> bool:
    """A worker of this machine (celery's name@host) whose process no longer exists: a recent
    file of a worker killed outright (or of a `make run` stopped a moment ago) is not a live one."""
    if record.get("hostname", "").rpartition("@")[2] != socket.gethostname() or not record.get("pid"):
        return False
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False
    return False


class _Beating:
    """The heartbeat thread of this worker process."""

    def __init__(self, consumer):
        from django.conf import settings

        self.hostname = consumer.hostname
        self.queues = list(consumer.app.amqp.queues.consume_from or consumer.app.amqp.queues)
        controller = getattr(consumer, "controller", None)
        self.concurrency = getattr(controller, "concurrency", None)
        self.started = datetime.now(UTC)
        self.interval = settings.WORKER_HEARTBEAT_SECONDS
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def beat(self) -> None:
        try:
            write_heartbeat(self.hostname, self.queues, os.getpid(), self.concurrency, self.started)
        except OSError:
            logger.exception("could not write the worker heartbeat")

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.beat()

    def start(self) -> None:
        self.beat()
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        remove_heartbeat(self.hostname)


_current: _Beating | None = None


@signals.worker_ready.connect(weak=False, dispatch_uid="operations.heartbeat_start")
def start_heartbeat(sender=None, **kwargs):
    global _current
    if sender is None:
        return
    _current = _Beating(sender)
    _current.start()


@signals.worker_shutdown.connect(weak=False, dispatch_uid="operations.heartbeat_stop")
def stop_heartbeat(sender=None, **kwargs):
    global _current
    if _current is not None:
        _current.stop()
        _current = None


def procfile_workers(procfile: Path | None = None) -> list[dict]:
    """The worker processes `make run` starts (the Procfile): [{process, hostname, queues, concurrency}]."""
    from celery.utils.nodenames import host_format
    from django.conf import settings

    procfile = procfile or Path(settings.BASE_DIR) / "Procfile"
    try:
        lines = procfile.read_text().splitlines()
    except OSError:
        return []
    workers = []
    for line in lines:
        process, _, command = line.partition(":")
        command = command.replace("${CELERY_QUEUE_PREFIX}", settings.CELERY_QUEUE_PREFIX)
        try:
            words = shlex.split(command)
        except ValueError:
            continue
        if "celery" not in words or "worker" not in words:
            continue
        option = {flag: words[i + 1] for i, flag in enumerate(words[:-1]) if flag in ("-Q", "-n", "-c")}
        workers.append(
            {
                "process": process.strip(),
                "hostname": host_format(option["-n"]) if "-n" in option else None,
                "queues": sorted(filter(None, option.get("-Q", "").split(","))),
                "concurrency": int(option["-c"]) if option.get("-c", "").isdigit() else None,
            }
        )
    return workers
