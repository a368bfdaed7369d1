"""Reads for the mlmodels app: the warehouse as feature-building input, the registry, the dashboard."""

from __future__ import annotations

import numpy as np
from django.db import connection

from etl.schema import LINES
from mlmodels.warehouse import log_sql, logs_from_rows


def gamelog_arrays(seasons: list[str] | None = None) -> dict[str, np.ndarray]:
    """Every player-game line of the warehouse (or of `seasons`) as column arrays, in one read:
    the input of `mlmodels.features.build_training_frame` (LOG_COLUMNS, is_home as bool, + season)."""
    sql = f"SELECT {log_sql()}, CAST(SUBSTR({LINES.season}, 1, 4) AS INTEGER) FROM {LINES}"
    params: list = []
    if seasons:
        sql += f" WHERE {LINES.season} IN ({', '.join(['%s'] * len(seasons))})"
        params = list(seasons)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    arrays = logs_from_rows(rows, extra=("season_year",))
    arrays["is_home"] = arrays["is_home"].astype(bool)
    years = arrays.pop("season_year")
    labels = {year: f"{year}-{(year + 1) % 100:02d}" for year in np.unique(years).tolist()}
    arrays["season"] = np.array([labels[y] for y in years.tolist()], dtype=object)
    return arrays


def active_models_exist() -> bool:
    """Whether every registered model kind has an active model built on this code's feature set
    (bootstrap trains when not: an older feature set's files cannot be served)."""
    from mlmodels import kinds
    from mlmodels.features import FEATURE_SET_VERSION
    from mlmodels.models import ModelVersion

    active = set(
        ModelVersion.objects.filter(active=True, feature_set_version=FEATURE_SET_VERSION).values_list(
            "algorithm", flat=True
        )
    )
    return set(kinds.names()) <= active


def active_version_ids() -> dict[str, int]:
    """{algorithm: id} of the active versions (one cheap indexed query)."""
    from mlmodels.models import ModelVersion

    return dict(ModelVersion.objects.filter(active=True).values_list("algorithm", "id"))
