#!/usr/bin/env python
"""Soak test of the prediction pipeline: N predictions over M minutes against the real services,
optionally with a worker killed and RabbitMQ restarted midway; every accepted request must finish once.

Uses its own PostgreSQL database (default `nba_soak` on the server of DATABASE_URL: created and
migrated when missing, the bundled 2023-24 season loaded and quick models trained when absent)
and its own queue prefix (`<CELERY_QUEUE_PREFIX>soak.`), then starts gunicorn, one Celery worker
with --worker-processes pool processes (2) and beat (the sweeper, here every --sweep-every s,
re-queuing requests stuck for --stuck-after s). It submits the predictions at an even pace from
--clients threads (each POST with its own Idempotency-Key, resent with the same key if the
connection drops), and midway:

  --kill-worker          kill -9 the pool process running a task (the worker forks a new one);
  --kill-worker=all      kill -9 the whole worker (main process and pool); a new worker is started
                         2 s later, as a supervisor would;
  --restart-broker       `rabbitmqctl stop_app`, --outage seconds (5), `start_app` (needs the local
                         RabbitMQ; the broker is always started again, even on Ctrl-C).

Then it waits until every accepted request is done (or --drain-timeout) and prints: accepted,
succeeded, failed, lost (accepted but never finished: must be 0), duplicated (more than one
result for a request, or more request rows than accepted POSTs: must be 0), end-to-end p50/p99
(created -> finished on the request row) and the worker's resident memory (main + pool
processes) after the warm-up and at the end. `--json` prints exactly those figures as one object.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.api_load import (  # noqa: E402
    Client,
    Processes,
    bench_arguments,
    bench_environment,
    free_port,
    log,
    percentile,
    prepare_data,
    purge_queues,
    sample_bodies,
    setup_django,
    start_web,
    wait_for,
)
from bench.etl_load import server_url  # noqa: E402
from nbaproject.testing.commands import celery_command, worker_command  # noqa: E402

JSON_KEYS = [
    "accepted",
    "succeeded",
    "failed",
    "lost",
    "duplicated",
    "e2e_p50_ms",
    "e2e_p99_ms",
    "worker_rss_start_mb",
    "worker_rss_end_mb",
]


def ensure_database(base_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url(base_url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return server_url(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url(base_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (a worker's main process and its pool), in MB."""
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    total_kb = 0
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return round(total_kb / 1024, 1)


class Broker:
    """The local RabbitMQ application (rabbitmqctl stop_app / start_app)."""

    def __init__(self, url: str):
        self.url, self.down = url, False

    def stop(self) -> None:
        self.down = True
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        if not self.down:
            return
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120)
        from nbaproject.testing.services import reachable

        wait_for(lambda: reachable(self.url), 60, "RabbitMQ port")
        self.down = False


