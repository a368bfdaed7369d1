"""The backtest (command `backtest`, task `mlmodels.tasks.backtest`): fresh models of every
registered kind on the seasons before the test season only, scored on every line of the test
season whose player has an earlier line, against three baselines a fan could compute and per
population (market, minutes tiers); the JSON and the PNG plots are stored on a BacktestReport.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
from django.conf import settings

from etl.selectors import loaded_seasons
from mlmodels import selectors, training
from mlmodels.dataset import TrainingError, hide_who_is_out, split
from mlmodels.ensemble import combine_arrays
from mlmodels.features import FEATURE_NAMES, OUT_FEATURES, build_training_frame
from mlmodels.models import BacktestReport, ModelVersion
from mlmodels.registry import register, relative_path
from mlmodels.runs import tracked_run
from mlmodels.services import fit_models

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
    market[np.argsort(-minutes, kind="stable")[: int(np.floor(MARKET_SHARE * len(minutes) + 0.5))]] = True
    masks = {"market": market}
    tiers = training.tier_of(minutes)
    for index, name in enumerate(training.TIERS):
        masks[name] = tiers == index
    return masks


def population_table(
    y: np.ndarray, minutes_last10: np.ndarray, predictions: dict[str, tuple], point_predictions: dict[str, np.ndarray]
) -> dict:
    """{population: {rows, min_minutes, models: {model: {mae, coverage_80, width_80}, baseline: {mae}}}}."""
    table = {}
    for name, mask in populations(minutes_last10).items():
        models = {}
        for model, (p10, p50, p90) in predictions.items():
            scores = training.metrics(y[mask], p10[mask], p50[mask], p90[mask]) if mask.any() else {}
            models[model] = (
                {k: round(float(scores[k]), 4) for k in ("mae", "coverage_80", "width_80")} if scores else {}
            )
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
    loaded = loaded_seasons()
    if test_season not in loaded:
        raise TrainingError(f"test season {test_season} is not loaded (loaded: {', '.join(loaded) or 'none'})")
    train_seasons = [season for season in loaded if season < test_season]
    if not train_seasons:
        raise TrainingError(f"no season before {test_season} is loaded: nothing to train the backtest on")
    started = time.perf_counter()
    with tracked_run("backtest", [*train_seasons, test_season], quick, task_id, progress) as (run, reporter, done):
        previous = BacktestReport.objects.filter(task_id=task_id).order_by("-created").first() if done else None
        if previous is not None:
            return previous
        reporter("loading", force=True)
        arrays = selectors.gamelog_arrays([s for s in loaded if s <= test_season])
        reporter("features", force=True)
        frame = build_training_frame(arrays, out="actual")
        base = baselines(arrays)
        for name, values in base.items():
            frame[name] = values
        train_frame = hide_who_is_out(
            frame[frame["season"].isin(train_seasons) & frame["has_history"]].reset_index(drop=True)
        )
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
            return {
                "ensemble": combine_arrays(
                    list(predictions.values()), data.extra["ensemble_calibration"], weights, training.tier_minutes(X)
                ),
                **predictions,
            }

        def scores(predictions):
            models = {name: _rounded(training.metrics(y, *p)) for name, p in predictions.items()}
            for name in BASELINES:
                models[name] = {"mae": round(float(np.mean(np.abs(y - fans[name]))), 4)}
            return models

        predictions = predict_all(X_test)
        with_out = predict_all(X_with)
        models = scores(predictions)
        result = {
            "test_season": test_season,
            "rows": int(len(y)),
            "models": models,
            "populations": population_table(y, minutes_last10, predictions, fans),
            "with_out": {
                "models": scores(with_out),
                "populations": population_table(y, minutes_last10, with_out, fans),
            },
            "calibration": {
                "season": data.validation_season,
                "rows": data.rows_validation,
                "first_date": str(data.dates[data.validation].min())[:10],
                "last_date": str(data.dates[data.validation].max())[:10],
                "tiers": list(training.TIERS),
            },
        }
        versions = register(
            trained, data, run, purpose=ModelVersion.Purpose.BACKTEST, task_id=task_id, seasons=train_seasons
        )
        report = BacktestReport.objects.create(
            test_season=test_season,
            rows=len(y),
            result=result,
            quick=quick,
            seconds=round(time.perf_counter() - started, 2),
            task_id=task_id,
        )
        report.model_versions.set(versions)
        report.plots = save_backtest_plots(report, y, predictions, test_frame["minutes_last10"].to_numpy())
        report.save(update_fields=["plots"])
    return report


def _rounded(metrics: dict) -> dict:
    return {key: round(float(metrics[key]), 4) for key in ("mae", "pinball", "coverage_80", "width_80")}


def save_backtest_plots(
    report: BacktestReport, y: np.ndarray, predictions: dict[str, tuple], minutes_last10: np.ndarray
) -> list[str]:
    """calibration.png, ranges.png and tiers.png (the calibration plot of each minutes tier)."""
    from mlmodels import plots

    folder = Path(settings.MODEL_DIR) / "backtests" / f"report{report.pk}-{uuid.uuid4().hex[:8]}"
    label = f"backtest {report.test_season} ({len(y):,} player-games)"
    files = [
        plots.calibration_plot(folder / "calibration.png", y, predictions, label),
        plots.ranges_plot(folder / "ranges.png", y, *predictions["ensemble"], title=f"ensemble, {label}"),
        plots.tier_calibration_plot(
            folder / "tiers.png",
            y,
            predictions,
            {k: v for k, v in populations(minutes_last10).items() if k != "market"},
            title=f"calibration per minutes tier, {label}",
        ),
    ]
    return [relative_path(path) for path in files]
