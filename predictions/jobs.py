"""What the predictions app contributes to operations (operations.registry): its job kind
(prediction requests, one task per pipeline step) and the sweeper's beat entry."""

from operations.registry import register_job_kind, register_metrics, register_schedule_setup
from predictions.models import STEP_NAMES, PredictionRequest


def title(row: PredictionRequest) -> str:
    return f"{row.label} ({row.user.get_username()})"


def stage(row: PredictionRequest) -> str:
    return f"{row.step_index}/{row.step_count} {row.step_label}" if row.step_index else row.step_label


def ensure_sweeper() -> list[tuple[str, bool]]:
    """The sweeper's interval entry, created or brought up to date: [(name, created)]."""
    from django_celery_beat.models import PeriodicTask

    from predictions.pipeline import SWEEPER_SCHEDULE_NAME, ensure_sweeper_schedule

    existed = PeriodicTask.objects.filter(name=SWEEPER_SCHEDULE_NAME).exists()
    ensure_sweeper_schedule()
    return [(SWEEPER_SCHEDULE_NAME, not existed)]


register_job_kind(
    PredictionRequest,
    kind="prediction",
    title=title,
    stage=stage,
    limit=50,
    task_keys=tuple(STEP_NAMES),
    message=lambda row: row.message or row.enqueue_error or None,
    queryset=lambda: PredictionRequest.objects.select_related("user", "player", "opponent").order_by("-created_at"),
)

register_schedule_setup(ensure_sweeper)


# --- /metrics (operations.metrics): the requests' outcomes and their end-to-end latency -------------------
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def prediction_metrics():
    """Counted from the rows at each scrape (the same from every process). Failures are split by
    whose they are: `input` (the request has no answer: no such game...) or `system` (time limit,
    database, worker, no active model); rows failed before the kind was recorded count as system."""
    from django.db.models import Count, FloatField, Q, Sum
    from django.db.models.fields.json import KT
    from django.db.models.functions import Cast
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    from predictions.models import Prediction

    Status = PredictionRequest.Status
    submitted = CounterMetricFamily("nba_predictions_submitted", "Prediction requests stored (accepted with 202).")
    succeeded = CounterMetricFamily("nba_predictions_succeeded", "Prediction requests answered with a range.")
    failed = CounterMetricFamily(
        "nba_predictions_failed", "Prediction requests failed, by whose failure it was.", labels=["reason_kind"]
    )
    by_kind = {PredictionRequest.FailureKind.INPUT: 0, PredictionRequest.FailureKind.SYSTEM: 0}
    total = done = 0
    for status, kind, n in (
        PredictionRequest.objects.order_by().values_list("status", "failure_kind").annotate(n=Count("pk"))
    ):
        total += n
        if status == Status.SUCCEEDED:
            done += n
        elif status == Status.FAILED:
            key = kind if kind in by_kind else PredictionRequest.FailureKind.SYSTEM
            by_kind[key] += n
    submitted.add_metric([], total)
    succeeded.add_metric([], done)
    for kind, n in by_kind.items():
        failed.add_metric([str(kind)], n)

    seconds = Cast(KT("timings__total"), FloatField())
    rows = Prediction.objects.annotate(seconds=seconds).aggregate(
        count=Count("pk", filter=Q(seconds__isnull=False)),
        sum=Sum("seconds"),
        **{f"le{i}": Count("pk", filter=Q(seconds__lte=bound)) for i, bound in enumerate(LATENCY_BUCKETS)},
    )
    latency = HistogramMetricFamily(
        "nba_prediction_latency_seconds",
        "From POST to the stored range (Prediction.timings['total']).",
        buckets=[(str(bound), rows[f"le{i}"]) for i, bound in enumerate(LATENCY_BUCKETS)] + [("+Inf", rows["count"])],
        sum_value=rows["sum"] or 0.0,
    )
    return [submitted, succeeded, failed, latency]


register_metrics(prediction_metrics)

from predictions import slate_services  # noqa: E402
from predictions.slate_models import Slate  # noqa: E402

register_schedule_setup(slate_services.ensure_sweeper_schedule)

register_job_kind(
    Slate,
    kind="slate",
    title=lambda row: f"slate of {row.date.isoformat()}",
    stage=lambda row: row.progress_text,
    link_label=lambda row: f"slate of {row.date.isoformat()}",
)


