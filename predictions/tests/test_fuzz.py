"""Fuzzing the API with schemathesis against its own OpenAPI schema (drf-spectacular, /api/schema/).

Every operation is called with generated inputs, signed in with a token and anonymously: no
response may be a 500, and every response must match the schema (documented status code,
content type, body). Path ids are drawn half the time from rows that exist, so detail pages are
exercised, not only their 404s. Bounded: a few dozen examples per operation (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig

from etl.models import Game, Player, Team
from predictions.models import PredictionRequest
from predictions.tests.conftest import load_logs, make_user

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@pytest.fixture
def wsgi_in_test_transaction(db):
    """Calls through the WSGI app share the test's transaction: like Django's test client, keep
    the request signals from closing the test connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def project_schema():
    """The OpenAPI document /api/schema/ serves (drf-spectacular's generator, no request needed),
    bound to the project's WSGI application: cases are sent in-process. The project's
    schemathesis.toml applies, as it does to `schemathesis run` from the repository root."""
    from drf_spectacular.generators import SchemaGenerator

    from nbaproject.wsgi import application

    config = SchemathesisConfig.from_path(Path(__file__).resolve().parents[2] / "schemathesis.toml")
    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=config)
    loaded.app = application
    return loaded


schema = project_schema()


@pytest.fixture
def fuzz_data(wsgi_in_test_transaction, recent_slice, settings):
    """Real rows for the path ids, a token user with requests in every state, short SSE streams."""
    settings.PREDICTIONS_SSE_LIFETIME = 0.3
    load_logs(recent_slice)
    alice = make_user("fuzz-alice")
    token = Token.objects.create(user=alice).key
    now = timezone.now()
    jobs = [
        PredictionRequest.objects.create(
            user=alice,
            player_input="Luka Doncic",
            status=state,
            finished_at=now if state in ("succeeded", "failed") else None,
            message="no game" if state == "failed" else "",
        )
        for state in ("queued", "running", "failed")
    ]
    ids = {
        "players": list(Player.objects.values_list("pk", flat=True)[:20]),
        "teams": list(Team.objects.values_list("pk", flat=True)[:20]),
        "games": list(Game.objects.values_list("pk", flat=True)[:20]),
        "predictions": [str(job.pk) for job in jobs],
    }
    return {"token": token, "ids": ids}


