"""Writes of the mlmodels app: training the two quantile models, the registry, backtests.

`train_models` (command `train`, task `mlmodels.tasks.train`, `make run`'s bootstrap):
  1. every loaded season's lines -> the shared leak-free features (mlmodels.features);
  2. the last selected season is the validation season (early stopping, calibration,
     activation); with a single season its last quarter of game dates is;
  3. LightGBM and Keras are fitted on the other rows, calibrated and scored on validation,
     then refitted on every selected row with the rounds / epochs validation chose (the
     calibration is kept);
  4. artifacts go to MODEL_DIR/<algorithm>/v<id>-<random>/, ModelVersion rows record them, and each new
     version is activated when it is not worse than the active one on the validation rows.

`run_backtest` (command `backtest`): fresh models on the seasons before the test season only,
scored on every line of the test season whose player has an earlier line, against three
baselines a fan could compute; the JSON and the PNG plots are stored on a BacktestReport.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mlmodels import selectors, training
from mlmodels.features import (FEATURE_NAMES, FEATURE_SET_VERSION, OUT_FEATURES, build_training_frame,
                               previous_season)
from mlmodels.models import BacktestReport, ModelVersion, TrainingRun

logger = logging.getLogger(__name__)

ALGORITHMS = ModelVersion.ALGORITHMS
# "Not worse": the new version's mean pinball loss on the validation rows may exceed the active
# one's by at most this share (noise between two equally good fits).
ACTIVATION_TOLERANCE = 0.002
SINGLE_SEASON_VALIDATION_SHARE = 0.25


class TrainingError(Exception):
    """Training cannot start (no data, unknown seasons); worded for the user."""


# --- progress ----------------------------------------------------------------------------------------

# The percentage a run has reached when each stage starts and ends.
STAGE_SPAN = {"starting": (0, 0), "loading": (0, 3), "features": (3, 8), "lightgbm": (8, 45), "keras": (45, 80),
              "refit": (80, 95), "evaluating": (95, 98), "saving": (98, 99)}


class Reporter:
    """Progress of a run: the TrainingRun row (at most every half second) and an optional callback
    progress(stage=..., epoch=..., percent=...) (the task's update_state, the command's stderr)."""

    def __init__(self, run: TrainingRun, callback=None):
        self.run, self.callback = run, callback
        self.last_write = 0.0

    def __call__(self, stage: str, epoch: int | None = None, epochs: int | None = None, step: int | None = None,
                 steps: int | None = None, force: bool = False, **_ignored) -> None:
        start, end = STAGE_SPAN.get(stage.split()[0], (self.run.percent, self.run.percent))
        done = (epoch / epochs) if epoch and epochs else (step / steps) if steps else 0.0
        percent = max(self.run.percent, int(start + (end - start) * done))
        self.run.stage, self.run.epoch, self.run.percent = stage[:64], epoch, min(percent, 99)
        now = time.monotonic()
        if force or epoch or now - self.last_write >= 0.5:
            TrainingRun.objects.filter(pk=self.run.pk).update(stage=self.run.stage, epoch=epoch,
                                                              percent=self.run.percent)
            self.last_write = now
        if self.callback:
            self.callback(stage=self.run.stage, epoch=epoch, percent=self.run.percent)


# --- data --------------------------------------------------------------------------------------------

@dataclass
class Dataset:
    """Feature matrix and points of the selected rows, with the train / validation split."""

    X: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    seasons: np.ndarray
    train: np.ndarray  # boolean masks over the rows
    validation: np.ndarray
    train_seasons: list[str]
    validation_season: str
    validation_note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rows_train(self) -> int:
        return int(self.train.sum())

    @property
    def rows_validation(self) -> int:
        return int(self.validation.sum())


def load_frame(seasons: list[str], reporter: Reporter | None = None):
    """Features of every line of `seasons` (their previous seasons are read too, as context)."""
    loaded = selectors.loaded_seasons()
    context = sorted({s for s in seasons} | {previous_season(s) for s in seasons if previous_season(s) in loaded})
    if reporter:
        reporter("loading", force=True)
    selectors.refresh_statistics()
    arrays = selectors.gamelog_arrays(context)
    if reporter:
        reporter("features", force=True)
    frame = build_training_frame(arrays, out="actual")
    frame = frame[frame["season"].isin(seasons) & frame["has_history"]].reset_index(drop=True)
    return hide_who_is_out(frame)


def hide_who_is_out(frame):
    """Training rows: "who is out" known (from who actually played) on half of the rows, chosen
    by a fixed hash of (player, game), unknown on the other half, so one model serves requests
    with and without an `out` list. (`split` hides it on every validation row: early stopping,
    calibration and activation judge the model as most requests use it.)"""
    frame = frame.copy()
    hidden = (frame["player_id"].to_numpy(np.int64) * 7919 + frame["game_id"].to_numpy(np.int64)) % 2 == 0
    frame.loc[hidden, OUT_FEATURES] = np.nan
    return frame


def split(frame, seasons: list[str]) -> Dataset:
    """Last season = validation; one season alone: its last quarter of game dates."""
    season_of = frame["season"].to_numpy()
    dates = frame["date"].to_numpy()
    note = ""
    if len(seasons) >= 2:
        validation = season_of == seasons[-1]
        train_seasons = seasons[:-1]
    else:
        days = np.unique(dates)
        if len(days) < 4:
            raise TrainingError(f"season {seasons[0]} has only {len(days)} game days: load more data to train")
        cut = days[int(len(days) * (1 - SINGLE_SEASON_VALIDATION_SHARE))]
        validation = dates >= cut
        train_seasons = list(seasons)
        note = f"single season: validation = game dates from {str(cut)[:10]} on"
    X = frame[FEATURE_NAMES].to_numpy(dtype=np.float64, copy=True)
    X[np.ix_(validation, [FEATURE_NAMES.index(name) for name in OUT_FEATURES])] = np.nan  # see hide_who_is_out
    return Dataset(X=X, y=frame["pts"].to_numpy(dtype=np.float64),
                   dates=dates, seasons=season_of, train=~validation, validation=validation,
                   train_seasons=train_seasons, validation_season=seasons[-1], validation_note=note)


def resolve_seasons(seasons: list[str] | None) -> list[str]:
    loaded = selectors.loaded_seasons()
    if not loaded:
        raise TrainingError("the warehouse has no game logs: run `manage.py load_gamelogs --bundled` first")
    if not seasons:
        return loaded
    unknown = sorted(set(seasons) - set(loaded))
    if unknown:
        raise TrainingError(f"season(s) {', '.join(unknown)} not loaded (loaded: {', '.join(loaded)})")
    return sorted(set(seasons))


# --- fitting -----------------------------------------------------------------------------------------

@dataclass
class Trained:
    """One algorithm's final model and what it scored on the validation rows."""

    algorithm: str
    fitted: training.Fitted
    metrics: dict
    seconds: float
    validation_pred: tuple  # calibrated (p10, p50, p90) of the validation-fitted model


