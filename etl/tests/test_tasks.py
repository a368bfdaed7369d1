"""The load as a Celery task through a real worker on the etl queue: EtlRun and TaskResult rows,
progress visible while it runs, idempotent when delivered again."""

from __future__ import annotations

import pytest
from celery.exceptions import CeleryError
from django_celery_results.models import TaskResult

from etl.models import EtlRun, PlayerGameLog
from etl.tasks import load_gamelogs
from etl.teams import seed_teams
from etl.tests.conftest import season_lines, season_path
from nbaproject.celery import queue_name
from nbaproject.testing.waiting import progress_until_done

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_the_task_loads_the_season_and_records_its_run(celery_worker):
    seed_teams()
    rows = len(season_lines()[1])
    result = load_gamelogs.apply_async(args=[[str(season_path())]])
    progress = progress_until_done(result, 120, "the load task")
    summary = result.get(timeout=10)
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (rows, rows, 0)
    # Progress was visible while the load's transaction was still open.
    assert progress and all(meta["total"] == rows for meta in progress)
    assert {"done", "total", "stage"} <= set(progress[0])
    run = EtlRun.objects.get(task_id=result.id)
    assert run.status == EtlRun.Status.SUCCEEDED and run.finished_at is not None
    assert run.counts["inserted"] == rows and run.rows_done == run.rows_total == rows
    task = TaskResult.objects.get(task_id=result.id)
    assert task.status == "SUCCESS" and task.task_name == "etl.tasks.load_gamelogs"
    assert queue_name("etl") in (task.meta or "")
    assert PlayerGameLog.objects.get(player__name="Luka Dončić", date="2024-01-26").pts == 73

    # Delivered again (late ack after a lost worker): same task id, nothing changes, one run row.
    result.forget()  # else the stored result of the first delivery answers at once
    again = load_gamelogs.apply_async(args=[[str(season_path())]], task_id=result.id)
    progress_until_done(again, 120, "the load task")
    summary = again.get(timeout=10)
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 0, rows)
    assert EtlRun.objects.filter(task_id=result.id).count() == 1
    assert PlayerGameLog.objects.count() == rows


def test_a_failed_load_is_recorded_with_its_reason(celery_worker, tmp_path):
    result = load_gamelogs.apply_async(args=[[str(tmp_path / "absent.csv")]])
    with pytest.raises(Exception) as error:
        result.get(timeout=60)
    assert not isinstance(error.value, CeleryError)
    assert "absent.csv: no such file" in str(error.value)
    run = EtlRun.objects.get(task_id=result.id)
    assert run.status == EtlRun.Status.FAILED and "no such file" in run.message
    assert TaskResult.objects.get(task_id=result.id).status == "FAILURE"