def slate_metrics():
    """Slates from their rows at each scrape (one aggregate query): how many were asked, finished
    and failed, the players computed, the seconds from POST to success, and the sweeper's re-publications."""
    from django.db.models import Count, Q, Sum
    from prometheus_client.core import CounterMetricFamily, SummaryMetricFamily

    Status = Slate.Status
    rows = Slate.objects.aggregate(
        total=Count("pk"),
        succeeded=Count("pk", filter=Q(status=Status.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=Status.FAILED)),
        players=Sum("players_done", filter=Q(status=Status.SUCCEEDED)),
        timed=Count("pk", filter=Q(status=Status.SUCCEEDED, seconds__isnull=False)),
        seconds=Sum("seconds", filter=Q(status=Status.SUCCEEDED)),
        sweeps=Sum("sweeps"),
    )
    families = []
    for name, text, value in (
        ("nba_slates_submitted", "Slates stored (one per date and active model set).", rows["total"]),
        ("nba_slates_succeeded", "Slates computed to the end.", rows["succeeded"]),
        ("nba_slates_failed", "Slates failed.", rows["failed"]),
        ("nba_slate_players", "Players' ranges of the succeeded slates.", rows["players"] or 0),
        ("nba_slate_sweeps", "Times the slate sweeper re-published a silent slate's lost work.", rows["sweeps"] or 0),
    ):
        family = CounterMetricFamily(name, text)
        family.add_metric([], value)
        families.append(family)
    families.append(
        SummaryMetricFamily(
            "nba_slate_seconds",
            "From POST to the succeeded slate (Slate.seconds).",
            count_value=rows["timed"],
            sum_value=rows["seconds"] or 0.0,
        )
    )
    return families


register_metrics(slate_metrics)


# --- the daily pipeline: yesterday's box scores -> load -> today's slate (predictions/daily_*.py) ---------
from operations.registry import register_action, register_schedules  # noqa: E402
from predictions import daily_tasks  # noqa: E402,F401  (registers the pipeline's tasks in every process)
from predictions.daily_models import DailyRun  # noqa: E402

DAILY_SCHEDULE_NAME = "daily: yesterday's box scores -> load -> today's slate"
DAILY_SWEEPER_SCHEDULE_NAME = "daily: start again the days whose chain was lost"

register_job_kind(
    DailyRun,
    kind="daily",
    task_keys=DailyRun.TASK_KEYS,
    title=lambda run: f"daily of {run.date.isoformat()} (box scores of {run.box_score_date.isoformat()})",
    link_label=lambda run: f"daily run of {run.date.isoformat()}",
)

register_schedules(
    [
        {
            "name": DAILY_SCHEDULE_NAME,
            "task": "predictions.tasks.daily_pipeline",
            "kwargs": {},
            # 10:30 UTC = 5:30-6:30 am US Eastern: every game of the previous US evening has ended, after the
            # schedule scrape (09:30) has put today's games in the warehouse.
            "crontab": {"minute": "30", "hour": "10", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
            "description": (
                "Daily: one chain across the scraping, etl and predictions queues. Crawls basketball-reference's box "
                "scores of yesterday's games, loads them into the warehouse in one transaction, then computes today's "
                "slate with them (today: AS_OF_DATE when set, else today in UTC). Shown as one 'daily' job with its "
                '3 steps on the Pipeline page; a failed step stops the chain with the reason. Enable "Scrape this and '
                "next month's schedule\" too, so today's games are in the warehouse. Keyword arguments: "
                '"date": "YYYY-MM-DD" runs another day (its slate; the box scores of the day before).'
            ),
        },
        {
            "name": DAILY_SWEEPER_SCHEDULE_NAME,
            "task": "predictions.tasks.sweep_lost_daily_runs",
            "kwargs": {},
            "crontab": {"minute": "*/15", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
            "enabled": True,
            "description": (
                "Every 15 minutes: a daily run still queued or running 2 hours after it started lost its chain "
                "(a worker gone for good, messages the broker lost). It is started again as a new attempt, and "
                "failed with the reason after 3 attempts (predictions.daily_services.sweep_lost_daily_runs)."
            ),
        },
    ]
)

register_action(
    "daily",
    label="Run the daily pipeline now",
    permission="predictions.add_dailyrun",
    task="predictions.tasks.daily_pipeline",
)
