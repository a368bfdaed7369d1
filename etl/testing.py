"""Real bundled game logs for tests: slices of a season as small files, and loading them."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from django.conf import settings


def season_file(season: str) -> Path:
    return Path(settings.BUNDLED_DATA_DIR) / f"player_logs_{season}.csv.gz"


def write_season_slice(folder: Path, season: str, first_day: str) -> Path:
    """The bundled lines of `season` from `first_day` on, as a file of the same format."""
    path = folder / f"player_logs_{season}.csv.gz"
    with (
        gzip.open(season_file(season), "rt", newline="", encoding="utf-8") as source,
        gzip.open(path, "wt", newline="", encoding="utf-8") as target,
    ):
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(row for row in reader if row["GAME_DATE"] >= first_day)
    return path


def load_logs(paths) -> dict:
    """Load game-log files into the warehouse (teams seeded first, as a flushed test database needs)."""
    from etl.services import load_gamelogs
    from etl.teams import seed_teams

    seed_teams()
    return load_gamelogs(list(paths))
