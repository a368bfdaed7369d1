"""The prediction pipeline under faults, with real worker processes, RabbitMQ and PostgreSQL.

- `kill -9` of the pool process running a step (the worker lives on and forks a new one), and
  of a whole worker (main process and pool): the step is redelivered (acks_late +
  reject_on_worker_lost; RabbitMQ requeues what a dead connection had not acknowledged), a
  new process runs it and the request succeeds with exactly one Prediction.
- RabbitMQ stopped (`rabbitmqctl stop_app`) while requests are submitted, then started: every
  request answered 202 finishes, none lost, none doubled.

A step is held where it is wanted with a test-only PostgreSQL trigger: the step's "done"
progress event (its first write: the previous step's finish recorded that it started) waits on an
advisory lock the test holds, inside the step's statement, so the step is mid-run (its message
unacknowledged) for as long as the test needs. The session of a killed attempt, still waiting there,
is ended (as a crash would end it) so that it commits nothing.

Elsewhere (not repeated here): a worker's database connection killed during a task, a task
over its time limit, the idle worker holding no session (operations/tests/test_worker_faults.py);
two beats send once (operations/tests/test_beat_schedules.py); the broker unreachable at submit
and the sweeper re-queuing a stranded request (predictions/tests/test_pipeline.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter

import pytest
from django.conf import settings
from django_celery_results.models import TaskResult
from kombu.exceptions import OperationalError as KombuOperationalError

from nbaproject.celery import app, queue_name
from nbaproject.testing.services import reachable
from nbaproject.testing.waiting import wait_for
from nbaproject.testing.worker import BeatProcess, WorkerProcess
from operations.dashboard import queue_depths
from predictions.models import (
    STEP_LABELS,
    Prediction,
    PredictionEvent,
    PredictionRequest,
)
from predictions.pipeline import SWEEPER_SCHEDULE_NAME, ensure_sweeper_schedule
from predictions.tests.conftest import TriggerHold, client_for, make_user, wait_until_done

pytestmark = [pytest.mark.services, pytest.mark.reliability, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/predictions/"
HOLD_LOCK = 80_842  # advisory lock key of the step hold
MATCHUPS = [
    ("Luka Doncic", "ATL", "2024-01-26"),
    ("Jayson Tatum", "NYK", "2024-02-24"),
    ("Nikola Jokic", "BOS", "2024-03-07"),
    ("Anthony Edwards", "DEN", "2024-03-29"),
    ("Shai Gilgeous-Alexander", "DAL", "2024-03-20"),
    ("Luka Doncic", "BOS", "2024-03-01"),
]


def submit(client, n: int) -> str:
    player, opponent, day = MATCHUPS[n % len(MATCHUPS)]
    response = client.post(
        URL, data=json.dumps({"player": player, "opponent": opponent, "date": day}), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


# --- Fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
def own_workers(pipeline):
    """start(name) -> a new worker (2 pool processes) on the predictions queue. Meanwhile the
    session's worker stops consuming that queue, so only these run prediction steps."""
    queue = queue_name("predictions")
    assert app.control.cancel_consumer(queue, destination=[pipeline.hostname], reply=True, timeout=5)
    started: list[WorkerProcess] = []

    def start(name: str) -> WorkerProcess:
        worker = WorkerProcess(queues=["predictions"], concurrency=2, name=f"rel-{name}-{os.getpid()}").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()

    def consuming_again() -> bool:  # after a broker restart the worker may still be reconnecting
        try:  # a fresh connection: a pooled one may date from before a broker restart
            with app.connection_for_write() as conn:
                app.control.add_consumer(queue, destination=[pipeline.hostname], reply=True, timeout=2, connection=conn)
                queues = (
                    app.control.inspect(destination=[pipeline.hostname], timeout=2, connection=conn).active_queues()
                    or {}
                )
        except (OSError, KombuOperationalError):
            return False
        return queue in [q["name"] for q in queues.get(pipeline.hostname, [])]

    wait_for(consuming_again, 90, "the session's worker consuming the predictions queue again")


class StepHold(TriggerHold):
    """Holds every run of one step inside its finish (its "done" progress event: the first write of its
    first delivery, whose start the previous step's finish recorded) until release()."""

    def __init__(self, step: str):
        assert step in STEP_LABELS
        super().__init__(
            "test_hold_step",
            "predictions_predictionevent",
            HOLD_LOCK,
            condition=f"NEW.step = '{step}' AND NEW.message LIKE '%: done'",
        )
        self.step = step