def fit_models(data: Dataset, quick: bool = False, refit: bool = True, reporter=None) -> dict[str, Trained]:
    """Both models: fit with early stopping on validation, calibrate there, refit on all rows."""
    X, y = data.X[data.train], data.y[data.train]
    X_val, y_val = data.X[data.validation], data.y[data.validation]
    out = {}
    for algorithm in ALGORITHMS:
        started = time.perf_counter()
        if algorithm == ModelVersion.LIGHTGBM:
            fitted = training.fit_lightgbm(X, y, X_val, y_val, quick=quick, progress=reporter)
        else:
            fitted = training.fit_keras(X, y, X_val, y_val, quick=quick, progress=reporter)
        raw = fitted.predict_raw(X_val)
        minutes_val = training.tier_minutes(X_val)
        fitted.calibration = training.fit_calibration(y_val, *raw, minutes=minutes_val)
        predicted = training.apply_calibration(fitted.calibration, *raw, minutes=minutes_val)
        scores = training.metrics(y_val, *predicted)
        out[algorithm] = Trained(algorithm, fitted, scores, time.perf_counter() - started, predicted)
    # the ensemble: a weighted quantile average (weight chosen on validation, both models always
    # count), calibrated too since averaging narrows the range a little
    preds = [t.validation_pred for t in out.values()]
    weights = choose_weights(y_val, preds)
    data.extra["ensemble_weights"] = dict(zip(out, weights))
    data.extra["ensemble_calibration"] = training.fit_calibration(y_val, *combine_arrays(preds, weights=weights))
    data.extra["ensemble_metrics"] = training.metrics(
        y_val, *combine_arrays(preds, data.extra["ensemble_calibration"], weights))
    if refit:
        everything = data.train | data.validation
        X_all, y_all = data.X[everything], data.y[everything]
        for algorithm, trained in out.items():
            started = time.perf_counter()
            if reporter:
                reporter(f"refit {algorithm}", force=True)

            def refit_progress(stage, **kwargs):
                if reporter:
                    reporter(f"refit {stage}", **kwargs)

            old = trained.fitted
            if algorithm == ModelVersion.LIGHTGBM:
                new = training.fit_lightgbm(X_all, y_all, None, None, quick=quick, rounds=old.best_iterations,
                                            progress=refit_progress)
            else:
                new = training.fit_keras(X_all, y_all, None, None, quick=quick, scaler=old.scaler,
                                         epochs=old.hyperparameters["epochs_trained"], progress=refit_progress)
            new.hyperparameters = {**old.hyperparameters, **new.hyperparameters, "refit_on_validation": True}
            new.calibration = old.calibration
            trained.fitted = new
            trained.seconds += time.perf_counter() - started
    return out


