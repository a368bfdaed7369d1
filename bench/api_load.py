#!/usr/bin/env python
"""Load benchmark of the prediction API and pipeline, on the loopback with the production server.

Starts gunicorn (the Procfile's settings, DEBUG off) and one Celery worker with 2 processes on the
predictions queue (own queue prefix, so a running app is not disturbed), then prints:

  1. POST /api/v1/predictions/ latency p50/p99 and requests/s at --clients concurrent clients;
  2. prediction throughput (predictions/s) draining the backlog those POSTs created;
  3. end-to-end latency p50/p99 of single predictions with warm workers (one at a time);
  4. the same two figures for a chain of no-op tasks of the same shape
     (a -> b -> group(c, d) -> e, same queue, same result backend): the floor the pipeline can approach.

  5. `bare`: GET /api/v1/teams/{id}/ (the cheapest authenticated endpoint, same token auth) with the
     same clients and requests: the framework's own floor in the same run.

The ratios compare figures measured side by side: the POST and bare loads run in alternating rounds,
and each end-to-end sample follows a no-op chain's sample, so both sides meet the same neighbours
on a shared machine.

Targets: POST p99 < 50 ms and end-to-end p50 < 500 ms (issue 6, absolute); as ratios in one run
(issue 13): `post_vs_bare` = POST req/s / bare req/s >= 0.7, `e2e_vs_noop` = warm end-to-end p50 /
no-op chain p50 <= 1.5, `throughput_ratio` = pipeline / no-op throughput >= 0.5. `--json` prints the figures
as one JSON object. Uses DATABASE_URL/CELERY_BROKER_URL
from the environment or .env (PostgreSQL + RabbitMQ for meaningful figures); loads the bundled
2023-24 season and trains quick models first if the database has none.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from nbaproject.testing.commands import worker_command  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Processes:
    """The server processes this benchmark starts (and only those are stopped)."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], env: dict, name: str) -> subprocess.Popen:
        logfile = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        proc = subprocess.Popen(
            cmd, cwd=BASE_DIR, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
        proc.logfile = logfile.name
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what}: process exited; see {proc.logfile}")
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what}: not ready after {timeout:.0f} s" + (f"; see {proc.logfile}" if proc else ""))


def bench_arguments(doc: str, workers: bool = False) -> argparse.ArgumentParser:
    """The command line every bench shares: its docstring's first paragraph as the description, --json,
    and --worker-processes (2) for a bench that starts a Celery worker."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    if workers:
        parser.add_argument("--worker-processes", type=int, default=2, help="Celery worker (pool) processes (2)")
    return parser


def bench_environment(**overrides) -> dict:
    """The environment of the bench's web and worker processes: production settings (DEBUG off) on
    this database and broker, the throttles out of the way, unbuffered output."""
    from django.conf import settings

    return dict(
        os.environ,
        DEBUG="0",
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        THROTTLE_PREDICTIONS="100000000/min",
        THROTTLE_USER="100000000/min",
        PYTHONUNBUFFERED="1",
        **overrides,
    )


def start_web(procs: Processes, port: int, env: dict) -> subprocess.Popen:
    """The production server (gunicorn with the Procfile's settings, nbaproject/gunicorn.py) on the
    loopback; returns once /healthz answers."""
    bin_dir = Path(sys.executable).parent
    web = procs.start(
        [
            str(bin_dir / "gunicorn"),
            "nbaproject.wsgi",
            "-c",
            "python:nbaproject.gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env,
        "web",
    )

    def web_up():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    wait_for(web_up, 60, "gunicorn", web)
    return web


def purge_queues(app) -> None:
    """Drop the messages a run left in the project's queues, so the next run starts clean."""
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            try:
                queue(conn.default_channel).purge()
            except Exception:  # a queue nobody declared yet
                pass


def start_prediction_worker(
    procs: Processes, env: dict, app, name: str, processes: int, timeout: float = 90
) -> subprocess.Popen:
    """A prefork worker on the predictions and default queues; returns once it answers a ping."""
    prefix = env.get("CELERY_QUEUE_PREFIX", "")
    worker = procs.start(
        worker_command([f"{prefix}predictions", f"{prefix}default"], processes, "prefork", name, "warning"),
        env,
        "worker",
    )
    wait_for(lambda: bool(app.control.ping(destination=[name], timeout=0.5)), timeout, "celery worker", worker)
    return worker


def setup_django(queues: str = "bench.", **environ) -> str:
    """Django set up for a bench on queues of its own (`<CELERY_QUEUE_PREFIX><queues>`, so a running
    app is not disturbed), `environ` exported first; returns the queue prefix."""
    prefix = os.environ.get("CELERY_QUEUE_PREFIX", "") + queues
    os.environ.update(CELERY_QUEUE_PREFIX=prefix, DJANGO_SETTINGS_MODULE="nbaproject.settings", **environ)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))  # unless .env gives one (read by settings)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import django

    django.setup()
    return prefix


