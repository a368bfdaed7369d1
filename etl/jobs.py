"""What the etl app contributes to operations (operations.registry): its job kind (ETL runs), the
daily load of new game-log files, and the Pipeline page's "load the bundled seasons" button."""

from datetime import UTC

from etl.models import EtlRun
from operations.registry import register_action, register_job_kind, register_metrics, register_schedules
from operations.schedules import DAILY

SUMMARY_KEYS = ("read", "inserted", "updated", "rejected")


def title(run: EtlRun) -> str:
    files = [line.rsplit("/", 1)[-1] for line in run.source.splitlines() if line.strip()]
    if not files:
        return "load"
    return f"load {files[0]}" + (f" (+{len(files) - 1} files)" if len(files) > 1 else "")


def stage(run: EtlRun) -> str:
    """The stage while it runs; what it did once finished."""
    if run.status == EtlRun.Status.RUNNING:
        return run.stage
    counts = run.counts or {}
    return ", ".join(f"{key} {counts[key]}" for key in SUMMARY_KEYS if key in counts)


register_job_kind(EtlRun, kind="etl", title=title, stage=stage)

register_schedules(
    [
        {
            "name": "Load new game-log files",
            "task": "etl.tasks.load_gamelogs",
            "kwargs": {"skip_loaded": True},
            "crontab": {"minute": "0", "hour": "11", **DAILY},
            "description": (
                "Daily: loads the bundled game-log files (etl/data, or BUNDLED_DATA_DIR) that changed since "
                "their last load; files already loaded with the same content are skipped. Each run appears "
                "under Etl > Etl runs."
            ),
        }
    ]
)

register_action(
    "load-bundled",
    label="Load the bundled seasons now",
    permission="etl.add_etlrun",
    task="etl.tasks.load_gamelogs",
    kwargs={"skip_loaded": False},
)


def freshness_metrics():
    """The newest final game in the warehouse, and its age: the data's freshness (/metrics)."""
    from datetime import datetime, time

    from django.db.models import Max
    from prometheus_client.core import GaugeMetricFamily

    from etl.models import Game

    newest = Game.objects.filter(status=Game.Status.FINAL).aggregate(newest=Max("date"))["newest"]
    stamp = GaugeMetricFamily(
        "nba_warehouse_newest_game_timestamp_seconds",
        "Unix time of the day of the newest final game loaded (midnight UTC).",
    )
    age = GaugeMetricFamily(
        "nba_warehouse_newest_game_age_seconds",
        "Seconds since the day of the newest final game loaded (data freshness).",
    )
    if newest is not None:
        moment = datetime.combine(newest, time(), tzinfo=UTC).timestamp()
        stamp.add_metric([], moment)
        age.add_metric([], datetime.now(UTC).timestamp() - moment)
    return [stamp, age]


register_metrics(freshness_metrics)
