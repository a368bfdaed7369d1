"""Publishing the prediction pipeline to the broker, and the sweeper that re-publishes
requests left behind (broker down at submit, a chain lost with its worker).

The chain, on the `predictions` queue (a model kind may name its own queue):
    resolve -> features -> group(one step per model kind) -> combine   (the group + combine is a chord)
The group is built from the registered kinds (settings.MODEL_KINDS): today lightgbm and keras.
Every publish is a new run: a fresh token (checked by every step) and fresh task ids, recorded
on the request so the staff pages can link each step's TaskResult. The web process (and the
sweeper) publish only the first step, one small message; the resolve step publishes the rest
from the worker. Tasks are named, never imported: this module sits below predictions.tasks.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import chain, group
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from nbaproject.celery import app, queue_name
from predictions import sweeping
from predictions.conf import max_attempts, queued_timeout, running_timeout
from predictions.models import PredictionRequest, pipeline_steps
from predictions.progress import record_event

logger = logging.getLogger(__name__)
Status = PredictionRequest.Status

# At most three quick tries: a down broker must not hold the web request (it answers 202 anyway).
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
PUBLISH_CONNECT_TIMEOUT = 2.0
SWEEP_EVERY_SECONDS = 30
SWEEPER_TASK = "predictions.tasks.sweep_stuck_requests"
SWEEPER_SCHEDULE_NAME = "predictions: re-queue stuck prediction requests"


def model_step_task(kind_name: str) -> str:
    """The Celery task name of a model kind's prediction step (predictions.tasks makes one per kind)."""
    return f"predictions.tasks.{kind_name}_step"


RESOLVE_TASK = "predictions.tasks.resolve_step"


def model_queues() -> dict[str, str | None]:
    """{kind name: its queue, None for the predictions queue} of this process's registered model kinds
    (settings.MODEL_KINDS): the run's model steps, decided where the run is published."""
    from mlmodels import kinds

    return {
        kind.name: None if kind.queue == "predictions" else queue_name(kind.queue)
        for kind in kinds.registered().values()
    }


def first_step(request_id, token: str, task_ids: dict[str, str], queues: dict[str, str | None] | None = None):
    """What a run publishes: one small message, the first step (resolve), which carries the run's task
    ids and its model kinds' queues; once the request is resolved, that step publishes the rest
    (`rest_of_run`) from the worker."""
    queues = model_queues() if queues is None else queues
    return app.signature(
        RESOLVE_TASK, args=(str(request_id), token, task_ids), kwargs={"model_queues": queues}, immutable=True
    ).set(task_id=task_ids["resolve"])


def rest_of_run(
    request_id,
    token: str,
    task_ids: dict[str, str],
    queues: dict[str, str | None] | None = None,
    matchup: dict | None = None,
):
    """The steps after resolve, with the run's task ids: features -> group(one per model kind of
    `queues`, default this process's) -> combine. The features step gets `matchup` (what the resolve
    step found) and the run's model kinds (steps.build_features)."""
    rid = str(request_id)
    model_steps = []
    queues = model_queues() if queues is None else queues
    for name, queue in queues.items():
        step = app.signature(model_step_task(name), args=(rid, token)).set(task_id=task_ids[name])
        model_steps.append(step.set(queue=queue) if queue else step)
    return chain(
        app.signature(
            "predictions.tasks.features_step",
            args=(rid, token),
            kwargs={"models": list(queues), **({"matchup": matchup} if matchup else {})},
            immutable=True,
        ).set(task_id=task_ids["features"]),
        group(model_steps),
        app.signature("predictions.tasks.combine_step", args=(rid, token)).set(task_id=task_ids["combine"]),
    )


def build_chain(request_id, token: str, task_ids: dict[str, str]):
    """The whole canvas of one run, every task id fixed in advance (what `first_step` and
    `rest_of_run` publish in two goes)."""
    queues = model_queues()
    return chain(first_step(request_id, token, task_ids, queues), rest_of_run(request_id, token, task_ids, queues))


def continue_run(
    request_id,
    token: str,
    task_ids: dict[str, str],
    queues: dict[str, str | None] | None = None,
    matchup: dict | None = None,
) -> bool:
    """Called by the resolve step once the request is resolved: publish the rest of the run (the
    model kinds the first step carries). A failure is logged, not raised: the request then stays
    running without progress, and the sweeper runs it again after PREDICTIONS_RUNNING_TIMEOUT (as
    for a message lost with its worker)."""
    try:
        rest_of_run(request_id, token, task_ids, queues, matchup).apply_async()
        return True
    except Exception as exc:  # any broker/transport failure
        logger.warning(
            "prediction %s: the steps after resolve were not published (%s: %s); the sweeper will run it again",
            request_id,
            exc.__class__.__name__,
            exc,
        )
        return False


def publish(signature):
    """Send a canvas with a short, bounded retry. PREDICTIONS_BROKER_URL (normally unset) sends
    through another broker URL than the workers use (tests point it at a dead port)."""
    options = {"retry": True, "retry_policy": PUBLISH_RETRY_POLICY}
    url = settings.PREDICTIONS_BROKER_URL
    if url:
        with app.connection_for_write(url, connect_timeout=PUBLISH_CONNECT_TIMEOUT) as connection:
            return signature.apply_async(connection=connection, **options)
    return signature.apply_async(**options)


def new_run() -> tuple[str, dict[str, str]]:
    """A fresh run token and a task id for every step."""
    return uuid.uuid4().hex, {step: str(uuid.uuid4()) for step, _ in pipeline_steps()}


