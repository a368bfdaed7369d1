"""Serving the active models: loaded once per process, reloaded when the active version changes.

The first prediction of a process loads the active version of the kind from MODEL_DIR;
later ones reuse it. Which versions are active is read with one indexed query at most every
CHECK_SECONDS (not per prediction), so activating a new version (`manage.py train`, the admin
action) reaches every worker process within that time, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time

from mlmodels import ensemble, selectors, training
from mlmodels.features import feature_matrix
from mlmodels.kinds import Fitted

CHECK_SECONDS = 1.5
logger = logging.getLogger(__name__)


class NoActiveModel(Exception):
    """No active version of the algorithm (or its files cannot be used): train first."""


_lock = threading.Lock()
_loaded: dict[str, tuple[int, Fitted]] = {}
_active: dict = {"ids": None, "checked": -1e9}


def reset() -> None:
    """Forget the loaded models and the active ids (tests; a forked process starts clean anyway)."""
    with _lock:
        _loaded.clear()
        ensemble.reset()
        _active.update(ids=None, checked=-1e9)


def active_ids(force: bool = False) -> dict[str, int]:
    """{algorithm: active version id}, read again at most every CHECK_SECONDS."""
    now = time.monotonic()
    if force or _active["ids"] is None or now - _active["checked"] >= CHECK_SECONDS:
        _active.update(ids=selectors.active_version_ids(), checked=now)
    return _active["ids"]


def model(algorithm: str) -> tuple[int, Fitted]:
    """(version id, fitted model) of the active version of `algorithm`, loaded once per process."""
    version_id = active_ids().get(algorithm)
    if version_id is None:  # maybe activated a moment ago: one more look before giving up
        version_id = active_ids(force=True).get(algorithm)
    if version_id is None:
        raise NoActiveModel(f"no active {algorithm} model")
    cached = _loaded.get(algorithm)
    if cached is not None and cached[0] == version_id:
        return cached
    with _lock:
        cached = _loaded.get(algorithm)
        if cached is not None and cached[0] == version_id:
            return cached
        from mlmodels.models import ModelVersion
        from mlmodels.registry import load_version

        version = ModelVersion.objects.filter(pk=version_id).first()
        if version is None:
            _active["ids"] = None
            raise NoActiveModel(f"active {algorithm} version {version_id} was deleted")
        try:
            fitted = load_version(version)
        except (training.IncompatibleModel, OSError, ValueError) as exc:
            raise NoActiveModel(f"active {version} cannot be loaded: {exc}") from exc
        _loaded[algorithm] = (version_id, fitted)
        return _loaded[algorithm]


def warm() -> dict[str, int]:
    """Load every registered kind's active model now and run it once (JAX compiles on the first call), so that
    a new worker process answers its first prediction as fast as its later ones."""
    from mlmodels import kinds

    active = active_ids(force=True)
    for algorithm in kinds.names():
        if algorithm not in active:
            continue
        try:
            predict(algorithm, {})
        except NoActiveModel as exc:
            logger.warning("not warmed: %s", exc)
    return loaded_versions()


def loaded_versions() -> dict[str, int]:
    """{algorithm: version id} loaded in this process (for tests and diagnostics)."""
    return {algorithm: pair[0] for algorithm, pair in _loaded.items()}


def predict(algorithm: str, features: dict) -> dict:
    """p10/p50/p90 of one feature row (a dict by FEATURE_NAMES, None = unknown) by the active
    version of the kind `algorithm`, and that version's id."""
    version_id, fitted = model(algorithm)
    p10, p50, p90 = fitted.predict(feature_matrix(features))
    return {"p10": float(p10[0]), "p50": float(p50[0]), "p90": float(p90[0]), "model_version": version_id}
