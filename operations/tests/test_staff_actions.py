"""Staff actions from admin: each starts a real task on the worker, is recorded, and shows on
the Pipeline page with the task's state; the TaskResult links back to the job it ran."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

from etl.models import EtlRun, PlayerGameLog
from nbaproject.testing.waiting import wait_for
from operations.schedules import OPERATIONS_SCHEDULES, ensure_periodic_tasks

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("boss", password="pw")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def snapshot_until(client, predicate, timeout=120):
    def snapshot():
        data = client.get("/admin/pipeline/data/").json()
        return data if predicate(data) else None

    return wait_for(
        snapshot,
        timeout,
        "the Pipeline page showing it",
        interval=0.3,
        describe=lambda: client.get("/admin/pipeline/data/").json()["staff_actions"],
    )


def test_pipeline_page_offers_the_buttons_the_user_may_use(client, staff_client):
    page = staff_client.get("/admin/pipeline/").content.decode()
    assert 'data-action="load-bundled"' in page and 'data-action="retrain"' in page

    limited = User.objects.create_user("clerk", password="pw", is_staff=True)
    limited.user_permissions.add(Permission.objects.get(codename="add_etlrun"))
    client.force_login(limited)
    page = client.get("/admin/pipeline/").content.decode()
    assert 'data-action="load-bundled"' in page and 'data-action="retrain"' not in page
    assert client.post("/admin/pipeline/run/retrain/").status_code == 403
    assert not LogEntry.objects.exists()


def test_actions_need_a_post_from_staff(client, staff_client):
    assert staff_client.get("/admin/pipeline/run/load-bundled/").status_code == 405
    assert staff_client.post("/admin/pipeline/run/format-disk/").status_code == 404
    client.logout()
    client.force_login(User.objects.create_user("fan", password="pw"))
    response = client.post("/admin/pipeline/run/load-bundled/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not LogEntry.objects.exists()


@pytest.mark.services
def test_load_bundled_data_now_runs_on_the_worker_and_is_followed_on_pipeline(staff_client, staff, celery_worker):
    response = staff_client.post("/admin/pipeline/run/load-bundled/")
    assert response.status_code == 302 and response["Location"] == "/admin/pipeline/"

    entry = LogEntry.objects.get()
    assert entry.user == staff and "Load the bundled seasons now" in entry.change_message

    def finished(d):  # the snapshot's parts are read one after another: wait for both
        return (
            d["staff_actions"]
            and d["staff_actions"][0]["states"] == ["SUCCESS"]
            and any(j["kind"] == "etl" and j["status"] != "running" for j in d["jobs"])
        )

    data = snapshot_until(staff_client, finished, timeout=240)
    action = data["staff_actions"][0]
    assert action["user"] == "boss" and action["action"] == "Load the bundled seasons now"
    run = EtlRun.objects.get()
    assert run.status == EtlRun.Status.SUCCEEDED and run.task_id == action["task_links"][0]["task_id"]
    assert PlayerGameLog.objects.count() == run.counts["inserted"] > 200_000
    job = next(j for j in data["jobs"] if j["kind"] == "etl")
    assert job["status"] == "succeeded" and job["task_links"][0]["task_id"] == run.task_id

    # ...and back: the TaskResult's admin page links to the ETL run it ran.
    task = TaskResult.objects.get(task_id=run.task_id)
    page = staff_client.get(f"/admin/django_celery_results/taskresult/{task.pk}/change/").content.decode()
    assert f'href="/admin/etl/etlrun/{run.pk}/change/"' in page


@pytest.mark.services
def test_run_a_periodic_task_now_from_admin(staff_client, celery_worker):
    ensure_periodic_tasks(OPERATIONS_SCHEDULES)
    cleanup = PeriodicTask.objects.get(name="Clean up old task results")

    response = staff_client.post(
        "/admin/django_celery_beat/periodictask/", {"action": "run_tasks", "_selected_action": [cleanup.pk]}
    )
    assert response.status_code == 302

    data = snapshot_until(staff_client, lambda d: d["staff_actions"] and d["staff_actions"][0]["states"] == ["SUCCESS"])
    action = data["staff_actions"][0]
    assert action["action"] == "Ran periodic task 'Clean up old task results' now"
    task = TaskResult.objects.get(task_id=action["task_links"][0]["task_id"])
    assert task.task_name == "operations.tasks.cleanup_task_results" and '"deleted": 0' in task.result
    assert "Clean up old task results" in (task.periodic_task_name or "")
    assert LogEntry.objects.filter(object_id=str(cleanup.pk)).exists()  # in the periodic task's history too
