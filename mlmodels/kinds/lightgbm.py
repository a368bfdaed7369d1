"""LightGBM: one booster per quantile (0.1, 0.5, 0.9), early stopping on the validation season.

All three use the quantile loss (learning rate 0.05: the same backtest as 0.03 within 0.0005,
in about 60% of the rounds, which keeps nine seasons' training under 3 minutes).
A Huber loss for the median (delta 2) won
about 0.0015 x last-10 on the validation season in a single-booster test, but not in the full
backtest (2023-24 ensemble 0.9397 / market 0.9405, the same as before; 0-15 minutes tier coverage
0.737 against 0.757 without it): it is not used (docs/models.md, "What was tried").
QUANTILE_PARAMS still lets a quantile change its objective or learning rate. REFIT_QUANTILES are
refitted on every row with the rounds validation chose; a quantile left out keeps its
validation-fitted booster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlmodels.features import FEATURE_NAMES
from mlmodels.kinds.base import Fitted, ModelKind
from mlmodels.training import QUANTILES, SEED

PARAMS = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 500,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.7,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 127,
    "num_boost_round": 1500,
    "early_stopping_rounds": 50,
}
QUICK = {
    **PARAMS,
    "learning_rate": 0.1,
    "num_leaves": 15,
    "num_boost_round": 30,
    "early_stopping_rounds": 10,
    "min_data_in_leaf": 50,
}
# What each quantile's booster changes in PARAMS (not in QUICK, except the objective).
QUANTILE_PARAMS = {
    0.1: {"objective": "quantile", "alpha": 0.1},
    0.5: {"objective": "quantile", "alpha": 0.5},
    0.9: {"objective": "quantile", "alpha": 0.9},
}
REFIT_QUANTILES = (0.1, 0.5, 0.9)  # refitted on every row; any other keeps its validation-fitted booster


def quantile_params(alpha: float, quick: bool = False) -> dict:
    """The booster parameters of one quantile over PARAMS (quick runs keep QUICK's learning rate)."""
    params = dict(QUANTILE_PARAMS[alpha])
    if quick:
        params.pop("learning_rate", None)
    return params


class LightGBM(ModelKind):
    name = "lightgbm"
    label = "Running the LightGBM model"

    def fit(
        self,
        X,
        y,
        X_val,
        y_val,
        *,
        quick=False,
        progress=None,
        rounds: list[int] | None = None,
        keep: list | None = None,
    ) -> Fitted:
        """Three boosters (QUANTILE_PARAMS); early stopping on the validation set unless `rounds` fixes
        the number of rounds per quantile (a refit on more data); `keep[i]`, when given, is used as is."""
        import lightgbm as lgb

        params = dict(QUICK if quick else PARAMS)
        num_rounds, stopping = params.pop("num_boost_round"), params.pop("early_stopping_rounds")
        base = {**params, "seed": SEED, "deterministic": True, "force_row_wise": True, "num_threads": 2, "verbose": -1}
        train_set = lgb.Dataset(
            X, y, feature_name=FEATURE_NAMES, free_raw_data=False, params={"max_bin": base["max_bin"], "verbose": -1}
        )
        boosters, best = [], []
        for i, alpha in enumerate(QUANTILES):
            if progress:
                progress(stage=f"lightgbm q{int(alpha * 100)}", step=i, steps=len(QUANTILES))
            if keep and keep[i] is not None:
                boosters.append(keep[i])
                best.append(rounds[i])
                continue
            quantile = quantile_params(alpha, quick)
            if rounds:
                booster = lgb.train({**base, **quantile}, train_set, num_boost_round=rounds[i])
            else:
                valid = lgb.Dataset(X_val, y_val, reference=train_set)
                booster = lgb.train(
                    {**base, **quantile},
                    train_set,
                    num_boost_round=num_rounds,
                    valid_sets=[valid],
                    callbacks=[lgb.early_stopping(stopping, verbose=False)],
                )
            boosters.append(booster)
            best.append(int(booster.best_iteration or booster.current_iteration()))
        best = list(rounds) if rounds else best
        return Fitted(
            self,
            {
                **params,
                "num_boost_round": num_rounds,
                "early_stopping_rounds": stopping,
                "quantile_params": {str(a): quantile_params(a, quick) for a in QUANTILES},
                "rounds": best,
                "refit_quantiles": list(REFIT_QUANTILES),
            },
            model=boosters,
        )

    def refit(self, X, y, previous: Fitted, *, quick=False, progress=None) -> Fitted:
        """Every REFIT_QUANTILES booster on every row with the rounds validation chose; the others are kept."""
        keep = [
            None if alpha in REFIT_QUANTILES else booster
            for alpha, booster in zip(QUANTILES, previous.model, strict=True)
        ]
        return self.fit(
            X, y, None, None, quick=quick, progress=progress, rounds=previous.hyperparameters["rounds"], keep=keep
        )

    def predict_batch(self, fitted: Fitted, X: np.ndarray):
        threads = 1 if len(X) < 1000 else 2
        return tuple(booster.predict(X, num_threads=threads) for booster in fitted.model)

    def save(self, fitted: Fitted, folder: Path) -> list[Path]:
        files = []
        for alpha, booster in zip(QUANTILES, fitted.model, strict=True):
            path = folder / f"q{int(alpha * 100)}.txt"
            booster.save_model(str(path))
            files.append(path)
        return files

    def load(self, folder: Path, fitted: Fitted) -> Fitted:
        import lightgbm as lgb

        fitted.model = [lgb.Booster(model_file=str(folder / f"q{int(a * 100)}.txt")) for a in QUANTILES]
        return fitted


KIND = LightGBM()