def running_pid(worker: WorkerProcess, task_id: str, timeout: float = 60, not_pid: int | None = None) -> int:
    """The pid of the worker's pool process executing `task_id` (as the worker itself reports it)."""

    def find():
        active = app.control.inspect(destination=[worker.hostname], timeout=1).active() or {}
        pids = [t["worker_pid"] for t in active.get(worker.hostname, []) if t["id"] == task_id]
        return next((pid for pid in pids if pid and pid != not_pid), None)

    return wait_for(find, timeout, f"{worker.hostname} running task {task_id}")


def finished_events(job_id, step: str) -> int:
    """Committed "step done" events of one step: a step redelivered after its attempt was killed
    (the killed attempt may have recorded that it started) is recorded as done once."""
    return PredictionEvent.objects.filter(request_id=job_id, step=step, message=f"{STEP_LABELS[step]}: done").count()


def assert_one_result(job_id):
    job = wait_until_done(job_id, timeout=120)
    assert job.status == "succeeded", job.message
    assert Prediction.objects.filter(request_id=job_id).count() == 1
    assert PredictionEvent.objects.filter(request_id=job_id, status="succeeded").count() == 1
    return job


# --- A worker killed mid-chain -----------------------------------------------------------------------------


def test_kill_9_of_the_pool_process_running_a_step_redelivers_it_to_a_new_process(own_workers):
    worker = own_workers("a")
    client = client_for(make_user("alice"))
    with StepHold("lightgbm") as hold:  # a chord member, mid-chain: resolve and features are done
        job_id = submit(client, 0)
        task_id = PredictionRequest.objects.get(pk=job_id).task_ids["lightgbm"]
        wait_for(hold.waiting, 90, "the lightgbm step held")
        victim = running_pid(worker, task_id)
        assert victim in worker.child_pids() and victim != worker.process.pid

        os.kill(victim, signal.SIGKILL)
        successor = running_pid(worker, task_id, not_pid=victim)  # redelivered, run by a new pool process
        assert successor in worker.child_pids() and victim not in worker.child_pids()
        assert PredictionRequest.objects.get(pk=job_id).status == "running"
        # The killed attempt's finish, still waiting at the hold (the row locked), rolls back; the
        # redelivered one records its start, then waits at the hold in its own finish.
        assert hold.end_waiting() == 1
        wait_for(hold.waiting, 90, "the redelivered lightgbm step held in its finish")
        hold.release()
        job = assert_one_result(job_id)

    assert worker.process.poll() is None  # only the pool process died
    assert f"pid:{victim} exited with 'signal 9 (SIGKILL)'" in worker.log()
    assert finished_events(job_id, "lightgbm") == 1 and job.attempts == 1
    assert job.step_starts["lightgbm"] == 2  # handed over by features, then the redelivery
    assert TaskResult.objects.get(task_id=task_id).status == "SUCCESS"


def warmed_lines(worker: WorkerProcess) -> list[str]:
    return [line for line in worker.log().splitlines() if "pool process warmed" in line]


def test_every_new_pool_process_loads_the_models_before_its_first_prediction(own_workers):
    from mlmodels.models import ModelVersion

    active = dict(ModelVersion.objects.filter(active=True).values_list("algorithm", "pk"))
    loaded = ", ".join(f"{algorithm}={pk}" for algorithm, pk in sorted(active.items()))
    worker = own_workers("warm")
    wait_for(lambda: len(warmed_lines(worker)) == 2, 90, "both pool processes warmed")
    assert all(line.endswith(f"models {loaded} loaded") for line in warmed_lines(worker))

    os.kill(worker.child_pids()[0], signal.SIGKILL)  # its replacement warms up too
    wait_for(lambda: len(warmed_lines(worker)) == 3, 90, "the replacement pool process warmed")
    job = assert_one_result(submit(client_for(make_user("alice")), 0))
    assert set(job.prediction.model_versions.values()) == set(active.values())


def test_a_worker_without_the_predictions_queue_loads_no_model(pipeline):
    worker = WorkerProcess(queues=["etl"], concurrency=1, name=f"rel-etl-{os.getpid()}").start()
    try:  # a task run there: its pool process finished starting (warming would come first)
        app.send_task("predictions.tasks.noop", queue=queue_name("etl")).get(timeout=60)
        assert "predictions.tasks.noop" in worker.log() and not warmed_lines(worker)
    finally:
        worker.stop()


