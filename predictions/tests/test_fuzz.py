"""Fuzzing the API with schemathesis against its own OpenAPI schema (drf-spectacular, /api/schema/).

Every operation is called with generated inputs, signed in with a token and anonymously: no
response may be a 500, and every response must match the schema (documented status code,
content type, body). Path ids are drawn half the time from rows that exist, so detail pages are
exercised, not only their 404s. Bounded: a few dozen examples per operation (FUZZ_EXAMPLES).
"""
from __future__ import annotations

import os
import zlib

import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

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
    bound to the project's WSGI application: cases are sent in-process."""
    from drf_spectacular.generators import SchemaGenerator

    from nbaproject.wsgi import application

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
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
    jobs = [PredictionRequest.objects.create(user=alice, player_input="Luka Doncic", status=state,
                                             finished_at=now if state in ("succeeded", "failed") else None,
                                             message="no game" if state == "failed" else "")
            for state in ("queued", "running", "failed")]
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


# Conformance and "no 500" on every operation. Not checked: negative_data_rejection (like most HTTP
# APIs, unknown query parameters and headers, empty filters and unknown orderings are ignored, not
# refused) and, where a value must name something that exists, positive_data_acceptance: a string
# that is no known player (POST) or team (games' `team`) is a 400 with the reason, business
# validation the schema cannot express (test_api.py tests those answers).
NAMES_SOMETHING = {("POST", "/api/v1/predictions/"), ("GET", "/api/v1/games/")}


def call_and_validate(case, **kwargs):
    excluded = [negative_data_rejection]
    if (case.method.upper(), case.operation.path) in NAMES_SOMETHING:
        excluded.append(positive_data_acceptance)
    return case.call_and_validate(excluded_checks=excluded, **kwargs)


# Reproducible by default; FUZZ_RANDOM=1 (with a larger FUZZ_EXAMPLES) explores new inputs.
FUZZ_SETTINGS = hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                                    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
                                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


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
    for path in ("/api/v1/players/0.5/", "/api/v1/games/1e-07/", "/api/v1/teams/x.y/",
                 "/api/v1/players/0.5/gamelogs/", "/api/v1/predictions/6.%C3%AE/"):
        response = alice_client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json" and "detail" in response.json(), path


def test_the_schema_documents_error_answers_and_the_event_stream():
    spec = schema.raw_schema
    ops = spec["paths"]
    assert {"401", "404", "429"} <= set(ops["/api/v1/players/{id}/"]["get"]["responses"])
    assert {"202", "400", "401", "403", "413", "415", "422", "429"} <= set(
        ops["/api/v1/predictions/"]["post"]["responses"])
    events = ops["/api/v1/predictions/{id}/events/"]["get"]["responses"]
    assert events["200"]["content"]["text/event-stream"]["schema"]["properties"]["event"]["enum"] == [
        "progress", "result", "timeout", "error"]
    key = next(p for p in ops["/api/v1/predictions/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
