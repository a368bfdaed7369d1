"""The admin site: Django's, plus the live Pipeline page for staff and its action buttons."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from operations.dashboard import pipeline_snapshot
from operations.staff_actions import pipeline_actions, start_task


class NbaAdminSite(admin.AdminSite):
    site_header = "nbaproject administration"
    site_title = "nbaproject admin"
    index_title = "Operations"

    def get_urls(self):
        custom = [
            path("pipeline/", self.admin_view(self.pipeline_view), name="pipeline"),
            path("pipeline/data/", self.admin_view(self.pipeline_data_view), name="pipeline-data"),
            path(
                "pipeline/run/<slug:action>/",
                self.admin_view(require_POST(self.pipeline_action_view)),
                name="pipeline-action",
            ),
        ]
        return custom + super().get_urls()

    def pipeline_view(self, request):
        buttons = [
            {"action": slug, "label": action.label}
            for slug, action in pipeline_actions().items()
            if request.user.has_perm(action.permission)
        ]
        context = {**self.each_context(request), "title": "Pipeline", "actions": buttons}
        return TemplateResponse(request, "admin/pipeline.html", context)

    def pipeline_data_view(self, request):
        response = JsonResponse(pipeline_snapshot())
        response["Cache-Control"] = "no-store"
        return response

    def pipeline_action_view(self, request, action: str):
        """Start one of the Pipeline page's jobs (load bundled data, retrain) as a recorded task."""
        chosen = pipeline_actions().get(action)
        if chosen is None:
            raise Http404(f"no pipeline action {action!r}")
        if not request.user.has_perm(chosen.permission):
            raise PermissionDenied
        task_id = start_task(request.user, chosen.task, kwargs=chosen.kwargs, description=chosen.label)
        messages.success(request, f"{chosen.label}: task {task_id} queued; follow it below.")
        return HttpResponseRedirect(reverse("admin:pipeline"))
