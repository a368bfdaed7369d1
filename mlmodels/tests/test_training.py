"""Training on a small real slice (quick mode): registry rows and files, save / load round trip,
quantiles that never cross, activation only when not worse, serving that loads a model once per
process and reloads it when the active version changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from mlmodels import ensemble, inference, kinds, registry, services, training
from mlmodels.dataset import TrainingError
from mlmodels.features import FEATURE_NAMES, FEATURE_SET_VERSION, feature_matrix
from mlmodels.kinds import keras as keras_kind
from mlmodels.models import ModelVersion, TrainingRun
from mlmodels.tests.conftest import sample_rows
from mlmodels.warehouse import build_features_for

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture
def serving(trained_run, monkeypatch):
    """The module's trained versions active, a fresh serving cache that re-reads the active ids
    on every call (no 1.5 s wait)."""
    for version in trained_run.versions.all():
        registry.activate(version)
    inference.reset()
    monkeypatch.setattr(inference, "CHECK_SECONDS", 0)
    yield trained_run
    inference.reset()


def features_sample(count=30):
    return [
        build_features_for(r["player_id"], r["date"], r["opponent_id"], r["is_home"], team_id=r["team_id"])
        for r in sample_rows(count)
    ]


def test_training_registers_both_models_with_files_and_activates_them(trained_run):
    run = TrainingRun.objects.get(pk=trained_run.pk)
    assert (run.status, run.percent, run.kind) == (TrainingRun.Status.SUCCEEDED, 100, "train")
    assert run.seasons == ["2022-23", "2023-24"]
    versions = {v.algorithm: v for v in run.versions.all()}
    assert set(versions) == {"lightgbm", "keras"}
    for version in versions.values():
        assert version.active and version.purpose == ModelVersion.Purpose.SERVING
        assert version.train_seasons == ["2022-23", "2023-24"] and version.validation_season == "2023-24"
        assert version.rows_train > 1000 and version.rows_validation > 500
        assert set(version.metrics) >= {"mae", "pinball", "coverage_80", "width_80", "ensemble"}
        # calibrated on the validation rows: 80% coverage there (within a few rows' rounding)
        assert 0.75 <= version.metrics["coverage_80"] <= 0.85
        for name in version.artifacts + version.plots:
            assert (Path(settings.MODEL_DIR) / name).is_file()
        assert (Path(settings.MODEL_DIR) / version.plots[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # LightGBM is refitted on every row; the network keeps its early-stopped weights (its calibration's)
    assert versions["lightgbm"].hyperparameters["refit_on_validation"] is True
    assert versions["keras"].hyperparameters["refit_on_validation"] is False


def test_save_load_round_trip_predicts_the_same(trained_run, tmp_path):
    from mlmodels.features import build_training_frame
    from mlmodels.selectors import gamelog_arrays

    frame = build_training_frame(gamelog_arrays())
    frame = frame[frame["has_history"]]
    X, y = frame[FEATURE_NAMES].to_numpy(), frame["pts"].to_numpy()
    cut = len(X) * 3 // 4
    for kind in kinds.registered().values():
        fitted = kind.fit(X[:cut], y[:cut], X[cut:], y[cut:], quick=True)
        fitted.calibration = training.fit_calibration(y[cut:], *fitted.predict_raw(X[cut:]))
        files = training.save(fitted, tmp_path / fitted.algorithm)
        assert all(path.is_file() for path in files)
        loaded = training.load(tmp_path / fitted.algorithm)
        np.testing.assert_allclose(
            np.column_stack(loaded.predict(X[cut:])), np.column_stack(fitted.predict(X[cut:])), rtol=1e-5, atol=1e-4
        )
    # the numpy forward pass of the Keras model is the network itself
    keras_fit = kinds.get("keras").fit(X[:cut], y[:cut], X[cut:], y[cut:], quick=True)
    Z = keras_kind.standardise(X[cut : cut + 200], keras_fit.state["scaler"])
    np.testing.assert_allclose(
        keras_kind.forward(keras_kind.dense_layers(keras_fit.model), Z),
        np.asarray(keras_fit.model(Z)),
        rtol=1e-4,
        atol=1e-4,
    )


def test_a_model_of_another_feature_set_is_refused(trained_run, tmp_path, monkeypatch):
    version = trained_run.versions.get(algorithm="lightgbm")
    monkeypatch.setattr(training, "FEATURE_SET_VERSION", 999)
    with pytest.raises(training.IncompatibleModel):
        registry.load_version(version)


def test_bootstrap_trains_again_when_the_active_models_use_an_older_feature_set(trained_run):
    from mlmodels.selectors import active_models_exist

    assert active_models_exist()
    ModelVersion.objects.filter(active=True, algorithm="keras").update(feature_set_version=FEATURE_SET_VERSION - 1)
    assert not active_models_exist()


def test_served_quantiles_never_cross_even_for_odd_inputs(serving):
    rows = features_sample()
    rng = np.random.default_rng(1)
    odd = []
    for row in rows[:10]:
        noisy = {k: (None if rng.random() < 0.3 else (v or 0) * rng.uniform(-3, 6)) for k, v in row.items()}
        odd.append(noisy)
    odd.append(dict.fromkeys(FEATURE_NAMES))  # nothing known at all
    for features in rows + odd:
        outputs = [inference.predict(name, features) for name in kinds.names()]
        for output in outputs + [ensemble.combine(outputs, features["min_mean_10"])]:
            assert 0 <= output["p10"] <= output["p50"] <= output["p90"], output
    # the batch path agrees: every row of a matrix, every model
    for algorithm in kinds.names():
        p10, p50, p90 = inference.model(algorithm)[1].predict(feature_matrix(rows + odd))
        assert np.all((0 <= p10) & (p10 <= p50) & (p50 <= p90))


def test_combine_uses_the_runs_weights_and_calibration(serving):
    versions = {v.algorithm: v for v in serving.versions.all()}
    outputs = [
        {"p10": 4.0, "p50": 10.0, "p90": 16.0, "model_version": versions["lightgbm"].pk},
        {"p10": 6.0, "p50": 14.0, "p90": 30.0, "model_version": versions["keras"].pk},
    ]
    params = versions["lightgbm"].hyperparameters
    w = params["ensemble_weight"] / (params["ensemble_weight"] + versions["keras"].hyperparameters["ensemble_weight"])
    cal = params["ensemble_calibration"]
    median = w * 10 + (1 - w) * 14
    for minutes, tier in ((None, "minutes_0_15"), (20.0, "minutes_15_25"), (35.0, "minutes_32_plus")):
        scales = cal.get("tiers", {}).get(tier) or cal  # a tier with too few validation rows: the overall scales
        expected_low = median - scales["low"] * (median - (w * 4 + (1 - w) * 6))
        expected_high = median + scales["high"] * ((w * 16 + (1 - w) * 30) - median)
        combined = ensemble.combine(outputs, minutes)
        assert combined["p50"] == pytest.approx(median)
        assert combined["p10"] == pytest.approx(max(expected_low, 0.0))
        assert combined["p90"] == pytest.approx(expected_high)
    # versions not trained together: the plain mean, sorted
    plain = ensemble.combine([{**outputs[0], "model_version": None}, {**outputs[1], "model_version": None}], 20.0)
    assert plain == {"p10": 5.0, "p50": 12.0, "p90": 23.0}


def test_the_model_is_loaded_once_and_reloaded_when_the_active_version_changes(serving, monkeypatch):
    loads = []
    real_load = training.load
    monkeypatch.setattr(training, "load", lambda folder: loads.append(folder) or real_load(folder))
    features = features_sample(1)[0]
    first = serving.versions.get(algorithm="lightgbm")
    outputs = [inference.predict("lightgbm", features) for _ in range(5)]
    assert len(loads) == 1 and {o["model_version"] for o in outputs} == {first.pk}

    # a second version becomes active (as `manage.py train` or the admin action would do)
    second = ModelVersion.objects.get(pk=first.pk)
    second.pk, second.active = None, False
    second.save()
    registry.activate(second)
    assert inference.predict("lightgbm", features)["model_version"] == second.pk
    assert len(loads) == 2 and inference.loaded_versions()["lightgbm"] == second.pk
    inference.predict("lightgbm", features)
    assert len(loads) == 2


def test_active_ids_are_read_at_most_every_check_interval(serving, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(inference, "CHECK_SECONDS", 60)
    features = features_sample(1)[0]
    inference.predict("lightgbm", features)
    inference.predict("keras", features)
    with django_assert_num_queries(0):
        for _ in range(10):
            inference.predict("lightgbm", features)
            inference.predict("keras", features)


def test_no_active_model_is_reported(serving):
    ModelVersion.objects.update(active=False)
    with pytest.raises(inference.NoActiveModel):
        inference.predict("keras", dict.fromkeys(FEATURE_NAMES))


def test_a_worse_new_version_is_not_activated(serving):
    """The active versions claim a far better validation score: a new training keeps them."""
    active = {v.algorithm: v for v in ModelVersion.objects.filter(active=True)}
    for version in active.values():
        version.metrics = {**version.metrics, "pinball": 0.01}
        version.save()
    run = services.train_models(quick=True)
    for version in run.versions.all():
        assert not version.active
        assert "not activated" in version.notes
    assert {v.algorithm: v.pk for v in ModelVersion.objects.filter(active=True)} == {a: v.pk for a, v in active.items()}


def test_single_season_training_validates_on_its_last_dates(slice_loaded):
    run = services.train_models(seasons=["2023-24"], quick=True, activate_new=False)
    version = run.versions.get(algorithm="lightgbm")
    assert version.train_seasons == ["2023-24"] and version.validation_season == "2023-24"
    assert "single season" in version.notes and not version.active
    assert version.rows_validation > 0 and version.rows_train > version.rows_validation


def test_unknown_seasons_are_refused(slice_loaded):
    with pytest.raises(TrainingError, match="2010-11"):
        services.train_models(seasons=["2010-11"], quick=True)
