"""Staff pages of slates (registered from predictions/admin.py)."""

from django.contrib import admin

from operations.job_admin import JobAdminMixin
from predictions.slate_models import Slate, SlatePrediction


class SlatePredictionInline(admin.TabularInline):
    model = SlatePrediction
    fields = ["game", "player", "team", "p10", "p50", "p90", "data_through", "actual"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("game", "player", "team")


@admin.register(Slate)
class SlateAdmin(JobAdminMixin, admin.ModelAdmin):
    list_display = ["date", "status", "progress_text", "percent", "coverage_80", "seconds", "created_at"]
    list_filter = ["status", "date"]
    readonly_fields = ["task_results", "progress_text"]
    inlines = [SlatePredictionInline]

    @admin.display(description="progress")
    def progress_text(self, obj):
        return obj.progress_text
