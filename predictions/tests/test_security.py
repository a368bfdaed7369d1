"""Security: who may read and write what, CSRF on session writes, throttles, and no secret in
logs, task arguments or TaskResult rows.

Already covered elsewhere (not repeated here): `manage.py check --deploy` is clean with the
production variables and warns without them (nbaproject/tests/test_settings_validation.py);
the Pipeline page and its JSON refuse anonymous and non-staff users
(operations/tests/test_pipeline_dashboard.py); the per-user submission limit
(predictions/tests/test_api.py::test_submissions_are_throttled_per_user_with_retry_after).
"""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django_celery_results.models import TaskResult
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from predictions.accounts import create_api_user
from predictions.models import PredictionEvent, PredictionRequest
from predictions.tests.conftest import client_for, make_user, wait_until_done

URL = "/api/v1/predictions/"
API_PATHS = ["/api/v1/players/", "/api/v1/teams/", "/api/v1/games/", URL]


def post(client, body, **extra):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **extra)


def a_request_of(user, **fields) -> PredictionRequest:
    return PredictionRequest.objects.create(user=user, player_input="Luka Doncic", **fields)


# --- Who may do what ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_writes_are_refused_on_every_endpoint(recent_games):
    client = APIClient()
    job = a_request_of(make_user("alice"))
    targets = [
        *API_PATHS,
        "/api/v1/players/1/",
        "/api/v1/teams/1/",
        "/api/v1/games/1/",
        f"{URL}{job.pk}/",
        f"{URL}{job.pk}/events/",
    ]
    for path in targets:
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(
                path, data=json.dumps({"player": "Luka Doncic"}), content_type="application/json"
            )
            assert response.status_code in (401, 403, 405), (method, path, response.status_code)
    assert PredictionRequest.objects.count() == 1
    assert PredictionRequest.objects.get().status == "queued"


@pytest.mark.django_db
def test_one_user_cannot_read_stream_list_or_retry_anothers_prediction(recent_games):
    alice, bob = make_user("alice"), make_user("bob")
    failed = a_request_of(alice, status="failed", message="no game found")
    bob_api, bob_browser = client_for(bob), Client()
    bob.set_password("pw-bob-123")
    bob.save()
    bob_browser.force_login(bob)

    for client in (bob_api, bob_browser):  # token-style and session
        assert client.get(f"{URL}{failed.pk}/").status_code == 404
        assert client.get(f"{URL}{failed.pk}/events/").status_code == 404
        assert client.get(f"{URL}{failed.pk}/events/?format=json").status_code == 404
        assert client.get(f"{URL}?status=failed").json()["count"] == 0
    assert str(failed.pk) not in bob_browser.get("/").content.decode()  # the user page's recent list

    # Retrying is a staff action in admin: a signed-in non-staff user is sent to the admin sign-in.
    changelist = reverse("admin:predictions_predictionrequest_changelist")
    response = bob_browser.post(changelist, {"action": "retry_failed", "_selected_action": [failed.pk]})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert bob_browser.get(reverse("admin:predictions_predictionrequest_change", args=[failed.pk])).status_code == 302
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.attempts == 0


@pytest.mark.django_db
def test_admin_pages_refuse_anonymous_and_non_staff_users():
    member = get_user_model().objects.create_user("member", password="pw-member-123")
    anonymous, signed_in = Client(), Client()
    signed_in.force_login(member)
    urls = ["/admin/", "/admin/pipeline/", "/admin/pipeline/data/"]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls += [reverse("admin:{}_{}_changelist".format(*info)), reverse("admin:{}_{}_add".format(*info))]
    assert len(urls) > 15
    for client in (anonymous, signed_in):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (url, response.status_code)
    assert signed_in.post("/admin/pipeline/run/retrain/").status_code == 302  # no job started
    assert not TaskResult.objects.exists()


