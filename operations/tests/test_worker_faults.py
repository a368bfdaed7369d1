"""A long-lived worker survives lost database connections, and time limits fail clearly."""

import json

import pytest
from django.db import connection
from django_celery_results.models import TaskResult

from nbaproject.testing.waiting import wait_for
from operations.tasks import ping

pytestmark = [pytest.mark.services, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def terminate_other_backends() -> int:
    """pg_terminate_backend every other session on the test database (the worker's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def wait_for_state(task_id, state, timeout=30):
    wait_for(
        lambda: TaskResult.objects.filter(task_id=task_id, status=state).exists(),
        timeout,
        f"task {task_id} in state {state}",
    )


def test_idle_worker_holds_no_database_session_so_a_restart_between_tasks_costs_nothing(celery_worker):
    ping.delay("warm up").get(timeout=30)
    # The worker's own sessions (named after it), not every other session on the database: an
    # autovacuum worker or another test's client is no session of the worker. The pool process
    # closes its connection after the task (Celery's Django fix-up) and after warming up
    # (predictions.worker), which on a loaded machine can come a while after the result is stored.
    wait_for(
        lambda: not celery_worker.database_sessions(),
        30,
        "no database session held by the idle worker",
        describe=celery_worker.database_sessions,
    )
    terminate_other_backends()

    assert ping.delay("after restart").get(timeout=30)["database"] is True


def test_task_whose_connection_is_killed_mid_run_retries_and_succeeds(celery_worker):
    result = ping.delay("mid-run", hold_seconds=2)
    wait_for_state(result.id, "STARTED")
    assert terminate_other_backends() >= 1

    value = result.get(timeout=60)
    assert value["database"] is True and value["retries"] >= 1


def test_task_over_its_time_limit_fails_with_a_readable_error(celery_worker):
    result = ping.apply_async(kwargs={"hold_seconds": 10}, soft_time_limit=1, time_limit=5)
    with pytest.raises(Exception) as failure:
        result.get(timeout=30)
    assert "SoftTimeLimitExceeded" in type(failure.value).__name__ + repr(failure.value)
    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "FAILURE"
    assert json.loads(row.result)["exc_type"] == "SoftTimeLimitExceeded"


def test_staff_revoke_action_terminates_a_running_task(celery_worker, client):
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("ops", password="pw"))
    result = ping.delay("long", hold_seconds=30)
    wait_for_state(result.id, "STARTED")
    row = TaskResult.objects.get(task_id=result.id)

    response = client.post(
        "/admin/django_celery_results/taskresult/", {"action": "revoke_tasks", "_selected_action": [row.pk]}
    )
    assert response.status_code == 302
    wait_for_state(result.id, "REVOKED", timeout=20)
    assert LogEntry.objects.filter(object_id=str(row.pk), change_message__contains="Revoked").exists()
    action = client.get("/admin/pipeline/data/").json()["staff_actions"][0]  # shown on the Pipeline page
    assert action["action"].startswith("Revoked operations.tasks.ping") and action["states"] == ["REVOKED"]