def publish_run(request_id, token: str, task_ids: dict[str, str]) -> bool:
    """Publish one run whose attempt the request row already records. On a broker failure
    the attempt is taken back and the reason kept in `enqueue_error` for the sweeper; nothing
    is raised (the caller has answered, or will answer, 202 either way)."""
    try:
        publish(first_step(request_id, token, task_ids))
        logger.info("prediction %s: run %s published", request_id, token)
        return True
    except Exception as exc:  # any broker/transport failure: keep the request, report why
        reason = f"broker unavailable ({exc.__class__.__name__}: {exc}); the sweeper will queue it again"
        logger.warning("prediction request %s not queued: %s", request_id, reason)
        PredictionRequest.objects.filter(pk=request_id, status=Status.QUEUED).update(
            enqueue_error=reason[:1000], attempts=Greatest(F("attempts") - 1, 0), updated_at=timezone.now()
        )
        return False


def enqueue(request_id) -> bool:
    """Publish a new run of the pipeline for a queued request (the sweeper and admin use this;
    a new request is published by predictions.submission)."""
    token, task_ids = new_run()
    updated = PredictionRequest.objects.filter(pk=request_id, status=Status.QUEUED).update(
        attempts=F("attempts") + 1,
        task_ids=task_ids,
        enqueued_at=timezone.now(),
        enqueue_error="",
        updated_at=timezone.now(),
    )
    if not updated:
        return False
    return publish_run(request_id, token, task_ids)


def retry_failed(request_id) -> bool:
    """Run a failed request again from the start (staff's admin action): back to queued with its
    progress cleared, then published like a new run. False when the request is not failed."""
    with transaction.atomic():
        request = PredictionRequest.objects.select_for_update().filter(pk=request_id, status=Status.FAILED).first()
        if request is None:
            return False
        request.status, request.message, request.stage, request.step_index = Status.QUEUED, "", "", 0
        request.failure_kind = ""
        request.percent, request.steps_done, request.timings, request.attempts = 0, [], {}, 0
        request.started_at = request.finished_at = None
        request.save()
        record_event(request, "retried by staff")
    return enqueue(request_id)


def _stuck_filter(now, grace: float, queued_after: float, running_after: float) -> Q:
    never_published = (
        Q(status=Status.QUEUED)
        & (~Q(enqueue_error="") | Q(enqueued_at__isnull=True))
        & Q(created_at__lt=now - timedelta(seconds=grace))
    )
    waited_too_long = Q(status=Status.QUEUED, enqueued_at__lt=now - timedelta(seconds=queued_after))
    stalled = Q(status=Status.RUNNING, updated_at__lt=now - timedelta(seconds=running_after))
    return never_published | waited_too_long | stalled


def sweep_stuck_requests(
    queued_after: float | None = None, running_after: float | None = None, grace: float = 5.0, limit: int = 200
) -> dict:
    """Publish again every request stuck queued (its publish failed, or it waited longer than
    `queued_after` s: a lost message) or running without progress for `running_after` s. A
    stalled request that already had PREDICTIONS_MAX_ATTEMPTS runs is failed instead. A duplicate
    message is harmless (its run finds the request owned by another and stops). Idempotent:
    safe to run from several places at once."""
    queued_after = queued_timeout() if queued_after is None else queued_after
    running_after = running_timeout() if running_after is None else running_after
    stuck = _stuck_filter(timezone.now(), grace, queued_after, running_after)
    swept = sweeping.sweep(PredictionRequest, stuck, limit, _requeue, lambda request, _: enqueue(request.pk))
    requeued, failed, not_published = ([str(pk) for pk in pks] for pks in swept)
    if requeued or failed or not_published:
        logger.info(
            "sweeper: requeued %d, gave up on %d, could not publish %d", len(requeued), len(failed), len(not_published)
        )
    return {"requeued": requeued, "failed": failed, "not_published": not_published}


def _requeue(request: PredictionRequest):
    """A stuck request, under its row lock: a stalled one back to queued, or failed after
    PREDICTIONS_MAX_ATTEMPTS runs (sweeping.GAVE_UP); a queued one is published again as it is."""
    if request.status != Status.RUNNING:
        return None
    if request.attempts >= max_attempts():
        request.status, request.failure_kind = Status.FAILED, PredictionRequest.FailureKind.SYSTEM
        request.message = (
            f"gave up after {request.attempts} attempts: the workers did not finish this prediction; please ask again"
        )
        request.finished_at = timezone.now()
        request.save()
        record_event(request, request.message)
        return sweeping.GAVE_UP
    stalled = f"no progress since {request.updated_at:%H:%M:%S} in step {request.stage or '?'}"
    request.status, request.run_token, request.percent = Status.QUEUED, "", 0
    request.stage, request.step_index, request.steps_done = "", 0, []
    request.save()
    record_event(request, f"queued again ({stalled})")
    return None


def ensure_sweeper_schedule(periodic_task_model=None, interval_model=None) -> None:
    """Create or update the beat entry running the sweeper every 30 s (idempotent). Called by a
    data migration (with historical models); call it again after a database flush."""
    sweeping.ensure_every(
        SWEEPER_SCHEDULE_NAME,
        SWEEPER_TASK,
        SWEEP_EVERY_SECONDS,
        "Re-publishes prediction requests stuck queued or running (predictions.pipeline).",
        periodic_task_model,
        interval_model,
    )