def test_kill_9_of_a_whole_worker_mid_chain_a_new_worker_finishes_the_request(own_workers):
    first = own_workers("a")
    client = client_for(make_user("alice"))
    features_queue = queue_name("predictions")
    with StepHold("features") as hold:  # the second step: resolve is done and acknowledged
        job_id = submit(client, 1)
        task_id = PredictionRequest.objects.get(pk=job_id).task_ids["features"]
        wait_for(hold.waiting, 90, "the features step held")
        assert running_pid(first, task_id) in first.child_pids()

        os.killpg(first.process.pid, signal.SIGKILL)  # main process and its pool, no goodbye to the broker
        first.process.wait(10)
        # RabbitMQ saw the connection die and put the unacknowledged message back.
        wait_for(
            lambda: queue_depths([features_queue])["queues"][0]["messages"] >= 1,
            30,
            "the unacknowledged step back in its queue",
        )
        second = own_workers("b")
        running_pid(second, task_id)
        assert hold.end_waiting() == 1  # the killed worker's finish, still waiting: it rolls back
        wait_for(hold.waiting, 90, "the redelivered features step held in its finish")
        hold.release()
        job = assert_one_result(job_id)

    assert finished_events(job_id, "features") == 1 and job.attempts == 1
    assert job.step_starts["features"] == 2  # handed over by resolve, then the redelivery (RabbitMQ's flag)
    assert set(job.prediction.timings) >= {"resolve", "features", "lightgbm", "keras", "combine"}
    assert TaskResult.objects.get(task_id=task_id).worker.startswith(second.name)


# --- RabbitMQ stopped while requests arrive -----------------------------------------------------------------


class RabbitMQ:
    """The local RabbitMQ application, stopped and started with rabbitmqctl (the Erlang node stays up)."""

    def __init__(self):
        self.stopped_at: float | None = None

    @staticmethod
    def ctl(*args: str, timeout: float = 60) -> None:
        subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=timeout)

    def stop(self) -> None:
        self.stopped_at = time.monotonic()
        self.ctl("stop_app")
        assert not reachable(settings.CELERY_BROKER_URL, timeout=0.5)

    def start(self) -> float:
        """Start the app again, wait until AMQP answers; returns the outage in seconds."""
        if self.stopped_at is None:
            return 0.0
        self.ctl("start_app")
        self.ctl("await_startup")
        wait_for(lambda: reachable(settings.CELERY_BROKER_URL, timeout=0.5), 60, "RabbitMQ port 5672")
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=20, interval_start=0.2, interval_step=0.2)
        outage, self.stopped_at = time.monotonic() - self.stopped_at, None
        return outage


@pytest.fixture
def rabbitmq():
    if not settings.CELERY_BROKER_URL.startswith("amqp") or not shutil.which("rabbitmqctl"):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("the broker test needs the local RabbitMQ and rabbitmqctl")
        pytest.skip("needs the local RabbitMQ and rabbitmqctl")
    broker = RabbitMQ()
    try:
        yield broker
    finally:
        broker.start()  # always leave the broker up for the other tests


def test_rabbitmq_stopped_while_requests_arrive_every_accepted_request_finishes_once(own_workers, rabbitmq):
    own_workers("a")
    ensure_sweeper_schedule()  # beat's sweeper, every 2 s here (30 s in production), shorter timeouts
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_2s, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name=SWEEPER_SCHEDULE_NAME).update(
        interval=every_2s, kwargs=json.dumps({"grace": 1, "queued_after": 20, "running_after": 30})
    )
    client = client_for(make_user("alice"))

    before = [submit(client, n) for n in range(3)]  # published; the worker is on them
    rabbitmq.stop()
    during = []
    for n in range(6):
        started = time.monotonic()
        during.append(submit(client, n))
        assert time.monotonic() - started < 5, "a stopped broker must not hold the request"
        time.sleep(0.5)
    not_published = PredictionRequest.objects.filter(pk__in=during).exclude(enqueue_error="").count()
    outage = rabbitmq.start()
    assert outage < 20, f"the outage took {outage:.1f} s"
    assert not_published == len(during)  # the broker really was down for them
    after = [submit(client, n) for n in range(3)]

    accepted = before + during + after
    with BeatProcess():  # the sweeper publishes what the outage left behind
        jobs = [wait_until_done(job_id, timeout=120) for job_id in accepted]

    assert [job.status for job in jobs] == ["succeeded"] * len(accepted), [job.message for job in jobs]
    assert PredictionRequest.objects.count() == len(accepted)  # none doubled at submit
    per_request = Counter(Prediction.objects.values_list("request_id", flat=True))
    assert {str(pk) for pk in per_request} == set(accepted) and set(per_request.values()) == {1}
    results = Counter(PredictionEvent.objects.filter(status="succeeded").values_list("request_id", flat=True))
    assert set(results.values()) == {1}  # one result event each: a re-run after success stored nothing
    assert all(job.enqueue_error == "" for job in jobs)
