"""LOG_FORMAT=json: one JSON object per line, from the web process's handlers and a real worker's."""

from __future__ import annotations

import json
import logging

import pytest

from nbaproject.celery import app, queue_name
from nbaproject.testing.waiting import wait_for
from nbaproject.testing.worker import WorkerProcess
from operations import logs

QUEUE = "logs-json"  # only this test's worker consumes it


def test_the_json_formatter_writes_one_object_per_line_with_the_job():
    record = logging.LogRecord("etl.services", logging.WARNING, __file__, 1, "loaded %s\nrows", ("a.csv",), None)
    with logs.job_context("etl", 42):
        bound = logging.getLogRecordFactory()("x", logging.INFO, __file__, 1, "inside", (), None)
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    entry = json.loads(text)
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "etl.services", "loaded a.csv\nrows")
    assert "job_id" not in entry
    assert (json.loads(logs.JsonFormatter().format(bound))["job_id"], bound.job) == ("42", "[etl 42] ")


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_real_worker_with_log_format_json_writes_only_json_lines():
    with WorkerProcess(queues=[QUEUE], name="jsonlogs", LOG_FORMAT="json") as worker:
        result = app.send_task("operations.tasks.ping", kwargs={"payload": "hello"}, queue=queue_name(QUEUE))
        result.get(timeout=60)
        wait_for(lambda: "succeeded" in worker.log(), 30, "the task's success line", describe=worker.log)
        lines = [line for line in worker.log().splitlines() if line.strip()]  # before the shutdown's print
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    # Celery's banner is printed (not logged) before logging starts; every logged line is JSON.
    logged = lines[lines.index(next(line for line in lines if line.startswith("{"))) :]
    assert len(entries) == len(logged), [line for line in logged if not line.startswith("{")]
    assert any(e["message"].endswith(" ready.") for e in entries)
    done = [e for e in entries if "succeeded" in e["message"]]
    assert done and done[0]["task_id"] == result.id and done[0]["task_name"] == "operations.tasks.ping"
