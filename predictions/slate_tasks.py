"""Celery tasks of a slate (predictions queue): plan -> chord(one task per game) -> summary, and
the beat-run sweeper that re-publishes what a lost message left undone.

Thin: the work is in predictions.slate_services. A game task is idempotent (its rows are
replaced), so a redelivered task (acks_late, worker lost) or a re-run changes nothing twice.
"""

from __future__ import annotations

import logging

from celery import chord, shared_task
from django.db.utils import InterfaceError, OperationalError

from predictions import slate_services as services

logger = logging.getLogger(__name__)
# job_kind/job_arg: the worker's log lines during a slate's task name the slate (operations.logs).
OPTIONS = {
    "bind": True,
    "max_retries": 3,
    "soft_time_limit": 120,
    "time_limit": 150,
    "job_kind": "slate",
    "job_arg": "slate_id",
}


def _guard(task, slate_id, what: str, work, *args):
    try:
        return work(*args)
    except services.NoActiveModels as exc:
        services.fail(slate_id, str(exc))
        raise
    except (OperationalError, InterfaceError) as exc:
        if task.request.retries < task.max_retries:
            raise task.retry(exc=exc, countdown=0.5 * (task.request.retries + 1)) from None
        services.fail(slate_id, f"the database was unavailable during {what}")
        raise
    except Exception as exc:
        logger.exception("slate %s failed in %s", slate_id, what)
        services.fail(slate_id, f"internal error during {what} ({exc.__class__.__name__}); the team has the details")
        raise


@shared_task(name="predictions.tasks.plan_slate", **OPTIONS)
def plan_slate_task(self, slate_id):
    """Start the slate and fan out: one task per game in parallel, then the summary."""
    game_ids = _guard(self, slate_id, "planning", services.plan, slate_id)
    if not game_ids:
        return services.summarize(slate_id)
    chord([slate_game_task.si(slate_id, gid) for gid in game_ids])(slate_summary_task.si(slate_id))
    return {"slate": slate_id, "games": len(game_ids)}


@shared_task(name="predictions.tasks.slate_game", **OPTIONS)
def slate_game_task(self, slate_id, game_id):
    return _guard(self, slate_id, f"game {game_id}", services.compute_game, slate_id, game_id)


@shared_task(name="predictions.tasks.slate_summary", **OPTIONS)
def slate_summary_task(self, slate_id):
    return _guard(self, slate_id, "the summary", services.summarize, slate_id)


@shared_task(name="predictions.tasks.sweep_stuck_slates", soft_time_limit=120, time_limit=150)
def sweep_stuck_slates_task(stuck_after=None, grace=5.0):
    """Beat, every 30 s: re-publish the lost game tasks or summary of silent slates (idempotent)."""
    return services.sweep_stuck_slates(stuck_after=stuck_after, grace=grace)
