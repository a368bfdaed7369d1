"""What one POST /api/v1/predictions/ costs the database, pinned: token auth, the per-user submit
throttle, the player, the freshness checks and the INSERT. A new query on this path (an N+1, a
second look-up) fails here before it shows in bench/api_load.py's post_vs_bare."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from predictions.accounts import create_api_user
from predictions.models import PredictionRequest

URL = "/api/v1/predictions/"
# Token (1), submit throttle (1), player (1), his last line with the recent-games count and where the
# data ends (1), the INSERT (1).
QUERIES_PER_POST = 5


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
