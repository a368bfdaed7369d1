"""Bookkeeping of training and backtest jobs: the TrainingRun row, its progress and its end.

`tracked_run` is the one place a run starts (or resumes after a redelivery), fails or succeeds;
`Reporter` turns the training code's progress calls into the row's stage / epoch / percent;
both write through operations.progress, the one progress API of every job.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from django.utils import timezone

from mlmodels.models import TrainingRun
from operations import progress as job_progress

# The percentage a run has reached when each stage starts and ends; the fitting span (FIT_SPAN)
# is shared equally by the registered model kinds, in their order.
STAGE_SPAN = {
    "starting": (0, 0),
    "loading": (0, 3),
    "features": (3, 8),
    "refit": (80, 95),
    "evaluating": (95, 98),
    "saving": (98, 99),
}
FIT_SPAN = (8, 80)


def stage_span(stage: str) -> tuple[int, int] | None:
    """(start, end) percent of a stage ("loading", "lightgbm q10", "keras", ...)."""
    from mlmodels import kinds

    name = stage.split()[0] if stage else ""
    if name in STAGE_SPAN:
        return STAGE_SPAN[name]
    kind_names = kinds.names()
    if name in kind_names:
        width = (FIT_SPAN[1] - FIT_SPAN[0]) / len(kind_names)
        index = kind_names.index(name)
        return round(FIT_SPAN[0] + index * width), round(FIT_SPAN[0] + (index + 1) * width)
    return None


class Reporter:
    """Progress of a run: the TrainingRun row (at most every half second) and an optional callback
    progress(stage=..., epoch=..., percent=...) (the task's update_state, the command's stderr)."""

    def __init__(self, run: TrainingRun, callback=None):
        self.run, self.callback = run, callback
        self.last_write = 0.0

    def __call__(
        self,
        stage: str,
        epoch: int | None = None,
        epochs: int | None = None,
        step: int | None = None,
        steps: int | None = None,
        force: bool = False,
        **_ignored,
    ) -> None:
        start, end = stage_span(stage) or (self.run.percent, self.run.percent)
        done = (epoch / epochs) if epoch and epochs else (step / steps) if steps else 0.0
        percent = max(self.run.percent, int(start + (end - start) * done))
        self.run.stage, self.run.epoch, self.run.percent = stage[:64], epoch, min(percent, 99)
        now = time.monotonic()
        if force or epoch or now - self.last_write >= 0.5:
            job_progress.report(self.run, stage=self.run.stage, percent=self.run.percent, epoch=epoch)
            self.last_write = now
        if self.callback:
            self.callback(stage=self.run.stage, epoch=epoch, percent=self.run.percent)


def start_run(kind: str, seasons: list[str], quick: bool, task_id: str | None) -> tuple[TrainingRun, bool]:
    """The TrainingRun of this job and whether it already succeeded. A task delivered again (a
    retry, a redelivery after a lost worker) reuses its run row: a finished run is not redone, an
    interrupted or failed one starts over."""
    if task_id:
        run = TrainingRun.objects.filter(task_id=task_id).first()
        if run is not None:
            if run.status == TrainingRun.Status.SUCCEEDED:
                return run, True
            job_progress.start(run, stage="starting", epoch=None, percent=0, message="", seasons=seasons, quick=quick)
            return run, False
    return TrainingRun.objects.create(
        kind=kind,
        seasons=seasons,
        quick=quick,
        task_id=task_id,
        stage="starting",
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
    ), False


INTERRUPTED = "interrupted: no worker of the ml queue is running (it stopped during the training); queued again"


def fail_interrupted_runs() -> list[TrainingRun]:
    """Runs still marked running while no live worker serves the ml queue were cut off (make run
    stopped mid-training, a batch worker killed): mark them failed with that reason, so `bootstrap`
    queues the training again instead of waiting for a run nobody is doing. With a live ml worker
    nothing is touched: it may be doing them (a redelivered task resumes its own row)."""
    from nbaproject.celery import queue_name
    from operations.heartbeats import read_heartbeats

    ml_queue = queue_name("ml")
    if any(beat["responding"] and ml_queue in beat.get("queues", []) for beat in read_heartbeats()):
        return []
    runs = list(TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING))
    for run in runs:
        job_progress.fail(run, INTERRUPTED)
    return runs


@contextmanager
def tracked_run(kind: str, seasons: list[str], quick: bool, task_id: str | None, progress=None):
    """The TrainingRun of a job as (run, reporter, done): `done` when a redelivered task's run
    already succeeded (the caller returns its result instead of working again). The run is marked
    failed (with the error) when the block raises, succeeded when it ends."""
    run, done = start_run(kind, seasons, quick, task_id)
    try:
        yield run, Reporter(run, progress), done
    except Exception as exc:
        job_progress.fail(run, str(exc)[:4000])
        raise
    if not done:
        job_progress.succeed(run, stage="done")
