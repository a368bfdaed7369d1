"""Celery tasks of the etl app (queue `etl`)."""

from __future__ import annotations

from celery import shared_task

from operations.tasks import DATABASE_RETRY


@shared_task(bind=True, name="etl.tasks.load_gamelogs", soft_time_limit=20 * 60, time_limit=25 * 60, **DATABASE_RETRY)
def load_gamelogs(self, paths: list[str] | None = None, skip_loaded: bool = False) -> dict:
    """Load game-log files (the bundled seasons when no paths are given) as an EtlRun linked to
    this task, reporting progress as task state PROGRESS {done, total, stage}.

    Idempotent, so a redelivery (late ack) is harmless: the lines upsert to the same values and
    the task's EtlRun row is reused. Returns the load's summary counts.
    """
    from etl.services import bundled_gamelog_paths
    from etl.services import load_gamelogs as load

    paths = paths or [str(p) for p in bundled_gamelog_paths()]
    task_id = self.request.id  # progress is reported from a helper thread: no request context there

    def progress(done, total, stage):
        self.update_state(task_id=task_id, state="PROGRESS", meta={"done": done, "total": total, "stage": stage})

    return load(paths, progress=progress, skip_loaded=skip_loaded, task_id=task_id)
