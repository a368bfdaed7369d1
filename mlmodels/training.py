"""What every model kind shares (no database here): scores, calibration, saving and loading.

How each kind fits and predicts is in its module (mlmodels/kinds/). Every kind is calibrated
on the validation season: the lower and upper gaps around the median are scaled so that 10% of
the actual points fall below p10 and 10% above p90 (split-conformal style).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlmodels.features import FEATURE_NAMES, FEATURE_SET_VERSION

QUANTILES = (0.1, 0.5, 0.9)
SEED = 7
# meta.json keys written for every kind; any other key is the kind's state (Fitted.state)
META_KEYS = ("algorithm", "feature_set_version", "feature_names", "calibration", "quantiles")


# --- metrics ---------------------------------------------------------------------------------


def metrics(y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> dict[str, float]:
    """mae of the median, mean pinball over the three quantiles, 80% coverage and width."""
    from sklearn.metrics import mean_absolute_error, mean_pinball_loss

    return {
        "mae": float(mean_absolute_error(y, p50)),
        "pinball": float(
            np.mean([mean_pinball_loss(y, q, alpha=a) for q, a in zip((p10, p50, p90), QUANTILES, strict=True)])
        ),
        "coverage_80": float(np.mean((y >= p10) & (y <= p90))),
        "width_80": float(np.mean(p90 - p10)),
    }


# --- calibration -------------------------------------------------------------------------------

# Minutes tiers: the player's average minutes over his previous 10 games (the feature
# min_mean_10; unknown counts as the lowest tier). Calibration is fitted per tier because a range
# right 80% of the time overall is right ~90% of the time for bench players and ~70% for stars.
TIERS = {
    "minutes_0_15": (0.0, 15.0),
    "minutes_15_25": (15.0, 25.0),
    "minutes_25_32": (25.0, 32.0),
    "minutes_32_plus": (32.0, np.inf),
}
TIER_FEATURE = "min_mean_10"
MIN_TIER_ROWS = 200  # fewer validation rows in a tier: it keeps the overall scales


def tier_of(minutes: np.ndarray) -> np.ndarray:
    """Index into TIERS of each average-minutes value (NaN: no recent game, the lowest tier)."""
    minutes = np.nan_to_num(np.asarray(minutes, dtype=np.float64), nan=0.0)
    edges = [low for low, _ in TIERS.values()][1:]
    return np.searchsorted(np.asarray(edges), minutes, side="right")


def _gap_scales(y, p10, p50, p90) -> dict[str, float]:
    low_gap = np.maximum(p50 - p10, 0.25)
    high_gap = np.maximum(p90 - p50, 0.25)
    # points are whole numbers: a bound exactly on a value counts as inside; aim just inside
    low = float(np.quantile((p50 - y) / low_gap, 0.9))
    high = float(np.quantile((y - p50) / high_gap, 0.9))
    return {"low": max(low, 0.0), "high": max(high, 0.0)}


def fit_calibration(
    y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, minutes: np.ndarray | None = None
) -> dict:
    """Scales of the lower and upper gaps around the median so that 10% of `y` fall below the
    lower bound and 10% above the upper one (split-conformal on held-out rows). With `minutes`
    (average minutes over the previous 10 games) the scales are also fitted per minutes tier."""
    p10, p50, p90 = np.sort(np.column_stack([p10, p50, p90]), axis=1).T
    calibration = _gap_scales(y, p10, p50, p90)
    if minutes is not None:
        tiers = tier_of(minutes)
        calibration["tiers"] = {}
        for index, name in enumerate(TIERS):
            mask = tiers == index
            if mask.sum() >= MIN_TIER_ROWS:
                calibration["tiers"][name] = _gap_scales(y[mask], p10[mask], p50[mask], p90[mask])
    return calibration


def apply_calibration(calibration: dict | None, p10, p50, p90, minutes=None):
    """Non-crossing, non-negative (p10, p50, p90) after scaling the gaps around the median (per
    minutes tier when the calibration has tiers and `minutes` is given)."""
    p10, p50, p90 = np.sort(np.column_stack([p10, p50, p90]), axis=1).T
    if calibration:
        low = np.full(len(p50), calibration["low"])
        high = np.full(len(p50), calibration["high"])
        if calibration.get("tiers") and minutes is not None:
            tiers = tier_of(minutes)
            for index, name in enumerate(TIERS):
                scales = calibration["tiers"].get(name)
                if scales:
                    low[tiers == index] = scales["low"]
                    high[tiers == index] = scales["high"]
        p10 = p50 - low * np.maximum(p50 - p10, 0.25)
        p90 = p50 + high * np.maximum(p90 - p50, 0.25)
    p10 = np.maximum(p10, 0.0)
    p50 = np.maximum(p50, p10)
    p90 = np.maximum(p90, p50)
    return p10, p50, p90


def tier_minutes(X: np.ndarray) -> np.ndarray:
    """The tier feature's column of a FEATURE_NAMES matrix."""
    return X[:, FEATURE_NAMES.index(TIER_FEATURE)]


# --- save / load ----------------------------------------------------------------------------------


class IncompatibleModel(Exception):
    """Saved files this code cannot serve (another feature set, an unregistered kind, no files)."""


def save(fitted, folder: Path) -> list[Path]:
    """Write a fitted model into `folder`: meta.json (kind, feature set, calibration, the kind's
    state) and the kind's own files; returns their paths, meta.json first."""
    folder.mkdir(parents=True, exist_ok=True)
    files = fitted.kind.save(fitted, folder)
    meta = {
        **fitted.state,
        "algorithm": fitted.algorithm,
        "feature_set_version": FEATURE_SET_VERSION,
        "feature_names": FEATURE_NAMES,
        "calibration": fitted.calibration,
        "quantiles": QUANTILES,
    }
    meta_path = folder / "meta.json"
    meta_path.write_text(json.dumps(meta))
    return [meta_path, *files]


def load(folder: Path):
    """The model saved in `folder` (IncompatibleModel for another feature set or a kind that is
    not in MODEL_KINDS)."""
    from mlmodels import kinds

    meta = json.loads((folder / "meta.json").read_text())
    if meta["feature_set_version"] != FEATURE_SET_VERSION or meta["feature_names"] != FEATURE_NAMES:
        raise IncompatibleModel(
            f"model in {folder} was trained on feature set {meta['feature_set_version']}, "
            f"this code builds {FEATURE_SET_VERSION}: train again (`manage.py train`)"
        )
    try:
        kind = kinds.get(meta["algorithm"])
    except kinds.UnknownKind as exc:
        raise IncompatibleModel(str(exc)) from None
    state = {key: value for key, value in meta.items() if key not in META_KEYS}
    return kind.load(folder, kinds.Fitted(kind, {}, calibration=meta.get("calibration"), state=state))
