"""What each app contributes to operations, declared in its own `<app>/jobs.py`.

OperationsConfig.ready() imports every installed app's `jobs` module
(`autodiscover_modules("jobs")`); those modules call the `register_*` functions below. Operations
itself never names an app: the Pipeline page's job rows, the TaskResult admin's links back to
jobs, the beat schedules and the staff buttons are all built from what was registered here.

- `register_job_kind(model, ...)`: a model inheriting operations.models.Job, how its rows read on
  the Pipeline page (kind, title, stage text), and how TaskResults link back to it.
- `register_schedules(specs)` / `register_schedule_setup(fn)`: beat entries (operations.schedules).
- `register_action(slug, ...)`: a button of the Pipeline page that starts a task.
- `register_metrics(source)`: a function returning Prometheus metric families (prometheus_client.core),
  computed at scrape time from the database, for `/metrics` (operations.metrics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

_job_kinds: list[JobKind] = []
_schedules: list[dict] = []
_schedule_setups: list[Callable[[], list[tuple[str, bool]]]] = []
_actions: dict[str, PipelineAction] = {}
_metric_sources: list[Callable[[], object]] = []


@dataclass(frozen=True)
class JobKind:
    """One kind of job row (a Job model) as operations shows and links it."""

    model: type
    kind: str | Callable[[object], str]  # the Pipeline page's "kind" column, or a function of the row
    title: Callable[[object], str]
    stage: Callable[[object], str] | None = None  # the "stage" column; default "i/n stage"
    message: Callable[[object], str | None] | None = None  # default: the row's message, when set
    link_label: Callable[[object], str] | None = None  # the TaskResult admin's "belongs to"
    queryset: Callable[[], object] | None = None  # the rows to list, newest first
    limit: int = 20
    measured: bool = True  # False: the percent shows only when finished (a crawl is not measured)
    task_keys: tuple[str, ...] = field(default=())  # the labels of a JSON task-id field (Job.TASK_FIELDS "*")

    def kind_of(self, job) -> str:
        return self.kind(job) if callable(self.kind) else self.kind

    def stage_of(self, job) -> str:
        if self.stage is not None:
            return self.stage(job)
        return f"{job.step_index}/{job.step_count} {job.stage}" if job.step_count else job.stage

    def message_of(self, job) -> str | None:
        return self.message(job) if self.message is not None else (job.message or None)

    def percent_of(self, job) -> int | None:
        if not self.measured:
            return 100 if job.is_finished else None
        return job.percent

    def label_of(self, job) -> str:
        if self.link_label is not None:
            return self.link_label(job)
        return f"{self.model._meta.verbose_name} {job.pk}"

    def recent(self):
        rows = self.queryset() if self.queryset is not None else self.model._default_manager.order_by("-created_at")
        return list(rows[: self.limit])


@dataclass(frozen=True)
class PipelineAction:
    slug: str
    label: str
    permission: str
    task: str
    kwargs: dict = field(default_factory=dict)


def register_job_kind(model: type, **options) -> JobKind:
    kind = JobKind(model=model, **options)
    _job_kinds[:] = [k for k in _job_kinds if k.model is not model] + [kind]  # importing twice is harmless
    return kind


def register_schedules(specs: list[dict]) -> None:
    """Crontab beat entries, created when missing (operations.schedules.ensure_periodic_tasks)."""
    names = {spec["name"] for spec in specs}
    _schedules[:] = [spec for spec in _schedules if spec["name"] not in names] + list(specs)


def register_schedule_setup(setup: Callable[[], list[tuple[str, bool]]]) -> None:
    """A function that creates or updates its own beat entries; returns [(name, created)]."""
    if setup not in _schedule_setups:
        _schedule_setups.append(setup)


def register_action(slug: str, *, label: str, permission: str, task: str, kwargs: dict | None = None) -> None:
    _actions[slug] = PipelineAction(slug, label, permission, task, dict(kwargs or {}))


def register_metrics(source: Callable[[], object]) -> None:
    """A function yielding metric families (GaugeMetricFamily, CounterMetricFamily, ...) for /metrics.
    It runs at every scrape, so it reads the database (true across processes) and stays cheap."""
    if source not in _metric_sources:
        _metric_sources.append(source)


def job_kinds() -> list[JobKind]:
    return list(_job_kinds)


def schedules() -> list[dict]:
    return list(_schedules)


def schedule_setups() -> list[Callable[[], list[tuple[str, bool]]]]:
    return list(_schedule_setups)


def actions() -> dict[str, PipelineAction]:
    return dict(_actions)


def metric_sources() -> list[Callable[[], object]]:
    return list(_metric_sources)
