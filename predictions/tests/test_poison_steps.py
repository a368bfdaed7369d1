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


# --- Handed over: a step's finish records that the next steps started ------------------------------------


def handed_to_models(request: PredictionRequest) -> str:
    """A run whose features step finished and handed over to the model steps (their first deliveries
    then write nothing before their own finish)."""
    token, task_ids = new_run()
    progress.begin_step(request.pk, token, "resolve", task_ids)
    progress.finish_step(request.pk, token, "resolve", 0.01, then=("features",))
    progress.finish_step(request.pk, token, "features", 0.01, then=("lightgbm", "keras"))
    return token


@override_settings(PREDICTIONS_MAX_STEP_STARTS=3)
def test_a_handed_over_step_counts_its_first_delivery_and_each_redelivery_then_is_given_up():
    request = queued_request()
    token = handed_to_models(request)
    request.refresh_from_db()
    assert request.step_starts["keras"] == 1 and request.step_starts["lightgbm"] == 1
    assert (request.stage, request.step_index) == ("keras", 4)

    # The first delivery died without writing; each redelivery records its own start (predictions.tasks).
    progress.begin_step(request.pk, token, "keras")
    progress.begin_step(request.pk, token, "keras")
    with pytest.raises(StaleRun):  # the 4th delivery: 3 starts already
        progress.begin_step(request.pk, token, "keras")

    request.refresh_from_db()
    assert request.status == "failed" and request.message == progress.gave_up_message("keras", 3)
    with pytest.raises(StaleRun):  # the other model step's finish stops quietly
        progress.finish_step(request.pk, token, "lightgbm", 0.01, then=("combine",), once_all_done=True)


def test_one_statement_finishes_a_step_starts_the_next_and_writes_both_events():
    request = queued_request()
    token = handed_to_models(request)
    messages = list(PredictionEvent.objects.filter(request=request).order_by("id").values_list("step", "message"))
    assert messages == [
        ("resolve", "Finding the player and the game"),
        ("resolve", "Finding the player and the game: done"),
        ("features", "Building features"),
        ("features", "Building features: done"),
        ("lightgbm", "Running the LightGBM model"),
        ("keras", "Running the Keras model"),
    ]
    # The last model step hands over to combine; the first one to finish does not.
    progress.finish_step(request.pk, token, "keras", 0.01, then=("combine",), once_all_done=True)
    request.refresh_from_db()
    assert (request.stage, request.percent, request.step_starts.get("combine")) == ("keras", 60, None)
    progress.finish_step(request.pk, token, "lightgbm", 0.01, then=("combine",), once_all_done=True)
    request.refresh_from_db()
    assert (request.stage, request.step_index, request.percent) == ("combine", 5, 80)
    assert request.step_starts["combine"] == 1 and request.steps_done == ["resolve", "features", "keras", "lightgbm"]
    last = list(PredictionEvent.objects.filter(request=request).order_by("-id").values_list("step", "message")[:3])
    assert last == [
        ("combine", "Combining the models and storing the range"),
        ("lightgbm", "Running the LightGBM model: done"),
        ("keras", "Running the Keras model: done"),
    ]


def test_a_handed_over_step_reads_the_request_and_stops_on_another_run():
    request = queued_request()
    token, task_ids = new_run()
    progress.begin_step(request.pk, token, "resolve", task_ids)
    progress.finish_step(request.pk, token, "resolve", 0.01, then=("features",))

    assert progress.resume_step(request.pk, token, "features").step_starts == {"resolve": 1, "features": 1}
    with pytest.raises(StaleRun):
        progress.resume_step(request.pk, "another-run", "features")


def test_a_step_whose_start_was_not_handed_over_records_it_when_it_resumes():
    request = queued_request()
    token = start_run(request)  # resolve finished without handing over

    resumed = progress.resume_step(request.pk, token, "features")

    assert resumed.step_starts == {"resolve": 1, "features": 1} and resumed.stage == "features"
    assert PredictionEvent.objects.filter(request=request, message="Building features").count() == 1
