"""Keras 3 (JAX backend): a small MLP with three outputs (median, lower and upper gaps through
softplus, so the quantiles never cross), trained with the mean pinball loss of the three
quantiles on standardised features (unknown = the mean) and points / 10. It keeps the best
validation epoch (EarlyStopping restores its weights). At serving time a plain stack of Dense
layers runs as a numpy forward pass (a single row in microseconds, a framework call a millisecond).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mlmodels.kinds.base import Fitted, ModelKind
from mlmodels.training import QUANTILES, SEED

TARGET_SCALE = 10.0
CLIP = 5.0  # standardised features are clipped to +-CLIP
FEW_ROWS = 8  # standardise: at most this many rows skip scikit-learn's per-call checks
# Up to `epochs`, stopping `patience` epochs after the best validation epoch (the best was 19-33 of 40
# on the seasons measured, so the patience cuts the wasted epochs, not the best one).
PARAMS = {"hidden": [128, 64], "dropout": 0.2, "epochs": 40, "patience": 10, "batch_size": 512, "learning_rate": 0.001}
# Refit on every row with the chosen epochs (REFIT = True), or keep the network fitted with early
# stopping, whose validation ranges the calibration was fitted on (False: see docs/models.md).
REFIT = False
QUICK = {"hidden": [16], "dropout": 0.0, "epochs": 1, "batch_size": 1024, "learning_rate": 0.005}


# --- preprocessing: scikit-learn's scaler and imputer ----------------------------------------------


def make_scaler(X: np.ndarray) -> dict:
    """Feature means and standard deviations (NaN ignored; a feature unknown everywhere: mean 0,
    std 1), JSON-safe for meta.json."""
    import warnings

    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings():  # an all-NaN column: NaN statistics, replaced below
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = StandardScaler().fit(X)
    mean = np.nan_to_num(fitted.mean_, nan=0.0)
    std = np.where(np.isfinite(fitted.scale_), fitted.scale_, 1.0)
    return {"mean": mean.tolist(), "std": std.tolist()}


def preprocessor(scaler: dict):
    """StandardScaler with the stored statistics, then SimpleImputer: unknown -> 0 (the mean)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    mean, std = np.asarray(scaler["mean"], dtype=np.float64), np.asarray(scaler["std"], dtype=np.float64)
    standard = StandardScaler()
    standard.mean_, standard.scale_, standard.var_ = mean, std, std * std
    standard.n_features_in_, standard.n_samples_seen_ = len(mean), 0
    imputer = SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)
    imputer.fit(np.zeros((1, len(mean))))
    return standard, imputer


def standardise(X: np.ndarray, scaler: dict, steps=None) -> np.ndarray:
    """The network's input: standardised, unknown -> 0 (the mean), clipped to +-CLIP, float32.
    Batches go through scikit-learn; a few rows (a prediction) through the same arithmetic in
    numpy, since scikit-learn's input checks cost 0.3-1 ms a call (tests check both agree)."""
    X = np.asarray(X, dtype=np.float64)
    if len(X) <= FEW_ROWS:
        Z = np.nan_to_num((X - np.asarray(scaler["mean"])) / np.asarray(scaler["std"]), nan=0.0)
    else:
        standard, imputer = steps or preprocessor(scaler)
        Z = imputer.transform(standard.transform(X))
    return np.clip(Z, -CLIP, CLIP).astype(np.float32)


# --- the network --------------------------------------------------------------------------------------


def quantiles(out) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p10, p50, p90) in points from the network's raw outputs (median, lower gap, upper gap)."""
    out = np.asarray(out, dtype=np.float64)
    mid = out[:, 0]
    low = mid - np.logaddexp(0.0, out[:, 1])
    high = mid + np.logaddexp(0.0, out[:, 2])
    return low * TARGET_SCALE, mid * TARGET_SCALE, high * TARGET_SCALE


def dense_layers(model) -> list:
    """The network as numpy (kernel, bias, activation) triples when it is a plain stack of Dense
    layers; [] if not (the framework then runs it)."""
    import keras

    layers = []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
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
    predicted = [mid - ops.softplus(y_pred[:, 1]), mid, mid + ops.softplus(y_pred[:, 2])]
    y = y_true[:, 0]
    total = 0.0
    for q, alpha in zip(predicted, QUANTILES, strict=True):
        diff = y - q
        total = total + ops.mean(ops.maximum(alpha * diff, (alpha - 1.0) * diff))
    return total / len(QUANTILES)


def build(n_features: int, hidden: list[int], dropout: float = 0.0, l2: float = 0.0):
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


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    return keras


class Keras(ModelKind):
    name = "keras"
    label = "Running the Keras model"

    def fit(
        self, X, y, X_val, y_val, *, quick=False, progress=None, epochs: int | None = None, scaler: dict | None = None
    ) -> Fitted:
        """With `epochs` given (a refit) trains exactly that many epochs; otherwise trains the
        configured epochs and keeps the weights of the best validation epoch."""
        keras = _keras()
        params = dict(QUICK if quick else PARAMS)
        keras.utils.set_random_seed(SEED)
        scaler = scaler or make_scaler(X)
        steps = preprocessor(scaler)
        target = (y / TARGET_SCALE).astype(np.float32).reshape(-1, 1)
        model = build(X.shape[1], params["hidden"], params.get("dropout", 0.0), params.get("l2", 0.0))
        model.compile(optimizer=keras.optimizers.Adam(params["learning_rate"]), loss=_pinball_loss, jit_compile=True)
        n_epochs = epochs or params["epochs"]

        class Progress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if progress:
                    progress(stage="keras", epoch=epoch + 1, epochs=n_epochs)

        callbacks = [Progress()]
        validation = None
        best = None
        if not epochs:
            validation = (standardise(X_val, scaler, steps), (y_val / TARGET_SCALE).astype(np.float32).reshape(-1, 1))
            # stop `patience` epochs (default: all of them) after the best one, then restore its weights
            best = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params.get("patience", n_epochs), restore_best_weights=True
            )
            callbacks.insert(0, best)
        model.fit(
            standardise(X, scaler, steps),
            target,
            batch_size=params["batch_size"],
            epochs=n_epochs,
            shuffle=True,
            verbose=0,
            validation_data=validation,
            callbacks=callbacks,
        )
        trained = epochs or (best.best_epoch + 1 if best is not None and best.best_weights is not None else n_epochs)
        return Fitted(self, {**params, "epochs_trained": trained}, model=model, state={"scaler": scaler})

    def refit(self, X, y, previous: Fitted, *, quick=False, progress=None) -> Fitted:
        if not REFIT:
            return previous
        return self.fit(
            X,
            y,
            None,
            None,
            quick=quick,
            progress=progress,
            epochs=previous.hyperparameters["epochs_trained"],
            scaler=previous.state["scaler"],
        )

    def predict_batch(self, fitted: Fitted, X: np.ndarray):
        cache = fitted.cache
        if "steps" not in cache:
            cache["steps"] = preprocessor(fitted.state["scaler"])
            cache["dense"] = dense_layers(fitted.model)
        Z = standardise(X, fitted.state["scaler"], cache["steps"])
        if cache["dense"]:
            return quantiles(forward(cache["dense"], Z))
        return quantiles(np.asarray(fitted.model(Z, training=False)))

    def save(self, fitted: Fitted, folder: Path) -> list[Path]:
        path = folder / "model.keras"
        fitted.model.save(str(path))
        return [path]

    def load(self, folder: Path, fitted: Fitted) -> Fitted:
        fitted.model = _keras().models.load_model(str(folder / "model.keras"), compile=False)
        return fitted


KIND = Keras()
