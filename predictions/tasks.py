"""Celery tasks of the predictions app (routed to the `predictions` queue in settings).

Thin wrappers over predictions.steps (the top layer with the API: docs/architecture.md, "Layers
inside predictions"): each step records its progress on the request (predictions.progress),
turns a known problem into a human-readable failure of the request, and stops quietly
(Ignore) when it belongs to a run that no longer owns the request. A request that has no
answer (steps.Unanswerable: no such game...) is failed with the reason and the step ends
normally, without the rest of the chain: the user was answered, no task failed. No model library is
imported here: mlmodels loads them lazily, once per worker process.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from django.db.utils import InterfaceError, OperationalError

from mlmodels import kinds
from predictions import pipeline, steps
from predictions.models import STEP_LABELS, PredictionRequest
from predictions.progress import StaleRun, fail
from predictions.steps import PredictionFailed, Unanswerable

logger = logging.getLogger(__name__)

# job_kind/job_arg: the worker's log lines during a step name the request (operations.logs).
STEP_OPTIONS = {
    "bind": True,
    "throws": (PredictionFailed,),
    "max_retries": 3,
    "soft_time_limit": 60,
    "time_limit": 90,
    "job_kind": "prediction",
    "job_arg": "request_id",
}
# The first prediction in a fresh worker process loads the models.
MODEL_STEP_OPTIONS = {**STEP_OPTIONS, "soft_time_limit": 120, "time_limit": 150}


def _run(task, step: str, request_id, token: str, work, *args):
    try:
        return work(*args)
    except StaleRun as exc:
        logger.info("%s of %s skipped: %s", step, request_id, exc)
        raise Ignore() from None
    except Unanswerable as exc:
        logger.info("prediction %s answered in %s: %s", request_id, step, exc)
        fail(request_id, token, str(exc), kind=PredictionRequest.FailureKind.INPUT)
        task.request.chain = None  # nothing left to compute: the later steps are not sent
        return {"request": str(request_id), "status": "failed", "reason": str(exc)}
    except PredictionFailed as exc:
        fail(request_id, token, str(exc))
        raise
    except SoftTimeLimitExceeded:
        fail(request_id, token, f"the step '{STEP_LABELS[step]}' took too long; please try again")
        raise
    except (OperationalError, InterfaceError) as exc:  # a database blip: the step is idempotent, retry it
        if task.request.retries < task.max_retries:
            raise task.retry(exc=exc, countdown=0.5 * (task.request.retries + 1)) from None
        fail(request_id, token, f"the database was unavailable during '{STEP_LABELS[step]}'")
        raise
    except Exception as exc:
        logger.exception("prediction %s failed in %s", request_id, step)
        fail(
            request_id,
            token,
            f"internal error during '{STEP_LABELS[step]}' ({exc.__class__.__name__}); the team has the details",
        )
        raise


def _handed_over(task) -> bool:
    """Whether this is the step's first delivery, whose start the previous step's finish recorded
    (progress.finish_step's `then`). A redelivery (its worker process died: acks_late; the broker
    marks it redelivered) or a retry records its own start, which is what counts a poison step's
    deliveries (PREDICTIONS_MAX_STEP_STARTS)."""
    delivery = task.request.delivery_info or {}
    return not delivery.get("redelivered") and not task.request.retries


@shared_task(name=pipeline.RESOLVE_TASK, **STEP_OPTIONS)
def resolve_step(self, request_id, token, task_ids=None, model_queues=None):
    """The first step, the only message the web process publishes: once the request is resolved, it
    publishes the rest of the run (unless it was answered here, or published as one canvas)."""
    outcome = _run(self, "resolve", request_id, token, steps.resolve_request, request_id, token, task_ids)
    if outcome.get("status") == "failed":  # answered (Unanswerable): nothing left to run
        return outcome
    if task_ids and not self.request.chain:
        pipeline.continue_run(request_id, token, task_ids, model_queues, matchup=outcome)
    return request_id


@shared_task(name="predictions.tasks.features_step", **STEP_OPTIONS)
def features_step(self, request_id, token, matchup=None, models=None):
    handed_over = _handed_over(self)
    work = steps.build_features
    return _run(self, "features", request_id, token, work, request_id, token, handed_over, matchup, models)


def _model_step(kind_name: str):
    """The prediction step of one model kind: its active model's p10/p50/p90 for the features."""

    def step(self, features, request_id, token):
        handed_over = _handed_over(self)
        return _run(
            self, kind_name, request_id, token, steps.run_model, kind_name, features, request_id, token, handed_over
        )

    step.__name__ = step.__qualname__ = f"{kind_name}_step"
    step.__doc__ = f"The {kind_name} model's range for the features (mlmodels.kinds)."
    return shared_task(name=pipeline.model_step_task(kind_name), **MODEL_STEP_OPTIONS)(step)


# One step task per registered model kind (settings.MODEL_KINDS): lightgbm_step, keras_step, ...
MODEL_STEPS = {name: _model_step(name) for name in kinds.names()}
globals().update({task.__name__.rsplit(".", 1)[-1]: task for task in MODEL_STEPS.values()})


@shared_task(name="predictions.tasks.combine_step", **STEP_OPTIONS)
def combine_step(self, outputs, request_id, token):
    handed_over = _handed_over(self)
    return _run(self, "combine", request_id, token, steps.store_prediction, outputs, request_id, token, handed_over)


@shared_task(name="predictions.tasks.sweep_stuck_requests", soft_time_limit=120, time_limit=150)
def sweep_stuck_requests(queued_after=None, running_after=None, grace=5.0):
    """Beat, every 30 s: publish again the requests stuck queued or running (idempotent)."""
    return pipeline.sweep_stuck_requests(queued_after=queued_after, running_after=running_after, grace=grace)


@shared_task(name="predictions.tasks.noop")
def noop(*args, **kwargs):
    """Does nothing: bench/api_load.py runs chains of it as the floor the pipeline can approach."""
    return None


from predictions.slate_tasks import plan_slate_task, slate_game_task, slate_summary_task  # noqa: E402,F401