ENSEMBLE_WEIGHTS = tuple(round(w, 2) for w in np.arange(0.2, 0.81, 0.1))


def combine_arrays(predictions: list[tuple], calibration: dict | None = None, weights=None):
    """The ensemble of several models' (p10, p50, p90) arrays: the (weighted) mean of each
    quantile, gaps scaled by the ensemble's calibration when given, never crossing."""
    weights = np.full(len(predictions), 1 / len(predictions)) if weights is None else np.asarray(weights, float)
    stacked = np.tensordot(weights / weights.sum(), np.array([np.column_stack(p) for p in predictions]), axes=1)
    return training.apply_calibration(calibration, stacked[:, 0], stacked[:, 1], stacked[:, 2])


def choose_weights(y: np.ndarray, predictions: list[tuple]) -> list[float]:
    """Weights of two models' quantiles with the lowest mean pinball loss on (y, predictions)."""
    if len(predictions) != 2:
        return [1 / len(predictions)] * len(predictions)
    scores = {w: training.metrics(y, *combine_arrays(predictions, weights=[w, 1 - w]))["pinball"]
              for w in ENSEMBLE_WEIGHTS}
    best = min(scores, key=lambda w: (scores[w], abs(w - 0.5)))
    return [best, round(1 - best, 2)]


# --- the registry ------------------------------------------------------------------------------------

def _relative(path: Path) -> str:
    return str(Path(path).relative_to(settings.MODEL_DIR))


