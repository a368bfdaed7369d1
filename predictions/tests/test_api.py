"""The API's contract without a worker: validation, suggestions, isolation, abuse limits,
idempotency, the catalog endpoints and the OpenAPI schema. (Nothing is published here: in a
non-transactional test the commit, and so the queueing, never happens.)"""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from etl.models import Game, Player, PlayerGameLog, Team
from predictions.models import PredictionRequest
from predictions.tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/predictions/"


@pytest.fixture(autouse=True)
def as_of_the_day_after_the_loaded_data(settings):
    """The product's today is the day after the loaded slice ends (2024-04-14), as AS_OF_DATE replays
    it: requests without a date are about the next game then, not refused for stale data."""
    settings.AS_OF_DATE = "2024-04-15"


def post(client, body, **headers):
    return client.post(
        URL,
        data=json.dumps(body) if not isinstance(body, (bytes, str)) else body,
        content_type="application/json",
        **headers,
    )


def test_post_answers_202_with_status_url_and_stores_a_queued_request(recent_games, alice_client):
    response = post(alice_client, {"player": "Luka Doncic", "opponent": "ATL", "date": "2024-04-20"})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert response["Location"] == body["status_url"]
    assert body["status_url"].endswith(f"/api/v1/predictions/{body['id']}/")
    job = PredictionRequest.objects.get(pk=body["id"])
    assert (job.player_input, job.opponent_input, str(job.date_input), job.home_input) == (
        "Luka Doncic",
        "ATL",
        "2024-04-20",
        None,
    )
    detail = alice_client.get(body["status_url"]).json()
    assert detail["status"] == "queued" and detail["percent"] == 0 and detail["result"] is None
    assert detail["step_label"] == "Waiting for a worker"


def test_unknown_player_gets_400_with_the_closest_names(recent_games, alice_client):
    response = post(alice_client, {"player": "Lebron Jmaes"})

    assert response.status_code == 400
    body = response.json()
    assert "LeBron James" in body["did_you_mean"]
    assert "did you mean" in body["player"][0] and "LeBron James" in body["player"][0]
    assert not PredictionRequest.objects.exists()


def test_the_players_own_team_as_opponent_gets_400_at_once(recent_games, alice_client):
    dated = post(alice_client, {"player": "Luka Doncic", "opponent": "Mavericks", "date": "2024-06-01"})
    undated = post(alice_client, {"player": "Luka Doncic", "opponent": "dal"})

    assert dated.status_code == undated.status_code == 400
    assert dated.json() == {"opponent": ["DAL is Luka Dončić's own team on 2024-06-01: pick another opponent."]}
    assert undated.json() == {"opponent": ["DAL is Luka Dončić's own team: pick another opponent."]}
    assert not PredictionRequest.objects.exists()
    assert post(alice_client, {"player": "Luka Doncic", "opponent": "BOS", "date": "2024-06-01"}).status_code == 202


def test_an_opponent_by_city_is_its_team_and_los_angeles_asks_which(recent_games, alice_client):
    response = post(alice_client, {"player": "Luka Doncic", "opponent": "boston", "date": "2024-06-01"})
    assert response.status_code == 202, response.content
    assert PredictionRequest.objects.get(pk=response.json()["id"]).opponent_input == "boston"

    shared = post(alice_client, {"player": "Luka Doncic", "opponent": "Los Angeles", "date": "2024-06-01"})
    assert shared.status_code == 400
    assert shared.json() == {
        "opponent": [
            "'Los Angeles' could be LAC (LA Clippers) or LAL (Los Angeles Lakers): give the code or the full name."
        ]
    }
    unknown = post(alice_client, {"player": "Luka Doncic", "opponent": "Gotham", "date": "2024-06-01"})
    assert unknown.json()["opponent"] == [
        "unknown team 'Gotham': use a code (BOS), a name (Boston Celtics) or a city (Boston)."
    ]
    assert alice_client.get("/api/v1/games/?team=LA").status_code == 400
    assert alice_client.get("/api/v1/games/?team=golden state").status_code == 200
    assert PredictionRequest.objects.count() == 1


