"""Serving the active models: loaded once per process, reloaded when the active version changes.

The first prediction of a process loads the active version of the algorithm from MODEL_DIR;
later ones reuse it. Which versions are active is read with one indexed query at most every
CHECK_SECONDS (not per prediction), so activating a new version (`manage.py train`, the admin
action) reaches every worker process within that time, without a restart.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from mlmodels import selectors, training
from mlmodels.features import feature_matrix

CHECK_SECONDS = 1.5
logger = logging.getLogger(__name__)


class NoActiveModel(Exception):
    """No active version of the algorithm (or its files cannot be used): train first."""


_lock = threading.Lock()
_loaded: dict[str, tuple[int, training.Fitted]] = {}
_active: dict = {"ids": None, "checked": -1e9}
_ensemble_calibrations: dict[tuple, dict | None] = {}


def reset() -> None:
    """Forget the loaded models and the active ids (tests; a forked process starts clean anyway)."""
    with _lock:
        _loaded.clear()
        _ensemble_calibrations.clear()
        _active.update(ids=None, checked=-1e9)


def active_ids(force: bool = False) -> dict[str, int]:
    """{algorithm: active version id}, read again at most every CHECK_SECONDS."""
    now = time.monotonic()
    if force or _active["ids"] is None or now - _active["checked"] >= CHECK_SECONDS:
        _active.update(ids=selectors.active_version_ids(), checked=now)
    return _active["ids"]


def model(algorithm: str) -> tuple[int, training.Fitted]:
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
        from mlmodels.services import load_version

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
    """Load every active model now and run it once (JAX compiles on the first call), so that
    a new worker process answers its first prediction as fast as its later ones."""
    for algorithm in active_ids(force=True):
        try:
            predict(algorithm, {})
        except NoActiveModel as exc:
            logger.warning("not warmed: %s", exc)
    return loaded_versions()


def loaded_versions() -> dict[str, int]:
    """{algorithm: version id} loaded in this process (for tests and diagnostics)."""
    return {algorithm: pair[0] for algorithm, pair in _loaded.items()}


def predict(algorithm: str, features: dict) -> dict:
    """p10/p50/p90 of one feature row (a dict by FEATURE_NAMES, None = unknown) and the version."""
    version_id, fitted = model(algorithm)
    p10, p50, p90 = fitted.predict(feature_matrix(features))
    return {"p10": float(p10[0]), "p50": float(p50[0]), "p90": float(p90[0]), "model_version": version_id}


def predict_lightgbm(features: dict) -> dict:
    return predict("lightgbm", features)


def predict_keras(features: dict) -> dict:
    return predict("keras", features)


def ensemble_calibration(version_ids) -> dict | None:
    """How to combine these versions when they were trained together (one training run stores
    it on each of its versions): {"low", "high", "weights": {version id: weight}}; None otherwise.
    Versions never change, so the answer is kept for the life of the process."""
    key = tuple(sorted(int(v) for v in version_ids if v is not None))
    if key not in _ensemble_calibrations:
        from mlmodels.models import ModelVersion

        rows = list(ModelVersion.objects.filter(pk__in=key).values_list("pk", "training_run_id", "hyperparameters"))
        runs = {run for _, run, _ in rows}
        calibrations = [(params or {}).get("ensemble_calibration") for _, _, params in rows]
        weights = {pk: (params or {}).get("ensemble_weight") for pk, _, params in rows}
        same = len(rows) == len(key) > 1 and len(runs) == 1 and None not in runs and \
            all(c is not None and c == calibrations[0] for c in calibrations)
        if same and None in weights.values():
            weights = dict.fromkeys(weights, 1.0)
        _ensemble_calibrations[key] = {**calibrations[0], "weights": weights} if same else None
    return _ensemble_calibrations[key]


def combine(outputs: list[dict]) -> dict:
    """The ensemble of the models' outputs: the (weighted) mean of each quantile, the gaps around
    the median scaled by the ensemble calibration of the versions' training run (plain mean when
    the versions were not trained together), sorted (never crossing)."""
    outputs = [o for o in outputs if o and all(o.get(k) is not None for k in ("p10", "p50", "p90"))]
    if not outputs:
        raise ValueError("no model output to combine")
    stacked = np.array([[o["p10"], o["p50"], o["p90"]] for o in outputs], dtype=np.float64)
    calibration = ensemble_calibration([o.get("model_version") for o in outputs]) if len(outputs) > 1 else None
    weights = np.ones(len(outputs))
    if calibration:
        weights = np.array([calibration["weights"].get(o.get("model_version"), 0.0) or 0.0 for o in outputs])
        if weights.sum() <= 0:
            weights = np.ones(len(outputs))
    mean = weights @ stacked / weights.sum()
    p10, p50, p90 = (float(v[0]) for v in training.apply_calibration(calibration, *(mean[[i]] for i in range(3))))
    return {"p10": p10, "p50": p50, "p90": p90}
