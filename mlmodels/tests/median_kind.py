"""A third model kind for the tests: the median of the player's last 10 games, spread +-40%.

It shows what a kind module needs (see mlmodels/kinds/base.py): a name, a label, how it fits
(nothing to learn here), how it predicts a batch, and the Celery queue of its pipeline step.
Registered by adding "mlmodels.tests.median_kind" to settings.MODEL_KINDS.
"""

from __future__ import annotations

import numpy as np

from mlmodels.features import FEATURE_NAMES
from mlmodels.kinds import Fitted, ModelKind

FEATURE = "pts_median_10"


class MedianLast10(ModelKind):
    name = "median10"
    label = "Running the last-10 median"
    queue = "kindtest"  # a worker of its own in the pipeline test (one that lists this kind)

    def fit(self, X, y, X_val, y_val, *, quick=False, progress=None) -> Fitted:
        if progress:
            progress(stage=self.name, step=1, steps=1)
        return Fitted(self, {"feature": FEATURE, "fallback": float(np.median(y))})

    def predict_batch(self, fitted: Fitted, X: np.ndarray):
        median = X[:, FEATURE_NAMES.index(FEATURE)]
        median = np.where(np.isnan(median), fitted.hyperparameters.get("fallback", 0.0), median)
        return median * 0.6, median, median * 1.4


KIND = MedianLast10()
