"""`manage.py bootstrap`, the first-run steps of `make run`: real bundled data, schedules, the demo
user and token; a second run skips what is done and prints the same credentials."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask
from rest_framework.authtoken.models import Token

from etl.models import EtlRun, PlayerGameLog
from nbaproject.celery import queue_name
from operations.heartbeats import remove_heartbeat, write_heartbeat

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def bootstrap(*args) -> str:
    out = io.StringIO()
    call_command("bootstrap", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_bootstrap_loads_the_bundled_seasons_once_and_keeps_the_demo_credentials(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = bootstrap("--no-train")

    assert PlayerGameLog.objects.count() == 226_315
    assert "9 file(s) loaded" in first
    token = Token.objects.get(user__username="demo")
    assert token.user.is_staff and f"API token:  {token.key}" in first
    assert PeriodicTask.objects.filter(name="Retrain the models weekly", enabled=False).exists()

    second = bootstrap("--no-train")
    assert "0 file(s) loaded, 9 already loaded and skipped" in second
    assert f"API token:  {token.key}" in second
    password = (tmp_path / "demo-credentials.txt").read_text().strip()
    assert f"password: {password}" in first and f"password: {password}" in second
    assert EtlRun.objects.count() == 1 and PlayerGameLog.objects.count() == 226_315


def test_bootstrap_does_not_train_when_an_active_model_set_exists(settings, tmp_path, trained_model_rows):
    from predictions.tests.conftest import restore_models

    restore_models(trained_model_rows)
    settings.VAR_DIR = tmp_path
    output = bootstrap("--no-data")
    assert "an active LightGBM and Keras set exists, not training" in output


def test_bootstrap_serves_quick_models_and_queues_the_full_training_once(settings, tmp_path, monkeypatch, client):
    """First start: quick models trained in seconds, one full training queued for the batch worker
    (not again on the next start), and the page and the banner say which models answer."""
    from django.contrib.auth.models import User

    from mlmodels.models import ModelVersion, TrainingRun
    from mlmodels.runs import start_run
    from mlmodels.tasks import train
    from predictions.tests.conftest import ensure_season

    sent = []
    # Recorded instead of sent: a test worker on the ml queue would start a minutes-long full training.
    monkeypatch.setattr(train, "apply_async", lambda kwargs=None, task_id=None, **_: sent.append((kwargs, task_id)))
    ensure_season()
    ModelVersion.objects.all().delete()
    settings.VAR_DIR = tmp_path

    first = bootstrap("--no-data")

    active = ModelVersion.objects.filter(active=True)
    assert sorted(active.values_list("algorithm", flat=True)) == ["keras", "lightgbm"]
    assert all(version.training_run.quick for version in active)
    full = TrainingRun.objects.get(quick=False)
    assert (full.status, full.stage) == (TrainingRun.Status.QUEUED, "queued")
    assert sent == [({"quick": False}, full.task_id)]
    assert "Full training queued for the batch worker" in first
    assert "quick models (keras v" in first and "better ones are on their way" in first
    # the task, when a worker takes it, carries on in the run row written here
    assert start_run("train", full.seasons, False, full.task_id) == (full, False)

    # the batch worker is alive (its heartbeat) and training: the next start leaves the run alone
    write_heartbeat("batch@host", [queue_name("ml")], os.getpid(), 1, datetime.now(UTC))
    second = bootstrap("--no-data")
    assert len(sent) == 1 and TrainingRun.objects.filter(quick=False).count() == 1
    assert "already queued or running" in second and "Training quick" not in second

    # make run stopped mid-training (no batch worker left): the next start queues the training again
    remove_heartbeat("batch@host")
    third = bootstrap("--no-data")
    full.refresh_from_db()
    assert full.status == TrainingRun.Status.FAILED and "interrupted" in full.message
    assert f"Training run {full.pk} was cut off" in third and "Full training queued" in third
    again = TrainingRun.objects.exclude(pk=full.pk).get(quick=False)
    assert sent[1:] == [({"quick": False}, again.task_id)]

    client.force_login(User.objects.get(username="demo"))
    page = client.get("/").content.decode()
    assert "Answering with: quick models (keras v" in page and "better ones are on their way" in page


def test_bootstrap_banner_names_the_address_gunicorn_binds(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("WEB_BIND", "127.0.0.1:18377")
    output = bootstrap("--no-data", "--no-train")
    assert "site:       http://127.0.0.1:18377/" in output and "curl -H" in output
    assert ":8000" not in output
    assert f"(kept in {tmp_path / 'demo-credentials.txt'})" in output