def test_own_team_means_the_team_he_played_for_before_that_date(recent_games, alice_client):
    traded = Player.objects.get(normalised_name="luka doncic")
    last = PlayerGameLog.objects.filter(player=traded).order_by("-date").first()
    other = Team.objects.exclude(pk=last.team_id).order_by("code").first()
    PlayerGameLog.objects.filter(pk=last.pk).update(team=other)  # his last game for another team: a trade

    assert post(alice_client, {"player": "Luka Doncic", "opponent": other.code}).status_code == 400
    assert post(alice_client, {"player": "Luka Doncic", "opponent": "DAL"}).status_code == 202
    before_trade = {"player": "Luka Doncic", "opponent": "DAL", "date": last.date.isoformat()}
    assert post(alice_client, before_trade).status_code == 400


def test_a_last_name_alone_with_a_typo_is_suggested(recent_games, alice_client):
    body = post(alice_client, {"player": "Doncik"}).json()
    assert "Luka Dončić" in body["did_you_mean"]


def test_player_is_found_ignoring_accents_case_and_given_names(recent_games, alice_client):
    for spelling in ("luka DONCIC", "Luka Dončić", "doncic"):
        assert post(alice_client, {"player": spelling}).status_code == 202, spelling
    doncic = Player.objects.get(normalised_name="luka doncic")
    assert post(alice_client, {"player": doncic.pk}).status_code == 202
    assert set(PredictionRequest.objects.values_list("player_input", flat=True)) == {
        "luka DONCIC",
        "Luka Dončić",
        "doncic",
        str(doncic.pk),
    }


def test_a_name_matching_several_players_lists_them(recent_games, alice_client):
    response = post(alice_client, {"player": "james"})
    assert response.status_code == 400
    assert "several players" in response.json()["player"][0]
    assert len(response.json()["did_you_mean"]) >= 2


def test_bad_fields_get_400_with_field_errors(recent_games, alice_client):
    cases = [
        ({}, "player"),
        ({"player": ""}, "player"),
        ({"player": "x" * 200}, "player"),
        ({"player": "Luka Doncic", "opponent": "Springfield Atoms"}, "opponent"),
        ({"player": "Luka Doncic", "date": "2024-13-45"}, "date"),
        ({"player": "Luka Doncic", "date": "tomorrow"}, "date"),
        ({"player": "Luka Doncic", "home": "perhaps"}, "home"),
        ({"player": "nul\x00byte"}, "player"),
        ({"player": 99999999}, "player"),
    ]
    for body, field in cases:
        response = post(alice_client, body)
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())


def test_a_day_not_on_the_calendar_is_told_as_such_not_as_a_wrong_format(recent_games, alice_client):
    assert post(alice_client, {"player": "Luka Doncic", "date": "2024-02-30"}).json() == {
        "date": ["2024-02-30 does not exist: February 2024 has 29 days."]
    }
    assert post(alice_client, {"player": "Luka Doncic", "date": "2024-13-01"}).json()["date"] == [
        "2024-13-01 does not exist: there is no month 13 (months are 01 to 12)."
    ]
    assert "wrong format" in post(alice_client, {"player": "Luka Doncic", "date": "tomorrow"}).json()["date"][0]
    leap_day = post(
        alice_client, {"player": "Luka Doncic", "date": "2024-02-29"}
    )  # a real day: checked against the data
    assert leap_day.status_code == 422 and leap_day.json()["detail"].startswith(
        "The data begins on 2024-03-31, after 2024-02-29"
    )


