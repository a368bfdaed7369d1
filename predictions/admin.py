"""Admin of the predictions app: requests with their progress, result and linked TaskResults."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from operations.job_admin import JobAdminMixin
from predictions.models import Prediction, PredictionEvent, PredictionRequest


def features_table(features: dict | None):
    """Feature values as a two-column table (name, value), in the models' order (a JSON column
    does not keep the order of its keys); "–" when none."""
    from mlmodels.features import FEATURE_NAMES

    if not features:
        return "–"
    position = {name: index for index, name in enumerate(FEATURE_NAMES)}
    names = sorted(features, key=lambda name: (position.get(name, len(position)), name))
    rows = format_html_join(
        "",
        '<tr><td class="feature-name">{}</td><td class="feature-value">{}</td></tr>',
        ((name, _feature_value(features[name])) for name in names),
    )
    return format_html(
        '<div class="features-box"><table class="features"><thead><tr><th scope="col">Feature</th>'
        '<th scope="col">Value</th></tr></thead><tbody>{}</tbody></table></div>',
        rows,
    )


def seconds_text(timings: dict | None) -> str:
    """Seconds per step in the pipeline's order, then time queued and in total: 'resolve 0.07 s · ...'."""
    from predictions.models import STEP_NAMES

    if not timings:
        return "–"
    order = [*STEP_NAMES, "queued", "total"]
    names = sorted(timings, key=lambda name: (order.index(name) if name in order else len(order), name))
    return " · ".join(
        f"{name} {timings[name]:.2f} s" if isinstance(timings[name], (int, float)) else f"{name} {timings[name]}"
        for name in names
    )


def model_outputs_table(outputs: dict | None):
    """Each model's own range and version, one row per algorithm."""
    if not outputs:
        return "–"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                name,
                *(f"{out.get(q):.1f}" if isinstance(out.get(q), (int, float)) else "–" for q in ("p10", "p50", "p90")),
                "–" if out.get("model_version") is None else _feature_value(out["model_version"]),
            )
            for name, out in sorted(outputs.items())
        ),
    )
    return format_html(
        '<table class="model-outputs"><thead><tr><th scope="col">Model</th><th scope="col">p10</th>'
        '<th scope="col">p50</th><th scope="col">p90</th><th scope="col">Version</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        rows,
    )


def _feature_value(value) -> str:
    if value is None:
        return "– (unknown)"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


class PredictionInline(admin.StackedInline):
    model = Prediction
    can_delete = False
    extra = 0

    # The features are shown once, as a table, on the request itself.
    fields = [
        "range",
        "data_through",
        "days_since_last_game",
        "model_outputs_table",
        "timings_text",
        "actual_points",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="range (p10 / p50 / p90)")
    def range(self, obj):
        return f"{obj.p10:.1f} / {obj.p50:.1f} / {obj.p90:.1f} points"

    @admin.display(description="models")
    def model_outputs_table(self, obj):
        return model_outputs_table(obj.model_outputs)

    @admin.display(description="timings")
    def timings_text(self, obj):
        return seconds_text(obj.timings)


class EventInline(admin.TabularInline):
    model = PredictionEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "step", "step_index", "percent", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PredictionRequest)
class PredictionRequestAdmin(JobAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "user",
        "request_label",
        "status",
        "stage",
        "percent",
        "range",
        "attempts",
        "message_short",
    ]
    list_filter = ["status", "stage", "created_at"]
    search_fields = [
        "id",
        "player_input",
        "opponent_input",
        "player__name",
        "user__username",
        "message",
        "idempotency_key",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["user", "prediction", "player", "opponent"]
    inlines = [PredictionInline, EventInline]
    readonly_fields = ["task_results"]
    actions = ["requeue", "retry_failed"]

    class Media:
        css = {"all": ["predictions/admin.css"]}

    def get_fields(self, request, obj=None):
        # Shown once, readably: features and timings below, task ids as links in task_results.
        fields = [
            f.name if f.name != "timings" else "timings_text"
            for f in PredictionRequest._meta.fields
            if f.name not in ("features", "task_ids")
        ]
        return [*fields, "features_table", "task_results"]

    @admin.display(description="timings")
    def timings_text(self, obj):
        return seconds_text(obj.timings)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="features")
    def features_table(self, obj):
        """The features the models saw (the request's, else its stored prediction's), name and value."""
        prediction = getattr(obj, "prediction", None)
        return features_table(obj.features or (prediction.features if prediction else None))

    def has_add_permission(self, request):
        return False

    @admin.display(description="request", ordering="player_input")
    def request_label(self, obj):
        """The resolved player (and opponent, date) once known, what was typed until then."""
        return obj.label

    @admin.display(description="range")
    def range(self, obj):
        prediction = getattr(obj, "prediction", None)
        return f"{prediction.p10:.0f}-{prediction.p90:.0f} ({prediction.p50:.0f})" if prediction else "–"

    @admin.display(description="message")
    def message_short(self, obj):
        return (obj.message or obj.enqueue_error)[:80]

    @admin.action(description="Queue again (stuck requests only)")
    def requeue(self, request, queryset):
        from predictions.pipeline import enqueue

        queued = self._publish(
            request, queryset.filter(status=PredictionRequest.Status.QUEUED), enqueue, "Queued the request again"
        )
        self.message_user(request, f"{queued} request(s) queued again; running or finished ones were skipped.")

    @admin.action(description="Retry (failed requests only): run the pipeline again from the start")
    def retry_failed(self, request, queryset):
        from predictions.pipeline import retry_failed

        retried = self._publish(
            request, queryset.filter(status=PredictionRequest.Status.FAILED), retry_failed, "Retried the failed request"
        )
        self.message_user(request, f"{retried} failed request(s) queued again; the others were skipped.")

    @staticmethod
    def _publish(request, queryset, publish, message: str) -> int:
        """Publish each request's new run and record it (with its task ids) for the Pipeline page."""
        from operations.staff_actions import record

        done = 0
        for job in queryset:
            if publish(job.pk):
                job.refresh_from_db(fields=["task_ids"])
                marks = " ".join(f"[task {task_id}]" for task_id in (job.task_ids or {}).values())
                record(request.user, f"{message} {job.label} {marks}".strip(), job)
                done += 1
        return done


from predictions import daily_admin, slate_admin  # noqa: E402,F401  (slates' and the daily runs' admin: own modules)
