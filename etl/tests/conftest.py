"""Fixtures of the etl tests: the real bundled 2023-24 game logs, whole or in slices, and
broken copies of them (made from real lines)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

SEASON_FILE = "player_logs_2023-24.csv.gz"


def season_path() -> Path:
    return Path(settings.BUNDLED_DATA_DIR) / SEASON_FILE


@lru_cache(maxsize=1)
def season_lines() -> tuple[str, tuple[str, ...]]:
    """The 2023-24 file as (header line, data lines), exactly as bundled."""
    text = gzip.decompress(season_path().read_bytes()).decode("utf-8")
    header, *lines = text.rstrip("\n").split("\n")
    return header, tuple(lines)


def column_index(column: str) -> int:
    """Where `column` stands in the bundled file's lines (its header names the columns)."""
    return season_lines()[0].split(",").index(column)


def field(line: str, column: str) -> str:
    return line.split(",")[column_index(column)]


def with_field(line: str, column: str, value: str) -> str:
    values = line.split(",")
    values[column_index(column)] = value
    return ",".join(values)


def write_lines(path: Path, lines, header: str | None = None) -> Path:
    """A CSV (gzipped when the name ends in .gz) with the season's header and these lines."""
    text = (header or season_lines()[0]) + "\n" + "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def lines_between(first: str, last: str) -> list[str]:
    """The season's lines of the games played from `first` to `last` (ISO dates, inclusive)."""
    return [line for line in season_lines()[1] if first <= field(line, "GAME_DATE") <= last]


@pytest.fixture
def late_january(tmp_path) -> Path:
    """Real lines of 2024-01-20 … 2024-01-31 (Embiid's 70 and Dončić's 73 among them)."""
    return write_lines(tmp_path / "late_january.csv", lines_between("2024-01-20", "2024-01-31"))


@pytest.fixture
def one_day(tmp_path) -> Path:
    """Real lines of the games of 2024-01-26 (gzipped, as bundled)."""
    return write_lines(tmp_path / "2024-01-26.csv.gz", lines_between("2024-01-26", "2024-01-26"))


@pytest.fixture(scope="module")
def loaded_season(django_db_setup, django_db_blocker):
    """The whole real 2023-24 season loaded once for a test module, inside a transaction that
    is rolled back after the module (each test adds its own savepoint through `db`)."""
    from etl.services import load_gamelogs
    from etl.teams import seed_teams

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            seed_teams()
            yield load_gamelogs([season_path()])
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
