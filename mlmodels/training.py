"""Fitting, calibrating, scoring, saving and loading the two quantile models (no database here).

LightGBM: one quantile booster per alpha (0.1, 0.5, 0.9). Keras (JAX backend): a small MLP
with three outputs (median, log-spaced lower and upper gaps through softplus, so the quantiles
can never cross) trained with the mean pinball loss of the three quantiles. Both are then
calibrated on the validation season: the lower and upper gaps around the median are scaled so
that 10% of the actual points fall below p10 and 10% above p90 (split-conformal style).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlmodels.features import FEATURE_NAMES, FEATURE_SET_VERSION

QUANTILES = (0.1, 0.5, 0.9)
SEED = 7
KERAS_TARGET_SCALE = 10.0
CLIP = 5.0

LIGHTGBM_PARAMS = {
    "learning_rate": 0.03, "num_leaves": 31, "min_data_in_leaf": 500, "feature_fraction": 0.5,
    "bagging_fraction": 0.7, "bagging_freq": 1, "lambda_l2": 1.0, "max_bin": 127,
    "num_boost_round": 1500, "early_stopping_rounds": 50,
}
LIGHTGBM_QUICK = {**LIGHTGBM_PARAMS, "learning_rate": 0.1, "num_leaves": 15, "num_boost_round": 30,
                  "early_stopping_rounds": 10, "min_data_in_leaf": 50}
KERAS_PARAMS = {"hidden": [128, 64], "dropout": 0.2, "epochs": 20, "batch_size": 512, "learning_rate": 0.001}
KERAS_QUICK = {"hidden": [16], "dropout": 0.0, "epochs": 1, "batch_size": 1024, "learning_rate": 0.005}


# --- metrics ---------------------------------------------------------------------------------

def pinball(y: np.ndarray, q: np.ndarray, alpha: float) -> float:
    diff = y - q
    return float(np.mean(np.maximum(alpha * diff, (alpha - 1) * diff)))


def metrics(y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> dict[str, float]:
    """mae of the median, mean pinball over the three quantiles, 80% coverage and width."""
    return {
        "mae": float(np.mean(np.abs(y - p50))),
        "pinball": float(np.mean([pinball(y, q, a) for q, a in zip((p10, p50, p90), QUANTILES)])),
        "coverage_80": float(np.mean((y >= p10) & (y <= p90))),
        "width_80": float(np.mean(p90 - p10)),
    }


# --- calibration -------------------------------------------------------------------------------

# Minutes tiers: the player's average minutes over his previous 10 games (the feature
# min_mean_10; unknown counts as the lowest tier). Calibration is fitted per tier because a range
# right 80% of the time overall is right ~90% of the time for bench players and ~70% for stars.
TIERS = {"minutes_0_15": (0.0, 15.0), "minutes_15_25": (15.0, 25.0), "minutes_25_32": (25.0, 32.0),
         "minutes_32_plus": (32.0, np.inf)}
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


def fit_calibration(y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray,
                    minutes: np.ndarray | None = None) -> dict:
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


# --- the models ----------------------------------------------------------------------------------

@dataclass
class Fitted:
    """A fitted model, ready to predict raw (uncalibrated) quantiles for a feature matrix."""

    algorithm: str
    hyperparameters: dict
    calibration: dict | None = None
    boosters: list = field(default_factory=list)  # LightGBM: one per quantile
    keras_model: object = None
    scaler: dict | None = None  # Keras: feature means/stds
    best_iterations: list = field(default_factory=list)

    dense: list | None = None  # Keras: [(kernel, bias, activation)] for a numpy forward pass

    def predict_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.algorithm == "lightgbm":
            threads = 1 if len(X) < 1000 else 2
            return tuple(b.predict(X, num_threads=threads) for b in self.boosters)
        Z = standardise(X, self.scaler)
        if self.dense is None:
            self.dense = dense_layers(self.keras_model)
        if self.dense:
            return keras_quantiles(forward(self.dense, Z))
        return keras_quantiles(np.asarray(self.keras_model(Z, training=False)))

    def predict(self, X: np.ndarray):
        return apply_calibration(self.calibration, *self.predict_raw(X), minutes=tier_minutes(X))


def fit_lightgbm(X, y, X_val, y_val, *, quick=False, rounds: list[int] | None = None, progress=None) -> Fitted:
    """Three quantile boosters; early stopping on the validation set unless `rounds` fixes the
    number of rounds per quantile (a refit on more data)."""
    import lightgbm as lgb

    params = dict(LIGHTGBM_QUICK if quick else LIGHTGBM_PARAMS)
    num_rounds, stopping = params.pop("num_boost_round"), params.pop("early_stopping_rounds")
    base = {**params, "objective": "quantile", "seed": SEED, "deterministic": True, "force_row_wise": True,
            "num_threads": 2, "verbose": -1}
    train_set = lgb.Dataset(X, y, feature_name=FEATURE_NAMES, free_raw_data=False,
                            params={"max_bin": base["max_bin"], "verbose": -1})
    fitted = Fitted("lightgbm", {**params, "num_boost_round": num_rounds, "early_stopping_rounds": stopping})
    for i, alpha in enumerate(QUANTILES):
        if progress:
            progress(stage=f"lightgbm q{int(alpha * 100)}", step=i, steps=len(QUANTILES))
        if rounds:
            booster = lgb.train({**base, "alpha": alpha}, train_set, num_boost_round=rounds[i])
        else:
            valid = lgb.Dataset(X_val, y_val, reference=train_set)
            booster = lgb.train({**base, "alpha": alpha}, train_set, num_boost_round=num_rounds,
                                valid_sets=[valid], callbacks=[lgb.early_stopping(stopping, verbose=False)])
        fitted.boosters.append(booster)
        fitted.best_iterations.append(int(booster.best_iteration or booster.current_iteration()))
    if rounds:
        fitted.best_iterations = list(rounds)
    fitted.hyperparameters["rounds"] = fitted.best_iterations
    return fitted


def make_scaler(X: np.ndarray) -> dict:
    import warnings

    with warnings.catch_warnings():  # a feature may be unknown everywhere (all NaN): mean 0, std 1
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    std = np.where(~np.isfinite(std) | (std < 1e-9), 1.0, std)
    return {"mean": mean.tolist(), "std": std.tolist()}


def standardise(X: np.ndarray, scaler: dict) -> np.ndarray:
    Z = (X - np.asarray(scaler["mean"])) / np.asarray(scaler["std"])
    return np.clip(np.nan_to_num(Z, nan=0.0), -CLIP, CLIP).astype(np.float32)


def keras_quantiles(out) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p10, p50, p90) in points from the network's raw outputs (median, lower gap, upper gap)."""
    out = np.asarray(out, dtype=np.float64)
    mid = out[:, 0]
    low = mid - np.logaddexp(0.0, out[:, 1])
    high = mid + np.logaddexp(0.0, out[:, 2])
    return low * KERAS_TARGET_SCALE, mid * KERAS_TARGET_SCALE, high * KERAS_TARGET_SCALE


