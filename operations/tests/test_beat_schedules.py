"""Staff enable a periodic task in admin and beat (DatabaseScheduler) runs it."""

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from nbaproject.testing.waiting import wait_for
from nbaproject.testing.worker import BeatProcess

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.slow]


def every_second_ping(name: str, **fields) -> PeriodicTask:
    """A periodic task sending `operations.tasks.ping` every second."""
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(name=name, task="operations.tasks.ping", interval=every_second, **fields)


def wait_for_runs(name: str, count: int, what: str) -> None:
    """Until the worker has run the periodic task `name` successfully `count` times (30 s at most)."""
    wait_for(lambda: TaskResult.objects.filter(periodic_task_name=name, status="SUCCESS").count() >= count, 30, what)


def test_enabled_periodic_task_runs_and_disabled_one_does_not(celery_worker):
    every_second_ping("ping every second", args='["beat"]', enabled=True)
    every_second_ping("disabled ping", args='["never"]', enabled=False)

    with BeatProcess():
        wait_for_runs("ping every second", 2, "two beats of the enabled task")

    assert not TaskResult.objects.filter(periodic_task_name="disabled ping").exists()
    assert PeriodicTask.objects.get(name="ping every second").total_run_count >= 2


def test_enabling_a_task_while_beat_runs_takes_effect(celery_worker):
    task = every_second_ping("enabled later", enabled=False)
    # A task beat does run, so "not sent yet" is checked after beat has surely ticked, not after a sleep.
    every_second_ping("witness")
    with BeatProcess():
        wait_for_runs("witness", 2, "beat sending the witness task twice")
        assert not TaskResult.objects.filter(periodic_task_name="enabled later").exists()
        task.enabled = True
        task.save()  # what the admin's save does
        wait_for(
            lambda: TaskResult.objects.filter(periodic_task_name="enabled later").exists(),
            30,
            "the task enabled while beat runs being sent",
        )


def sent_lines(beat: BeatProcess) -> int:
    return beat.log().count("Sending due task")


def test_a_second_beat_stands_by_and_takes_over_when_the_first_dies(celery_worker):
    every_second_ping("guarded ping")

    first = BeatProcess().start()
    second = BeatProcess().start()
    try:
        wait_for(lambda: sent_lines(first) >= 3, 30, "the first beat sending three times")
        # the second may start later on a loaded machine: wait until it met the lock
        wait_for(lambda: "another beat holds the lock" in second.log(), 30, "the second beat meeting the lock")
        assert sent_lines(second) == 0

        first.process.kill()  # a crash: its lock goes with its database session
        first.process.wait(10)
        wait_for(lambda: sent_lines(second) >= 2, 30, "the second beat taking over")
        assert "beat lock acquired" in second.log()
    finally:
        first.stop()
        second.stop()


@pytest.mark.django_db
def test_every_schedule_is_created_once_and_staff_changes_survive():
    from django_celery_beat.models import PeriodicTask

    from operations import registry
    from operations.schedules import ensure_all_schedules

    PeriodicTask.objects.all().delete()
    first = ensure_all_schedules()
    names = [spec["name"] for spec in registry.schedules()]
    # each app's jobs.py registered its own (found by autodiscovery: operations names no app)
    assert {
        "Clean up old task results",
        "Load new game-log files",
        "Scrape yesterday's box scores",
        "Scrape this and next month's schedule",
        "Retrain the models weekly",
    } <= set(names)
    assert "predictions: re-queue stuck prediction requests" in {name for name, _ in first}
    assert all(created for _, created in first) and set(names) <= {name for name, _ in first}
    cleanup = PeriodicTask.objects.get(name="Clean up old task results")
    retrain = PeriodicTask.objects.get(name="Retrain the models weekly")
    assert cleanup.enabled and not retrain.enabled and retrain.crontab.day_of_week == "1"
    assert str(retrain.crontab.timezone) == "UTC" and retrain.description

    retrain.enabled = True  # staff enable it in admin
    retrain.save()
    again = ensure_all_schedules()
    assert not any(created for _, created in again)
    assert PeriodicTask.objects.get(name="Retrain the models weekly").enabled
    assert PeriodicTask.objects.filter(name__in=names).count() == len(names)
