"""Pool processes of a worker on the predictions queue: warmed, and holding no database session."""

from __future__ import annotations

import os

import pytest

from nbaproject.testing.waiting import wait_for
from nbaproject.testing.worker import WorkerProcess

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_warmed_pool_processes_hold_no_database_session(celery_worker):
    worker = WorkerProcess(queues=["predictions"], concurrency=2, name=f"warm-idle-{os.getpid()}").start()
    try:
        wait_for(
            lambda: worker.log().count("pool process warmed") == 2,
            90,
            "both pool processes warmed",
            describe=lambda: worker.log()[-2000:],
        )
        # The warm-up's model lookup opened a connection in each process; nothing closes it until
        # that process runs a task, unless the warm-up does.
        wait_for(
            lambda: not worker.database_sessions(),
            10,
            "no database session held by the idle worker",
            describe=worker.database_sessions,
        )
    finally:
        worker.stop()
