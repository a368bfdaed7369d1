"""A step that keeps dying with its worker process is given up on, not redelivered forever.

acks_late + reject_on_worker_lost give a step back to the queue whenever its pool process dies,
so a step that kills its process (a crash in a native library, the OOM killer) would come back
for ever. Every start of a step is counted per run; past PREDICTIONS_MAX_STEP_STARTS the
request fails with a readable reason and the attempt stops (its message is acknowledged).
These call the step state machine (predictions.progress) directly, as each redelivered attempt does, on PostgreSQL (its
one-statement path) and, as smoke tests, on SQLite (the locking transaction).
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from predictions import progress
from predictions.models import PredictionEvent, PredictionRequest
from predictions.pipeline import new_run
from predictions.progress import StaleRun
from predictions.tests.conftest import make_user

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def queued_request() -> PredictionRequest:
    return PredictionRequest.objects.create(user=make_user("alice"), player_input="Luka Doncic", attempts=1)


def start_run(request: PredictionRequest) -> str:
    token, task_ids = new_run()
    progress.begin_step(request.pk, token, "resolve", task_ids)
    progress.finish_step(request.pk, token, "resolve", 0.01)
    return token


@override_settings(PREDICTIONS_MAX_STEP_STARTS=3)
def test_a_step_started_too_often_in_one_run_fails_the_request_with_the_reason():
    request = queued_request()
    token = start_run(request)
    for _ in range(3):  # the first attempt, then two redeliveries after its process died
        progress.begin_step(request.pk, token, "keras")

    with pytest.raises(StaleRun):
        progress.begin_step(request.pk, token, "keras")

    request.refresh_from_db()
    assert request.status == "failed"
    assert request.message == (
        "the step 'Running the Keras model' was started 3 times without finishing (its worker process stopped "
        "each time); it was given up on and the team has the details. Please try again later."
    )
    assert request.step_starts == {"resolve": 1, "keras": 3}
    last = PredictionEvent.objects.filter(request=request).last()
    assert (last.status, last.message) == ("failed", request.message)
    with pytest.raises(StaleRun):  # a later delivery of any step stops quietly
        progress.begin_step(request.pk, token, "lightgbm")


@override_settings(PREDICTIONS_MAX_STEP_STARTS=2)
def test_starts_are_counted_per_step_and_per_run():
    request = queued_request()
    token = start_run(request)
    progress.begin_step(request.pk, token, "keras")
    progress.begin_step(request.pk, token, "keras")
    progress.begin_step(request.pk, token, "lightgbm")  # another step has its own count
    progress.begin_step(request.pk, token, "lightgbm")

    # The sweeper takes the stalled request back: a new run starts every count again.
    PredictionRequest.objects.filter(pk=request.pk).update(status="queued", run_token="")
    token = start_run(request)
    progress.begin_step(request.pk, token, "keras")
    progress.begin_step(request.pk, token, "keras")

    request.refresh_from_db()
    assert request.status == "running" and request.step_starts == {"resolve": 1, "keras": 2}