def register(trained: dict[str, Trained], data: Dataset, run: TrainingRun | None, *, purpose: str,
             task_id: str | None = None, seasons: list[str]) -> list[ModelVersion]:
    """Save each model under MODEL_DIR/<algorithm>/v<id>-<random>/ and record its ModelVersion."""
    everything = data.train | data.validation
    dates = data.dates[everything]
    versions = []
    for algorithm, item in trained.items():
        version = ModelVersion.objects.create(
            algorithm=algorithm, purpose=purpose, feature_set_version=FEATURE_SET_VERSION,
            train_seasons=list(seasons), validation_season=data.validation_season,
            data_from=_date(dates.min()) if len(dates) else None, data_until=_date(dates.max()) if len(dates) else None,
            rows_train=data.rows_train, rows_validation=data.rows_validation,
            hyperparameters={**item.fitted.hyperparameters, "calibration": item.fitted.calibration,
                             "ensemble_calibration": data.extra.get("ensemble_calibration"),
                             "ensemble_weight": (data.extra.get("ensemble_weights") or {}).get(algorithm)},
            metrics={**item.metrics, "ensemble": data.extra.get("ensemble_metrics")},
            training_seconds=round(item.seconds, 2), task_id=task_id, training_run=run,
            notes=data.validation_note)
        # the id alone could name a folder of another database sharing MODEL_DIR (a reset one,
        # the test database): a random suffix keeps every version's files apart
        folder = Path(settings.MODEL_DIR) / algorithm / f"v{version.pk}-{uuid.uuid4().hex[:8]}"
        files = training.save(item.fitted, folder)
        version.artifacts = [_relative(path) for path in files]
        version.save(update_fields=["artifacts"])
        versions.append(version)
    return versions


def save_validation_plots(versions: list[ModelVersion], trained: dict[str, Trained], data: Dataset) -> None:
    """Calibration and ranges-vs-actual PNGs of each version's validation predictions (admin)."""
    from mlmodels import plots

    y_val = data.y[data.validation]
    ensemble = combine_arrays([t.validation_pred for t in trained.values()], data.extra.get("ensemble_calibration"),
                              [data.extra["ensemble_weights"][a] for a in trained])
    for version in versions:
        folder = model_folder(version)
        predicted = trained[version.algorithm].validation_pred
        label = f"{version.algorithm} v{version.pk}, validation {data.validation_season} ({len(y_val):,} rows)"
        files = [plots.calibration_plot(folder / "calibration.png", y_val,
                                        {version.algorithm: predicted, "ensemble": ensemble}, label),
                 plots.ranges_plot(folder / "ranges.png", y_val, *predicted, title=label)]
        version.plots = [_relative(path) for path in files]
        version.save(update_fields=["plots"])


def _date(value):
    return np.datetime64(value, "D").astype(object)


def model_folder(version: ModelVersion) -> Path:
    return (Path(settings.MODEL_DIR) / version.artifacts[0]).parent


def load_version(version: ModelVersion) -> training.Fitted:
    """The saved model of a version (IncompatibleModel / OSError when it cannot be used)."""
    if not version.artifacts:
        raise training.IncompatibleModel(f"{version} has no artifacts")
    return training.load(model_folder(version))


def activate(version: ModelVersion) -> ModelVersion:
    """Make `version` the active one of its algorithm (workers reload it on their next task)."""
    if version.purpose != ModelVersion.Purpose.SERVING:
        raise ValueError(f"{version} was trained for a backtest and is never served")
    with transaction.atomic():
        ModelVersion.objects.filter(algorithm=version.algorithm, active=True).exclude(pk=version.pk) \
            .update(active=False)
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


# --- training ----------------------------------------------------------------------------------------

def start_run(kind: str, seasons: list[str], quick: bool, task_id: str | None) -> tuple[TrainingRun, bool]:
    """The TrainingRun of this job and whether it already succeeded. A task delivered again (a
    retry, a redelivery after a lost worker) reuses its run row: a finished run is not redone, an
    interrupted or failed one starts over."""
    if task_id:
        run = TrainingRun.objects.filter(task_id=task_id).first()
        if run is not None:
            if run.status == TrainingRun.Status.SUCCEEDED:
                return run, True
            run.status, run.stage, run.epoch, run.percent = TrainingRun.Status.RUNNING, "starting", None, 0
            run.error, run.finished, run.seasons, run.quick = "", None, seasons, quick
            run.save()
            return run, False
    return TrainingRun.objects.create(kind=kind, seasons=seasons, quick=quick, task_id=task_id, stage="starting"), False


