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

    active = set(ModelVersion.objects.filter(active=True, feature_set_version=FEATURE_SET_VERSION)
                 .values_list("algorithm", flat=True))
    return set(kinds.names()) <= active


def active_version_ids() -> dict[str, int]:
    """{algorithm: id} of the active versions (one cheap indexed query)."""
    from mlmodels.models import ModelVersion

    return dict(ModelVersion.objects.filter(active=True).values_list("algorithm", "id"))


def dashboard_jobs(limit: int = 20) -> list[dict]:
    """Running and recent training / backtest runs for the staff Pipeline page (registered as
    "mlmodels.selectors.dashboard_jobs" in settings.DASHBOARD_JOB_SOURCES)."""
    from django.urls import reverse

    from mlmodels.models import TrainingRun
    from nbaproject.dashboard import task_links

    runs = list(TrainingRun.objects.prefetch_related("versions").order_by("-started", "-id")[:limit])
    jobs = []
    for run, links in zip(runs, task_links([[(run.kind, run.task_id)] for run in runs])):
        seasons = run.seasons or []
        span = f"{seasons[0]}..{seasons[-1]}" if len(seasons) > 1 else (seasons[0] if seasons else "")
        title = ("backtest " + (f"{seasons[-1]} (trained on {len(seasons) - 1} seasons)" if seasons else "")
                 if run.kind == "backtest" else f"train on {span}") + (" (quick)" if run.quick else "")
        if run.status == TrainingRun.Status.RUNNING:
            step = run.stage + (f", epoch {run.epoch}" if run.epoch else "")
        else:
            step = ", ".join(f"{v.algorithm} v{v.pk}{' active' if v.active else ''} mae {v.metrics.get('mae', 0):.2f}"
                             for v in run.versions.all() if v.metrics) or run.stage
        jobs.append({
            "kind": "training" if run.kind == "train" else "backtest",
            "id": str(run.pk),
            "title": title,
            "status": run.status,
            "step": step,
            "percent": run.percent,
            "started": run.started.isoformat(),
            "finished": run.finished.isoformat() if run.finished else None,
            "error": run.error or None,
            "admin_url": reverse("admin:mlmodels_trainingrun_change", args=[run.pk]),
            "task_links": links,
        })
    return jobs
