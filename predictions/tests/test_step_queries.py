"""What one prediction's steps cost the database, pinned per step: the statements (each a round trip)
and the progress transitions among them (each a commit). A step's finish also records that the next
steps started (predictions.progress.finish_step's `then`), so a step's first delivery writes nothing
before its own finish; resolve reads the matchup in one query (selectors.matchup). A new query on
this path fails here before it shows in bench/api_load.py's e2e_vs_noop."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from etl.models import Game, PlayerGameLog, Team
from predictions import selectors, steps
from predictions.models import Prediction, PredictionEvent, PredictionRequest
from predictions.pipeline import new_run
from predictions.progress import StaleRun
from predictions.tests.conftest import ensure_season, make_user, restore_models

pytestmark = pytest.mark.django_db

# resolve: its claim, the matchup, its finish (+ features started). features: its three warehouse
# reads, its finish (+ the model steps started). A model step: its finish only (the features step's
# return says it handed over to it; the finish checks the run token; the last one: + combine
# started). combine: the request with the result's facts (the game date comes with the models'
# outputs), the success with the Prediction.
STATEMENTS = {"resolve": 3, "features": 4, "lightgbm": 1, "keras": 1, "combine": 2}
TRANSITIONS = {"resolve": 2, "features": 1, "lightgbm": 1, "keras": 1, "combine": 1}


@pytest.fixture
def season_and_models(transactional_db, trained_model_rows):
    """The 2023-24 season and an active model set, committed (emptied after the test, as the pipeline
    tests' are), so that later tests find the warehouse as they expect."""
    ensure_season()
    restore_models(trained_model_rows)


def run_steps(player: str, opponent: str, day: dt.date, handed_over: bool = True) -> tuple[PredictionRequest, dict]:
    """One prediction's steps in process, as the worker runs their first deliveries; returns the request
    and each step's statements."""
    request = PredictionRequest.objects.create(
        user=make_user("alice"), player_input=player, opponent_input=opponent, date_input=day, attempts=1
    )
    token, task_ids = new_run()
    statements: dict[str, list[str]] = {}

    def captured(name, work, *args):
        with CaptureQueriesContext(connection) as queries:
            result = work(*args)
        statements[name] = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
        return result

    matchup = captured("resolve", steps.resolve_request, request.pk, token, task_ids)
    features = captured("features", steps.build_features, request.pk, token, handed_over, matchup)
    outputs = [
        captured(name, steps.run_model, name, features, request.pk, token, handed_over)
        for name in ("lightgbm", "keras")
    ]
    captured("combine", steps.store_prediction, outputs, request.pk, token, handed_over)
    request.refresh_from_db()
    return request, statements


def transitions(sqls: list[str]) -> int:
    return sum(1 for sql in sqls if sql.lstrip().startswith("WITH changed AS (UPDATE"))


def test_a_prediction_costs_a_fixed_number_of_statements_and_commits(season_and_models):
    if connection.vendor != "postgresql":
        pytest.skip("the counts are PostgreSQL's (one statement per transition)")
    run_steps("Luka Doncic", "ATL", dt.date(2024, 1, 26))  # models loaded, caches filled

    request, statements = run_steps("Jayson Tatum", "NYK", dt.date(2024, 2, 24))

    assert request.status == "succeeded" and Prediction.objects.filter(request=request).count() == 1
    for step, expected in STATEMENTS.items():
        assert len(statements[step]) == expected, f"{step}:\n" + "\n".join(statements[step])
        assert transitions(statements[step]) == TRANSITIONS[step], step
    assert sum(map(len, statements.values())) == 11 and sum(TRANSITIONS.values()) == 6
    # Every step's start and end is still in the events stream, in order.
    assert list(PredictionEvent.objects.filter(request=request).order_by("id").values_list("step", "percent")) == [
        ("resolve", 0),
        ("resolve", 20),
        ("features", 20),
        ("features", 40),
        ("lightgbm", 40),
        ("keras", 40),
        ("lightgbm", 60),
        ("keras", 80),
        ("combine", 80),
        ("combine", 100),
    ]
    assert request.step_starts == {name: 1 for name in STATEMENTS}
    # The facts read with the request are result_facts' (the separate query's).
    stored = Prediction.objects.get(request=request)
    expected = steps.result_facts(request.player_id, request.game_id, request.game_date)
    assert expected["actual_points"] is not None and expected["data_through"] is not None
    assert {key: getattr(stored, key) for key in expected} == expected


def test_facts_read_with_the_request_equal_result_facts_also_past_the_features_horizon(season_and_models):
    """combine's one read does not bound his last line by the features' horizon (this season and
    the last); steps._facts_of drops one older than it, as result_facts' own query does."""
    player = PlayerGameLog.objects.filter(date__lt=dt.date(2024, 2, 24)).latest("date").player
    user = make_user("alice")
    for day in (dt.date(2024, 2, 24), dt.date(2026, 1, 10)):  # his lines inside the horizon, then none
        request = PredictionRequest.objects.create(user=user, player=player, game_date=day)
        read = PredictionRequest.objects.annotate(**selectors.result_facts_of_request()).get(pk=request.pk)
        expected = steps.result_facts(player.pk, None, day)
        assert steps._facts_of(read) == expected
        assert (expected["data_through"] is None) == (day.year == 2026)


def test_a_redelivered_step_records_its_own_start(season_and_models):
    """A step's delivery that is not its first (predictions.tasks: redelivered, or a retry) writes its
    start first: one more transition for the features, model and combine steps."""
    if connection.vendor != "postgresql":
        pytest.skip("the counts are PostgreSQL's (one statement per transition)")
    run_steps("Luka Doncic", "ATL", dt.date(2024, 1, 26))

    request, statements = run_steps("Nikola Jokic", "BOS", dt.date(2024, 3, 7), handed_over=False)

    assert request.status == "succeeded"
    assert {step: transitions(sqls) for step, sqls in statements.items()} == {
        "resolve": 2,
        "features": 2,
        "lightgbm": 2,
        "keras": 2,
        "combine": 2,
    }
    assert request.step_starts == {"resolve": 1, "features": 2, "lightgbm": 2, "keras": 2, "combine": 2}


@pytest.mark.smoke
def test_the_matchup_in_one_query_answers_as_the_separate_lookups(recent_games):
    """selectors.matchup (resolve's one query, SQL written out) finds what find_player, the opponent's
    alias, last_log and game_on / next_game find, on game days and other days, with and without an
    opponent; it gives up (None) on what only the separate look-ups can explain."""
    lines = PlayerGameLog.objects.select_related("player", "team", "opponent").order_by("date", "player_id")
    samples = [lines[n] for n in range(0, lines.count(), max(1, lines.count() // 12))][:12]
    other = Team.objects.order_by("code").first()
    compared = 0
    for line, shift, upcoming in itertools.product(samples, (0, 1, 3), (False, True)):
        day = line.date + dt.timedelta(days=shift)
        for player_text, opponent in ((line.player.name, ""), (str(line.player_id), line.opponent.code)):
            for opponent_text in {opponent, other.name.lower()}:
                request = PredictionRequest(player_input=player_text, opponent_input=opponent_text)
                expected = steps._matchup_by_parts(request, day, upcoming)
                found = selectors.matchup(player_text, opponent_text, day, upcoming)
                assert found is not None, (player_text, opponent_text, day)
                assert _ids(found) == _ids(expected), (player_text, opponent_text, day, upcoming)
                if found.game is not None:
                    assert found.game.date == expected.game.date and isinstance(found.game.date, dt.date)
                    assert (found.game.home.code, found.game.away.code) == (
                        expected.game.home.code,
                        expected.game.away.code,
                    )
                compared += 1
    assert compared >= 100
    assert Game.objects.filter(date__in=[line.date for line in samples]).exists()

    day = samples[0].date
    assert selectors.matchup("doncic", "", day, upcoming=True) is None  # a partial name: find_player's
    assert selectors.matchup(samples[0].player.name, "no such team", day, upcoming=True) is None
    assert selectors.matchup("99999999999999999999", "", day, upcoming=True) is None


def _ids(matchup: selectors.Matchup) -> tuple:
    return tuple(getattr(item, "pk", None) for item in (matchup.player, matchup.team, matchup.opponent, matchup.game))


def test_a_handed_over_model_step_still_checks_its_run(season_and_models):
    """A model step's first delivery reads nothing (the features step's return says it handed over
    to it), but its finish still checks the run token: a stale run's step writes nothing (StaleRun);
    a kind the features step did not hand over to reads and records its own start."""
    if connection.vendor != "postgresql":
        pytest.skip("the counts are PostgreSQL's (one statement per transition)")
    request = PredictionRequest.objects.create(
        user=make_user("alice"), player_input="Jayson Tatum", opponent_input="NYK", date_input=dt.date(2024, 2, 24)
    )
    token, task_ids = new_run()
    matchup = steps.resolve_request(request.pk, token, task_ids)
    features = steps.build_features(request.pk, token, True, matchup, ["lightgbm"])
    assert features["handed_over"] == ["lightgbm"]
    before = PredictionEvent.objects.filter(request=request).count()

    with pytest.raises(StaleRun):
        steps.run_model("lightgbm", features, request.pk, "another-run", True)
    assert PredictionEvent.objects.filter(request=request).count() == before

    with CaptureQueriesContext(connection) as queries:
        steps.run_model("keras", features, request.pk, token, True)  # not handed over: reads, records its start
    assert len(queries.captured_queries) == 3 and transitions([q["sql"] for q in queries.captured_queries]) == 2
    request.refresh_from_db()
    assert request.step_starts == {"resolve": 1, "features": 1, "lightgbm": 1, "keras": 1}
