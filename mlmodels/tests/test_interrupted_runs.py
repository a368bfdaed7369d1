"""A training cut off with its worker (make run stopped mid-training) is not waited for forever:
`bootstrap` marks it failed when no live worker serves the ml queue, and queues the training again."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from mlmodels.models import TrainingRun
from mlmodels.runs import INTERRUPTED, fail_interrupted_runs
from nbaproject.celery import queue_name
from operations.heartbeats import write_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # heartbeats live under VAR_DIR/workers: none yet
    running = TrainingRun.objects.create(
        kind="train", status=TrainingRun.Status.RUNNING, task_id="t-running", stage="lightgbm q10", percent=8
    )
    queued = TrainingRun.objects.create(kind="train", status=TrainingRun.Status.QUEUED, task_id="t-queued")
    return running, queued


def test_with_no_ml_worker_alive_a_running_run_is_failed_and_a_queued_one_left(runs):
    running, queued = runs
    assert [run.pk for run in fail_interrupted_runs()] == [running.pk]
    running.refresh_from_db()
    queued.refresh_from_db()
    assert running.status == TrainingRun.Status.FAILED and running.message == INTERRUPTED
    assert running.finished_at is not None
    assert queued.status == TrainingRun.Status.QUEUED  # its message may still be in the queue


def test_a_live_ml_worker_may_be_doing_it_so_nothing_is_touched(runs):
    running, _ = runs
    write_heartbeat("batch@host", [queue_name("ml")], os.getpid(), 1, datetime.now(UTC))
    assert fail_interrupted_runs() == []
    running.refresh_from_db()
    assert running.status == TrainingRun.Status.RUNNING


def test_a_live_worker_of_other_queues_does_not_count(runs):
    running, _ = runs
    write_heartbeat("predictions@host", [queue_name("predictions")], os.getpid(), 2, datetime.now(UTC))
    assert [run.pk for run in fail_interrupted_runs()] == [running.pk]


def test_a_fresh_heartbeat_of_a_process_that_is_gone_does_not_count(runs):
    """make run stopped a moment ago: the batch worker's file is recent but its process is gone."""
    import socket
    import subprocess

    running, _ = runs
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: its pid names no process now
    gone_pid = child.pid
    write_heartbeat(f"batch@{socket.gethostname()}", [queue_name("ml")], gone_pid, 1, datetime.now(UTC))
    assert [run.pk for run in fail_interrupted_runs()] == [running.pk]
