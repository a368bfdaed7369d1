"""The resolve step's answers to requests it cannot serve, without a worker (services called directly)."""
from __future__ import annotations

import datetime as dt

import pytest

from etl.models import Player, PlayerGameLog
from predictions.models import PredictionRequest
from predictions.services import Unanswerable, resolve_matchup
from predictions.tests.conftest import make_user

pytestmark = pytest.mark.django_db


def request_for(**inputs) -> PredictionRequest:
    return PredictionRequest(user=make_user("alice"), **inputs)


def last_game_day(normalised_name: str) -> dt.date:
    player = Player.objects.get(normalised_name=normalised_name)
    return PlayerGameLog.objects.filter(player=player).order_by("-date").values_list("date", flat=True).first()


def test_a_player_alone_without_a_scheduled_game_asks_for_an_opponent_and_a_date(recent_games):
    last = last_game_day("jayson tatum")
    with pytest.raises(Unanswerable) as answer:
        resolve_matchup(request_for(player_input="Jayson Tatum"))
    assert str(answer.value) == (f"no scheduled game found for Jayson Tatum (BOS) after {last.isoformat()}, his "
                                 "last game in the database: give an opponent and a date")


def test_a_player_and_an_opponent_without_a_scheduled_game_asks_only_for_the_date(recent_games):
    last = last_game_day("jayson tatum")
    with pytest.raises(Unanswerable) as answer:
        resolve_matchup(request_for(player_input="Jayson Tatum", opponent_input="NYK"))
    assert str(answer.value) == (f"no scheduled game found for Jayson Tatum (BOS) against NYK after "
                                 f"{last.isoformat()}, his last game in the database: give a date for that matchup")
    assert "give an opponent" not in str(answer.value)


def test_a_request_is_labelled_by_what_was_typed_then_by_the_player_it_resolved_to(recent_games):
    jokic = Player.objects.get(normalised_name="nikola jokic")
    by_id = request_for(player_input=str(jokic.pk), opponent_input="nyk")
    assert by_id.label == f"{jokic.pk} vs nyk"

    with pytest.raises(Unanswerable) as answer:  # what was found before the problem is kept on the request
        resolve_matchup(by_id)
    for name, value in answer.value.resolved.items():
        setattr(by_id, name, value)
    assert by_id.label == "Nikola Jokić vs NYK"

    by_id.game_date = dt.date(2024, 3, 7)
    assert by_id.label == "Nikola Jokić vs NYK on 2024-03-07"