def test_the_predict_command_says_a_date_does_not_exist():
    with pytest.raises(CommandError) as error:
        call_command("predict", "Luka Doncic", "--date", "2023-02-29")
    assert str(error.value) == "--date: 2023-02-29 does not exist: February 2023 has 28 days."
    with pytest.raises(CommandError, match="is not a date. Use YYYY-MM-DD"):
        call_command("predict", "Luka Doncic", "--date", "1/3/2024")


def test_malformed_bodies_never_yield_a_500(recent_games, alice_client):
    for raw in [
        '{"player": ',
        "[1, 2]",
        '"just a string"',
        "null",
        "NaN",
        '{"player": NaN}',
        "\xff\xfe",
        "",
        '{"player": {"nested": true}}',
        '{"player": ["a"]}',
    ]:
        response = alice_client.post(URL, data=raw, content_type="application/json")
        assert response.status_code == 400, (raw, response.status_code, response.content)


def test_oversized_bodies_are_refused(recent_games, alice_client):
    huge = json.dumps({"player": "Luka Doncic", "padding": "x" * 100_000})
    assert alice_client.post(URL, data=huge, content_type="application/json").status_code == 413
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        body = json.dumps({"player": "Luka Doncic", "padding": "x" * 200})
        assert alice_client.post(URL, data=body, content_type="application/json").status_code == 413
    assert not PredictionRequest.objects.exists()


def test_anonymous_clients_cannot_submit_or_list(recent_games):
    client = APIClient()
    assert post(client, {"player": "Luka Doncic"}).status_code == 401
    assert client.get(URL).status_code == 401


def test_users_see_only_their_own_requests_and_staff_see_all(recent_games, alice_client):
    bob_client = client_for(make_user("bob"))
    staff_client = client_for(make_user("boss", staff=True))
    mine = post(alice_client, {"player": "Luka Doncic"}).json()["id"]
    theirs = post(bob_client, {"player": "Jayson Tatum"}).json()["id"]

    assert [r["id"] for r in alice_client.get(URL).json()["results"]] == [mine]
    assert [r["id"] for r in bob_client.get(URL).json()["results"]] == [theirs]
    assert bob_client.get(f"{URL}{mine}/").status_code == 404
    assert bob_client.get(f"{URL}{mine}/events/").status_code == 404
    assert {r["id"] for r in staff_client.get(URL).json()["results"]} == {mine, theirs}
    assert staff_client.get(f"{URL}{mine}/").json()["user"] == "alice"
    assert alice_client.get(f"{URL}not-a-uuid/").status_code == 404


def test_idempotency_key_returns_the_same_request(recent_games, alice_client):
    body = {"player": "Luka Doncic", "opponent": "ATL"}
    first = post(alice_client, body, HTTP_IDEMPOTENCY_KEY="abc-1")
    again = post(alice_client, body, HTTP_IDEMPOTENCY_KEY="abc-1")
    bob_same_key = post(client_for(make_user("bob")), body, HTTP_IDEMPOTENCY_KEY="abc-1")

    assert first.status_code == again.status_code == bob_same_key.status_code == 202
    assert first.json()["id"] == again.json()["id"] != bob_same_key.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert PredictionRequest.objects.count() == 2
    conflict = post(alice_client, {"player": "Jayson Tatum"}, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert conflict.status_code == 422 and "already used" in conflict.json()["detail"]
    assert post(alice_client, body, HTTP_IDEMPOTENCY_KEY="k" * 300).status_code == 400


def test_submissions_are_throttled_per_user_with_retry_after(recent_games, alice_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "predictions": "3/min"},
    }
    codes = [post(alice_client, {"player": "Luka Doncic"}).status_code for _ in range(4)]
    limited = post(alice_client, {"player": "Luka Doncic"})

    assert codes[:3] == [202, 202, 202] and codes[3] == 429
    # Until the oldest of the three counted leaves the minute's window: under a minute, not hours off.
    assert limited.status_code == 429 and 30 <= int(limited["Retry-After"]) <= 60
    assert post(client_for(make_user("bob")), {"player": "Luka Doncic"}).status_code == 202
    assert alice_client.get(URL).status_code == 200  # reading is not limited by the submit rate


