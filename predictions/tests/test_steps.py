"""The resolve step's answers to requests it cannot serve, without a worker (predictions.steps called directly)."""

from __future__ import annotations

import datetime as dt

import pytest

from etl.models import Player, PlayerGameLog
from predictions.models import PredictionRequest
from predictions.steps import Unanswerable, resolve_matchup
from predictions.tests.conftest import make_user

pytestmark = pytest.mark.django_db


def request_for(**inputs) -> PredictionRequest:
    return PredictionRequest(user=make_user("alice"), **inputs)


def last_game_day(normalised_name: str) -> dt.date:
    player = Player.objects.get(normalised_name=normalised_name)
    return PlayerGameLog.objects.filter(player=player).order_by("-date").values_list("date", flat=True).first()


AFTER_THE_DATA = dt.date(2024, 4, 15)  # the product's today (as_of) the day after the loaded slice ends


def test_a_player_alone_without_a_scheduled_game_asks_for_an_opponent_and_a_date(recent_games):
    with pytest.raises(Unanswerable) as answer:
        resolve_matchup(request_for(player_input="Jayson Tatum", as_of=AFTER_THE_DATA))
    assert str(answer.value) == (
        "no game found for Jayson Tatum (BOS) on or after 2024-04-15 (today) in the "
        "database: give an opponent and a date"
    )


def test_a_player_and_an_opponent_without_a_scheduled_game_asks_only_for_the_date(recent_games):
    with pytest.raises(Unanswerable) as answer:
        resolve_matchup(request_for(player_input="Jayson Tatum", opponent_input="NYK", as_of=AFTER_THE_DATA))
    assert str(answer.value) == (
        "no game found for Jayson Tatum (BOS) against NYK on or after 2024-04-15 (today) "
        "in the database: give a date for that matchup"
    )
    assert "give an opponent" not in str(answer.value)


def test_a_request_is_labelled_by_what_was_typed_then_by_the_player_it_resolved_to(recent_games):
    jokic = Player.objects.get(normalised_name="nikola jokic")
    by_id = request_for(player_input=str(jokic.pk), opponent_input="nyk", as_of=AFTER_THE_DATA)
    assert by_id.label == f"{jokic.pk} vs nyk"

    with pytest.raises(Unanswerable) as answer:  # what was found before the problem is kept on the request
        resolve_matchup(by_id)
    for name, value in answer.value.resolved.items():
        setattr(by_id, name, value)
    assert by_id.label == "Nikola Jokić vs NYK"

    by_id.game_date = dt.date(2024, 3, 7)
    assert by_id.label == "Nikola Jokić vs NYK on 2024-03-07"
