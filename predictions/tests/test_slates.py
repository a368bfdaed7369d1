"""Slates: expected players, one job per day through the real worker, numbers equal to single
predictions, idempotent game tasks, one slate under concurrent POSTs, CSV, SSE and the command."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F

from etl.models import Game, PlayerGameLog
from predictions import slate_services
from predictions.models import Slate, SlateGame, SlatePrediction
from predictions.tests.conftest import client_for, make_user, wait_until_done
from predictions.tests.test_pipeline import parse_sse

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

URL = "/api/v1/slates/"
DAY = "2024-03-15"  # 6 games in the bundled 2023-24 season


def post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def wait_slate(slate_id, timeout: float = 120) -> Slate:
    from nbaproject.testing.waiting import wait_for

    wait_for(
        lambda: Slate.objects.get(pk=slate_id).is_finished,
        timeout,
        f"slate {slate_id} finished",
        describe=lambda: Slate.objects.get(pk=slate_id).progress_text,
    )
    return Slate.objects.get(pk=slate_id)


def single_range(player_id, game) -> tuple[float, float, float]:
    """A single prediction's numbers for (player, game), as its pipeline steps compute them."""
    from mlmodels.ensemble import combine
    from mlmodels.inference import predict
    from mlmodels.warehouse import build_features_for

    team = PlayerGameLog.objects.filter(player_id=player_id, date__lt=game.date).order_by("-date").first().team_id
    opponent, home = (game.away_id, True) if team == game.home_id else (game.home_id, False)
    features = build_features_for(player_id, game.date, opponent, home, team_id=team)
    combined = combine([predict(algorithm, features) for algorithm in ("lightgbm", "keras")], features["min_mean_10"])
    return tuple(sorted([combined["p10"], combined["p50"], combined["p90"]]))


def test_expected_players_played_recently_for_that_team(pipeline):
    game = Game.objects.filter(date=DAY).select_related("home").first()
    expected = slate_services.expected_players(game)

    assert expected and {team for _, team in expected} == {game.home_id, game.away_id}
    for team in (game.home_id, game.away_id):
        recent = list(
            Game.objects.filter(date__lt=game.date, player_logs__team_id=team)
            .distinct()
            .order_by("-date")
            .values_list("id", flat=True)[:3]
        )
        played = set(
            PlayerGameLog.objects.filter(game_id__in=recent, team_id=team, seconds__gt=0).values_list(
                "player_id", flat=True
            )
        )
        still_there = {
            p
            for p in played
            if PlayerGameLog.objects.filter(player_id=p, date__lt=game.date).order_by("-date").first().team_id == team
        }
        assert {p for p, t in expected if t == team} == still_there


def test_slate_numbers_equal_single_predictions(pipeline):
    game = Game.objects.filter(date=DAY).order_by("id").first()
    rows = slate_services.game_ranges(game)

    assert len(rows) >= 16
    for row in rows:
        assert (row["p10"], row["p50"], row["p90"]) == pytest.approx(
            single_range(row["player_id"], game), rel=1e-6, abs=1e-6
        )
        assert (
            row["actual"]
            == PlayerGameLog.objects.filter(game=game, player_id=row["player_id"]).values_list("pts", flat=True).first()
        )


@pytest.mark.smoke  # also on the embedded default: SQLite and the filesystem broker (make run's setup)
def test_slate_through_the_worker_then_the_same_numbers_as_a_prediction_request(pipeline):
    client = client_for(make_user("alice"))
    accepted = post(client, {"date": DAY})
    assert accepted.status_code == 202, accepted.content
    body = accepted.json()
    slate = wait_slate(body["id"])

    assert slate.status == "succeeded", slate.message
    games = Game.objects.filter(date=DAY).count()
    assert (slate.games_total, slate.games_done, slate.percent) == (games, games, 100)
    assert slate.players_done == SlatePrediction.objects.filter(slate=slate).count() > games * 16
    detail = client.get(body["status_url"]).json()
    assert detail["progress"] == f"{games} of {games} games, {slate.players_done} players"
    assert len(detail["games"]) == games and all(g["players"] for g in detail["games"])
    played = [p for g in detail["games"] for p in g["players"] if p["actual"] is not None]
    inside = sum(p["p10"] <= p["actual"] <= p["p90"] for p in played)
    assert detail["coverage_80"] == pytest.approx(inside / len(played))

    # The same player and game through the single-prediction pipeline: the same range.
    row = SlatePrediction.objects.filter(slate=slate).select_related("player", "game__home", "game__away").first()
    opponent = row.game.away if row.team_id == row.game.home_id else row.game.home
    single = client.post(
        "/api/v1/predictions/",
        data=json.dumps({"player": str(row.player_id), "opponent": opponent.code, "date": DAY}),
        content_type="application/json",
    )
    job = wait_until_done(single.json()["id"])
    assert job.status == "succeeded", job.message and job.game_id == row.game_id
    assert (job.prediction.p10, job.prediction.p50, job.prediction.p90) == pytest.approx(
        (row.p10, row.p50, row.p90), rel=1e-6, abs=1e-6
    )

    # CSV: the same rows.
    text = client.get(body["status_url"] + "?format=csv").content.decode()
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == slate.players_done and set(lines[0]) >= {"player", "team", "p10", "p50", "p90", "actual"}

    # Asking again returns the same slate and queues nothing.
    again = post(client, {"date": DAY})
    assert again.status_code == 202 and again.json()["id"] == slate.pk and again["Idempotent-Replayed"] == "true"

    # The events stream of a finished slate: its state, then the slate.
    frames = parse_sse(b"".join(client.get(body["events_url"]).streaming_content).decode())
    assert [f["event"] for f in frames] == ["progress", "result"]
    assert json.loads(frames[-1]["data"])["games_done"] == games


