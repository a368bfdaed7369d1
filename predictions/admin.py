"""Admin of the predictions app: requests with their progress, result and linked TaskResults."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django_celery_results.models import TaskResult

from predictions.models import Prediction, PredictionEvent, PredictionRequest


class PredictionInline(admin.StackedInline):
    model = Prediction
    can_delete = False
    extra = 0

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Prediction._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = PredictionEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "step", "step_index", "percent", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PredictionRequest)
class PredictionRequestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "request_label", "status", "step", "percent", "range", "attempts",
                    "error_short"]
    list_filter = ["status", "step", "created_at"]
    search_fields = ["id", "player_input", "opponent_input", "player__name", "user__username", "error",
                     "idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "prediction", "player", "opponent"]
    inlines = [PredictionInline, EventInline]
    readonly_fields = ["task_results"]
    actions = ["requeue", "retry_failed"]

    def get_readonly_fields(self, request, obj=None):
        return ["task_results", *[f.name for f in PredictionRequest._meta.fields]]

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

    @admin.display(description="error")
    def error_short(self, obj):
        return (obj.error or obj.enqueue_error)[:80]

    @admin.display(description="task results of the current run")
    def task_results(self, obj):
        ids = obj.task_ids or {}
        found = dict(TaskResult.objects.filter(task_id__in=ids.values()).values_list("task_id", "pk"))
        rows = []
        for step, task_id in ids.items():
            if task_id in found:
                url = reverse("admin:django_celery_results_taskresult_change", args=[found[task_id]])
                rows.append((step, format_html('<a href="{}">{}</a>', url, task_id)))
            else:
                rows.append((step, format_html("{} (no result yet)", task_id)))
        return format_html_join("", "<div>{}: {}</div>", rows) or "–"

    @admin.action(description="Queue again (stuck requests only)")
    def requeue(self, request, queryset):
        from predictions.pipeline import enqueue

        queued = self._publish(request, queryset.filter(status=PredictionRequest.Status.QUEUED), enqueue,
                               "Queued the request again")
        self.message_user(request, f"{queued} request(s) queued again; running or finished ones were skipped.")

    @admin.action(description="Retry (failed requests only): run the pipeline again from the start")
    def retry_failed(self, request, queryset):
        from predictions.pipeline import retry_failed

        retried = self._publish(request, queryset.filter(status=PredictionRequest.Status.FAILED), retry_failed,
                                "Retried the failed request")
        self.message_user(request, f"{retried} failed request(s) queued again; the others were skipped.")

    @staticmethod
    def _publish(request, queryset, publish, message: str) -> int:
        """Publish each request's new run and record it (with its task ids) for the Pipeline page."""
        from nbaproject.staff_actions import record

        done = 0
        for job in queryset:
            if publish(job.pk):
                job.refresh_from_db(fields=["task_ids"])
                marks = " ".join(f"[task {task_id}]" for task_id in (job.task_ids or {}).values())
                record(request.user, f"{message} {job.label} {marks}".strip(), job)
                done += 1
        return done
