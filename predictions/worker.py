"""Warm pool processes for the workers that serve predictions.

Every pool process of a worker consuming the predictions queue loads the active models when
it starts (mlmodels.inference.warm), not on its first prediction: otherwise a prediction
landing on a fresh process (worker start, or a process replaced after
CELERY_WORKER_MAX_TASKS_PER_CHILD tasks) waits seconds for Keras, JAX and the model files.
A process reports ready only after this, so the pool meanwhile sends tasks to warm ones.
"""

from __future__ import annotations

import logging

from celery import signals

from nbaproject.celery import queue_name

logger = logging.getLogger(__name__)


@signals.worker_init.connect(weak=False, dispatch_uid="predictions.worker_init")
def on_worker_init(sender=None, **kwargs):
    """Warm this worker's pool processes if it consumes the predictions queue. Connected from
    here (after Celery's Django fixup connected its own handler) so that the fixup first gives
    each new process its own database connections."""
    consumed = sender.app.amqp.queues.consume_from if sender is not None else None
    if consumed is None or queue_name("predictions") in consumed:
        signals.worker_process_init.connect(warm_models, weak=False, dispatch_uid="predictions.warm_models")


def warm_models(**kwargs):
    """Load the active models in a new pool process; then close the database connection the
    lookup opened, as Celery does after every task: an idle pool process holds no session."""
    from django.db import connections

    from mlmodels import inference

    try:
        versions = inference.warm()
        loaded = ", ".join(f"{algorithm}={version}" for algorithm, version in sorted(versions.items()))
        logger.info("pool process warmed: models %s loaded", loaded or "none (no active version)")
    except Exception:  # a database or file problem: the first prediction loads (and reports) it
        logger.exception("pool process not warmed")
    finally:
        connections.close_all()
