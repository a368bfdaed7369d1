"""A model kind added by one module and one setting runs in the pipeline: its step between the
features and the combine, its output in the prediction, its place in the step count.

The extra kind (mlmodels/tests/median_kind.py) names its own queue, served by a worker started
here with MODEL_KINDS listing it (a worker reads its settings from the environment); the
session worker runs the other steps."""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings
from django_celery_results.models import TaskResult

from nbaproject.testing.worker import WorkerProcess
from predictions.models import PredictionEvent
from predictions.tests.conftest import client_for, make_user, wait_until_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

WITH_MEDIAN = [*django_settings.MODEL_KINDS, "mlmodels.tests.median_kind"]


@pytest.fixture
def median_worker(pipeline, settings):
    """The full pipeline, the median kind registered here and trained, and its worker."""
    from mlmodels.services import train_models

    settings.MODEL_KINDS = WITH_MEDIAN
    train_models(quick=True, kind_names=["median10"])
    with WorkerProcess(queues=["kindtest"], MODEL_KINDS=",".join(WITH_MEDIAN)) as worker:
        yield worker


def test_an_extra_model_kind_runs_as_a_pipeline_step(median_worker):
    client = client_for(make_user("alice"))
    accepted = client.post(
        "/api/v1/predictions/",
        data=json.dumps({"player": "luka doncic", "opponent": "Hawks", "date": "2024-01-26"}),
        content_type="application/json",
    )
    job = wait_until_done(accepted.json()["id"])

    assert job.status == "succeeded", job.error
    prediction = job.prediction
    assert set(prediction.model_outputs) == {"lightgbm", "keras", "median10"}
    assert prediction.model_outputs["median10"]["p50"] == pytest.approx(job.features["pts_median_10"])
    assert (job.percent, job.step_index, job.step_count) == (100, 6, 6)
    assert set(job.task_ids) == {"resolve", "features", "lightgbm", "keras", "median10", "combine"}
    assert {"lightgbm", "keras", "median10", "combine"} <= set(prediction.timings)
    step = TaskResult.objects.get(task_id=job.task_ids["median10"])
    assert (step.status, step.task_name) == ("SUCCESS", "predictions.tasks.median10_step")
    assert step.worker.startswith(median_worker.name)
    assert PredictionEvent.objects.filter(request=job, step="median10", message="Running the last-10 median").exists()