class Soak:
    def __init__(self, args, port: int, token: str, env: dict, procs: Processes):
        self.args, self.port, self.token, self.env, self.procs = args, port, token, env, procs
        self.accepted: list[str] = []
        self.rejected: Counter = Counter()
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.worker = None
        self.worker_name = ""

    # --- processes ---
    def start_worker(self, tag: str):
        prefix = self.env["CELERY_QUEUE_PREFIX"]
        self.worker_name = f"soak{tag}-{os.getpid()}@{socket.gethostname()}"
        self.worker = self.procs.start(
            worker_command(
                [f"{prefix}predictions", f"{prefix}default"],
                self.args.worker_processes,
                "prefork",
                self.worker_name,
                "warning",
            ),
            self.env,
            f"worker{tag}",
        )
        from nbaproject.celery import app

        def pong() -> bool:  # on a new connection (see kill_worker)
            try:
                with app.connection_for_write() as conn:
                    return bool(app.control.ping(destination=[self.worker_name], timeout=0.5, connection=conn))
            except OSError:
                return False

        wait_for(pong, 90, "celery worker", self.worker)

    def note(self, message: str) -> None:
        log(message)
        self.events.append(f"{time.strftime('%H:%M:%S')} {message}")

    # --- faults ---
    def kill_worker(self) -> None:
        from nbaproject.celery import app

        if self.args.kill_worker == "all":
            victim = self.worker
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(10)
            self.note(f"killed -9 the whole worker (pid {victim.pid} and its pool)")
            time.sleep(2)
            self.start_worker("2")
            self.note(f"started a new worker (pid {self.worker.pid})")
            return
        busy = None
        deadline = time.monotonic() + 10
        while busy is None and time.monotonic() < deadline:  # a pool process in the middle of a step
            try:  # on a new connection: a pooled one idle since the start may have been closed by the broker
                with app.connection_for_write() as conn:
                    active = (
                        app.control.inspect(destination=[self.worker_name], timeout=1, connection=conn).active() or {}
                    )
            except OSError as exc:  # the control connection dropped: ask again
                log(f"inspect failed ({exc.__class__.__name__}: {exc}); asking again")
                time.sleep(0.5)
                continue
            busy = next((t["worker_pid"] for t in active.get(self.worker_name, []) if t.get("worker_pid")), None)
        children = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(self.worker.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        victim = busy if busy in children else children[0]
        os.kill(victim, signal.SIGKILL)
        self.note(f"killed -9 pool process {victim} ({'running a task' if victim == busy else 'idle'})")

    def restart_broker(self, broker: Broker) -> None:
        broker.stop()
        self.note("RabbitMQ stopped (stop_app)")
        time.sleep(self.args.outage)
        started = time.monotonic()
        broker.start()
        self.note(f"RabbitMQ started again after {self.args.outage + time.monotonic() - started:.1f} s down")

    # --- load ---
    def submit_all(self, bodies: list[dict], broker: Broker | None) -> float:
        count, span = len(bodies), self.args.minutes * 60
        t0 = time.monotonic()
        cursor = iter(range(count))
        faults = []
        if self.args.kill_worker:
            faults.append((span / 3, self.kill_worker))
        if broker is not None:
            faults.append((2 * span / 3, lambda: self.restart_broker(broker)))

        def chaos():
            for at, action in faults:
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                try:
                    action()
                except Exception as exc:  # report it; the broker is restored by main's finally
                    self.note(f"fault injection failed: {exc.__class__.__name__}: {exc}")

        def client():
            conn = Client(self.port, self.token)
            while True:
                with self.lock:
                    index = next(cursor, None)
                if index is None:
                    return
                time.sleep(max(0.0, t0 + index * span / count - time.monotonic()))
                try:
                    status, _, data = conn.post(bodies[index])
                except Exception as exc:
                    status, data = exc.__class__.__name__, {}
                with self.lock:
                    if status == 202:
                        self.accepted.append(data["id"])
                    else:
                        self.rejected[str(status)] += 1

        threads = [threading.Thread(target=chaos, daemon=True)] + [
            threading.Thread(target=client) for _ in range(self.args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads[1:]:
            thread.join()
        threads[0].join()
        return time.monotonic() - t0


def count_outcome(accepted: list[str], user, drain_timeout: float) -> dict:
    from predictions.models import Prediction, PredictionEvent, PredictionRequest

    deadline = time.monotonic() + drain_timeout
    while time.monotonic() < deadline:
        if not PredictionRequest.objects.filter(pk__in=accepted, status__in=["queued", "running"]).exists():
            break
        time.sleep(1)
    rows = {
        str(row[0]): row[1:]
        for row in PredictionRequest.objects.filter(pk__in=accepted).values_list(
            "pk", "status", "created_at", "finished_at", "attempts", "enqueued_at"
        )
    }
    succeeded = [r for r in rows.values() if r[0] == "succeeded"]
    results = Counter(
        str(pk)
        for pk in PredictionEvent.objects.filter(request_id__in=accepted, status="succeeded").values_list(
            "request_id", flat=True
        )
    )
    predictions = Counter(
        str(pk) for pk in Prediction.objects.filter(request_id__in=accepted).values_list("request_id", flat=True)
    )
    extra_rows = max(0, PredictionRequest.objects.filter(user=user).count() - len(set(accepted)))
    latencies = [(finished - created).total_seconds() for _, created, finished, *_ in succeeded]
    return {
        "accepted": len(accepted),
        "succeeded": len(succeeded),
        "failed": sum(1 for r in rows.values() if r[0] == "failed"),
        "lost": sum(1 for pk in accepted if pk not in rows or rows[pk][0] in ("queued", "running")),
        "duplicated": sum(1 for n in results.values() if n > 1)
        + sum(1 for n in predictions.values() if n > 1)
        + extra_rows
        + (len(accepted) - len(set(accepted))),
        "e2e_p50_ms": round(1000 * percentile(latencies, 50), 1),
        "e2e_p99_ms": round(1000 * percentile(latencies, 99), 1),
        "_runs": Counter(r[3] for r in rows.values()),
        "_published_late": sum(1 for r in rows.values() if r[4] and (r[4] - r[1]).total_seconds() > 1),
    }


def main() -> int:
    parser = bench_arguments(__doc__, workers=True)
    parser.add_argument("--requests", "-n", type=int, default=2000, help="predictions to submit (2000)")
    parser.add_argument("--minutes", "-m", type=float, default=10, help="spread over this many minutes (10)")
    parser.add_argument("--clients", type=int, default=4, help="submitting threads (4)")
    parser.add_argument(
        "--kill-worker",
        nargs="?",
        const="pool",
        choices=["pool", "all"],
        help="at 1/3 of the run, kill -9 a busy pool process (pool) or the whole worker (all)",
    )
    parser.add_argument("--restart-broker", action="store_true", help="at 2/3 of the run, stop RabbitMQ for --outage s")
    parser.add_argument("--outage", type=float, default=5, help="seconds RabbitMQ stays stopped (5; keep it short)")
    parser.add_argument("--sweep-every", type=int, default=10, help="sweeper interval in seconds (10; production 30)")
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=120,
        help="the sweeper re-queues requests stuck queued/running this long (120; production 300)",
    )
    parser.add_argument("--drain-timeout", type=float, default=600, help="wait this long for the backlog (600 s)")
    parser.add_argument("--database", default="nba_soak", help="own database on DATABASE_URL's server (nba_soak)")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards (default: kept for reuse)")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not base_url.startswith(("postgres://", "postgresql://")):
        parser.error("DATABASE_URL must point at PostgreSQL")
    broker_url = os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    if not broker_url.startswith("amqp"):
        parser.error("CELERY_BROKER_URL must point at RabbitMQ")
    setup_django(
        "soak.",
        DATABASE_URL=ensure_database(base_url, args.database),
        CELERY_BROKER_URL=broker_url,
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    from django.conf import settings
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from nbaproject.celery import app
    from predictions.accounts import create_api_user
    from predictions.models import PredictionRequest
    from predictions.pipeline import SWEEPER_SCHEDULE_NAME, ensure_sweeper_schedule

    prepare_data()  # (migrates first)
    ensure_sweeper_schedule()
    every, _ = IntervalSchedule.objects.get_or_create(every=args.sweep_every, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name=SWEEPER_SCHEDULE_NAME).update(
        interval=every, kwargs=json.dumps({"queued_after": args.stuck_after, "running_after": args.stuck_after})
    )
    user, token, _ = create_api_user("soak")
    PredictionRequest.objects.filter(user=user).delete()

    port = free_port()
    env = bench_environment()
    procs = Processes()
    broker = Broker(broker_url) if args.restart_broker else None
    soak = Soak(args, port, token, env, procs)
    try:
        start_web(procs, port, env)
        soak.start_worker("1")
        procs.start(
            celery_command(
                "beat", "-l", "warning", "--pidfile", str(Path(settings.VAR_DIR) / f"soak-beat-{os.getpid()}.pid")
            ),
            env,
            "beat",
        )

        log(f"warming up {args.worker_processes} pool processes (models loaded once per process)")
        warm = Client(port, token)
        warm_ids = [warm.post(body)[2]["id"] for body in sample_bodies(args.worker_processes * 3)]
        wait_for(
            lambda: not PredictionRequest.objects.filter(pk__in=warm_ids, status__in=["queued", "running"]).exists(),
            180,
            "warm-up predictions",
        )
        PredictionRequest.objects.filter(pk__in=warm_ids).delete()
        rss_start = rss_mb(soak.worker.pid)
        log(f"submitting {args.requests} predictions over {args.minutes} min from {args.clients} clients")
        seconds = soak.submit_all(sample_bodies(args.requests), broker)
        log(f"submitted in {seconds:.0f} s ({len(soak.accepted)} accepted); draining")
        figures = count_outcome(soak.accepted, user, args.drain_timeout)
        rss_end = rss_mb(soak.worker.pid)
    finally:
        if broker is not None:
            broker.start()
        procs.stop()
        purge_queues(app)
        PredictionRequest.objects.filter(user=user).delete()
        if args.drop:
            from django.db import connections

            connections.close_all()
            drop_database(base_url, args.database)

    runs, late = figures.pop("_runs"), figures.pop("_published_late")
    figures.update(worker_rss_start_mb=rss_start, worker_rss_end_mb=rss_end)
    assert list(figures) == JSON_KEYS
    if args.json:
        print(json.dumps(figures))
        return 0 if figures["lost"] == figures["duplicated"] == 0 else 1
    print(
        f"{args.requests} predictions over {args.minutes} min, {args.worker_processes} pool processes, "
        f"faults: kill-worker={args.kill_worker or 'no'}, restart-broker={'yes' if broker else 'no'}"
    )
    for event in soak.events:
        print(f"  {event}")
    refused = f"   (not accepted: {dict(soak.rejected)})" if soak.rejected else ""
    print(f"accepted    {figures['accepted']}{refused}")
    print(f"succeeded   {figures['succeeded']}")
    print(f"failed      {figures['failed']}")
    print(f"lost        {figures['lost']}   (must be 0)")
    print(f"duplicated  {figures['duplicated']}   (must be 0)")
    print(f"end to end  p50 {figures['e2e_p50_ms']} ms, p99 {figures['e2e_p99_ms']} ms")
    print(f"worker RSS  {rss_start} MB after warm-up -> {rss_end} MB at the end")
    print(
        f"pipeline runs per request {dict(sorted(runs.items()))}; published by the sweeper after a failed "
        f"publish: {late}"
    )
    return 0 if figures["lost"] == figures["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