def test_a_rerun_game_task_replaces_its_rows_and_counts_once(pipeline):
    slate, _ = slate_services.submit_slate(make_user("alice"), Game.objects.order_by("-date").first().date)
    slate = wait_slate(slate.pk)
    assert slate.status == "succeeded", slate.message
    part = SlateGame.objects.filter(slate=slate).first()
    before = (slate.games_done, slate.players_done, SlatePrediction.objects.filter(slate=slate).count())

    assert slate_services.compute_game(slate.pk, part.game_id) == part.players
    slate.refresh_from_db()
    assert (slate.games_done, slate.players_done, SlatePrediction.objects.filter(slate=slate).count()) == before


def test_concurrent_posts_create_one_slate_queued_once(pipeline):
    users = [make_user(f"user{i}") for i in range(4)]
    barrier = threading.Barrier(len(users))
    answers = []

    def ask(user):
        try:
            barrier.wait()
            answers.append(post(client_for(user), {"date": "2024-03-14"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [202] * len(users)
    assert len({a.json()["id"] for a in answers}) == 1
    assert Slate.objects.filter(date="2024-03-14").count() == 1
    slate = wait_slate(answers[0].json()["id"])
    assert slate.status == "succeeded", slate.message
    from django_celery_results.models import TaskResult

    assert TaskResult.objects.filter(task_name="predictions.tasks.plan_slate").count() == 1


def test_bad_dates_are_400_and_no_models_is_422(worker_with_season):
    client = client_for(make_user("alice"))
    assert post(client, {"date": "2024-02-30"}).status_code == 400
    assert post(client, {"date": "soon"}).status_code == 400
    from mlmodels.models import ModelVersion

    ModelVersion.objects.all().delete()  # nothing active (the pipeline fixture restores them)
    answer = post(client, {"date": DAY})
    assert answer.status_code == 422 and "manage.py train" in answer.json()["detail"]


@pytest.mark.django_db
def test_oversized_slate_bodies_are_413_before_authentication_and_store_nothing(settings):
    from rest_framework.test import APIClient

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"date": DAY, "padding": "x" * 200})
    for client in (client_for(make_user("alice")), APIClient()):  # signed in, and anonymous (else a 401)
        assert client.post(URL, data=body, content_type="application/json").status_code == 413
    assert not Slate.objects.exists()


def test_a_date_without_games_is_refused_with_what_to_do(pipeline):
    """An empty slate would say nothing: a date the warehouse has no game on is a 422 naming where
    its games end and what loads more, and no slate is stored."""
    response = post(client_for(make_user("alice")), {"date": "2031-01-01"})

    assert response.status_code == 422, response.content
    last = Game.objects.order_by("-date").first().date
    assert response.json()["detail"].startswith(f"no game on 2031-01-01 in the warehouse (its games end on {last}")
    assert "manage.py crawl schedule" in response.json()["detail"]
    assert not Slate.objects.filter(date="2031-01-01").exists()


def test_predict_slate_command_prints_one_json_object(pipeline):
    out = io.StringIO()
    call_command("predict_slate", "--date", DAY, "--json", stdout=out)
    printed = json.loads(out.getvalue())

    assert printed["date"] == DAY and len(printed["games"]) == Game.objects.filter(date=DAY).count()
    game = printed["games"][0]
    assert set(game) == {"game", "home", "away", "players"}
    assert set(game["players"][0]) == {"player", "team", "p10", "p50", "p90", "actual"}
    assert 0 <= printed["coverage_80"] <= 1


def test_the_staff_pipeline_lists_a_slate_with_its_progress_and_admin_page(transactional_db):
    from django.test import Client

    from operations.dashboard import jobs_of_model

    Slate.objects.create(
        date="2024-03-15",
        versions_key="keras=1,lightgbm=2",
        status="running",
        games_total=11,
        games_done=3,
        players_done=80,
        percent=27,
        task_id="abc-123",
    )
    [row] = jobs_of_model(Slate)

    assert (row["kind"], row["title"], row["stage"], row["percent"]) == (
        "slate",
        "slate of 2024-03-15",
        "3 of 11 games, 80 players",
        27,
    )
    assert [link["task_id"] for link in row["task_links"]] == ["abc-123"]
    staff = Client()
    staff.force_login(_superuser())
    page = staff.get(row["admin_url"])
    assert page.status_code == 200 and b"3 of 11 games, 80 players" in page.content


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


def _silence(slate_id, seconds: float = 600) -> None:
    """As if the slate had shown no sign of life for `seconds` (its messages lost)."""
    from datetime import timedelta

    from django.utils import timezone

    Slate.objects.filter(pk=slate_id).update(progressed_at=timezone.now() - timedelta(seconds=seconds))


def test_the_sweeper_publishes_a_running_slates_lost_games_and_it_completes_once(pipeline):
    slate, _ = slate_services.submit_slate(make_user("alice"), Game.objects.order_by("-date").first().date)
    slate = wait_slate(slate.pk)
    total_players = slate.players_done
    # Lose the end of the slate: its last game's part undone (rows kept, as if the task had died
    # before its commit was acknowledged), the summary never ran.
    part = SlateGame.objects.filter(slate=slate).order_by("-game_id").first()
    SlateGame.objects.filter(pk=part.pk).update(done=False)
    Slate.objects.filter(pk=slate.pk).update(
        status="running", games_done=F("games_done") - 1, finished_at=None, coverage_80=None
    )
    assert slate_services.summarize(slate.pk)["pending"] == 1  # an early summary changes nothing
    assert Slate.objects.get(pk=slate.pk).status == "running"
    assert slate_services.sweep_stuck_slates()["swept"] == []  # not silent long enough

    _silence(slate.pk)
    assert slate_services.sweep_stuck_slates()["swept"] == [slate.pk]
    assert slate_services.sweep_stuck_slates(stuck_after=60)["swept"] == []  # the sweep was a sign of life
    slate = wait_slate(slate.pk)

    assert slate.status == "succeeded" and slate.sweeps == 1
    assert (slate.games_done, slate.players_done) == (slate.games_total, total_players)
    rows = SlatePrediction.objects.filter(slate=slate)
    assert rows.count() == total_players == len(set(rows.values_list("player_id", flat=True)))
    assert slate.coverage_80 is not None


def test_the_sweeper_plans_a_slate_never_published_and_gives_up_after_max_sweeps(pipeline):
    day = Game.objects.order_by("-date").values_list("date", flat=True).first()
    versions = slate_services.active_versions()
    lost = Slate.objects.create(
        date=day,
        versions_key=slate_services.versions_key(versions),
        model_versions=versions,
        task_id="lost",
        message="not queued yet (broker down)",
    )
    Slate.objects.filter(pk=lost.pk).update(created_at=F("created_at") - timedelta(seconds=10))
    assert slate_services.sweep_stuck_slates()["swept"] == [lost.pk]  # a failed publish: after the grace
    lost = wait_slate(lost.pk)
    assert lost.status == "succeeded" and lost.task_id != "lost" and lost.games_done == lost.games_total > 0

    hopeless = Slate.objects.create(
        date="2024-03-14", versions_key="x", model_versions=versions, sweeps=slate_services.MAX_SWEEPS
    )
    _silence(hopeless.pk)
    assert slate_services.sweep_stuck_slates()["failed"] == [hopeless.pk]
    assert "gave up" in Slate.objects.get(pk=hopeless.pk).message


def test_the_slate_sweeper_is_a_registered_beat_schedule(transactional_db):
    from django_celery_beat.models import PeriodicTask

    from operations.schedules import ensure_all_schedules

    PeriodicTask.objects.filter(name=slate_services.SWEEPER_SCHEDULE_NAME).delete()
    assert (slate_services.SWEEPER_SCHEDULE_NAME, True) in ensure_all_schedules()
    entry = PeriodicTask.objects.get(name=slate_services.SWEEPER_SCHEDULE_NAME)
    assert entry.task == "predictions.tasks.sweep_stuck_slates" and entry.enabled and entry.interval.every == 30
    from nbaproject.celery import app

    assert "predictions.tasks.sweep_stuck_slates" in app.tasks


def test_metrics_count_slates_players_seconds_and_sweeps(transactional_db):
    from predictions.tests.test_metrics import scrape

    before = scrape()
    Slate.objects.create(
        date="2024-03-15", versions_key="a", status="succeeded", players_done=240, seconds=4.5, sweeps=1
    )
    Slate.objects.create(date="2024-03-16", versions_key="a", status="failed", sweeps=5)
    Slate.objects.create(date="2024-03-17", versions_key="a", status="running", players_done=30)
    after = scrape()
    moved = {key: after[key] - before.get(key, 0) for key in after}

    assert moved[("nba_slates_submitted_total", ())] == 3
    assert moved[("nba_slates_succeeded_total", ())] == 1
    assert moved[("nba_slates_failed_total", ())] == 1
    assert moved[("nba_slate_players_total", ())] == 240
    assert moved[("nba_slate_sweeps_total", ())] == 6
    assert (moved[("nba_slate_seconds_count", ())], moved[("nba_slate_seconds_sum", ())]) == (1, 4.5)
    assert after[("nba_jobs_running", (("kind", "slate"),))] >= 1
