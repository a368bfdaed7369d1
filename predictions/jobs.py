"""What the predictions app contributes to operations (operations.registry): its job kind
(prediction requests, one task per pipeline step) and the sweeper's beat entry."""
from operations.registry import register_job_kind, register_schedule_setup
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
    PredictionRequest, kind="prediction", title=title, stage=stage, limit=50, task_keys=tuple(STEP_NAMES),
    message=lambda row: row.message or row.enqueue_error or None,
    queryset=lambda: PredictionRequest.objects.select_related("user", "player", "opponent").order_by("-created_at"))

register_schedule_setup(ensure_sweeper)

from predictions.slate_models import Slate  # noqa: E402

register_job_kind(Slate, kind="slate", title=lambda row: f"slate of {row.date.isoformat()}",
                  stage=lambda row: row.progress_text, link_label=lambda row: f"slate of {row.date.isoformat()}")