def dense_layers(model) -> list:
    """The network as numpy (kernel, bias, activation) triples when it is a plain stack of Dense
    layers (a single-row numpy pass takes microseconds, a framework call a millisecond); [] if not."""
    import keras

    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Dropout):
            continue
        if not isinstance(layer, keras.layers.Dense):
            return []
        activation = getattr(layer.activation, "__name__", str(layer.activation))
        if activation not in ("relu", "linear"):
            return []
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
        layers.append((kernel, bias, activation))
    return layers


def forward(layers: list, Z: np.ndarray) -> np.ndarray:
    out = Z.astype(np.float64)
    for kernel, bias, activation in layers:
        out = out @ kernel + bias
        if activation == "relu":
            out = np.maximum(out, 0.0)
    return out


def _pinball_loss(y_true, y_pred):
    from keras import ops

    mid = y_pred[:, 0]
    quantiles = [mid - ops.softplus(y_pred[:, 1]), mid, mid + ops.softplus(y_pred[:, 2])]
    y = y_true[:, 0]
    total = 0.0
    for q, alpha in zip(quantiles, QUANTILES):
        diff = y - q
        total = total + ops.mean(ops.maximum(alpha * diff, (alpha - 1.0) * diff))
    return total / len(QUANTILES)


def build_keras(n_features: int, hidden: list[int], dropout: float = 0.0, l2: float = 0.0):
    import keras

    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    regularizer = keras.regularizers.L2(l2) if l2 else None
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden{i}", kernel_regularizer=regularizer)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=SEED + i, name=f"dropout{i}")(x)
    outputs = keras.layers.Dense(3, name="quantiles")(x)
    return keras.Model(inputs, outputs, name="points_quantiles")


