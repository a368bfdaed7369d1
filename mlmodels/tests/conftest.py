"""Fixtures of the mlmodels tests: small real slices of the bundled game logs.

The module-scoped fixtures load (and train on) their slice once per test module inside a
transaction rolled back after the module; each test adds its own savepoint through `db`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.db import transaction

from etl.testing import load_logs, write_season_slice

# The last four weeks of 2022-23's regular season and the last three of 2023-24: ~9,000 real lines,
# enough to train quick models and to backtest 2023-24 on a season before it.
SLICES = {"2022-23": "2023-03-12", "2023-24": "2024-03-24"}


@pytest.fixture(scope="session")
def slice_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mlmodels-logs")
    return {season: write_season_slice(folder, season, first) for season, first in SLICES.items()}


class RolledBack:
    """A transaction opened for a whole test module and rolled back at its end."""

    def __init__(self, blocker):
        self.blocker = blocker

    def __enter__(self):
        self.unblocked = self.blocker.unblock()
        self.unblocked.__enter__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        return self

    def __exit__(self, *exc):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)
        self.unblocked.__exit__(None, None, None)
        return False


@pytest.fixture(scope="module")
def slice_loaded(django_db_setup, django_db_blocker, slice_files):
    """Both slices in the warehouse for the module."""
    from mlmodels import inference

    with RolledBack(django_db_blocker):
        load_logs(slice_files.values())
        inference.reset()
        yield slice_files
    inference.reset()


@pytest.fixture(scope="module")
def trained_run(slice_loaded, django_db_blocker):
    """Quick models trained (and activated) on both slices, once for the module."""
    from mlmodels.services import train_models

    with django_db_blocker.unblock():
        return train_models(quick=True)


def sample_rows(count: int = 40, seed: int = 3) -> list[dict]:
    """(player, game) rows of the 2023-24 slice whose player played before, with their keys."""
    from etl.models import PlayerGameLog

    rows = list(
        PlayerGameLog.objects.filter(season="2023-24")
        .order_by("game_id", "player_id")
        .values("player_id", "game_id", "team_id", "opponent_id", "date", "is_home", "pts")
    )
    rng = np.random.default_rng(seed)
    return [rows[i] for i in sorted(rng.choice(len(rows), size=min(count, len(rows)), replace=False))]
