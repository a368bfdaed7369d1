"""The whole prediction pipeline through a real worker, RabbitMQ and PostgreSQL, with real
2023-24 game logs and real (quickly trained) LightGBM and Keras models."""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import pytest
from django.core.management import call_command
from django.db import models
from django.test import override_settings
from django.utils import timezone
from django_celery_results.models import TaskResult

from etl.models import Game, Player, PlayerGameLog, Team
from nbaproject.testing.waiting import wait_for
from operations.dashboard import task_counts_since
from predictions import steps, tasks
from predictions.models import STEP_NAMES, Prediction, PredictionEvent, PredictionRequest
from predictions.pipeline import ensure_sweeper_schedule
from predictions.progress import StaleRun
from predictions.tests.conftest import client_for, make_user, wait_until_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

URL = "/api/v1/predictions/"
DEAD_BROKER = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens on port 1: every publish is refused


def post(client, body, **headers):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **headers)


def test_post_to_result_for_the_players_next_game_after_as_of_date(pipeline, settings):
    """AS_OF_DATE inside the bundled season: a player alone means his next game after it, a played
    game in the warehouse that is upcoming for the product (the worker resolves against the
    product's today stored with the request)."""
    settings.AS_OF_DATE = "2024-03-15"
    lebron = Player.objects.get(normalised_name="lebron james")
    lakers = Team.objects.get(code="LAL")
    next_game = (
        Game.objects.filter(models.Q(home=lakers) | models.Q(away=lakers), date__gte=dt.date(2024, 3, 15))
        .order_by("date")
        .first()
    )
    before = PlayerGameLog.objects.filter(player=lebron, date__lt=next_game.date).order_by("-date").first()
    client = client_for(make_user("alice"))

    accepted = post(client, {"player": "LeBron James"})
    job = wait_until_done(accepted.json()["id"])

    assert job.status == "succeeded", job.message
    detail = client.get(accepted["Location"]).json()
    assert detail["game"]["id"] == next_game.pk and detail["hypothetical"] is False
    opponent = next_game.away if next_game.home == lakers else next_game.home
    assert (detail["team"], detail["opponent"], detail["home"]) == ("LAL", opponent.code, next_game.home == lakers)
    assert detail["as_of"] == "2024-03-15"
    result = detail["result"]
    assert result["data_through"] == before.date.isoformat()
    assert result["days_since_last_game"] == (next_game.date - before.date).days
    assert set(result["model_outputs"]) == {"lightgbm", "keras"}
    assert all(result["model_versions"][name] for name in ("lightgbm", "keras"))
    assert result["features"]
    assert (
        result["actual_points"]
        == PlayerGameLog.objects.filter(player=lebron, game=next_game).values_list("pts", flat=True).first()
    )
    assert set(STEP_NAMES) <= set(result["timings"]) and result["timings"]["total"] > 0
    assert (detail["percent"], detail["step_index"], detail["step_count"]) == (100, 5, 5)
    assert set(detail["task_ids"]) == set(STEP_NAMES)
    done = TaskResult.objects.filter(task_id__in=detail["task_ids"].values(), status="SUCCESS")
    assert done.count() == 5


@pytest.mark.smoke  # also on the embedded default: SQLite and the filesystem broker (make run's setup)
def test_past_game_shows_the_actual_points(pipeline):
    client = client_for(make_user("alice"))
    accepted = post(client, {"player": "luka doncic", "opponent": "Hawks", "date": "2024-01-26"})
    job = wait_until_done(accepted.json()["id"])

    assert job.status == "succeeded", job.message
    assert job.game is not None and job.game.status == "final" and job.is_home is False
    assert job.prediction.actual_points == 73  # Dončić's 73 at Atlanta
    last = PlayerGameLog.objects.filter(player=job.player, date__lt=dt.date(2024, 1, 26)).order_by("-date").first()
    assert job.prediction.data_through == last.date  # the freshness of the data the features used
    assert job.prediction.days_since_last_game == (dt.date(2024, 1, 26) - last.date).days


def test_hypothetical_matchup_not_in_the_database(pipeline):
    client = client_for(make_user("alice"))
    accepted = post(client, {"player": "Jayson Tatum", "opponent": "LAL", "date": "2024-06-01", "home": False})
    job = wait_until_done(accepted.json()["id"])

    assert job.status == "succeeded", job.message
    assert job.game is None and job.hypothetical is True
    assert (job.team.code, job.opponent.code, job.is_home, job.game_date) == ("BOS", "LAL", False, dt.date(2024, 6, 1))
    assert job.prediction.actual_points is None
    assert job.prediction.p90 - job.prediction.p10 > 1  # a real range, not a point (a sort guarantees only the order)


