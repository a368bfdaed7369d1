"""The ensemble of the registered model kinds: a weighted mean of each quantile, calibrated.

Training chooses the weights and fits the ensemble's calibration on the validation rows
(`fit_ensemble`), per minutes tier like each kind's (training.TIERS: the tier of a row is its
`min_mean_10` feature); the versions of one training run store them. Arrays of predictions
combine with `combine_arrays` (training, backtest, slates); the pipeline's single prediction
combines the models' outputs with `combine`, which reads the weights and calibration its
versions stored. Both apply the same calibration to the same tier minutes, so a slate's row and
a single prediction of the same features give the same numbers.
"""

from __future__ import annotations

import numpy as np

from mlmodels import training

# Weights of the first of two models tried on validation: both models always count.
ENSEMBLE_WEIGHTS = tuple(round(w, 2) for w in np.arange(0.2, 0.81, 0.1))

_calibrations: dict[tuple, dict | None] = {}


def combine_arrays(predictions: list[tuple], calibration: dict | None = None, weights=None, minutes=None):
    """The ensemble of several models' (p10, p50, p90) arrays: the (weighted) mean of each
    quantile, gaps scaled by the ensemble's calibration when given (per minutes tier when it has
    tiers and `minutes`, each row's TIER_FEATURE, is given), never crossing."""
    weights = np.full(len(predictions), 1 / len(predictions)) if weights is None else np.asarray(weights, float)
    stacked = np.tensordot(weights / weights.sum(), np.array([np.column_stack(p) for p in predictions]), axes=1)
    return training.apply_calibration(calibration, stacked[:, 0], stacked[:, 1], stacked[:, 2], minutes=minutes)


def choose_weights(y: np.ndarray, predictions: list[tuple]) -> list[float]:
    """Weights with the lowest mean pinball loss on (y, predictions): searched for two models,
    equal for any other number."""
    if len(predictions) != 2:
        return [1 / len(predictions)] * len(predictions)
    scores = {
        w: training.metrics(y, *combine_arrays(predictions, weights=[w, 1 - w]))["pinball"] for w in ENSEMBLE_WEIGHTS
    }
    best = min(scores, key=lambda w: (scores[w], abs(w - 0.5)))
    return [best, round(1 - best, 2)]


def fit_ensemble(y: np.ndarray, predictions: dict[str, tuple], minutes: np.ndarray | None = None) -> dict:
    """{"weights": {kind: weight}, "calibration", "metrics"} of the ensemble of the kinds'
    calibrated validation predictions. The ensemble is calibrated too, since averaging narrows the
    range; per minutes tier when `minutes` (the rows' TIER_FEATURE) is given: one overall scale
    after averaging tier-calibrated models narrowed the bench tier's range again."""
    preds = list(predictions.values())
    weights = choose_weights(y, preds)
    calibration = training.fit_calibration(y, *combine_arrays(preds, weights=weights), minutes=minutes)
    return {
        "weights": dict(zip(predictions, weights, strict=True)),
        "calibration": calibration,
        "metrics": training.metrics(y, *combine_arrays(preds, calibration, weights, minutes)),
    }


def reset() -> None:
    _calibrations.clear()


def stored_calibration(version_ids) -> dict | None:
    """How to combine these versions when they were trained together (one training run stores
    it on each of its versions): {"low", "high", "weights": {version id: weight}}; None otherwise.
    Versions never change, so the answer is kept for the life of the process."""
    key = tuple(sorted(int(v) for v in version_ids if v is not None))
    if key not in _calibrations:
        from mlmodels.models import ModelVersion

        rows = list(ModelVersion.objects.filter(pk__in=key).values_list("pk", "training_run_id", "hyperparameters"))
        runs = {run for _, run, _ in rows}
        calibrations = [(params or {}).get("ensemble_calibration") for _, _, params in rows]
        weights = {pk: (params or {}).get("ensemble_weight") for pk, _, params in rows}
        same = (
            len(rows) == len(key) > 1
            and len(runs) == 1
            and None not in runs
            and all(c is not None and c == calibrations[0] for c in calibrations)
        )
        if same and None in weights.values():
            weights = dict.fromkeys(weights, 1.0)
        _calibrations[key] = {**calibrations[0], "weights": weights} if same else None
    return _calibrations[key]


def combine(outputs: list[dict], minutes: float | None) -> dict:
    """The ensemble of the models' outputs ({p10, p50, p90, model_version} each) for one feature
    row whose TIER_FEATURE (average minutes over the previous 10 games) is `minutes` (None:
    unknown, the lowest tier): the (weighted) mean of each quantile, the gaps around the median
    scaled by the ensemble calibration of the versions' training run for the row's minutes tier
    (plain mean when the versions were not trained together), sorted."""
    outputs = [o for o in outputs if o and all(o.get(k) is not None for k in ("p10", "p50", "p90"))]
    if not outputs:
        raise ValueError("no model output to combine")
    stacked = np.array([[o["p10"], o["p50"], o["p90"]] for o in outputs], dtype=np.float64)
    calibration = stored_calibration([o.get("model_version") for o in outputs]) if len(outputs) > 1 else None
    weights = np.ones(len(outputs))
    if calibration:
        weights = np.array([calibration["weights"].get(o.get("model_version"), 0.0) or 0.0 for o in outputs])
        if weights.sum() <= 0:
            weights = np.ones(len(outputs))
    mean = weights @ stacked / weights.sum()
    tier_minutes = np.array([np.nan if minutes is None else minutes], dtype=np.float64)
    p10, p50, p90 = (
        float(v[0])
        for v in training.apply_calibration(calibration, *(mean[[i]] for i in range(3)), minutes=tier_minutes)
    )
    return {"p10": p10, "p50": p50, "p90": p90}
