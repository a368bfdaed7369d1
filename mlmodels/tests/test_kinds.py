"""The model kinds registry (settings.MODEL_KINDS): a third kind is one module plus one setting,
and then trains, registers, serves and joins the ensemble like the two built-in ones."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from mlmodels import ensemble, inference, kinds, services
from mlmodels.models import ModelVersion
from mlmodels.runs import stage_span
from mlmodels.tests.conftest import sample_rows
from mlmodels.warehouse import build_features_for

BUILT_IN = ["mlmodels.kinds.lightgbm", "mlmodels.kinds.keras"]
WITH_MEDIAN = [*BUILT_IN, "mlmodels.tests.median_kind"]


def test_the_built_in_kinds_are_registered_in_the_settings_order():
    assert kinds.names() == ["lightgbm", "keras"]
    assert [value for value, _ in ModelVersion._meta.get_field("algorithm").choices] == ["lightgbm", "keras"]
    with override_settings(MODEL_KINDS=WITH_MEDIAN):
        assert kinds.names() == ["lightgbm", "keras", "median10"]
        assert [value for value, _ in ModelVersion._meta.get_field("algorithm").choices][-1] == "median10"
        # the training progress shares the fitting span between the three kinds
        assert [stage_span(name) for name in kinds.names()] == [(8, 32), (32, 56), (56, 80)]


@pytest.mark.parametrize(
    "paths, message",
    [
        (["mlmodels.kinds.nope"], "cannot import 'mlmodels.kinds.nope'"),
        (["mlmodels.kinds.base"], "has no KIND"),
        ([*BUILT_IN, "mlmodels.kinds.lightgbm"], "used twice"),
        ([], "MODEL_KINDS is empty"),
    ],
)
def test_a_wrong_setting_is_a_clear_error(paths, message):
    with override_settings(MODEL_KINDS=paths), pytest.raises(ImproperlyConfigured, match=message):
        kinds.registered()


def test_an_unknown_kind_is_named():
    with pytest.raises(kinds.UnknownKind, match="'median10' is not in MODEL_KINDS"):
        kinds.get("median10")


@pytest.mark.services
@pytest.mark.django_db
@override_settings(MODEL_KINDS=WITH_MEDIAN)
def test_an_extra_kind_trains_registers_serves_and_joins_the_ensemble(slice_loaded, monkeypatch):
    monkeypatch.setattr(inference, "CHECK_SECONDS", 0)
    inference.reset()
    run = services.train_models(quick=True)

    versions = {v.algorithm: v for v in run.versions.all()}
    assert set(versions) == {"lightgbm", "keras", "median10"} and all(v.active for v in versions.values())
    median = versions["median10"]
    assert median.artifacts == [f"{median.artifacts[0].rsplit('/', 1)[0]}/meta.json"]
    # the ensemble of three: equal weights, stored on every version of the run
    assert [v.hyperparameters["ensemble_weight"] for v in versions.values()] == pytest.approx([1 / 3] * 3)

    row = sample_rows(1)[0]
    features = build_features_for(
        row["player_id"], row["date"], row["opponent_id"], row["is_home"], team_id=row["team_id"]
    )
    outputs = [inference.predict(name, features) for name in kinds.names()]
    assert [o["model_version"] for o in outputs] == [versions[name].pk for name in kinds.names()]
    assert outputs[2]["p50"] == pytest.approx(features["pts_median_10"])  # calibration moves the gaps only
    combined = ensemble.combine(outputs, features["min_mean_10"])
    assert combined["p50"] == pytest.approx(float(np.mean([o["p50"] for o in outputs])))
    inference.reset()


def test_lightgbm_refits_the_chosen_quantiles_with_the_rounds_validation_chose(monkeypatch):
    """A quantile left out of REFIT_QUANTILES keeps its validation-fitted booster; the others are
    trained again on every row with the chosen rounds."""
    from mlmodels.features import FEATURE_NAMES
    from mlmodels.kinds import lightgbm
    from mlmodels.kinds.lightgbm import KIND

    monkeypatch.setattr(lightgbm, "REFIT_QUANTILES", (0.5,))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, len(FEATURE_NAMES)))
    y = np.abs(5 * X[:, 0] + 10 + 3 * rng.normal(size=3000))
    fitted = KIND.fit(X[:2000], y[:2000], X[2000:], y[2000:], quick=True)
    refitted = KIND.refit(X, y, fitted, quick=True)
    assert refitted.model[0] is fitted.model[0] and refitted.model[2] is fitted.model[2]
    assert refitted.model[1] is not fitted.model[1]
    assert refitted.hyperparameters["rounds"] == fitted.hyperparameters["rounds"]
    assert refitted.model[1].current_iteration() == fitted.hyperparameters["rounds"][1]
    assert refitted.hyperparameters["quantile_params"]["0.5"] == {"objective": "quantile", "alpha": 0.5}
    p10, p50, p90 = KIND.predict_batch(refitted, X[:200])
    assert np.mean(p10 < p50) > 0.9 and np.mean(p50 < p90) > 0.9