def test_no_upcoming_game_is_an_answer_with_the_reason_not_a_task_failure(worker_with_season, settings):
    settings.AS_OF_DATE = "2024-04-15"  # the day after the season ends: no game of his after it
    client = client_for(make_user("alice"))
    accepted = post(client, {"player": "lebron james"})
    job = wait_until_done(accepted.json()["id"])

    assert job.status == "failed"
    assert job.message == (
        "no game found for LeBron James (LAL) on or after 2024-04-15 (today) in the database: "
        "give an opponent and a date"
    )
    detail = client.get(accepted["Location"]).json()
    assert detail["error"] == job.message and detail["result"] is None
    assert detail["label"] == "LeBron James" and detail["input"]["player"] == "lebron james"
    assert not Prediction.objects.exists()
    # The resolve step answered: its task succeeded (the dashboard counts no FAILURE), the chain stopped.
    resolve = wait_for(
        lambda: TaskResult.objects.filter(task_id=job.task_ids["resolve"], status__in=["SUCCESS", "FAILURE"]).first(),
        30,
        "the resolve step's result",
    )
    assert resolve.status == "SUCCESS" and json.loads(resolve.result)["reason"] == job.message
    assert "FAILURE" not in task_counts_since(job.created_at - dt.timedelta(seconds=1))
    assert not TaskResult.objects.filter(task_id=job.task_ids["features"]).exists()


def test_idempotency_key_runs_the_pipeline_once(pipeline):
    client = client_for(make_user("alice"))
    body = {"player": "Nikola Jokic", "opponent": "BOS", "date": "2024-03-07"}
    first = post(client, body, HTTP_IDEMPOTENCY_KEY="same-key")
    second = post(client, body, HTTP_IDEMPOTENCY_KEY="same-key")
    job = wait_until_done(first.json()["id"])

    assert first.json()["id"] == second.json()["id"]
    assert job.status == "succeeded" and job.attempts == 1
    assert PredictionRequest.objects.count() == 1 and Prediction.objects.count() == 1
    assert TaskResult.objects.filter(task_name="predictions.tasks.resolve_step").count() == 1


def test_two_users_cannot_see_each_others_predictions(pipeline):
    alice, bob = client_for(make_user("alice")), client_for(make_user("bob"))
    mine = post(alice, {"player": "Jayson Tatum", "opponent": "NYK", "date": "2024-02-24"}).json()["id"]
    wait_until_done(mine)

    assert bob.get(f"{URL}{mine}/").status_code == 404
    assert bob.get(f"{URL}{mine}/events/").status_code == 404
    assert bob.get(URL).json()["count"] == 0
    assert alice.get(f"{URL}{mine}/").json()["result"]["p50"] > 0


def test_broker_down_at_submit_still_answers_202_then_completes_when_it_is_back(pipeline):
    client = client_for(make_user("alice"))
    with override_settings(PREDICTIONS_BROKER_URL=DEAD_BROKER):  # the web process's broker is down
        started = time.monotonic()
        accepted = post(client, {"player": "Luka Doncic", "opponent": "BOS", "date": "2024-03-01"})
        submit_seconds = time.monotonic() - started

    assert accepted.status_code == 202 and accepted.json()["status"] == "queued"
    job = PredictionRequest.objects.get(pk=accepted.json()["id"])
    assert job.status == "queued" and job.attempts == 0
    assert "broker unavailable" in job.enqueue_error
    assert submit_seconds < 5, "a down broker must not hold the request for long"
    # A task sent after it through the same queue is done: the worker drained what was published before.
    tasks.noop.apply_async().get(timeout=30)
    assert PredictionRequest.objects.get(pk=job.pk).status == "queued"  # no worker ever saw it

    # The broker is back: the beat-scheduled sweeper publishes it again.
    swept = tasks.sweep_stuck_requests.apply_async(kwargs={"grace": 0}).get(timeout=30)
    assert str(job.pk) in swept["requeued"]
    job = wait_until_done(job.pk)
    assert job.status == "succeeded" and job.attempts == 1 and job.enqueue_error == ""


def test_sweeper_requeues_a_stranded_request_and_the_stale_run_changes_nothing(pipeline):
    client = client_for(make_user("alice"))
    with override_settings(PREDICTIONS_BROKER_URL=DEAD_BROKER):
        job_id = post(client, {"player": "Anthony Edwards", "opponent": "DEN", "date": "2024-03-29"}).json()["id"]
    # A worker claimed it, then vanished with its message: running, no progress for 10 minutes.
    PredictionRequest.objects.filter(pk=job_id).update(
        status="running",
        run_token="lost-run",
        stage="features",
        step_index=2,
        percent=20,
        started_at=timezone.now() - dt.timedelta(minutes=10),
        enqueue_error="",
        attempts=1,
    )
    PredictionRequest.objects.filter(pk=job_id).update(updated_at=timezone.now() - dt.timedelta(minutes=10))

    swept = tasks.sweep_stuck_requests.apply_async(kwargs={"running_after": 60}).get(timeout=30)
    job = wait_until_done(job_id)

    assert swept["requeued"] == [job_id]
    assert job.status == "succeeded" and job.attempts == 2 and job.run_token != "lost-run"
    assert PredictionEvent.objects.filter(request_id=job_id, message__startswith="queued again").exists()
    # The lost run's step arriving late is ignored, and a late re-run of the last step adds nothing.
    with pytest.raises(StaleRun):
        steps.build_features(job_id, "lost-run")
    outputs = [{"algorithm": name, **job.prediction.model_outputs[name]} for name in ("lightgbm", "keras")]
    again = tasks.combine_step.apply_async(args=[outputs, job_id, job.run_token]).get(timeout=30)
    assert again["p50"] == job.prediction.p50
    assert Prediction.objects.filter(request_id=job_id).count() == 1
    assert PredictionRequest.objects.get(pk=job_id).status == "succeeded"


