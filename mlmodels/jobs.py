"""What the mlmodels app contributes to operations (operations.registry): its job kind (training
and backtest runs), the weekly retraining, and the Pipeline page's "retrain" button."""

from mlmodels.models import TrainingRun
from operations.registry import register_action, register_job_kind, register_metrics, register_schedules


def title(run: TrainingRun) -> str:
    seasons = run.seasons or []
    if run.kind == "backtest":
        text = "backtest " + (f"{seasons[-1]} (trained on {len(seasons) - 1} seasons)" if seasons else "")
    else:
        text = "train on " + (f"{seasons[0]}..{seasons[-1]}" if len(seasons) > 1 else (seasons[0] if seasons else ""))
    return text + (" (quick)" if run.quick else "")


def stage(run: TrainingRun) -> str:
    """The stage and epoch while it runs; the versions it made (and their error) once finished."""
    if run.status == TrainingRun.Status.RUNNING:
        return run.stage + (f", epoch {run.epoch}" if run.epoch else "")
    return (
        ", ".join(
            f"{v.algorithm} v{v.pk}{' active' if v.active else ''} mae {v.metrics.get('mae', 0):.2f}"
            for v in run.versions.all()
            if v.metrics
        )
        or run.stage
    )


register_job_kind(
    TrainingRun,
    kind=lambda run: "training" if run.kind == "train" else "backtest",
    title=title,
    stage=stage,
    queryset=lambda: TrainingRun.objects.prefetch_related("versions").order_by("-created_at", "-id"),
)

register_schedules(
    [
        {
            "name": "Retrain the models weekly",
            "task": "mlmodels.tasks.train",
            "kwargs": {},
            "crontab": {"minute": "0", "hour": "12", "day_of_week": "1", "day_of_month": "*", "month_of_year": "*"},
            "description": (
                "Mondays 12:00 UTC: trains LightGBM and Keras on every loaded season and activates the new "
                "versions when they are not worse than the active ones on the validation season. Progress "
                "shows on the Pipeline page; each run is a Mlmodels > Training run."
            ),
        }
    ]
)

register_action(
    "retrain", label="Retrain the models now", permission="mlmodels.add_trainingrun", task="mlmodels.tasks.train"
)


def model_metrics():
    """The active model version of each algorithm (/metrics): 1 per active version, labelled."""
    from prometheus_client.core import GaugeMetricFamily

    from mlmodels.models import ModelVersion

    active = GaugeMetricFamily("nba_model_active", "1 for each active model version.", labels=["algorithm", "version"])
    trained = GaugeMetricFamily(
        "nba_model_active_created_timestamp_seconds", "Unix time the active version was trained.", labels=["algorithm"]
    )
    for version in ModelVersion.objects.filter(active=True).order_by("algorithm"):
        active.add_metric([version.algorithm, str(version.pk)], 1)
        trained.add_metric([version.algorithm], version.created.timestamp())
    return [active, trained]


register_metrics(model_metrics)
