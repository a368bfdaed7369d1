"""A task travels through the broker to a real worker process and its result is read
back from a TaskResult row in the database."""

import json

import pytest
from celery import chain
from django.conf import settings
from django.test import Client
from django_celery_results.models import TaskResult

from nbaproject.celery import queue_name
from operations.tasks import ping

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.smoke
def test_ping_round_trip_is_recorded_in_task_result(celery_worker):
    result = ping.delay("hello")
    value = result.get(timeout=30)

    assert value["payload"] == "hello" and value["database"] is True
    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "SUCCESS"
    assert row.task_name == "operations.tasks.ping"
    assert row.worker == celery_worker.hostname
    assert row.task_args == "\"('hello',)\""


@pytest.mark.services
def test_round_trip_goes_through_rabbitmq_and_postgresql(celery_worker):
    assert settings.CELERY_BROKER_URL.startswith("amqp://")
    result = ping.delay("real services")
    assert result.get(timeout=30)["vendor"] == "postgresql"
    assert TaskResult.objects.get(task_id=result.id).status == "SUCCESS"


@pytest.mark.smoke
def test_chain_of_two_tasks_across_two_queues(celery_worker):
    workflow = chain(ping.s("first").set(queue=queue_name("etl")), ping.s().set(queue=queue_name("ml")))
    result = workflow.apply_async()
    final = result.get(timeout=30)

    assert final["payload"]["payload"] == "first"
    rows = {row.task_id: row for row in TaskResult.objects.filter(task_id__in=[result.id, result.parent.id])}
    assert rows[result.parent.id].status == rows[result.id].status == "SUCCESS"
    assert json.loads(rows[result.parent.id].meta)["queue"] == queue_name("etl")
    assert json.loads(rows[result.id].meta)["queue"] == queue_name("ml")
    assert "first" in rows[result.id].task_args


@pytest.mark.smoke
def test_api_root_and_health_answer():
    client = Client()
    assert client.get("/healthz").json()["database"] == "ok"
    assert client.get("/api/v1/", HTTP_ACCEPT="application/json").status_code == 200
