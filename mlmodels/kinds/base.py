"""What a model kind is: the interface every plug-in module in settings.MODEL_KINDS implements.

A kind is one module exposing `KIND`, an instance of a `ModelKind` subclass. The kind says how
it trains (`fit`, `refit`), how it predicts a batch of feature rows (`predict_batch`: raw
p10/p50/p90 arrays, before calibration) and how its files are written and read (`save`,
`load`). Everything around it is shared: features, calibration, the ensemble, the registry
(ModelVersion rows, MODEL_DIR/<kind>/v<id>-<random>/meta.json) and the prediction pipeline's
Celery step `predictions.tasks.<kind>_step`, run on the kind's `queue`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Fitted:
    """A fitted model of one kind: `model` is the kind's own object (boosters, a network, ...),
    `state` the JSON-safe values it needs at prediction time (saved in meta.json)."""

    kind: ModelKind
    hyperparameters: dict
    calibration: dict | None = None
    model: object = None
    state: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False)  # what the kind derives once for serving

    @property
    def algorithm(self) -> str:
        return self.kind.name

    def predict_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Uncalibrated (p10, p50, p90) of each row of the FEATURE_NAMES matrix X."""
        return self.kind.predict_batch(self, X)

    def predict(self, X: np.ndarray):
        """Calibrated, non-crossing (p10, p50, p90) of each row of X."""
        from mlmodels import training

        return training.apply_calibration(self.calibration, *self.predict_raw(X), minutes=training.tier_minutes(X))


class ModelKind:
    """One kind of quantile model. Subclasses set `name` (stored as ModelVersion.algorithm, the
    pipeline step's name) and `label` (the step's label shown to users)."""

    name: str = ""
    label: str = ""
    # The Celery queue of the kind's prediction step (a worker consuming it must list the kind in
    # MODEL_KINDS). "predictions": the workers that run the rest of the pipeline.
    queue: str = "predictions"

    def fit(
        self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *, quick: bool = False, progress=None
    ) -> Fitted:
        """Fit on (X, y); (X_val, y_val) is the validation season (early stopping). `progress`
        (optional) takes stage=<the kind's name ...>, epoch/epochs or step/steps."""
        raise NotImplementedError

    def refit(self, X: np.ndarray, y: np.ndarray, previous: Fitted, *, quick: bool = False, progress=None) -> Fitted:
        """Fit again on every row (training + validation) with what validation chose in
        `previous` (rounds, epochs). Default: `fit` without a validation set."""
        return self.fit(X, y, None, None, quick=quick, progress=progress)

    def predict_batch(self, fitted: Fitted, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw (p10, p50, p90) arrays for the rows of X (NaN = unknown feature)."""
        raise NotImplementedError

    def save(self, fitted: Fitted, folder: Path) -> list[Path]:
        """Write the kind's own files into `folder` (meta.json, with `fitted.state`, is written
        for it); returns their paths."""
        return []

    def load(self, folder: Path, fitted: Fitted) -> Fitted:
        """Read the kind's own files from `folder` into `fitted` (hyperparameters, calibration and
        state already set from meta.json)."""
        return fitted

    def __repr__(self) -> str:
        return f"<model kind {self.name}>"