def test_sweeper_leaves_healthy_requests_alone(pipeline):
    client = client_for(make_user("alice"))
    job = wait_until_done(post(client, {"player": "Luka Doncic", "opponent": "BOS", "date": "2024-03-01"}).json()["id"])
    fresh = post(client, {"player": "Jayson Tatum", "opponent": "NYK", "date": "2024-02-24"}).json()["id"]

    swept = tasks.sweep_stuck_requests.apply_async().get(timeout=30)

    assert str(job.pk) not in swept["requeued"] and fresh not in swept["requeued"]
    assert wait_until_done(fresh).attempts == 1


def test_events_stream_yields_ordered_progress_ending_in_the_result(pipeline):
    client = client_for(make_user("alice"))
    accepted = post(client, {"player": "Shai Gilgeous-Alexander", "opponent": "DAL", "date": "2024-03-20"})
    response = client.get(accepted.json()["events_url"], HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    frames = parse_sse(b"".join(response.streaming_content).decode())
    progress = [json.loads(f["data"]) for f in frames if f.get("event") == "progress"]
    seqs = [p["seq"] for p in progress]
    percents = [p["percent"] for p in progress]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert percents == sorted(percents) and percents[0] == 0 and percents[-1] == 100
    assert [p["status"] for p in progress][:1] == ["queued"]
    assert {p["step"] for p in progress} >= set(STEP_NAMES)
    assert frames[-1]["event"] == "result"
    result = json.loads(frames[-1]["data"])
    assert result["status"] == "succeeded" and result["result"]["p10"] <= result["result"]["p90"]

    # Reconnecting with Last-Event-ID replays nothing already seen, only the result.
    again = client.get(accepted.json()["events_url"], HTTP_LAST_EVENT_ID=str(seqs[-1]))
    replay = parse_sse(b"".join(again.streaming_content).decode())
    assert [f["event"] for f in replay] == ["result"]


def parse_sse(text: str) -> list[dict]:
    frames = []
    for block in text.split("\n\n"):
        frame = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            frame[key] = frame.get(key, "") + value.strip() if key == "data" else value.strip()
        if "event" in frame:
            frames.append(frame)
    return frames


def test_predict_command_prints_the_range(pipeline):
    out = io.StringIO()
    call_command(
        "predict", "Luka Doncic", "--opponent", "ATL", "--date", "2024-01-26", stdout=out, stderr=io.StringIO()
    )
    text = out.getvalue()

    assert "Luka Dončić (DAL) @ ATL, Fri 2024-01-26" in text
    assert "points (80% range), median" in text and "actual: 73 points" in text
    job = PredictionRequest.objects.get()
    assert job.user.username == "cli" and job.status == "succeeded"


def test_sweeper_schedule_is_created_once(transactional_db):
    from django_celery_beat.models import PeriodicTask

    ensure_sweeper_schedule()
    ensure_sweeper_schedule()
    entry = PeriodicTask.objects.get(task="predictions.tasks.sweep_stuck_requests")
    assert entry.enabled and entry.interval.every == 30 and entry.interval.period == "seconds"


def test_impossible_matchups_fail_with_readable_reasons_and_the_stream_ends(worker_with_season):
    client = client_for(make_user("alice"))
    dallas_days = set(
        Game.objects.filter(season="2023-24")
        .filter(models.Q(home__code="DAL") | models.Q(away__code="DAL"))
        .values_list("date", flat=True)
    )
    idle_day = next(
        day for day in (dt.date(2024, 2, 1) + dt.timedelta(days=n) for n in range(30)) if day not in dallas_days
    )
    no_game = post(client, {"player": "Luka Doncic", "date": idle_day.isoformat()}).json()
    too_early = post(client, {"player": "Luka Doncic", "opponent": "BOS", "date": "2023-10-01"})

    assert wait_until_done(no_game["id"]).message == (
        f"no game found for Luka Dončić (DAL) on {idle_day.isoformat()}: give an opponent for a hypothetical matchup"
    )
    # Before the loaded data begins: refused at submit (nothing to base it on), never queued.
    assert too_early.status_code == 422
    assert too_early.json()["detail"] == (
        "The data begins on 2023-10-24, after 2023-10-01, so there is nothing to "
        "base a prediction on: ask about a later date."
    )
    frames = parse_sse(b"".join(client.get(no_game["events_url"]).streaming_content).decode())
    assert [f["event"] for f in frames][-1] == "result"
    assert [json.loads(f["data"])["status"] for f in frames if f["event"] == "progress"] == [
        "queued",
        "running",
        "failed",
    ]
    assert json.loads(frames[-1]["data"])["player"]["name"] == "Luka Dončić"
