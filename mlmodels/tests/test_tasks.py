"""`mlmodels.tasks.train` through a real worker on the ml queue: progress in the task state and
on the TrainingRun row, the versions it made, the Pipeline page's job row; a redelivered task
does not train twice."""

from __future__ import annotations

import pytest
from django_celery_results.models import TaskResult

from etl.testing import load_logs
from mlmodels.models import ModelVersion, TrainingRun
from mlmodels.tasks import train
from nbaproject.celery import queue_name
from nbaproject.testing.waiting import progress_until_done
from operations.dashboard import jobs_of_model

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_the_train_task_reports_progress_and_registers_versions(celery_worker, slice_files):
    load_logs(slice_files.values())
    result = train.apply_async(kwargs={"quick": True})
    progress = progress_until_done(result, 240, "the training task")
    summary = result.get(timeout=10)

    run = TrainingRun.objects.get(task_id=result.id)
    assert run.status == TrainingRun.Status.SUCCEEDED and run.percent == 100 and run.finished_at
    assert summary["run"] == run.pk and summary["seasons"] == ["2022-23", "2023-24"]
    assert {v["algorithm"] for v in summary["versions"]} == {"lightgbm", "keras"}
    assert all(v["active"] for v in summary["versions"])
    assert set(ModelVersion.objects.filter(task_id=result.id).values_list("algorithm", flat=True)) == {
        "lightgbm",
        "keras",
    }
    # progress went through the task state: stages in order, an epoch of the Keras fit, rising percent
    assert progress, "no PROGRESS state seen"
    assert all({"stage", "epoch", "percent"} <= set(meta) for meta in progress)
    # (a quick Keras epoch can come and go between two polls: only the order is certain)
    order = ["loading", "features", "lightgbm", "keras", "refit", "saving"]
    seen = [order.index(meta["stage"].split()[0]) for meta in progress]
    assert seen == sorted(seen) and len(set(seen)) >= 3
    assert any(meta["stage"].startswith("lightgbm q") for meta in progress)
    percents = [meta["percent"] for meta in progress]
    assert percents == sorted(percents)
    task = TaskResult.objects.get(task_id=result.id)
    assert task.status == "SUCCESS" and task.task_name == "mlmodels.tasks.train"
    assert queue_name("ml") in (task.meta or "")

    # the Pipeline page's row for it, in the shape every job kind has
    job = next(j for j in jobs_of_model(TrainingRun) if j["id"] == str(run.pk))
    assert set(job) >= {
        "kind",
        "id",
        "title",
        "status",
        "stage",
        "percent",
        "started_at",
        "finished_at",
        "message",
        "admin_url",
        "task_links",
    }
    assert (job["kind"], job["status"], job["percent"]) == ("training", "succeeded", 100)
    assert job["task_links"][0]["task_id"] == result.id

    # delivered again with the same id (a late ack after a lost worker): no second training
    result.forget()
    again = train.apply_async(kwargs={"quick": True}, task_id=result.id)
    progress_until_done(again, 240, "the training task")
    assert again.get(timeout=10)["run"] == run.pk
    assert TrainingRun.objects.filter(task_id=result.id).count() == 1
    assert ModelVersion.objects.filter(task_id=result.id).count() == 2


def test_a_failed_training_is_recorded_with_its_reason(celery_worker):
    result = train.apply_async(kwargs={"quick": True})
    with pytest.raises(Exception, match="no game logs"):
        result.get(timeout=60)
    run = TrainingRun.objects.filter(task_id=result.id).first()
    # nothing loaded: refused before a run starts, the reason is in the task result
    assert run is None
    assert "load_gamelogs" in TaskResult.objects.get(task_id=result.id).result