@contextmanager
def serving(tag: str, processes: int, timeout: float):
    """gunicorn on a free port and a prediction worker of `processes` pool processes named
    `bench<tag><pid>@<host>`, for the `with` block: yields (port, worker name, worker); stops both and
    empties the queues on the way out."""
    from nbaproject.celery import app

    port = free_port()
    env = bench_environment(LOG_LEVEL="WARNING")
    procs = Processes()
    try:
        start_web(procs, port, env)
        name = f"bench{tag}{os.getpid()}@{socket.gethostname()}"
        yield port, name, start_prediction_worker(procs, env, app, name, processes, timeout=timeout)
    finally:
        procs.stop()
        purge_queues(app)


def prepare_data() -> None:
    """The schema up to date, then the bundled season and active models when the database has none."""
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)

    from etl.models import PlayerGameLog
    from mlmodels.models import ModelVersion

    if not PlayerGameLog.objects.exists():
        from etl.services import load_gamelogs
        from etl.teams import seed_teams

        log("no game logs: loading the bundled 2023-24 season")
        seed_teams()
        load_gamelogs([Path(settings.BUNDLED_DATA_DIR) / "player_logs_2023-24.csv.gz"])
    if not ModelVersion.objects.filter(active=True).exists():
        from mlmodels.services import train_models

        log("no active models: training quick models")
        train_models(quick=True)


def sample_bodies(count: int) -> list[dict]:
    """Real (player, opponent, date) of past games, each with enough earlier games of the player to
    learn from (more than PREDICTIONS_MIN_RECENT_GAMES, so none is refused as thin data): every POST
    resolves to a game in the database and succeeds."""
    from django.conf import settings
    from django.db.models import F, Window
    from django.db.models.functions import RowNumber

    from etl.models import PlayerGameLog

    earlier = Window(RowNumber(), partition_by=[F("player")], order_by=F("date").asc())
    rows = list(
        PlayerGameLog.objects.annotate(nth=earlier)
        .filter(seconds__gte=600, nth__gt=settings.PREDICTIONS_MIN_RECENT_GAMES)
        .order_by("?")
        .values_list("player__name", "opponent__code", "date")[: max(count, 50)]
    )
    return [
        {"player": name, "opponent": opp, "date": day.isoformat()}
        for name, opp, day in (random.choice(rows) for _ in range(count))
    ]


