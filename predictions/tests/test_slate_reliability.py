"""Slates under faults (real workers, RabbitMQ, PostgreSQL): a whole worker killed mid-slate, and
RabbitMQ restarted while a slate runs, leave one complete slate with each player once.

Marked `reliability` (they stop processes and the broker): run them alone, never beside other
test runs, against a broker of their own (RABBITMQ_NODENAME & co. exported so that rabbitmqctl acts
on it, CELERY_BROKER_URL pointing at it). The game tasks are held inside their first write by a test-only trigger (as
test_reliability.py holds a prediction step), so the kill lands mid-slate every time.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from etl.models import Game
from nbaproject.celery import queue_name
from nbaproject.testing.worker import BeatProcess
from operations.dashboard import queue_depths
from predictions.models import Slate, SlateGame, SlatePrediction
from predictions.tests.conftest import TriggerHold, client_for, make_user
from predictions.tests.test_reliability import own_workers, rabbitmq, wait_for  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.services, pytest.mark.reliability, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOLD_LOCK = 80_843
DAY = "2024-03-15"


def game_hold() -> TriggerHold:
    """Every slate game task waits inside its transaction (at its first row insert) until release()."""
    return TriggerHold("test_hold_slate", "predictions_slateprediction", HOLD_LOCK)


def submit_slate() -> int:
    response = client_for(make_user("alice")).post(
        "/api/v1/slates/", data=json.dumps({"date": DAY}), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def assert_one_complete_slate(slate_id) -> Slate:
    wait_for(lambda: Slate.objects.get(pk=slate_id).is_finished, 180, "the slate finished")
    slate = Slate.objects.get(pk=slate_id)
    games = Game.objects.filter(date=DAY).count()
    assert slate.status == "succeeded", slate.message
    assert (slate.games_total, slate.games_done) == (games, games)
    assert SlateGame.objects.filter(slate=slate, done=True).count() == games
    rows = SlatePrediction.objects.filter(slate=slate)
    assert slate.players_done == rows.count() == len(set(rows.values_list("player_id", flat=True)))
    return slate


def test_kill_9_of_a_whole_worker_mid_slate_a_new_worker_completes_it(own_workers):  # noqa: F811
    first = own_workers("a")
    with game_hold() as hold:
        slate_id = submit_slate()
        wait_for(hold.waiting, 90, "game tasks held mid-run")
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(10)
        wait_for(
            lambda: queue_depths([queue_name("predictions")])["queues"][0]["messages"] >= 1,
            30,
            "the unacknowledged game tasks back in their queue",
        )
        own_workers("b")
        hold.release()
        assert_one_complete_slate(slate_id)


def test_rabbitmq_restarted_while_a_slate_runs_it_completes_once(own_workers, rabbitmq):  # noqa: F811
    """Stopped while game tasks run: their acknowledgements and the chord's summary are lost or
    doubled (a redelivered game counts twice in the chord); the sweeper, run by beat, publishes
    what is missing once the slate is silent, and the slate completes once, each player once."""
    own_workers("a")
    fast_sweeper(stuck_after=8)
    with game_hold() as hold:
        slate_id = submit_slate()
        wait_for(hold.waiting, 90, "game tasks held mid-run")
        rabbitmq.stop()
        hold.release()
        wait_for(
            lambda: SlateGame.objects.filter(slate_id=slate_id, done=True).count() >= 1,
            60,
            "the held games committed while the broker was down",
        )
        rabbitmq.start()
        with BeatProcess():  # the sweeper takes over what the outage lost
            assert_one_complete_slate(slate_id)
    assert Slate.objects.filter(date=DAY).count() == 1


def fast_sweeper(stuck_after: float) -> None:
    """The slate sweeper's beat entry every 2 s (30 s in production), silent after `stuck_after` s."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from predictions.slate_services import SWEEPER_SCHEDULE_NAME, ensure_sweeper_schedule

    ensure_sweeper_schedule()
    every_2s, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name=SWEEPER_SCHEDULE_NAME).update(
        interval=every_2s, kwargs=json.dumps({"stuck_after": stuck_after, "grace": 1})
    )
