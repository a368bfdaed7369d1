"""The admin site: Django's, plus the live Pipeline page for staff."""
from __future__ import annotations

from django.contrib import admin
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path


class NbaAdminSite(admin.AdminSite):
    site_header = "nbaproject administration"
    site_title = "nbaproject admin"
    index_title = "Operations"

    def get_urls(self):
        custom = [
            path("pipeline/", self.admin_view(self.pipeline_view), name="pipeline"),
            path("pipeline/data/", self.admin_view(self.pipeline_data_view), name="pipeline-data"),
        ]
        return custom + super().get_urls()

    def pipeline_view(self, request):
        context = {**self.each_context(request), "title": "Pipeline"}
        return TemplateResponse(request, "admin/pipeline.html", context)

    def pipeline_data_view(self, request):
        from nbaproject.dashboard import pipeline_snapshot

        response = JsonResponse(pipeline_snapshot())
        response["Cache-Control"] = "no-store"
        return response