def real_id(case, ids):
    """For half the generated ids (chosen by the id's own hash: reproducible), use one that
    exists, of the resource the path names."""
    if "id" not in (case.path_parameters or {}):
        return
    existing = ids.get(case.operation.path.split("/")[3])
    digest = zlib.crc32(repr(case.path_parameters["id"]).encode())
    if existing and digest % 2 == 0:
        case.path_parameters["id"] = existing[digest // 2 % len(existing)]


# Every check schemathesis has (`--checks all`): no 500, conformance of codes, types, headers and
# bodies, schema-invalid input refused (negative_data_rejection) and schema-valid input accepted
# (positive_data_acceptance, with the answers schemathesis.toml declares for business validation).
def call_and_validate(case, **kwargs):
    return case.call_and_validate(**kwargs)


# Reproducible by default; FUZZ_RANDOM=1 (with a larger FUZZ_EXAMPLES) explores new inputs.
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_signed_in_with_a_token(case, fuzz_data):
    real_id(case, fuzz_data["ids"])
    call_and_validate(case, headers={"Authorization": f"Token {fuzz_data['token']}"})


@pytest.mark.django_db
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_anonymous(case, fuzz_data):
    real_id(case, fuzz_data["ids"])
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    call_and_validate(case)


# Regressions of what the fuzzing found (each failed before its fix).


@pytest.mark.django_db
def test_an_unknown_status_filter_is_a_400_not_every_request(alice_client):
    PredictionRequest.objects.create(user=make_user("alice"), player_input="Luka Doncic")
    assert alice_client.get("/api/v1/predictions/?status=queued").json()["count"] == 1
    response = alice_client.get("/api/v1/predictions/?status=queud")
    assert response.status_code == 400 and "status" in response.json()


@pytest.mark.django_db
def test_malformed_ids_get_a_json_404_like_unknown_ones(alice_client):
    for path in (
        "/api/v1/players/0.5/",
        "/api/v1/games/1e-07/",
        "/api/v1/teams/x.y/",
        "/api/v1/players/0.5/gamelogs/",
        "/api/v1/predictions/6.%C3%AE/",
        "/api/v1/slates/%C2%B2/",  # '²': a digit to str.isdigit, not to int()
        "/api/v1/players/%C2%B2/",
    ):
        response = alice_client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json" and "detail" in response.json(), path
    # The event stream answers in its own format, but a 404 all the same (not a 500).
    assert alice_client.get("/api/v1/slates/%C2%B2/events/").status_code == 404


def test_the_schema_documents_error_answers_and_the_event_stream():
    spec = schema.raw_schema
    ops = spec["paths"]
    assert {"401", "404", "429"} <= set(ops["/api/v1/players/{id}/"]["get"]["responses"])
    assert {"202", "400", "401", "403", "413", "415", "422", "429"} <= set(
        ops["/api/v1/predictions/"]["post"]["responses"]
    )
    events = ops["/api/v1/predictions/{id}/events/"]["get"]["responses"]
    assert events["200"]["content"]["text/event-stream"]["schema"]["properties"]["event"]["enum"] == [
        "progress",
        "result",
        "timeout",
        "error",
    ]
    key = next(p for p in ops["/api/v1/predictions/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)


@pytest.mark.django_db
def test_empty_or_malformed_typed_query_values_are_a_400_as_the_schema_says(recent_games, alice_client):
    player = Player.objects.get(normalised_name="luka doncic").pk
    PredictionRequest.objects.create(user=make_user("alice"), player_input="Luka Doncic")
    for path in (
        "/api/v1/games/?date_before=",
        "/api/v1/games/?date_after=",
        "/api/v1/games/?status=",
        "/api/v1/games/?team=",
        "/api/v1/games/?page=",
        "/api/v1/games/?page=abc",
        f"/api/v1/players/{player}/gamelogs/?date_before=",
        f"/api/v1/players/{player}/gamelogs/?page=",
        "/api/v1/predictions/?status=",
        "/api/v1/predictions/?page=",
        "/api/v1/teams/?page=1.5",
    ):
        response = alice_client.get(path)
        assert response.status_code == 400, (path, response.status_code, response.content)
        name = path.rsplit("?", 1)[1].split("=")[0]
        assert name in response.json(), (path, response.json())
    assert alice_client.get("/api/v1/games/?page=999").status_code == 404  # a whole number past the end
    assert alice_client.get("/api/v1/predictions/?page=1&status=queued").json()["count"] == 1


@pytest.mark.django_db
def test_a_day_not_on_the_calendar_in_a_filter_is_told_as_such(recent_games, alice_client):
    response = alice_client.get("/api/v1/games/?date_before=2024-02-30")
    assert response.status_code == 400
    assert response.json() == {"date_before": ["2024-02-30 does not exist: February 2024 has 29 days."]}
    inclusive = alice_client.get("/api/v1/games/?date_after=2024-04-14&date_before=2024-04-14").json()
    assert inclusive["count"] > 0 and {game["date"] for game in inclusive["results"]} == {"2024-04-14"}


@pytest.mark.django_db
def test_every_team_the_schema_offers_is_accepted_by_the_games_filter(recent_games, alice_client):
    [team] = [p for p in schema.raw_schema["paths"]["/api/v1/games/"]["get"]["parameters"] if p["name"] == "team"]
    offered = team["schema"]["enum"]
    assert {"BOS", "BRK", "Boston Celtics", "Celtics", "New Jersey Nets"} <= set(offered)
    for value in offered:
        assert alice_client.get("/api/v1/games/", {"team": value}).status_code == 200, value
    assert alice_client.get("/api/v1/games/", {"team": "celtics"}).status_code == 200  # any case
    assert alice_client.get("/api/v1/games/", {"team": "Springfield Atoms"}).status_code == 400


@pytest.mark.django_db
def test_a_last_event_id_that_is_no_event_id_or_an_empty_format_is_a_400(recent_games, alice_client):
    job = PredictionRequest.objects.create(user=make_user("alice"), player_input="Luka Doncic")
    response = alice_client.get(
        f"/api/v1/predictions/{job.pk}/events/", HTTP_LAST_EVENT_ID="D&6H=", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400 and "Last-Event-ID" in response.json()
    empty_format = alice_client.get(f"/api/v1/predictions/{job.pk}/events/?format=", HTTP_ACCEPT="application/json")
    assert empty_format.status_code == 400 and "format" in empty_format.json()
    responses = schema.raw_schema["paths"]["/api/v1/predictions/{id}/events/"]["get"]["responses"]
    assert "400" in responses


def test_the_project_schemathesis_config_declares_the_posts_business_answers():
    config = schema.config.checks_config_for(operation=schema["/api/v1/predictions/"]["POST"], phase=None)
    assert {"400", "422"} <= set(config.positive_data_acceptance.expected_statuses)
