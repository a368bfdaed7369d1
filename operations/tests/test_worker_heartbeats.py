"""The Pipeline page's Workers table on any broker: workers write heartbeat files, the page lists
them (with what the database records them running), Procfile workers that never beat, and how to
get live inspection when the broker cannot broadcast."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django_celery_results.models import TaskResult

from nbaproject.celery import queue_name
from nbaproject.testing.waiting import wait_for
from nbaproject.testing.worker import WorkerProcess
from operations import dashboard, heartbeats

HOST = os.uname().nodename
PID = os.getpid()  # a live process: a heartbeat of a pid gone from this machine is not responding


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def embedded_broker(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "queue")}


@pytest.mark.django_db
def test_embedded_broker_lists_heartbeat_workers_what_they_run_and_how_to_inspect_live(
    var_dir, embedded_broker, client
):
    started = datetime.now(UTC) - timedelta(minutes=5)
    heartbeats.write_heartbeat(
        f"predictions@{HOST}", [queue_name("predictions"), queue_name("default")], PID, 2, started
    )
    TaskResult.objects.create(
        task_id="running-1", task_name="predictions.tasks.features_step", status="STARTED", worker=f"predictions@{HOST}"
    )
    TaskResult.objects.create(task_id="elsewhere", task_name="etl.tasks.load", status="STARTED", worker="other@x")

    client.force_login(User.objects.create_superuser("ops", password="pw"))
    workers = client.get("/admin/pipeline/data/").json()["workers"]

    assert workers["available"] is False and workers["warning"] is None
    assert "RabbitMQ" in workers["note"] and "CELERY_TASK_EVENTS=1" in workers["note"] and "Flower" in workers["note"]
    by_name = {w["name"]: w for w in workers["workers"]}
    beating = by_name[f"predictions@{HOST}"]
    assert beating["state"] == "heartbeat" and beating["pid"] == PID and beating["procfile"] == "worker"
    assert beating["queues"] == sorted([queue_name("predictions"), queue_name("default")])
    assert set(by_name) == {f"predictions@{HOST}", f"batch@{HOST}"}
    assert [t["id"] for t in beating["running"]] == ["running-1"] and beating["age_seconds"] < 5
    batch = by_name[f"batch@{HOST}"]  # the Procfile's other worker never wrote one: nobody serves its queues
    assert batch["state"] == "not running" and batch["procfile"] == "batch"
    assert batch["queues"] == sorted(queue_name(q) for q in ("etl", "scraping", "ml"))


@pytest.mark.django_db
def test_a_silent_worker_is_not_responding_and_no_running_worker_is_a_warning(var_dir, embedded_broker, settings):
    heartbeats.write_heartbeat(f"predictions@{HOST}", [queue_name("predictions")], PID, 2, datetime.now(UTC))
    path = next((var_dir / "workers").glob("*.json"))
    record = json.loads(path.read_text())
    record["last_seen"] = (datetime.now(UTC) - timedelta(seconds=4 * settings.WORKER_HEARTBEAT_SECONDS)).isoformat()
    path.write_text(json.dumps(record))

    workers = dashboard.workers()

    silent = next(w for w in workers["workers"] if w["name"] == f"predictions@{HOST}")
    assert silent["state"] == "not responding" and silent["running"] == []
    assert workers["warning"].startswith("no worker is running")


@pytest.mark.django_db
def test_heartbeats_of_another_queue_prefix_and_day_old_files_are_left_out(var_dir, embedded_broker):
    heartbeats.write_heartbeat(f"other@{HOST}", ["someone-else.predictions"], 1, 1, datetime.now(UTC))
    heartbeats.write_heartbeat(f"old@{HOST}", [queue_name("default")], 2, 1, datetime.now(UTC))
    old = var_dir / "workers" / f"old@{HOST}.json"
    record = json.loads(old.read_text())
    record["last_seen"] = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    old.write_text(json.dumps(record))

    names = {w["name"] for w in dashboard.workers()["workers"]}

    assert f"other@{HOST}" not in names and f"old@{HOST}" not in names
    assert not old.exists()


def test_the_pipeline_page_has_the_workers_columns_and_a_place_for_the_note(client, db):
    client.force_login(User.objects.create_superuser("ops", password="pw"))
    page = client.get("/admin/pipeline/").content.decode()
    assert (
        "<th>Worker</th><th>State</th><th>Queues</th><th>Running now</th><th>Last heartbeat</th><th>Process</th>"
    ) in page
    assert 'id="workers-note"' in page


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_beats_while_it_runs_and_removes_its_file_when_it_stops(tmp_path):
    folder = tmp_path / "workers"
    with WorkerProcess(queues=["default"], VAR_DIR=tmp_path, WORKER_HEARTBEAT_SECONDS=1) as worker:
        path = wait_for(lambda: next(folder.glob("*.json"), None), 30, f"no heartbeat file:\n{worker.log()}")
        first = json.loads(path.read_text())
        assert first["hostname"] == worker.hostname and first["pid"] == worker.process.pid
        assert first["queues"] == [queue_name("default")]
        wait_for(
            lambda: json.loads(path.read_text())["last_seen"] > first["last_seen"], 10, "the heartbeat was not renewed"
        )
    assert not path.exists(), "a stopped worker left its heartbeat behind"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_embedded_default_page_shows_the_heartbeat_workers_and_the_note_not_a_warning(
    var_dir, embedded_broker, live_server, browser, screenshots
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    heartbeats.write_heartbeat(
        f"predictions@{HOST}",
        [queue_name("predictions"), queue_name("default")],
        PID,
        2,
        datetime.now(UTC) - timedelta(minutes=3),
    )
    TaskResult.objects.create(
        task_id="running-1", task_name="predictions.tasks.keras_step", status="STARTED", worker=f"predictions@{HOST}"
    )
    User.objects.create_superuser("ops", password="ops-pw-123")
    browser.set_window_size(1400, 1000)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/pipeline/")
    browser.find_element(By.NAME, "username").send_keys("ops")
    browser.find_element(By.NAME, "password").send_keys("ops-pw-123")
    browser.find_element(By.CSS_SELECTOR, "[type=submit]").click()
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('#workers tbody tr:not(.muted)').length") == 2
    )
    browser.execute_script("document.getElementById('workers').scrollIntoView()")
    screenshots(browser, "pipeline-embedded-workers", full_page=True)

    rows = browser.execute_script("""return Array.prototype.map.call(document.querySelectorAll('#workers tbody tr'),
        function (tr) { return Array.prototype.map.call(tr.children, function (td) { return td.textContent; }); });""")
    assert rows[0][:2] == [f"predictions@{HOST}", "heartbeat"] and rows[0][3] == "keras_step"
    assert rows[0][5] == f"Procfile: worker, pid {PID}, \u00d72"
    assert rows[1][:2] == [f"batch@{HOST}", "not running"]
    assert "Flower" in browser.find_element(By.ID, "workers-note").text
    assert browser.find_elements(By.CSS_SELECTOR, "#warnings .warn") == []
