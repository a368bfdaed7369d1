"""`manage.py bootstrap`, the first-run steps of `make run`: real bundled data, schedules, the demo
user and token; a second run skips what is done and prints the same credentials."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask
from rest_framework.authtoken.models import Token

from etl.models import EtlRun, PlayerGameLog

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
