"""Honest about data (issue 16, part 1): a request without a date means the next game after the
product's today (AS_OF_DATE), a request whose answer would rest on missing or stale data is refused
at submit with a 422 that says what to do, an answer says how fresh its data was, and the page
says when it replays a season. Real bundled 2023-24 game logs; no worker needed."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q

from etl.models import Game, Player, PlayerGameLog, Team
from predictions.models import PredictionRequest
from predictions.steps import data_freshness, resolve_matchup
from predictions.submission import NotEnoughData, submit_prediction
from predictions.tests.conftest import make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/predictions/"
DATA_ENDS = dt.date(2024, 4, 14)  # the last day of the bundled 2023-24 regular season


def post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def player(normalised_name: str) -> Player:
    return Player.objects.get(normalised_name=normalised_name)


def first_game_on_or_after(team: Team, day: dt.date, opponent: Team | None = None) -> Game:
    games = Game.objects.filter(Q(home=team) | Q(away=team), date__gte=day)
    if opponent is not None:
        games = games.filter(Q(home=opponent) | Q(away=opponent))
    return games.order_by("date").first()


def games_before(who: Player, day: dt.date, days: int = 365) -> list[dt.date]:
    return list(
        PlayerGameLog.objects.filter(player=who, date__lt=day, date__gte=day - dt.timedelta(days=days))
        .order_by("date")
        .values_list("date", flat=True)
    )


# --- 1. A player alone means his next game after the product's today -----------------------------------


def test_a_player_alone_means_his_teams_next_game_on_or_after_as_of_date(recent_games, settings):
    settings.AS_OF_DATE = "2024-04-05"
    boston = Team.objects.get(code="BOS")
    expected = first_game_on_or_after(boston, dt.date(2024, 4, 5))
    assert expected.status == Game.Status.FINAL  # played in the warehouse, upcoming for the product

    resolved = resolve_matchup(PredictionRequest(user=make_user("alice"), player_input="Jayson Tatum"))

    assert resolved["game"] == expected and resolved["game_date"] == expected.date
    assert resolved["team"] == boston
    assert resolved["opponent"] == (expected.away if expected.home == boston else expected.home)
    assert resolved["is_home"] is (expected.home == boston)


def test_a_player_and_an_opponent_without_a_date_mean_their_next_meeting(recent_games):
    boston, opponent = Team.objects.get(code="BOS"), None
    day = dt.date(2024, 4, 3)
    later = [g for g in Game.objects.filter(Q(home=boston) | Q(away=boston), date__gte=day).order_by("date")]
    meeting = later[-1]  # not his next game: the meeting with this opponent after it
    opponent = meeting.away if meeting.home == boston else meeting.home
    expected = first_game_on_or_after(boston, day, opponent)
    assert expected != later[0]

    resolved = resolve_matchup(
        PredictionRequest(user=make_user("alice"), player_input="Jayson Tatum", opponent_input=opponent.code, as_of=day)
    )

    assert (resolved["game"], resolved["opponent"]) == (expected, opponent)


def test_submit_records_the_products_today_the_request_is_resolved_against(recent_games, alice_client, settings):
    settings.AS_OF_DATE = "2024-04-10"
    settings.PREDICTIONS_MIN_RECENT_GAMES = 1  # the loaded slice holds only his last two weeks
    response = post(alice_client, {"player": "Jayson Tatum"})

    assert response.status_code == 202, response.content
    job = PredictionRequest.objects.get(pk=response.json()["id"])
    assert job.as_of == dt.date(2024, 4, 10)
    settings.AS_OF_DATE = "2024-04-01"  # a later change of the setting does not move a stored request
    expected = first_game_on_or_after(Team.objects.get(code="BOS"), dt.date(2024, 4, 10))
    assert resolve_matchup(job)["game"] == expected
    assert alice_client.get(response["Location"]).json()["as_of"] == "2024-04-10"


# --- 2. Refused at submit: missing or stale data -----------------------------------------------------


def test_a_date_long_after_the_data_ends_is_refused_with_when_it_ends_and_how_to_load_more(recent_games, alice_client):
    response = post(alice_client, {"player": "Victor Wembanyama", "opponent": "LAL", "date": "2026-12-05"})

    assert response.status_code == 422
    body = response.json()
    assert body["data_ends"] == "2024-04-14"
    assert body["detail"].startswith(
        f"The data ends on 2024-04-14, {(dt.date(2026, 12, 5) - DATA_ENDS).days} days before 2026-12-05 "
        "(more than 200): a prediction would rest on stale data. To predict, load fresh game logs first: "
        "`.venv/bin/python manage.py load_gamelogs FILE.csv`"
    )
    assert "manage.py crawl boxscores date=YYYY-MM-DD" in body["detail"]
    assert body["detail"].endswith("or ask about a date up to 200 days after 2024-04-14.")
    assert not PredictionRequest.objects.exists()


def test_a_player_alone_is_refused_when_todays_data_is_stale(recent_games, alice_client, settings):
    settings.AS_OF_DATE = "2025-06-01"

    response = post(alice_client, {"player": "Jayson Tatum"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("The data ends on 2024-04-14, 413 days before today (2025-06-01)")


def test_the_staleness_threshold_is_a_setting(recent_games, alice_client, settings):
    body = {"player": "Jayson Tatum", "opponent": "LAL", "date": "2024-06-01"}  # 48 days after the data ends
    settings.PREDICTIONS_STALE_DATA_DAYS = 30
    refused = post(alice_client, body)
    assert refused.status_code == 422 and "(more than 30)" in refused.json()["detail"]

    settings.PREDICTIONS_STALE_DATA_DAYS = 200
    assert post(alice_client, body).status_code == 202


def test_a_player_with_too_few_recent_games_is_refused_with_how_many_and_his_last(recent_games, alice_client):
    tatum = player("jayson tatum")
    day = dt.date(2024, 4, 5)  # the loaded slice begins on 2024-03-31: a few of his games before this day
    played = games_before(tatum, day)
    assert 0 < len(played) < 5

    data_ends = Game.objects.filter(status="final", date__lt=day).order_by("-date").first().date

    response = post(alice_client, {"player": "Jayson Tatum", "opponent": "LAL", "date": day.isoformat()})

    assert response.status_code == 422
    games = f"{len(played)} game{'s' * (len(played) != 1)}"
    assert response.json() == {
        "detail": f"Not enough recent data for Jayson Tatum: {games} in the 365 days before 2024-04-05 (at least 5 "
        f"needed), his last was on {played[-1].isoformat()}. Ask about a date closer to his games, or "
        "load fresh game logs first: `.venv/bin/python manage.py load_gamelogs FILE.csv` for files in the "
        "bundled format, or `.venv/bin/python manage.py crawl boxscores date=YYYY-MM-DD` to crawl a "
        "day's box scores from basketball-reference.com and load them.",
        "data_ends": data_ends.isoformat(),
        "recent_games": len(played),
        "last_game": played[-1].isoformat(),
    }


def test_the_recent_games_thresholds_are_settings(recent_games, alice_client, settings):
    tatum = player("jayson tatum")
    day = dt.date(2024, 4, 5)
    body = {"player": "Jayson Tatum", "opponent": "LAL", "date": day.isoformat()}
    settings.PREDICTIONS_MIN_RECENT_GAMES = len(games_before(tatum, day))
    assert post(alice_client, body).status_code == 202

    window = (day - games_before(tatum, day)[0]).days - 1  # the window leaves his first game out
    settings.PREDICTIONS_RECENT_GAMES_WINDOW_DAYS = window
    refused = post(alice_client, body)
    assert refused.status_code == 422 and f"in the {window} days before 2024-04-05" in refused.json()["detail"]


def test_the_user_page_form_gets_the_refusal_as_its_sentence(recent_games, client):
    """The page's form posts to the API with the session (the page shows `detail`)."""
    client.force_login(make_user("alice"))
    response = client.post(
        URL,
        data=json.dumps({"player": "Victor Wembanyama", "opponent": "LAL", "date": "2026-12-05"}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("The data ends on 2024-04-14")


def test_the_predict_command_refuses_with_the_sentence(recent_games):
    with pytest.raises(CommandError) as error:
        call_command("predict", "Victor Wembanyama", "--opponent", "LAL", "--date", "2026-12-05", stdout=io.StringIO())
    assert str(error.value).startswith("The data ends on 2024-04-14, 965 days before 2026-12-05")
    assert not PredictionRequest.objects.exists()


def test_an_empty_warehouse_says_to_load_the_bundled_seasons(db):
    wemby = Player.objects.create(name="Victor Wembanyama")
    with pytest.raises(NotEnoughData) as refusal:
        submit_prediction(make_user("alice"), str(wemby.pk), "", dt.date(2024, 3, 1))
    assert "`.venv/bin/python manage.py load_gamelogs --bundled`" in str(refusal.value)


# --- 3. How fresh the data behind an answer is ---------------------------------------------------------


def test_data_through_is_the_players_last_game_before_the_game(recent_games):
    tatum = player("jayson tatum")
    played = games_before(tatum, dt.date(2024, 4, 12))

    assert data_freshness(tatum.pk, dt.date(2024, 4, 12)) == {
        "data_through": played[-1],
        "days_since_last_game": (dt.date(2024, 4, 12) - played[-1]).days,
    }
    # Lines outside the features' horizon (the previous season's start) were not used.
    assert data_freshness(tatum.pk, dt.date(2027, 1, 1)) == {"data_through": None, "days_since_last_game": None}


# --- 4. The page says it replays a season --------------------------------------------------------------


def test_the_page_says_it_replays_the_bundled_season_as_of_as_of_date(client, settings):
    client.force_login(make_user("alice"))
    settings.AS_OF_DATE = "2024-03-15"
    page = client.get("/").content.decode()
    assert "as of 2024-03-15, replaying the bundled season" in page
    assert "Only a player: his next game on or after 2024-03-15." in page

    settings.AS_OF_DATE = None
    assert "replaying the bundled season" not in client.get("/").content.decode()
