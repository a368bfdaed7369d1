"""What one POST /api/v1/predictions/ costs the database, pinned: token auth, the per-user submit
throttle, the player, the freshness checks and the INSERT. A new query on this path (an N+1, a
second look-up) fails here before it shows in bench/api_load.py's post_vs_bare."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from etl.models import Player, PlayerGameLog
from predictions import selectors
from predictions.accounts import create_api_user
from predictions.models import PredictionRequest

URL = "/api/v1/predictions/"
# Token (1), submit throttle (1), the player with his last line, the recent-games count and where the
# data ends (1), the INSERT (1).
QUERIES_PER_POST = 4


def token_client(name: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {create_api_user(name)[1]}")
    return client


def post_queries(client, body: dict) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            URL, data=json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=json.dumps(body)
        )
    assert response.status_code == 202, response.content
    assert response["Location"] == response.json()["status_url"]
    # The test's own transaction turns the INSERT's transaction into a savepoint: not a query in production.
    statements = [query["sql"] for query in captured.captured_queries if "SAVEPOINT" not in query["sql"]]
    return len(statements), statements


@pytest.mark.django_db
def test_a_post_costs_a_fixed_number_of_queries(recent_games, settings):
    settings.AS_OF_DATE = "2024-04-15"
    client = token_client("alice")
    post_queries(client, {"player": "Luka Doncic", "opponent": "ATL", "date": "2024-04-20"})  # caches filled

    for body in ({"player": "Jayson Tatum", "opponent": "NYK", "date": "2024-04-20"}, {"player": "Nikola Jokic"}):
        count, statements = post_queries(client, body)
        assert count == QUERIES_PER_POST, "\n".join(statements)
    assert PredictionRequest.objects.filter(user__username="alice").count() == 3


def orm_form(player, before: dt.date, days: int) -> selectors.RecentForm | None:
    """The reference: the player's form in the window read with the ORM (what the SQL must answer)."""
    lines = PlayerGameLog.objects.filter(player=player, date__lt=before, date__gte=before - dt.timedelta(days=days))
    last = lines.order_by("-date").select_related("team").first()
    if last is None:
        return None
    return selectors.RecentForm(
        last.date, last.team.code, lines.count(), selectors.latest_played_game_date(before=before)
    )


@pytest.mark.smoke
@pytest.mark.django_db
def test_the_player_and_his_form_in_one_query_answer_as_the_separate_lookups(recent_games):
    """find_player_with_form (the submission's one query, SQL written out) finds what find_player
    finds and reads the form the ORM reads, on both databases (SQLite gives dates as text)."""
    tatum = Player.objects.get(normalised_name="jayson tatum")
    Player.objects.create(name="Twin Name")
    Player.objects.create(name="Twin Name")
    day, days = dt.date(2024, 4, 10), 30
    texts = ["Jayson Tatum", "jayson  TATUM ", str(tatum.pk), "doncic", "james", "Twin Name", "lebrom jmes", "99999999"]
    texts += ["9" * 30, "²", ""]
    for text in texts:
        with CaptureQueriesContext(connection) as captured:
            match, form = selectors.find_player_with_form(text, day, days)
        expected = selectors.find_player(text)
        assert (match.player, match.ambiguous, match.suggestions) == (
            expected.player,
            expected.ambiguous,
            expected.suggestions,
        ), text
        assert form == (orm_form(match.player, day, days) if match.player else None), text
        if text in ("Jayson Tatum", str(tatum.pk)):
            assert len(captured.captured_queries) == 1
            assert form is not None and form.recent_games > 0 and isinstance(form.last_date, dt.date)
    # Before his first game in the warehouse: no form (the submission then reads what the refusal names).
    assert selectors.find_player_with_form("Jayson Tatum", dt.date(2024, 3, 31), days)[1] is None
    assert selectors.recent_form(tatum, dt.date(2024, 3, 31), days) is None
    assert selectors.recent_form(tatum, day, days) == orm_form(tatum, day, days)
