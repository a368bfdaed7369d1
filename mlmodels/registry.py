"""The model registry: each trained model's files under MODEL_DIR and its ModelVersion row,
loading a version back, and which version of each kind is active."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import transaction

from mlmodels import training
from mlmodels.ensemble import combine_arrays
from mlmodels.features import FEATURE_SET_VERSION
from mlmodels.kinds import Fitted
from mlmodels.models import ModelVersion, TrainingRun

if TYPE_CHECKING:
    from mlmodels.dataset import Dataset
    from mlmodels.services import Trained

# "Not worse": the new version's mean pinball loss on the validation rows may exceed the active
# one's by at most this share (noise between two equally good fits).
ACTIVATION_TOLERANCE = 0.002


def relative_path(path: Path) -> str:
    return str(Path(path).relative_to(settings.MODEL_DIR))


def register(
    trained: dict[str, Trained],
    data: Dataset,
    run: TrainingRun | None,
    *,
    purpose: str,
    task_id: str | None = None,
    seasons: list[str],
) -> list[ModelVersion]:
    """Save each model under MODEL_DIR/<algorithm>/v<id>-<random>/ and record its ModelVersion."""
    everything = data.train | data.validation
    dates = data.dates[everything]
    versions = []
    for algorithm, item in trained.items():
        version = ModelVersion.objects.create(
            algorithm=algorithm,
            purpose=purpose,
            feature_set_version=FEATURE_SET_VERSION,
            train_seasons=list(seasons),
            validation_season=data.validation_season,
            data_from=_date(dates.min()) if len(dates) else None,
            data_until=_date(dates.max()) if len(dates) else None,
            rows_train=data.rows_train,
            rows_validation=data.rows_validation,
            hyperparameters={
                **item.fitted.hyperparameters,
                "calibration": item.fitted.calibration,
                "ensemble_calibration": data.extra.get("ensemble_calibration"),
                "ensemble_weight": (data.extra.get("ensemble_weights") or {}).get(algorithm),
            },
            metrics={**item.metrics, "ensemble": data.extra.get("ensemble_metrics")},
            training_seconds=round(item.seconds, 2),
            task_id=task_id,
            training_run=run,
            notes=data.validation_note,
        )
        # the id alone could name a folder of another database sharing MODEL_DIR (a reset one,
        # the test database): a random suffix keeps every version's files apart
        folder = Path(settings.MODEL_DIR) / algorithm / f"v{version.pk}-{uuid.uuid4().hex[:8]}"
        files = training.save(item.fitted, folder)
        version.artifacts = [relative_path(path) for path in files]
        version.save(update_fields=["artifacts"])
        versions.append(version)
    return versions


def save_validation_plots(versions: list[ModelVersion], trained: dict[str, Trained], data: Dataset) -> None:
    """Calibration and ranges-vs-actual PNGs of each version's validation predictions (admin)."""
    from mlmodels import plots

    y_val = data.y[data.validation]
    ensemble = combine_arrays(
        [t.validation_pred for t in trained.values()],
        data.extra.get("ensemble_calibration"),
        [data.extra["ensemble_weights"][a] for a in trained],
        training.tier_minutes(data.X[data.validation]),
    )
    for version in versions:
        folder = model_folder(version)
        predicted = trained[version.algorithm].validation_pred
        label = f"{version.algorithm} v{version.pk}, validation {data.validation_season} ({len(y_val):,} rows)"
        files = [
            plots.calibration_plot(
                folder / "calibration.png", y_val, {version.algorithm: predicted, "ensemble": ensemble}, label
            ),
            plots.ranges_plot(folder / "ranges.png", y_val, *predicted, title=label),
        ]
        version.plots = [relative_path(path) for path in files]
        version.save(update_fields=["plots"])


def _date(value):
    return np.datetime64(value, "D").astype(object)


def model_folder(version: ModelVersion) -> Path:
    return (Path(settings.MODEL_DIR) / version.artifacts[0]).parent


def load_version(version: ModelVersion) -> Fitted:
    """The saved model of a version (IncompatibleModel / OSError when it cannot be used)."""
    if not version.artifacts:
        raise training.IncompatibleModel(f"{version} has no artifacts")
    return training.load(model_folder(version))


def activate(version: ModelVersion) -> ModelVersion:
    """Make `version` the active one of its algorithm (workers reload it on their next task)."""
    if version.purpose != ModelVersion.Purpose.SERVING:
        raise ValueError(f"{version} was trained for a backtest and is never served")
    with transaction.atomic():
        ModelVersion.objects.filter(algorithm=version.algorithm, active=True).exclude(pk=version.pk).update(
            active=False
        )
        ModelVersion.objects.filter(pk=version.pk).update(active=True)
    version.active = True
    return version


def should_activate(new: ModelVersion, trained: Trained, data: Dataset) -> tuple[bool, str]:
    """Whether `new` is not worse than the active version of its algorithm on the validation rows."""
    current = ModelVersion.objects.filter(algorithm=new.algorithm, active=True).exclude(pk=new.pk).first()
    if current is None:
        return True, "no active version"
    if current.feature_set_version != FEATURE_SET_VERSION:
        return True, f"active {current} uses feature set {current.feature_set_version}"
    new_loss = trained.metrics["pinball"]
    first_validation_day = data.dates[data.validation].min()
    if current.data_until is None or np.datetime64(current.data_until) >= first_validation_day:
        # the active model saw these rows: only its own validation score is a fair comparison
        old_loss = (current.metrics or {}).get("pinball")
        basis = f"its stored validation pinball ({current.validation_season})"
    else:
        try:
            fitted = load_version(current)
        except (training.IncompatibleModel, OSError) as exc:
            return True, f"active {current} cannot be loaded: {exc}"
        y_val = data.y[data.validation]
        old_loss = training.metrics(y_val, *fitted.predict(data.X[data.validation]))["pinball"]
        basis = "its pinball on the same validation rows"
    if old_loss is None:
        return True, f"active {current} has no pinball score"
    better = new_loss <= old_loss * (1 + ACTIVATION_TOLERANCE)
    verdict = "not worse than" if better else "worse than"
    return better, f"pinball {new_loss:.4f} {verdict} active {current} ({old_loss:.4f}, {basis})"
