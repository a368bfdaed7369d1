"""Calibration per minutes tier: fitted on some rows, checked on rows it did not see."""

from __future__ import annotations

import numpy as np

from mlmodels import training


def _draw(rng, n):
    """Rows whose spread grows with minutes (like real points) while the raw ranges do not."""
    minutes = rng.uniform(0, 40, n)
    median = minutes * 0.5
    y = np.maximum(np.round(median + rng.normal(0, 1 + minutes / 4, n)), 0.0)
    raw = (median - 3.0, median, median + 3.0)  # the same width everywhere: wrong per tier
    return y, raw, minutes


def _coverage_per_tier(y, p10, p90, minutes):
    tiers = training.tier_of(minutes)
    return {
        name: float(np.mean((y[tiers == i] >= p10[tiers == i]) & (y[tiers == i] <= p90[tiers == i])))
        for i, name in enumerate(training.TIERS)
    }


def test_tier_calibration_holds_on_rows_it_did_not_see():
    rng = np.random.default_rng(1)
    y_fit, raw_fit, minutes_fit = _draw(rng, 20_000)
    y_new, raw_new, minutes_new = _draw(rng, 20_000)  # unseen rows
    per_tier = training.fit_calibration(y_fit, *raw_fit, minutes=minutes_fit)
    overall = training.fit_calibration(y_fit, *raw_fit)
    assert set(per_tier["tiers"]) == set(training.TIERS) and "tiers" not in overall

    p10, _, p90 = training.apply_calibration(per_tier, *raw_new, minutes=minutes_new)
    tiered = _coverage_per_tier(y_new, p10, p90, minutes_new)
    assert all(0.77 <= c <= 0.83 for c in tiered.values()), tiered

    # one overall scale: right on average, wrong in the tiers (the reason for tiers)
    p10, _, p90 = training.apply_calibration(overall, *raw_new)
    assert 0.77 <= np.mean((y_new >= p10) & (y_new <= p90)) <= 0.83
    flat = _coverage_per_tier(y_new, p10, p90, minutes_new)
    assert flat["minutes_0_15"] > 0.9 and flat["minutes_32_plus"] < 0.7, flat


def _two_models(rng, n):
    """Rows and two models' raw ranges whose medians err independently for rotation players and
    stars, not for the bench: averaging them helps the upper tiers only, so one overall scale
    fitted after averaging shrinks every range and leaves the bench tier short."""
    y, (low, median, high), minutes = _draw(rng, n)
    models = []
    for _ in range(2):
        shift = np.where(minutes >= 15, rng.normal(0, 10.0, n), 0.0)
        models.append((low + shift, median + shift, high + shift))
    return y, models, minutes


def test_the_ensembles_tier_calibration_holds_on_rows_it_did_not_see():
    from mlmodels import ensemble

    rng = np.random.default_rng(3)
    y_fit, raw_fit, minutes_fit = _two_models(rng, 20_000)
    y_new, raw_new, minutes_new = _two_models(rng, 20_000)  # unseen rows
    calibrated = []
    for raw in raw_fit:
        calibration = training.fit_calibration(y_fit, *raw, minutes=minutes_fit)
        calibrated.append(calibration)
    fit_preds = {
        f"m{i}": training.apply_calibration(c, *raw, minutes=minutes_fit)
        for i, (c, raw) in enumerate(zip(calibrated, raw_fit, strict=True))
    }
    new_preds = [
        training.apply_calibration(c, *raw, minutes=minutes_new) for c, raw in zip(calibrated, raw_new, strict=True)
    ]
    tiered = ensemble.fit_ensemble(y_fit, fit_preds, minutes_fit)
    weights = list(tiered["weights"].values())
    assert set(tiered["calibration"]["tiers"]) == set(training.TIERS)

    p10, p50, p90 = ensemble.combine_arrays(new_preds, tiered["calibration"], weights, minutes_new)
    coverage = _coverage_per_tier(y_new, p10, p90, minutes_new)
    assert all(0.77 <= c <= 0.83 for c in coverage.values()), coverage
    assert 0.78 <= np.mean((y_new >= p10) & (y_new <= p90)) <= 0.82

    # a single prediction of any of those rows gives the same numbers as the batch
    for i in rng.choice(len(y_new), 40, replace=False):
        outputs = [{"p10": p[0][i], "p50": p[1][i], "p90": p[2][i], "model_version": None} for p in new_preds]
        stored = {**tiered["calibration"], "weights": {None: 1.0}}
        single = _combine_with(stored, outputs, minutes_new[i])
        np.testing.assert_allclose([single["p10"], single["p50"], single["p90"]], [p10[i], p50[i], p90[i]])

    # one overall scale after averaging (what it replaced) narrows the bench tier again
    overall = ensemble.fit_ensemble(y_fit, fit_preds)
    assert "tiers" not in overall["calibration"]
    p10, _, p90 = ensemble.combine_arrays(new_preds, overall["calibration"], weights)
    flat = _coverage_per_tier(y_new, p10, p90, minutes_new)
    assert flat["minutes_0_15"] < 0.775 < 0.785 < coverage["minutes_0_15"], (flat, coverage)


def _combine_with(calibration, outputs, minutes):
    """ensemble.combine with `calibration` as the versions' stored one."""
    from unittest import mock

    from mlmodels import ensemble

    weights = calibration["weights"]
    with mock.patch.object(ensemble, "stored_calibration", return_value={**calibration, "weights": weights}):
        return ensemble.combine(outputs, minutes)


def test_tier_of_edges_and_unknown_minutes():
    tiers = training.tier_of(np.array([0.0, 14.99, 15.0, 24.99, 25.0, 31.99, 32.0, 48.0, np.nan]))
    assert tiers.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 0]


def test_a_tier_with_too_few_rows_keeps_the_overall_scales():
    rng = np.random.default_rng(2)
    y, raw, minutes = _draw(rng, 3_000)
    minutes = np.where(minutes >= 32, 31.0, minutes)
    minutes[:10] = 35.0  # 10 rows only in the top tier
    calibration = training.fit_calibration(y, *raw, minutes=minutes)
    assert "minutes_32_plus" not in calibration["tiers"]
    p10, _, _ = training.apply_calibration(calibration, *(q[:10] for q in raw), minutes=minutes[:10])
    expected = raw[1][:10] - calibration["low"] * 3.0
    np.testing.assert_allclose(p10, np.maximum(expected, 0.0))


def test_the_keras_inputs_of_a_few_rows_are_scikit_learns_standardisation():
    """A prediction's rows skip scikit-learn's per-call checks: the same numbers as its scaler and imputer."""
    from mlmodels.kinds import keras as keras_kind

    rng = np.random.default_rng(5)
    X = rng.normal(10, 4, size=(400, 6))
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 5] = np.nan  # unknown everywhere: mean 0, std 1
    X[:, 4] = 3.0  # constant: std 1
    scaler = keras_kind.make_scaler(X)
    batch = keras_kind.standardise(X, scaler)
    rows = np.vstack([keras_kind.standardise(X[i : i + 1], scaler) for i in range(len(X))])
    np.testing.assert_allclose(rows, batch, rtol=1e-6, atol=1e-6)
    assert np.isfinite(batch).all() and np.abs(batch).max() <= keras_kind.CLIP
