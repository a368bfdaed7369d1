"""/metrics after real predictions: the product's figures move with the rows the pipeline wrote."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from mlmodels import inference
from mlmodels.models import ModelVersion
from nbaproject.testing.waiting import wait_for
from predictions.tests.conftest import client_for, make_user, wait_until_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def scrape() -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of one scrape from an allowed address."""
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def post(client, body):
    return client.post("/api/v1/predictions/", data=json.dumps(body), content_type="application/json")


def test_counts_and_latency_move_after_real_predictions(pipeline, settings):
    settings.AS_OF_DATE = "2024-04-15"  # the day after the season: a player alone has no next game (user input)
    client = client_for(make_user("alice"))
    before = scrape()

    answered = wait_until_done(
        post(client, {"player": "luka doncic", "opponent": "Hawks", "date": "2024-01-26"}).json()["id"]
    )
    no_game = wait_until_done(post(client, {"player": "lebron james"}).json()["id"])  # no next game: user input
    after = scrape()

    assert (answered.status, no_game.status) == ("succeeded", "failed")
    assert no_game.failure_kind == "input"
    moved = {key: after[key] - before.get(key, 0) for key in after}
    assert moved[("nba_predictions_submitted_total", ())] == 2
    assert moved[("nba_predictions_succeeded_total", ())] == 1
    assert moved[("nba_predictions_failed_total", (("reason_kind", "input"),))] == 1
    assert moved[("nba_predictions_failed_total", (("reason_kind", "system"),))] == 0
    assert moved[("nba_prediction_latency_seconds_count", ())] == 1
    total = answered.prediction.timings["total"]
    assert moved[("nba_prediction_latency_seconds_sum", ())] == pytest.approx(total)
    assert moved[("nba_prediction_latency_seconds_bucket", (("le", "60.0"),))] == (1 if total <= 60 else 0)
    # nothing left running or waiting once both are answered
    assert after[("nba_jobs_running", (("kind", "prediction"),))] == 0
    # the models that answered are the active ones
    for algorithm in answered.prediction.model_versions:
        active = ModelVersion.objects.get(algorithm=algorithm, active=True)
        assert after[("nba_model_active", (("algorithm", algorithm), ("version", str(active.pk))))] == 1
    assert after[("nba_warehouse_newest_game_age_seconds", ())] > 0


def test_a_system_failure_is_counted_as_such(worker_with_season):
    """No model is active: the model step fails the request, a system failure."""
    ModelVersion.objects.update(active=False)
    # A worker re-reads which versions are active at most every CHECK_SECONDS (mlmodels.inference):
    # until then it may still answer with the versions it read before (an earlier test's).
    deactivated = time.monotonic()
    wait_for(lambda: time.monotonic() - deactivated > 2 * inference.CHECK_SECONDS, 10, "the workers' active-set window")
    before = scrape()
    job = wait_until_done(
        post(client_for(make_user("bob")), {"player": "luka doncic", "opponent": "Hawks", "date": "2024-01-26"}).json()[
            "id"
        ]
    )
    after = scrape()

    assert (job.status, job.failure_kind) == ("failed", "system")
    key = ("nba_predictions_failed_total", (("reason_kind", "system"),))
    assert after[key] - before.get(key, 0) == 1
