"""The training data: every selected line's leak-free features, split into training and validation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from etl.selectors import loaded_seasons
from etl.services import refresh_warehouse_statistics
from mlmodels import selectors
from mlmodels.features import (
    FEATURE_NAMES,
    OUT_FEATURES,
    build_training_frame,
    previous_season,
)

SINGLE_SEASON_VALIDATION_SHARE = 0.25


class TrainingError(Exception):
    """Training cannot start (no data, unknown seasons); worded for the user."""


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


def load_frame(seasons: list[str], reporter=None):
    """Features of every line of `seasons` (their previous seasons are read too, as context)."""
    loaded = loaded_seasons()
    context = sorted({s for s in seasons} | {previous_season(s) for s in seasons if previous_season(s) in loaded})
    if reporter:
        reporter("loading", force=True)
    refresh_warehouse_statistics()
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
    return Dataset(
        X=X,
        y=frame["pts"].to_numpy(dtype=np.float64),
        dates=dates,
        seasons=season_of,
        train=~validation,
        validation=validation,
        train_seasons=train_seasons,
        validation_season=seasons[-1],
        validation_note=note,
    )


def resolve_seasons(seasons: list[str] | None) -> list[str]:
    loaded = loaded_seasons()
    if not loaded:
        raise TrainingError("the warehouse has no game logs: run `manage.py load_gamelogs --bundled` first")
    if not seasons:
        return loaded
    unknown = sorted(set(seasons) - set(loaded))
    if unknown:
        raise TrainingError(f"season(s) {', '.join(unknown)} not loaded (loaded: {', '.join(loaded)})")
    return sorted(set(seasons))