class Client:
    """One keep-alive HTTP connection per client thread."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, body: dict) -> tuple[int, float, dict]:
        """POST one prediction. A keep-alive connection the server closed meanwhile (idle longer
        than its keep-alive timeout) is replaced and the POST sent again with the same
        Idempotency-Key, so a retry can never create a second request."""
        payload = json.dumps(body)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Token {self.token}",
            "Accept": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        return self.send("POST", "/api/v1/predictions/", payload, headers)

    def get(self, path: str) -> tuple[int, float, dict]:
        """GET with the same token auth (the `bare` yardstick)."""
        return self.send("GET", path, None, {"Authorization": f"Token {self.token}", "Accept": "application/json"})

    def send(self, method: str, path: str, payload, headers: dict) -> tuple[int, float, dict]:
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, payload, headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        elapsed = time.perf_counter() - started
        return response.status, elapsed, json.loads(data or b"{}")


def post_load(port: int, tokens: list[str], bodies: list[dict], clients: int, get_path: str | None = None) -> dict:
    """POST the bodies from `clients` threads, client i as user tokens[i % len(tokens)]; with
    `get_path`, GET that path as many times instead (the bare yardstick: same clients, same auth)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    ids: list[str] = []
    lock = threading.Lock()
    queue = list(bodies)

    def worker(token):
        client = Client(port, token)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            status, elapsed, data = client.get(get_path) if get_path else client.post(body)
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202 and not get_path:
                    ids.append(data["id"])

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(tokens[i % len(tokens)],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load_figures(latencies, statuses, time.perf_counter() - started, ids)


def load_figures(latencies: list[float], statuses: dict[int, int], wall: float, ids: list[str]) -> dict:
    return {
        "requests": len(latencies),
        "statuses": statuses,
        "seconds": round(wall, 3),
        "p50_ms": round(1000 * percentile(latencies, 50), 2),
        "p99_ms": round(1000 * percentile(latencies, 99), 2),
        "requests_per_s": round(len(latencies) / wall, 1),
        "ids": ids,
        "latencies": latencies,
    }


def alternating_loads(port: int, tokens: list[str], posts: int, clients: int, get_path: str, rounds: int = 4):
    """The POST load and the bare GET load in alternating rounds of posts/rounds requests each, so both
    meet the same machine: on a shared one the load moves within seconds, and two phases run one after
    the other compared the neighbours as much as the code. Returns (posts, bare), each over its rounds."""
    size = max(1, posts // rounds)
    bodies = sample_bodies(size * rounds)
    post_rounds, bare_rounds = [], []
    for number in range(rounds):
        post_rounds.append(post_load(port, tokens, bodies[number * size : (number + 1) * size], clients))
        bare_rounds.append(post_load(port, tokens, [{}] * size, clients, get_path=get_path))
    return merged_loads(post_rounds), merged_loads(bare_rounds)


def merged_loads(loads: list[dict]) -> dict:
    statuses: dict[int, int] = {}
    for load in loads:
        for status, count in load["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return load_figures(
        [latency for load in loads for latency in load["latencies"]],
        statuses,
        sum(load["seconds"] for load in loads),
        [pk for load in loads for pk in load["ids"]],
    )


def wait_requests(ids: list[str], timeout: float) -> list:
    from predictions.models import PredictionRequest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = PredictionRequest.objects.filter(pk__in=ids, status__in=["queued", "running"]).count()
        if pending == 0:
            break
        time.sleep(0.1)
    return list(PredictionRequest.objects.filter(pk__in=ids).values_list("status", "created_at", "finished_at"))


def drain_figures(rows: list) -> dict:
    ok = [(created, finished) for status, created, finished in rows if status == "succeeded"]
    failed = sum(1 for status, *_ in rows if status == "failed")
    if not ok:
        return {"predictions": 0, "failed": failed, "predictions_per_s": 0.0}
    span = (max(f for _, f in ok) - min(c for c, _ in ok)).total_seconds()
    return {
        "predictions": len(ok),
        "failed": failed,
        "seconds": round(span, 3),
        "predictions_per_s": round(len(ok) / span, 2) if span else None,
    }


def e2e_predictions(port: int, token: str, bodies: list[dict], between=None) -> dict:
    """Single predictions, one at a time, created -> finished; `between` is called after each (the
    no-op chain's sample: both then meet the same machine)."""
    client = Client(port, token)
    latencies = []
    for body in bodies:
        if between is not None:
            between()
        status, _, data = client.post(body)
        if status != 202:
            continue
        [(state, created, finished)] = wait_requests([data["id"]], 60)
        if state == "succeeded":
            latencies.append((finished - created).total_seconds())
    return {
        "samples": len(latencies),
        "p50_ms": round(1000 * percentile(latencies, 50), 1),
        "p99_ms": round(1000 * percentile(latencies, 99), 1),
    }


def noop_chain():
    from celery import chain, group

    from predictions.tasks import noop

    return chain(noop.si(), noop.si(), group(noop.s(), noop.s()), noop.s())


def wait_task_results(task_ids: list[str], timeout: float) -> list:
    from django_celery_results.models import TaskResult

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(
            TaskResult.objects.filter(task_id__in=task_ids, status="SUCCESS").values_list("date_done", flat=True)
        )
        if len(rows) == len(task_ids):
            return rows
        time.sleep(0.05)
    raise SystemExit(f"no-op chains: only {len(rows)} of {len(task_ids)} finished after {timeout:.0f} s")


def noop_latency() -> float:
    """Seconds from publishing one no-op chain to its last task's result."""
    from django.utils import timezone

    started = timezone.now()
    final = noop_chain().apply_async()
    [done] = wait_task_results([final.id], 60)
    return (done - started).total_seconds()


def noop_figures(latencies: list[float], backlog: int) -> dict:
    """The no-op chain's latency figures (samples taken between the predictions') and its throughput
    draining `backlog` chains."""
    from django.utils import timezone

    started = timezone.now()
    finals = [noop_chain().apply_async().id for _ in range(backlog)]
    dones = wait_task_results(finals, 600)
    span = (max(dones) - started).total_seconds()
    return {
        "samples": len(latencies),
        "p50_ms": round(1000 * percentile(latencies, 50), 1),
        "p99_ms": round(1000 * percentile(latencies, 99), 1),
        "chains": backlog,
        "seconds": round(span, 3),
        "chains_per_s": round(backlog / span, 2),
    }


def main() -> None:
    parser = bench_arguments(__doc__, workers=True)
    parser.add_argument("--clients", type=int, default=32, help="concurrent POST clients (32)")
    parser.add_argument("--posts", type=int, default=640, help="POSTs in the load phase (640)")
    parser.add_argument("--samples", type=int, default=40, help="single predictions timed end to end (40)")
    parser.add_argument("--noop-chains", type=int, default=640, help="no-op chains in the throughput run (640)")
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="use the database as it is (do not migrate, load the bundled season or train quick models)",
    )
    args = parser.parse_args()

    prefix = setup_django()
    from django.conf import settings

    from nbaproject.celery import app
    from predictions.accounts import create_api_user
    from predictions.models import PredictionRequest

    if not args.no_prepare:
        prepare_data()
    # One user per client, as 32 people asking at once would be (each with the per-user
    # submission throttle on, its limit raised above what one client can send here).
    users, tokens = zip(*[create_api_user(f"bench-{number}")[:2] for number in range(args.clients)], strict=True)
    token = tokens[0]
    try:
        with serving("", args.worker_processes, 60) as (port, worker_name, worker):
            log(f"server on 127.0.0.1:{port}, worker with {args.worker_processes} processes; warming up")
            warm = e2e_predictions(port, token, sample_bodies(args.worker_processes * 3))
            if not warm["samples"]:
                raise SystemExit(
                    f"warm-up predictions did not succeed: check the models and the worker log {worker.logfile}"
                )

            # The web tier is measured on its own (the worker stops consuming, staying warm), then the
            # worker drains the backlog the POSTs left: the pipeline's throughput from a full queue.
            queue = f"{prefix}predictions"
            app.control.cancel_consumer(queue, destination=[worker_name], reply=True)
            log(f"POST load: {args.posts} requests, {args.clients} clients (worker paused), after a warm-up")
            # The framework's own floor in the same run: the cheapest authenticated endpoint, same load,
            # in rounds alternating with the POSTs'.
            from etl.models import Team

            team_path = f"/api/v1/teams/{Team.objects.order_by('pk').values_list('pk', flat=True).first()}/"
            warm_posts = post_load(port, tokens, sample_bodies(args.clients * 4), args.clients)  # connections, caches
            post_load(port, tokens, [{}] * (args.clients * 4), args.clients, get_path=team_path)
            posts, bare = alternating_loads(port, tokens, args.posts, args.clients, team_path)
            single = post_load(port, tokens, sample_bodies(min(200, args.posts)), 1)  # the cost of one POST alone
            for load in (posts, single, bare):
                load.pop("latencies")
            bare.pop("ids")
            log("draining the pipeline backlog")
            app.control.add_consumer(queue, destination=[worker_name], reply=True)
            drained = drain_figures(wait_requests(warm_posts.pop("ids") + posts.pop("ids") + single.pop("ids"), 900))
            log(f"end to end: {args.samples} single predictions, each after a no-op chain of the same shape")
            noop_latencies: list[float] = []
            e2e = e2e_predictions(
                port, token, sample_bodies(args.samples), between=lambda: noop_latencies.append(noop_latency())
            )
            log("no-op chains' throughput")
            floor = noop_figures(noop_latencies, args.noop_chains)
    finally:
        PredictionRequest.objects.filter(user__in=users).delete()

    ratio = (drained["predictions_per_s"] or 0) / floor["chains_per_s"] if floor["chains_per_s"] else None
    post_vs_bare = posts["requests_per_s"] / bare["requests_per_s"] if bare["requests_per_s"] else None
    e2e_vs_noop = e2e["p50_ms"] / floor["p50_ms"] if floor["p50_ms"] else None
    figures = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
        "worker_processes": args.worker_processes,
        "post": posts,
        "post_one_client": single,
        "bare": {key: bare[key] for key in ("requests", "statuses", "requests_per_s", "p50_ms", "p99_ms")},
        "post_vs_bare": round(post_vs_bare, 3) if post_vs_bare is not None else None,
        "pipeline": {
            **drained,
            "e2e_p50_ms": e2e["p50_ms"],
            "e2e_p99_ms": e2e["p99_ms"],
            "e2e_samples": e2e["samples"],
        },
        "noop_chain": floor,
        "throughput_ratio": round(ratio, 3) if ratio is not None else None,
        "e2e_vs_noop": round(e2e_vs_noop, 3) if e2e_vs_noop is not None else None,
        "targets": {
            "post_vs_bare_at_least_0.7": bool(post_vs_bare and post_vs_bare >= 0.7),
            "e2e_vs_noop_at_most_1.5": bool(e2e_vs_noop and e2e_vs_noop <= 1.5),
            "post_p99_under_50ms": posts["p99_ms"] < 50,
            "e2e_p50_under_500ms": e2e["p50_ms"] < 500,
            "throughput_at_least_half_of_noop": bool(ratio and ratio >= 0.5),
        },
    }
    if args.json:
        print(json.dumps(figures))
        return
    ok = {True: "ok", False: "MISSED"}
    print(f"database {figures['database']}, broker {figures['broker']}, {args.worker_processes} worker processes")
    print(
        f"POST /api/v1/predictions/  {posts['requests']} requests, {args.clients} clients: "
        f"p50 {posts['p50_ms']} ms, p99 {posts['p99_ms']} ms, {posts['requests_per_s']} req/s "
        f"[{ok[figures['targets']['post_p99_under_50ms']]}: p99 < 50 ms]  statuses {posts['statuses']}"
    )
    print(
        f"POST, one client at a time:  p50 {single['p50_ms']} ms, p99 {single['p99_ms']} ms, "
        f"{single['requests_per_s']} req/s"
    )
    print(
        f"bare GET {team_path} (same clients, same auth): p50 {bare['p50_ms']} ms, p99 {bare['p99_ms']} ms, "
        f"{bare['requests_per_s']} req/s; POST / bare: {figures['post_vs_bare']} "
        f"[{ok[figures['targets']['post_vs_bare_at_least_0.7']]}: >= 0.7]"
    )
    print(
        f"pipeline end to end (warm):  p50 {e2e['p50_ms']} ms, p99 {e2e['p99_ms']} ms "
        f"[{ok[figures['targets']['e2e_p50_under_500ms']]}: p50 < 500 ms]"
    )
    print(
        f"pipeline throughput:         {drained['predictions_per_s']} predictions/s "
        f"({drained['predictions']} ok, {drained['failed']} failed)"
    )
    print(
        f"no-op chain (same shape):    p50 {floor['p50_ms']} ms, p99 {floor['p99_ms']} ms, "
        f"{floor['chains_per_s']} chains/s"
    )
    print(
        f"e2e p50 / no-op p50:         {figures['e2e_vs_noop']} "
        f"[{ok[figures['targets']['e2e_vs_noop_at_most_1.5']]}: <= 1.5]"
    )
    print(
        f"pipeline / no-op throughput: {figures['throughput_ratio']} "
        f"[{ok[figures['targets']['throughput_at_least_half_of_noop']]}: >= 0.5]"
    )


if __name__ == "__main__":
    main()
