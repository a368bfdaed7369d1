"""Flower (a dev dependency) on the test broker shows the pipeline's five tasks with their names,
arguments and workers, from the events of a worker started with CELERY_TASK_EVENTS=1 (the only
worker on the queues this test uses)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from nbaproject.testing import web
from nbaproject.testing.commands import celery_command, run_manage
from nbaproject.testing.waiting import wait_for
from nbaproject.testing.worker import CeleryProcess, WorkerProcess, worker_environment
from predictions.models import STEP_NAMES, PredictionRequest
from predictions.tests.conftest import ensure_season, restore_models

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.slow]
PORTS = range(18900, 19000)  # this test's share of the machine's ports


def free_port() -> int:
    return web.free_port(PORTS) or pytest.skip(f"no free port in {PORTS}")


class FlowerProcess(CeleryProcess):
    """`celery flower` on the test broker, its API open without login (FLOWER_UNAUTHENTICATED_API)."""

    ready_marker = "Visit me at"

    def __init__(self, port: int, **env):
        super().__init__(FLOWER_UNAUTHENTICATED_API="true", **env)
        self.port = port

    def command(self) -> list[str]:
        return celery_command("flower", "--address=127.0.0.1", f"--port={self.port}")

    def api(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
            return json.loads(response.read())


def test_flower_lists_the_pipelines_tasks_with_names_args_and_workers(trained_model_rows):
    ensure_season()
    restore_models(trained_model_rows)
    # Queues of its own: the session's worker (on every test queue, started without task events)
    # must not take a step. Flower turns events on in such a worker only with its broadcast every
    # 5 s, so a step it ran before that had no events, and Flower never heard of it.
    own_queues = {"CELERY_QUEUE_PREFIX": "flowertest."}
    with (
        FlowerProcess(free_port()) as flower,
        WorkerProcess(queues=["predictions", "default"], name="events", CELERY_TASK_EVENTS="1", **own_queues) as worker,
    ):
        # Known from its own events (heartbeats), so Flower's event receiver is listening.
        wait_for(
            lambda: flower.api("/api/workers?status=1").get(worker.hostname),
            60,
            "Flower to receive the worker's events",
            describe=lambda: flower.api("/api/workers?status=1"),
        )
        # Submitted like the API does (submit_prediction), from a process publishing to those queues.
        predict = run_manage(
            "predict",
            "luka doncic",
            *"--opponent ATL --date 2024-01-26 --user alice --json --timeout 120".split(),
            env=worker_environment(**own_queues),
            timeout=300,
        )
        assert predict.returncode == 0, predict.stderr[-3000:]
        job = PredictionRequest.objects.get(pk=json.loads(predict.stdout)["id"])
        assert job.status == "succeeded", job.message

        def seen():
            tasks = flower.api("/api/tasks")
            found = {step: tasks.get(job.task_ids[step]) for step in STEP_NAMES}
            return found if all(t and t.get("state") == "SUCCESS" for t in found.values()) else None

        found = wait_for(
            seen,
            30,
            "the five tasks in Flower",
            describe=lambda: {
                task_id: (task.get("name"), task.get("state"), task.get("worker"))
                for task_id, task in flower.api("/api/tasks").items()
            },
        )
    for step, task in found.items():
        assert task["name"] == f"predictions.tasks.{step}_step"
        assert task["args"] not in ("", "()", "[]")  # its arguments
        assert task["worker"] == worker.hostname  # and the worker that ran it
    # The request id leads the first steps' arguments; later steps get the previous result first, which
    # Celery's argument repr cuts short.
    assert str(job.pk) in found["resolve"]["args"] and str(job.pk) in found["features"]["args"]