def test_players_search_ignores_accents_and_case(recent_games):
    client = APIClient()
    names = [p["name"] for p in client.get("/api/v1/players/?search=doncic").json()["results"]]
    assert names == ["Luka Dončić"]
    assert [p["name"] for p in client.get("/api/v1/players/?search=JOKIC").json()["results"]] == ["Nikola Jokić"]
    assert client.get("/api/v1/players/?search=%00").status_code == 200


@pytest.mark.django_db
def test_team_search_drops_nul_characters():
    client = APIClient()
    response = client.get("/api/v1/teams/?search=Cel%00tics")
    assert response.status_code == 200
    assert [team["code"] for team in response.json()["results"]] == ["BOS"]


def test_text_filters_drop_nul_characters_as_the_searches_do(recent_games):
    """A schema-valid string with a NUL is never a 400 (the fuzzer found ?season=%00 refused)."""
    client = APIClient()
    player_id = PlayerGameLog.objects.values_list("player_id", flat=True).first()
    for url in (
        "/api/v1/games/?season=2023%00-24",
        f"/api/v1/players/{player_id}/gamelogs/?season=2023-24%00",
        "/api/v1/games/?team=Cel%00tics",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        assert response.json()["results"], url


def test_games_filter_by_date_range_team_and_status(recent_games):
    client = APIClient()
    response = client.get("/api/v1/games/?team=Celtics&date_after=2024-04-01&date_before=2024-04-07&status=final")
    games = response.json()["results"]
    expected = (
        Game.objects.filter(date__range=("2024-04-01", "2024-04-07")).filter(home__code="BOS").count()
        + Game.objects.filter(date__range=("2024-04-01", "2024-04-07"), away__code="BOS").count()
    )
    assert len(games) == expected > 0
    assert all("BOS" in (g["home"], g["away"]) and "2024-04-01" <= g["date"] <= "2024-04-07" for g in games)
    assert client.get("/api/v1/games/?team=Atoms").status_code == 400
    assert client.get("/api/v1/games/?date_after=notadate").status_code == 400


def test_player_gamelogs_newest_first_and_paginated(recent_games):
    doncic = Player.objects.get(normalised_name="luka doncic")
    body = APIClient().get(f"/api/v1/players/{doncic.pk}/gamelogs/").json()
    dates = [g["date"] for g in body["results"]]
    assert body["count"] == PlayerGameLog.objects.filter(player=doncic).count() > 0
    assert dates == sorted(dates, reverse=True)
    assert {"pts", "minutes", "opponent", "is_home"} <= set(body["results"][0])


@pytest.mark.smoke
def test_openapi_schema_validates(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for path in (
        "/api/v1/predictions/",
        "/api/v1/predictions/{id}/events/",
        "/api/v1/players/{id}/gamelogs/",
        "/api/v1/games/",
        "/api/v1/teams/",
    ):
        assert f"  {path}:" in schema


def test_create_api_user_prints_a_working_token(capsys):
    call_command("create_api_user", "carol")
    token = capsys.readouterr().out.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(URL).status_code == 200
    call_command("create_api_user", "carol")
    assert capsys.readouterr().out.strip() == token  # idempotent: the same token again


def test_the_user_page_needs_a_sign_in_then_shows_the_form(recent_games, client, alice):
    assert client.get("/")["Location"].startswith("/login/")
    alice.set_password("pw-alice-123")
    alice.save()
    assert client.post("/login/", {"username": "alice", "password": "pw-alice-123"}).status_code == 302
    page = client.get("/").content.decode()
    assert 'id="player"' in page and "Boston Celtics" in page and "predictions/app.js" in page


def test_odd_query_strings_on_every_endpoint_never_yield_a_500(recent_games, alice_client):
    odd = ["%00", "x" * 5000, "-1", "99999999999999999999999", "'; drop table etl_player; --", "%C0%AF", "[]"]
    paths = [
        "/api/v1/players/?search={}",
        "/api/v1/players/?ordering={}",
        "/api/v1/players/{}/",
        "/api/v1/players/{}/gamelogs/",
        "/api/v1/games/?season={}",
        "/api/v1/games/?team={}",
        "/api/v1/games/?status={}",
        "/api/v1/games/?date_after={}",
        "/api/v1/games/?page={}",
        "/api/v1/teams/?search={}",
        "/api/v1/predictions/?status={}",
        "/api/v1/predictions/{}/",
        "/api/v1/predictions/{}/events/",
    ]
    for path in paths:
        for value in odd:
            response = alice_client.get(path.format(value))
            assert response.status_code < 500, (path, value, response.status_code)


def test_dashboard_jobs_list_requests_with_progress_and_task_links(recent_games, alice_client):
    from operations.dashboard import jobs_of_model

    job_id = post(alice_client, {"player": "Luka Doncic", "opponent": "BOS"}).json()["id"]
    PredictionRequest.objects.filter(pk=job_id).update(task_ids={"resolve": "abc", "features": "def"})
    [job] = jobs_of_model(PredictionRequest)

    assert job["id"] == job_id and job["kind"] == "prediction" and job["status"] == "queued"
    assert job["title"] == "Luka Doncic vs BOS (alice)"
    assert [link["label"] for link in job["task_links"]] == ["resolve", "features"]
    assert job["task_links"][0]["url"].endswith("?q=abc")
    assert job["admin_url"].endswith(f"/predictions/predictionrequest/{job_id}/change/")


def test_lists_label_a_request_by_the_player_it_resolved_to(recent_games, alice_client, client):
    from operations.dashboard import jobs_of_model

    jokic = Player.objects.get(normalised_name="nikola jokic")
    job_id = post(alice_client, {"player": str(jokic.pk), "opponent": "NYK"}).json()["id"]
    assert alice_client.get(f"{URL}{job_id}/").json()["label"] == f"{jokic.pk} vs NYK"  # not resolved yet
    PredictionRequest.objects.filter(pk=job_id).update(player=jokic, opponent=Team.objects.get(code="NYK"))

    assert alice_client.get(f"{URL}{job_id}/").json()["label"] == "Nikola Jokić vs NYK"
    assert alice_client.get(URL).json()["results"][0]["label"] == "Nikola Jokić vs NYK"
    assert jobs_of_model(PredictionRequest)[0]["title"] == "Nikola Jokić vs NYK (alice)"
    client.force_login(_superuser())
    changelist = client.get("/admin/predictions/predictionrequest/").content.decode()
    assert "Nikola Jokić vs NYK" in changelist and f">{jokic.pk}<" not in changelist
    found = client.get("/admin/predictions/predictionrequest/", {"q": "jokić"}).content.decode()  # by his name
    assert "Nikola Jokić vs NYK" in found


def test_staff_admin_pages_show_requests(recent_games, alice_client, client):
    job_id = post(alice_client, {"player": "Luka Doncic"}).json()["id"]
    client.force_login(_superuser())
    assert client.get("/admin/predictions/predictionrequest/").status_code == 200
    page = client.get(f"/admin/predictions/predictionrequest/{job_id}/change/")
    assert page.status_code == 200 and b"Luka Doncic" in page.content


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")


def test_browsable_api_pages_render_for_a_signed_in_user(recent_games, client, alice):
    client.force_login(alice)
    job_id = post(client, {"player": "Luka Doncic"}).json()["id"]
    for path in (
        "/api/v1/",
        "/api/v1/predictions/",
        f"/api/v1/predictions/{job_id}/",
        "/api/v1/players/?search=luka",
        "/api/v1/games/?team=DAL",
        "/api/docs/",
    ):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert b"<html" in response.content.lower()