def train_models(seasons: list[str] | None = None, quick: bool = False, progress=None,
                 task_id: str | None = None, activate_new: bool = True) -> TrainingRun:
    """Train LightGBM + Keras on the loaded seasons (or `seasons`), register and (when not worse)
    activate them. Returns the finished TrainingRun (its `versions` are the new ModelVersions)."""
    seasons = resolve_seasons(seasons)
    run, done = start_run("train", seasons, quick, task_id)
    if done:
        return run
    reporter = Reporter(run, progress)
    started = time.perf_counter()
    try:
        frame = load_frame(seasons, reporter)
        data = split(frame, seasons)
        if data.rows_train < 50 or data.rows_validation < 20:
            raise TrainingError(f"too little data to train ({data.rows_train} training and "
                                f"{data.rows_validation} validation rows): load more seasons")
        trained = fit_models(data, quick=quick, reporter=reporter)
        reporter("saving", force=True)
        versions = register(trained, data, run, purpose=ModelVersion.Purpose.SERVING, task_id=task_id,
                            seasons=seasons)
        save_validation_plots(versions, trained, data)
        for version in versions:
            ok, reason = should_activate(version, trained[version.algorithm], data)
            if ok and activate_new:
                activate(version)
            version.notes = "\n".join(filter(None, [version.notes, ("activated: " if ok and activate_new else
                                                                   "not activated: ") + reason]))
            version.save(update_fields=["notes"])
            logger.info("%s %s", version, version.notes)
    except Exception as exc:
        TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.FAILED, error=str(exc)[:4000],
                                                     finished=timezone.now())
        raise
    seconds = time.perf_counter() - started
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.SUCCEEDED, stage="done", percent=100,
                                                 finished=timezone.now())
    run.refresh_from_db()
    run.seconds = seconds
    return run


def summary(run: TrainingRun) -> dict:
    """A JSON-safe description of a finished run and its versions (command --json, task result)."""
    versions = list(run.versions.order_by("algorithm"))
    return {
        "run": run.pk, "status": run.status, "seasons": run.seasons, "quick": run.quick,
        "seconds": round(getattr(run, "seconds", None) or (run.finished - run.started).total_seconds(), 2)
        if run.finished else None,
        "versions": [{"id": v.pk, "algorithm": v.algorithm, "active": v.active,
                      "validation_season": v.validation_season, "rows_train": v.rows_train,
                      "rows_validation": v.rows_validation, "metrics": {k: v.metrics[k] for k in
                      ("mae", "pinball", "coverage_80", "width_80")}, "notes": v.notes} for v in versions],
        "ensemble": versions[0].metrics.get("ensemble") if versions else None,
    }


# --- backtest ----------------------------------------------------------------------------------------

BASELINES = ("baseline_last5", "baseline_last10", "baseline_season_avg")
# The market population: the share of the test season's player-games with the highest average
# minutes over the player's previous 10 games (the games a betting market prices a line for).
MARKET_SHARE = 0.74
POPULATIONS = ("market", *training.TIERS)


