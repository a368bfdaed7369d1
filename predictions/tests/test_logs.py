"""Following one prediction through the logs: `grep <request id>` over the output of the web server
(gunicorn, as the Procfile runs it) and of a worker tells the request's story from the POST to its
result, in plain lines and with LOG_FORMAT=json."""

from __future__ import annotations

import json
import re

import pytest

from nbaproject.testing.waiting import wait_for
from nbaproject.testing.web import WebProcess, free_port
from nbaproject.testing.worker import WorkerProcess
from predictions.models import STEP_NAMES
from predictions.services import create_api_user
from predictions.tests.conftest import ensure_season, restore_models, wait_until_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]
PORTS = range(18850, 18900)  # this test's share of the machine's ports


def story_lines(request_id: str, log_format: str, *outputs: str) -> list[dict]:
    """`grep <request id>` over the outputs, each line as {message, job_id}."""
    found = []
    for output in outputs:
        for line in output.splitlines():
            if request_id not in line:
                continue
            if log_format == "json":
                entry = json.loads(line)  # every line is one JSON object
                found.append({"message": entry["message"], "job_id": entry.get("job_id")})
            else:
                tagged = re.search(r"\[prediction ([0-9a-f-]+)\] (.*)$", line)
                found.append({"message": tagged.group(2) if tagged else line, "job_id": tagged and tagged.group(1)})
    return found


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_grep_the_request_id_over_the_web_and_worker_logs_tells_its_story(log_format, trained_model_rows):
    ensure_season()
    restore_models(trained_model_rows)
    _user, token, _created = create_api_user("alice")
    port = free_port(PORTS) or pytest.skip(f"no free port in {PORTS}")
    # Queues of its own, so this worker (whose output is read) runs every step.
    environment = {"CELERY_QUEUE_PREFIX": "logstest.", "LOG_FORMAT": log_format}
    with (
        WorkerProcess(queues=["predictions", "default"], name="logstory", **environment) as worker,
        WebProcess(port, **environment) as web,
    ):
        status, accepted = web.request(
            "POST",
            "/api/v1/predictions/",
            {"player": "luka doncic", "opponent": "Hawks", "date": "2024-01-26"},
            token=token,
        )
        assert status == 202, accepted
        request_id = accepted["id"]
        job = wait_until_done(request_id, timeout=120)
        assert job.status == "succeeded", job.message
        web.request("GET", f"/api/v1/predictions/{request_id}/", token=token)  # the client reads the result
        combine_ended = f"task predictions.tasks.combine_step[{job.task_ids['combine']}] ended: SUCCESS"
        wait_for(
            lambda: combine_ended in worker.log(),
            30,
            "the combine step's last line",
            describe=lambda: worker.log()[-2000:],
        )
        # gunicorn writes the access line after the response has gone out
        wait_for(
            lambda: f"GET /api/v1/predictions/{request_id}/ HTTP/1.1" in web.log(),
            30,
            "the GET's access line",
            describe=lambda: web.log()[-2000:],
        )
        web_log, worker_log = web.log(), worker.log()

    if log_format == "json":  # every line the web server and the worker logged is one JSON object
        for output in (web_log, worker_log):
            logged = output[output.index("{") :].splitlines()  # (a worker's banner is printed before logging)
            assert all(line.startswith("{") for line in logged if line.strip()), logged
    web_story = story_lines(request_id, log_format, web_log)
    worker_story = story_lines(request_id, log_format, worker_log)
    messages = [line["message"] for line in web_story + worker_story]

    def told(pattern: str) -> bool:
        return any(re.search(pattern, message) for message in messages)

    # From the POST ...
    assert told(rf"^prediction {request_id} stored for alice"), messages
    assert told(rf"^prediction {request_id}: run [0-9a-f]+ published$"), messages
    # ... through every step in the worker ...
    for step in STEP_NAMES:
        task = re.escape(f"predictions.tasks.{step}_step[{job.task_ids[step]}]")
        assert told(rf"^task {task} started$") and told(rf"^task {task} ended: SUCCESS$"), (step, messages)
    # ... to the result, and the client reading it (gunicorn's access log has the id in the path).
    assert told(rf"^prediction {request_id} succeeded: \d+-\d+ points"), messages
    assert told(rf'"GET /api/v1/predictions/{request_id}/ HTTP/1.1" 200'), messages
    # Every application line about it names it as its job (the access line is gunicorn's own).
    assert all(
        line["job_id"] == request_id for line in web_story + worker_story if "HTTP/1.1" not in line["message"]
    ), web_story + worker_story


def test_a_worker_line_outside_any_request_names_none(pipeline):
    """Lines between tasks (the worker's own) carry no request: the context is cleared after each task."""
    log = pipeline.log().splitlines()
    ready = [line for line in log if line.endswith(" ready.")]
    assert ready and "[prediction" not in ready[0]