@pytest.mark.django_db
def test_staff_without_model_permissions_get_403():
    clerk = get_user_model().objects.create_user("clerk", password="pw-clerk-123", is_staff=True)
    client = Client()
    client.force_login(clerk)
    assert client.get(reverse("admin:predictions_predictionrequest_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


# --- CSRF on session-authenticated writes -----------------------------------------------------------------


@pytest.mark.django_db
def test_session_writes_need_the_csrf_token_token_writes_do_not(recent_games, settings):
    settings.AS_OF_DATE = "2024-04-15"  # the day after the loaded data: his next game is asked for, not refused
    alice = make_user("alice")
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)

    refused = post(browser, {"player": "Luka Doncic"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    refused = browser.post(URL, {"player": "Luka Doncic"})  # a form post, as a cross-site page would send
    assert refused.status_code == 403
    assert not PredictionRequest.objects.exists()

    browser.get("/")  # the user page sets the CSRF cookie its script sends back
    token = browser.cookies["csrftoken"].value
    assert post(browser, {"player": "Luka Doncic"}, HTTP_X_CSRFTOKEN=token).status_code == 202

    api = APIClient(enforce_csrf_checks=True)  # an API token is never sent by a browser on its own
    api.credentials(HTTP_AUTHORIZATION=f"Token {create_api_user('alice')[1]}")
    assert post(api, {"player": "Luka Doncic"}).status_code == 202
    assert PredictionRequest.objects.count() == 2


@pytest.mark.django_db
def test_sign_in_sign_out_and_admin_actions_need_the_csrf_token():
    user = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "root", "password": "pw-root-123"}).status_code == 403
    assert client.post("/admin/login/", {"username": "root", "password": "pw-root-123"}).status_code == 403
    client.force_login(user)
    job = a_request_of(user, status="failed")
    response = client.post(
        reverse("admin:predictions_predictionrequest_changelist"),
        {"action": "retry_failed", "_selected_action": [job.pk]},
    )
    assert response.status_code == 403
    assert client.post("/admin/pipeline/run/retrain/").status_code == 403
    assert client.post("/logout/").status_code == 403
    assert client.get("/").status_code == 200  # still signed in


# --- Throttling ---------------------------------------------------------------------------------------------


@pytest.fixture
def throttle_rates(monkeypatch):
    """Set the DRF throttle rates for one test (the throttle classes read them at import)."""
    cache.clear()

    def set_rates(**rates):
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
        )

    yield set_rates
    cache.clear()


@pytest.mark.django_db
def test_anonymous_reads_are_throttled_per_client_address(throttle_rates):
    throttle_rates(anon="3/min")
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    codes = [client.get("/api/v1/teams/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/players/")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert APIClient(REMOTE_ADDR="203.0.113.8").get("/api/v1/teams/").status_code == 200


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_escape_the_anonymous_throttle(throttle_rates):
    throttle_rates(anon="3/min")
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    codes = [client.get("/api/v1/teams/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]

    cache.clear()  # behind the TLS proxy (BEHIND_TLS_PROXY=1): the address the proxy appended counts
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        codes = [
            client.get("/api/v1/teams/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 192.0.2.1").status_code
            for n in range(4)
        ]
    assert codes == [200, 200, 200, 429]


@pytest.mark.django_db
def test_signed_in_reads_are_throttled_per_user(throttle_rates):
    throttle_rates(user="2/min")
    alice, bob = client_for(make_user("alice")), client_for(make_user("bob"))
    assert [alice.get(URL).status_code for _ in range(3)] == [200, 200, 429]
    assert bob.get(URL).status_code == 200


# --- No secret in logs, task arguments or TaskResult rows ----------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_tokens_and_the_secret_key_never_reach_logs_task_args_or_results(pipeline, caplog, settings):
    caplog.set_level(logging.DEBUG)
    _, token, _ = create_api_user("alice")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    ok = post(api, {"player": "Luka Doncic", "opponent": "ATL", "date": "2024-01-26"}, HTTP_IDEMPOTENCY_KEY="k-1")
    settings.AS_OF_DATE = "2024-04-15"
    fails = post(api, {"player": "Luka Doncic"})  # no game on or after 2024-04-15: fails at the resolve step
    assert post(api, {"player": "Nobody Atall"}).status_code == 400
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Token {token[:-4]}beef")
    assert wrong.get(URL).status_code == 401
    assert wait_until_done(ok.json()["id"]).status == "succeeded"
    assert wait_until_done(fails.json()["id"]).status == "failed"

    secrets = {"API token": token, "SECRET_KEY": settings.SECRET_KEY}
    rows = list(TaskResult.objects.values())
    assert len(rows) >= 6  # five steps of the good request and the failed request's first step (its answer)
    stored = {
        "TaskResult rows": json.dumps(rows, default=str),
        "prediction requests and events": json.dumps(
            [list(PredictionRequest.objects.values()), list(PredictionEvent.objects.values())], default=str
        ),
        "test-process log": caplog.text,
        "worker log": pipeline.log(),
    }
    for where, text in stored.items():
        for what, value in secrets.items():
            assert value not in text, f"{what} found in {where}"
    # The scan looked at the right text: the rows name the request, the log has the 401's warning.
    assert str(ok.json()["id"]) in stored["TaskResult rows"] and "Unauthorized: /api/v1/predictions/" in caplog.text
    assert "predictions.tasks.combine_step" in stored["worker log"]