def fit_keras(X, y, X_val, y_val, *, quick=False, epochs: int | None = None, scaler: dict | None = None,
              progress=None) -> Fitted:
    """The MLP trained on standardised features (NaN -> mean) and points / 10. With `epochs`
    given (a refit), trains exactly that many epochs; otherwise keeps the best validation epoch."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    params = dict(KERAS_QUICK if quick else KERAS_PARAMS)
    keras.utils.set_random_seed(SEED)
    scaler = scaler or make_scaler(X)
    Z = standardise(X, scaler)
    target = (y / KERAS_TARGET_SCALE).astype(np.float32).reshape(-1, 1)
    model = build_keras(X.shape[1], params["hidden"], params.get("dropout", 0.0), params.get("l2", 0.0))
    model.compile(optimizer=keras.optimizers.Adam(params["learning_rate"]), loss=_pinball_loss, jit_compile=True)
    n_epochs = epochs or params["epochs"]
    best = {"loss": np.inf, "epoch": 0, "weights": None}

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss")
            if loss is not None and loss < best["loss"]:
                best.update(loss=loss, epoch=epoch + 1, weights=self.model.get_weights())
            if progress:
                progress(stage="keras", epoch=epoch + 1, epochs=n_epochs)

    validation = None if epochs else (standardise(X_val, scaler),
                                      (y_val / KERAS_TARGET_SCALE).astype(np.float32).reshape(-1, 1))
    model.fit(Z, target, batch_size=params["batch_size"], epochs=n_epochs, shuffle=True, verbose=0,
              validation_data=validation, callbacks=[Progress()])
    if not epochs and best["weights"] is not None:
        model.set_weights(best["weights"])
    fitted = Fitted("keras", {**params, "epochs_trained": epochs or best["epoch"] or n_epochs}, keras_model=model,
                    scaler=scaler)
    return fitted


# --- save / load ----------------------------------------------------------------------------------

def save(fitted: Fitted, folder: Path) -> list[Path]:
    """Write the model files into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    meta = {"algorithm": fitted.algorithm, "feature_set_version": FEATURE_SET_VERSION,
            "feature_names": FEATURE_NAMES, "calibration": fitted.calibration, "quantiles": QUANTILES}
    if fitted.algorithm == "lightgbm":
        for alpha, booster in zip(QUANTILES, fitted.boosters):
            path = folder / f"q{int(alpha * 100)}.txt"
            booster.save_model(str(path))
            files.append(path)
    else:
        path = folder / "model.keras"
        fitted.keras_model.save(str(path))
        files.append(path)
        meta["scaler"] = fitted.scaler
    meta_path = folder / "meta.json"
    meta_path.write_text(json.dumps(meta))
    return [meta_path, *files]


class IncompatibleModel(Exception):
    pass


def load(folder: Path) -> Fitted:
    """The model saved in `folder` (raises IncompatibleModel for another feature set)."""
    meta = json.loads((folder / "meta.json").read_text())
    if meta["feature_set_version"] != FEATURE_SET_VERSION or meta["feature_names"] != FEATURE_NAMES:
        raise IncompatibleModel(f"model in {folder} was trained on feature set {meta['feature_set_version']}, "
                                f"this code builds {FEATURE_SET_VERSION}: train again (`manage.py train`)")
    fitted = Fitted(meta["algorithm"], {}, calibration=meta.get("calibration"), scaler=meta.get("scaler"))
    if fitted.algorithm == "lightgbm":
        import lightgbm as lgb

        fitted.boosters = [lgb.Booster(model_file=str(folder / f"q{int(a * 100)}.txt")) for a in QUANTILES]
    else:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras

        fitted.keras_model = keras.models.load_model(str(folder / "model.keras"), compile=False)
    return fitted


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started