def baselines(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What a fan computes by hand, for every line (NaN without an earlier game): the mean of the
    player's previous 5 / 10 games in the data (fewer when fewer exist) and his season-to-date
    mean (before the season's first game: his previous-10 mean). Also `minutes_last10`, his
    average minutes over the same previous 10 games (it defines the populations)."""
    player = arrays["player_id"].astype(np.int64)
    order = np.lexsort((arrays["date"], player))
    pts = arrays["pts"][order].astype(np.float64)
    p = player[order]
    seasons = arrays["season"][order]
    prefix = np.concatenate([[0.0], np.cumsum(pts)])
    idx = np.arange(len(order))
    first = np.searchsorted(p, p, side="left")  # first line of the player
    out = {}
    minutes_prefix = np.concatenate([[0.0], np.cumsum(arrays["seconds"][order].astype(np.float64) / 60)])
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.maximum(idx - 10, first)
        out["minutes_last10"] = (minutes_prefix[idx] - minutes_prefix[lo]) / (idx - lo)
        for name, w in (("baseline_last5", 5), ("baseline_last10", 10)):
            lo = np.maximum(idx - w, first)
            out[name] = (prefix[idx] - prefix[lo]) / (idx - lo)
        new_season = np.ones(len(order), dtype=bool)
        new_season[1:] = (p[1:] != p[:-1]) | (seasons[1:] != seasons[:-1])
        season_first = np.maximum.accumulate(np.where(new_season, idx, 0))
        season_avg = (prefix[idx] - prefix[season_first]) / (idx - season_first)
        out["baseline_season_avg"] = np.where(idx > season_first, season_avg, out["baseline_last10"])
    result = {}
    for name, values in out.items():
        unsorted = np.empty(len(order))
        unsorted[order] = values
        result[name] = unsorted
    return result


def populations(minutes_last10: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of the report's populations over the test rows, from each row's average
    minutes over the player's previous 10 games:
      * market: the round(MARKET_SHARE x rows) rows with the highest average (ties: earlier row first);
      * minutes_0_15, minutes_15_25, minutes_25_32, minutes_32_plus: average in [0, 15), [15, 25),
        [25, 32), [32, inf)."""
    minutes = np.nan_to_num(np.asarray(minutes_last10, dtype=np.float64), nan=0.0)
    market = np.zeros(len(minutes), dtype=bool)
    market[np.argsort(-minutes, kind="stable")[:int(np.floor(MARKET_SHARE * len(minutes) + 0.5))]] = True
    masks = {"market": market}
    tiers = training.tier_of(minutes)
    for index, name in enumerate(training.TIERS):
        masks[name] = tiers == index
    return masks


def population_table(y: np.ndarray, minutes_last10: np.ndarray, predictions: dict[str, tuple],
                     point_predictions: dict[str, np.ndarray]) -> dict:
    """{population: {rows, min_minutes, models: {model: {mae, coverage_80, width_80}, baseline: {mae}}}}."""
    table = {}
    for name, mask in populations(minutes_last10).items():
        models = {}
        for model, (p10, p50, p90) in predictions.items():
            scores = training.metrics(y[mask], p10[mask], p50[mask], p90[mask]) if mask.any() else {}
            models[model] = {k: round(float(scores[k]), 4) for k in ("mae", "coverage_80", "width_80")} \
                if scores else {}
        for model, values in point_predictions.items():
            models[model] = {"mae": round(float(np.mean(np.abs(y[mask] - values[mask]))), 4)} if mask.any() else {}
        entry = {"rows": int(mask.sum()), "models": models}
        if name == "market" and mask.any():
            entry["min_minutes"] = round(float(np.nan_to_num(minutes_last10, nan=0.0)[mask].min()), 2)
        table[name] = entry
    return table


def run_backtest(test_season: str, quick: bool = False, progress=None, task_id: str | None = None) -> BacktestReport:
    """Fresh models on the seasons before `test_season` only, scored on every line of the test
    season whose player has an earlier line, next to the baselines; stored with its plots."""
    loaded = selectors.loaded_seasons()
    if test_season not in loaded:
        raise TrainingError(f"test season {test_season} is not loaded (loaded: {', '.join(loaded) or 'none'})")
    train_seasons = [season for season in loaded if season < test_season]
    if not train_seasons:
        raise TrainingError(f"no season before {test_season} is loaded: nothing to train the backtest on")
    started = time.perf_counter()
    run, done = start_run("backtest", [*train_seasons, test_season], quick, task_id)
    if done and BacktestReport.objects.filter(task_id=task_id).exists():
        return BacktestReport.objects.filter(task_id=task_id).latest("created")
    reporter = Reporter(run, progress)
    try:
        reporter("loading", force=True)
        arrays = selectors.gamelog_arrays([s for s in loaded if s <= test_season])
        reporter("features", force=True)
        frame = build_training_frame(arrays, out="actual")
        base = baselines(arrays)
        for name, values in base.items():
            frame[name] = values
        train_frame = hide_who_is_out(
            frame[frame["season"].isin(train_seasons) & frame["has_history"]].reset_index(drop=True))
        test_frame = frame[(frame["season"] == test_season) & frame["has_history"]].reset_index(drop=True)
        if test_frame.empty:
            raise TrainingError(f"no line of {test_season} has an earlier game of its player in the data")
        data = split(train_frame, train_seasons)
        trained = fit_models(data, quick=quick, reporter=reporter)
        reporter("evaluating", force=True)
        y = test_frame["pts"].to_numpy(dtype=np.float64)
        minutes_last10 = test_frame["minutes_last10"].to_numpy()
        fans = {name: test_frame[name].to_numpy() for name in BASELINES}
        X_with = test_frame[FEATURE_NAMES].to_numpy(dtype=np.float64)
        X_test = X_with.copy()  # the headline figures: nobody says who is out
        X_test[:, [FEATURE_NAMES.index(name) for name in OUT_FEATURES]] = np.nan

        def predict_all(X):
            predictions = {name: item.fitted.predict(X) for name, item in trained.items()}
            weights = [data.extra["ensemble_weights"][name] for name in predictions]
            return {"ensemble": combine_arrays(list(predictions.values()), data.extra["ensemble_calibration"],
                                               weights), **predictions}

        def scores(predictions):
            models = {name: _rounded(training.metrics(y, *p)) for name, p in predictions.items()}
            for name in BASELINES:
                models[name] = {"mae": round(float(np.mean(np.abs(y - fans[name]))), 4)}
            return models

        predictions = predict_all(X_test)
        with_out = predict_all(X_with)
        models = scores(predictions)
        result = {"test_season": test_season, "rows": int(len(y)), "models": models,
                  "populations": population_table(y, minutes_last10, predictions, fans),
                  "with_out": {"models": scores(with_out),
                               "populations": population_table(y, minutes_last10, with_out, fans)},
                  "calibration": {"season": data.validation_season, "rows": data.rows_validation,
                                  "first_date": str(data.dates[data.validation].min())[:10],
                                  "last_date": str(data.dates[data.validation].max())[:10],
                                  "tiers": list(training.TIERS)}}
        versions = register(trained, data, run, purpose=ModelVersion.Purpose.BACKTEST, task_id=task_id,
                            seasons=train_seasons)
        report = BacktestReport.objects.create(test_season=test_season, rows=len(y), result=result, quick=quick,
                                               seconds=round(time.perf_counter() - started, 2), task_id=task_id)
        report.model_versions.set(versions)
        report.plots = save_backtest_plots(report, y, predictions, test_frame["minutes_last10"].to_numpy())
        report.save(update_fields=["plots"])
    except Exception as exc:
        TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.FAILED, error=str(exc)[:4000],
                                                     finished=timezone.now())
        raise
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.SUCCEEDED, stage="done", percent=100,
                                                 finished=timezone.now())
    return report


def _rounded(metrics: dict) -> dict:
    return {key: round(float(metrics[key]), 4) for key in ("mae", "pinball", "coverage_80", "width_80")}


def save_backtest_plots(report: BacktestReport, y: np.ndarray, predictions: dict[str, tuple],
                        minutes_last10: np.ndarray) -> list[str]:
    """calibration.png, ranges.png and tiers.png (the calibration plot of each minutes tier)."""
    from mlmodels import plots

    folder = Path(settings.MODEL_DIR) / "backtests" / f"report{report.pk}-{uuid.uuid4().hex[:8]}"
    label = f"backtest {report.test_season} ({len(y):,} player-games)"
    files = [plots.calibration_plot(folder / "calibration.png", y, predictions, label),
             plots.ranges_plot(folder / "ranges.png", y, *predictions["ensemble"], title=f"ensemble, {label}"),
             plots.tier_calibration_plot(folder / "tiers.png", y, predictions,
                                         {k: v for k, v in populations(minutes_last10).items() if k != "market"},
                                         title=f"calibration per minutes tier, {label}")]
    return [_relative(path) for path in files]
