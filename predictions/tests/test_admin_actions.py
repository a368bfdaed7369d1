"""Staff retry a failed prediction from admin: the pipeline runs again from the start on the
worker, the request ends with exactly one Prediction, and the action is on the Pipeline page."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User

from etl.models import Game, Player, PlayerGameLog, Team
from predictions.models import Prediction, PredictionRequest
from predictions.tests.conftest import client_for, make_user, wait_until_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def test_retry_a_failed_request_after_the_missing_game_was_scheduled(pipeline, client, settings):
    settings.AS_OF_DATE = "2024-04-15"  # the day after the season: no next game yet
    accepted = client_for(make_user("alice")).post(
        "/api/v1/predictions/", data=json.dumps({"player": "LeBron James"}), content_type="application/json"
    )
    failed = wait_until_done(accepted.json()["id"])
    assert failed.status == "failed" and "no game found" in failed.message

    last = (
        PlayerGameLog.objects.filter(player=Player.objects.get(normalised_name="lebron james"))
        .select_related("team")
        .order_by("-date")
        .first()
    )
    Game.objects.create(
        season="2024-25",
        date=last.date + dt.timedelta(days=190),
        home=last.team,
        away=Team.objects.get(code="DEN"),
        status=Game.Status.SCHEDULED,
    )
    client.force_login(User.objects.create_superuser("ops", password="pw"))
    response = client.post(
        "/admin/predictions/predictionrequest/", {"action": "retry_failed", "_selected_action": [str(failed.pk)]}
    )
    assert response.status_code == 302

    done = wait_until_done(failed.pk)
    assert done.status == "succeeded" and done.message == "" and done.opponent.code == "DEN"
    assert Prediction.objects.filter(request=done).count() == 1
    assert done.events.filter(message="retried by staff").exists()
    entry = LogEntry.objects.get(object_id=str(failed.pk))
    assert entry.change_message.startswith("Retried the failed request LeBron James")
    action = client.get("/admin/pipeline/data/").json()["staff_actions"][0]
    assert action["action"].startswith("Retried the failed request") and len(action["task_links"]) == 5


def test_retry_skips_requests_that_did_not_fail(pipeline, client):
    request = PredictionRequest.objects.create(
        user=make_user("bob"), player_input="Nobody", status=PredictionRequest.Status.SUCCEEDED
    )
    client.force_login(User.objects.create_superuser("ops", password="pw"))
    client.post(
        "/admin/predictions/predictionrequest/", {"action": "retry_failed", "_selected_action": [str(request.pk)]}
    )
    request.refresh_from_db()
    assert request.status == "succeeded" and request.attempts == 0
    assert not LogEntry.objects.exists()
