"""Reads for the mlmodels app: the warehouse as feature-building input, the registry, the dashboard."""
from __future__ import annotations

import numpy as np
from django.db import connection

from mlmodels.features import log_sql, logs_from_rows


def gamelog_arrays(seasons: list[str] | None = None) -> dict[str, np.ndarray]:
    """Every player-game line of the warehouse (or of `seasons`) as column arrays, in one read:
    the input of `mlmodels.features.build_training_frame` (LOG_COLUMNS + is_home, season)."""
    sql = f"SELECT {log_sql()}, CAST(is_home AS INTEGER), CAST(SUBSTR(season, 1, 4) AS INTEGER) FROM etl_playergamelog"
    params: list = []
    if seasons:
        sql += f" WHERE season IN ({', '.join(['%s'] * len(seasons))})"
        params = list(seasons)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    arrays = logs_from_rows(rows, extra=("is_home", "season_year"))
    arrays["is_home"] = arrays["is_home"].astype(bool)
    years = arrays.pop("season_year")
    labels = {year: f"{year}-{(year + 1) % 100:02d}" for year in np.unique(years).tolist()}
    arrays["season"] = np.array([labels[y] for y in years.tolist()], dtype=object)
    return arrays


def refresh_statistics() -> None:
    """ANALYZE the warehouse tables on PostgreSQL (after a bulk load, the planner's row estimates
    are off until autovacuum runs, and the inference queries can pick a table scan)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE etl_playergamelog")
            cursor.execute("ANALYZE etl_game")


def loaded_seasons() -> list[str]:
    """Seasons with game logs in the warehouse, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT season FROM etl_playergamelog ORDER BY season")
        return [row[0] for row in cursor.fetchall()]


def active_models_exist() -> bool:
    """Whether every algorithm the ensemble needs has an active model (bootstrap trains when not)."""
    from mlmodels.models import ModelVersion

    active = set(ModelVersion.objects.filter(active=True).values_list("algorithm", flat=True))
    return set(ModelVersion.ALGORITHMS) <= active


def active_version_ids() -> dict[str, int]:
    """{algorithm: id} of the active versions (one cheap indexed query)."""
    from mlmodels.models import ModelVersion

    return dict(ModelVersion.objects.filter(active=True).values_list("algorithm", "id"))
