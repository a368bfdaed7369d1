"""Training the registered model kinds (settings.MODEL_KINDS) into the registry.

`train_models` (command `train`, task `mlmodels.tasks.train`, `make run`'s bootstrap):
  1. every loaded season's lines -> the shared leak-free features (mlmodels.dataset);
  2. the last selected season is the validation season (early stopping, calibration,
     activation); with a single season its last quarter of game dates is;
  3. every kind is fitted on the other rows, calibrated and scored on validation, the ensemble's
     weights and calibration are chosen there (mlmodels.ensemble), then each kind is refitted on
     every selected row with the rounds / epochs validation chose (the calibration is kept);
  4. artifacts go to MODEL_DIR/<kind>/v<id>-<random>/, ModelVersion rows record them, and each
     new version is activated when it is not worse than the active one on the validation rows
     (mlmodels.registry).

The backtest is in mlmodels.backtest, the run bookkeeping in mlmodels.runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from mlmodels import kinds, training
from mlmodels.dataset import Dataset, TrainingError, load_frame, resolve_seasons, split
from mlmodels.ensemble import fit_ensemble
from mlmodels.kinds import Fitted
from mlmodels.models import ModelVersion, TrainingRun
from mlmodels.registry import activate, register, save_validation_plots, should_activate
from mlmodels.runs import tracked_run

logger = logging.getLogger(__name__)


@dataclass
class Trained:
    """One kind's final model and what it scored on the validation rows."""

    algorithm: str
    fitted: Fitted
    metrics: dict
    seconds: float
    validation_pred: tuple  # calibrated (p10, p50, p90) of the validation-fitted model


def fit_models(
    data: Dataset, quick: bool = False, refit: bool = True, reporter=None, kind_names: list[str] | None = None
) -> dict[str, Trained]:
    """Every registered kind (or `kind_names`): fit with early stopping on validation, calibrate
    there, choose the ensemble there, refit on all rows."""
    X, y = data.X[data.train], data.y[data.train]
    X_val, y_val = data.X[data.validation], data.y[data.validation]
    minutes_val = training.tier_minutes(X_val)
    out = {}
    for name in kind_names or kinds.names():
        started = time.perf_counter()
        fitted = kinds.get(name).fit(X, y, X_val, y_val, quick=quick, progress=reporter)
        raw = fitted.predict_raw(X_val)
        fitted.calibration = training.fit_calibration(y_val, *raw, minutes=minutes_val)
        predicted = training.apply_calibration(fitted.calibration, *raw, minutes=minutes_val)
        out[name] = Trained(name, fitted, training.metrics(y_val, *predicted), time.perf_counter() - started, predicted)
    ensemble = fit_ensemble(y_val, {name: trained.validation_pred for name, trained in out.items()}, minutes_val)
    data.extra.update(
        ensemble_weights=ensemble["weights"],
        ensemble_calibration=ensemble["calibration"],
        ensemble_metrics=ensemble["metrics"],
    )
    if refit:
        everything = data.train | data.validation
        X_all, y_all = data.X[everything], data.y[everything]
        for name, trained in out.items():
            started = time.perf_counter()
            if reporter:
                reporter(f"refit {name}", force=True)

            def refit_progress(stage, **kwargs):
                if reporter:
                    reporter(f"refit {stage}", **kwargs)

            old = trained.fitted
            new = old.kind.refit(X_all, y_all, old, quick=quick, progress=refit_progress)
            new.hyperparameters = {**old.hyperparameters, **new.hyperparameters, "refit_on_validation": new is not old}
            new.calibration = old.calibration
            trained.fitted = new
            trained.seconds += time.perf_counter() - started
    return out


def train_models(
    seasons: list[str] | None = None,
    quick: bool = False,
    progress=None,
    task_id: str | None = None,
    activate_new: bool = True,
    kind_names: list[str] | None = None,
) -> TrainingRun:
    """Train every registered kind (or `kind_names`) on the loaded seasons (or `seasons`),
    register and (when not worse) activate them. Returns the finished TrainingRun (its `versions`
    are the new ModelVersions)."""
    seasons = resolve_seasons(seasons)
    for name in kind_names or []:
        kinds.get(name)  # an unknown kind fails before any work
    started = time.perf_counter()
    with tracked_run("train", seasons, quick, task_id, progress) as (run, reporter, done):
        if done:
            return run
        frame = load_frame(seasons, reporter)
        data = split(frame, seasons)
        if data.rows_train < 50 or data.rows_validation < 20:
            raise TrainingError(
                f"too little data to train ({data.rows_train} training and "
                f"{data.rows_validation} validation rows): load more seasons"
            )
        trained = fit_models(data, quick=quick, reporter=reporter, kind_names=kind_names)
        reporter("saving", force=True)
        versions = register(trained, data, run, purpose=ModelVersion.Purpose.SERVING, task_id=task_id, seasons=seasons)
        save_validation_plots(versions, trained, data)
        for version in versions:
            ok, reason = should_activate(version, trained[version.algorithm], data)
            if ok and activate_new:
                activate(version)
            version.notes = "\n".join(
                filter(None, [version.notes, ("activated: " if ok and activate_new else "not activated: ") + reason])
            )
            version.save(update_fields=["notes"])
            logger.info("%s %s", version, version.notes)
    run.refresh_from_db()
    run.seconds = time.perf_counter() - started
    return run


def summary(run: TrainingRun) -> dict:
    """A JSON-safe description of a finished run and its versions (command --json, task result)."""
    versions = list(run.versions.order_by("algorithm"))
    return {
        "run": run.pk,
        "status": run.status,
        "seasons": run.seasons,
        "quick": run.quick,
        "seconds": round(getattr(run, "seconds", None) or (run.finished_at - run.started_at).total_seconds(), 2)
        if run.finished_at and run.started_at
        else None,
        "versions": [
            {
                "id": v.pk,
                "algorithm": v.algorithm,
                "active": v.active,
                "validation_season": v.validation_season,
                "rows_train": v.rows_train,
                "rows_validation": v.rows_validation,
                "metrics": {k: v.metrics[k] for k in ("mae", "pinball", "coverage_80", "width_80")},
                "notes": v.notes,
            }
            for v in versions
        ],
        "ensemble": versions[0].metrics.get("ensemble") if versions else None,
    }
