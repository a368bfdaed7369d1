"""Staff pages of the daily pipeline's runs (registered from predictions/admin.py)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from operations.job_admin import JOB_FIELDS, JobAdminMixin
from operations.staff_actions import start_task
from predictions.daily_models import DailyRun


@admin.register(DailyRun)
class DailyRunAdmin(JobAdminMixin, admin.ModelAdmin):
    list_display = ["date", "status", "progress", "message", "attempts", "scrape_link", "slate_link", "created_at"]
    list_filter = ["status"]
    readonly_fields = [
        "date",
        *JOB_FIELDS,
        "attempts",
        "scrape_link",
        "slate_link",
        "summary",
        "task_results",
        "crawl_args",
        "requested_by",
    ]
    fields = readonly_fields
    actions = ["run_again"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="scrape run")
    def scrape_link(self, obj):
        if not obj.scrape_run_id:
            return "–"
        url = reverse("admin:scraping_scraperun_change", args=[obj.scrape_run_id])
        return format_html('<a href="{}">#{}</a>', url, obj.scrape_run_id)

    @admin.display(description="slate")
    def slate_link(self, obj):
        if not obj.slate_id:
            return "–"
        return format_html(
            '<a href="{}">slate of {}</a>', reverse("admin:predictions_slate_change", args=[obj.slate_id]), obj.date
        )

    @admin.action(description="Run the selected days again now", permissions=["run"])
    def run_again(self, request, queryset):
        for run in queryset:
            start_task(
                request.user,
                "predictions.tasks.daily_pipeline",
                kwargs={"date": run.date.isoformat()},
                obj=run,
                description=f"Ran the daily pipeline of {run.date} again",
            )
        self.message_user(
            request, f"{queryset.count()} daily run(s) queued; follow them on the Pipeline page.", messages.SUCCESS
        )

    def has_run_permission(self, request):
        """Who may run a day (the action; the Pipeline page's button asks the same permission)."""
        return request.user.has_perm("predictions.add_dailyrun")
