"""The staff Pipeline page: staff only, live JSON from TaskResults, the broker and the workers."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django_celery_results.models import TaskResult

from nbaproject.celery import app, queue_name
from operations import dashboard
from operations.tasks import cleanup_task_results, ping


@pytest.fixture
def staff_client(client, db):
    user = User.objects.create_superuser("staff", password="pw")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_pipeline_page_and_data_refuse_anonymous_and_non_staff(client):
    for url in ("/admin/pipeline/", "/admin/pipeline/data/"):
        assert client.get(url).status_code == 302
    client.force_login(User.objects.create_user("fan", password="pw"))
    for url in ("/admin/pipeline/", "/admin/pipeline/data/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_index_links_to_pipeline(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert 'href="/admin/pipeline/"' in page


def test_pipeline_page_renders_for_staff(staff_client):
    response = staff_client.get("/admin/pipeline/")
    assert response.status_code == 200
    assert b'data-source="/admin/pipeline/data/"' in response.content


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_data_shows_a_finished_task_its_queue_the_workers_and_queue_depths(staff_client, celery_worker):
    ping.delay("dashboard").get(timeout=30)
    dashboard.cache.delete("dashboard:workers")

    data = staff_client.get("/admin/pipeline/data/").json()

    task = next(t for t in data["task_results"] if t["name"] == "operations.tasks.ping")
    assert task["state"] == "SUCCESS" and task["worker"] == celery_worker.hostname
    assert task["queue"] == queue_name("default") and task["runtime"] >= 0
    assert task["admin_url"].startswith("/admin/django_celery_results/taskresult/")
    assert data["counts_last_hour"]["SUCCESS"] >= 1
    assert data["queues"]["available"] is True
    assert {q["name"] for q in data["queues"]["queues"]} >= {queue_name("predictions"), queue_name("ml")}
    worker = next(w for w in data["workers"]["workers"] if w["name"] == celery_worker.hostname)
    assert queue_name("predictions") in worker["queues"]
    assert data["workers"]["warning"] is None


@pytest.mark.services
def test_queue_depth_counts_waiting_messages():
    from kombu import Queue

    name = queue_name("depth-probe")  # a queue no test worker consumes
    with app.connection_for_write() as conn:
        queue = Queue(name, routing_key=name, auto_delete=False)(conn.default_channel)
        queue.declare()
        queue.purge()
        producer = conn.Producer()
        for _ in range(3):
            producer.publish({"probe": True}, routing_key=name, exchange="")
        try:
            depths = {q["name"]: q["messages"] for q in dashboard.queue_depths(names=[name])["queues"]}
            assert depths[name] == 3
        finally:
            queue.delete()


@pytest.mark.services
@pytest.mark.django_db
def test_unreachable_broker_is_reported_not_raised():
    nowhere = "amqp://guest:guest@127.0.0.1:1//"
    depths = dashboard.queue_depths(broker_url=nowhere)
    workers = dashboard.workers(broker_url=nowhere)
    assert depths["available"] is False and "broker unreachable" in depths["error"]
    assert workers["available"] is False and "broker unreachable" in workers["warning"]
    assert not any(w["state"] == "answering" for w in workers["workers"])  # heartbeats may still list some


@pytest.mark.django_db
def test_task_result_admin_lists_runtime_and_queue(staff_client):
    now = timezone.now()
    TaskResult.objects.create(
        task_id="t-1",
        task_name="operations.tasks.ping",
        status="SUCCESS",
        meta='{"queue": "predictions"}',
        worker="w@h",
    )
    TaskResult.objects.filter(task_id="t-1").update(date_started=now - dt.timedelta(seconds=2), date_done=now)
    page = staff_client.get("/admin/django_celery_results/taskresult/?q=t-1").content.decode()
    assert "2.000" in page and "predictions" in page


@pytest.mark.django_db
def test_cleanup_deletes_only_old_finished_results_in_batches():
    old = timezone.now() - dt.timedelta(days=40)
    for i in range(7):
        TaskResult.objects.create(task_id=f"old-{i}", status="SUCCESS")
    TaskResult.objects.create(task_id="old-running", status="STARTED")
    TaskResult.objects.filter(task_id__startswith="old").update(date_done=old)  # date_done is auto_now
    TaskResult.objects.create(task_id="recent", status="SUCCESS")

    summary = cleanup_task_results.run(older_than_days=30, batch_size=3)

    assert summary["deleted"] == 7
    assert set(TaskResult.objects.values_list("task_id", flat=True)) == {"old-running", "recent"}
