"""Celery tasks of the mlmodels app (routed to its `ml` queue in settings).

Thin wrappers over mlmodels.services (training) and mlmodels.backtest: progress goes to the task state
(PROGRESS with stage, epoch and percent) and to the TrainingRun row that carries the task id.
"""

from __future__ import annotations

from celery import shared_task

from operations.tasks import DATABASE_RETRY

TRAINING_LIMITS = {"soft_time_limit": 30 * 60, "time_limit": 35 * 60}


def _progress(task):
    task_id = task.request.id

    def progress(stage=None, epoch=None, percent=None, **_ignored):
        if task_id:
            task.update_state(
                task_id=task_id, state="PROGRESS", meta={"stage": stage, "epoch": epoch, "percent": percent}
            )

    return progress


@shared_task(bind=True, name="mlmodels.tasks.train", **TRAINING_LIMITS, **DATABASE_RETRY)
def train(self, seasons: list[str] | None = None, quick: bool = False) -> dict:
    """Train every model kind (settings.MODEL_KINDS) on the loaded seasons (or `seasons`) and activate them when not
    worse than the active versions. Returns the run's summary (versions, metrics, activation)."""
    from mlmodels import services

    run = services.train_models(seasons=seasons, quick=quick, progress=_progress(self), task_id=self.request.id)
    return services.summary(run)


@shared_task(bind=True, name="mlmodels.tasks.backtest", **TRAINING_LIMITS, **DATABASE_RETRY)
def backtest(self, test_season: str, quick: bool = False) -> dict:
    """The backtest of `test_season` (see `manage.py backtest`); returns its JSON result."""
    from mlmodels.backtest import run_backtest

    report = run_backtest(test_season, quick=quick, progress=_progress(self), task_id=self.request.id)
    return {**report.result, "report": report.pk}
