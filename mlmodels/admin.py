"""Admin of the mlmodels app: model versions with their metrics and plots, training runs and
backtests. Everything is read-only (the registry is written by training); the one change staff
can make is the "activate" action on a version."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from mlmodels.models import BacktestReport, ModelVersion, TrainingRun
from operations.job_admin import JobAdminMixin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return (
            [f.name for f in self.model._meta.fields]
            + [f.name for f in self.model._meta.many_to_many]
            + list(self.extra_readonly)
        )

    extra_readonly: tuple = ()


class PlotsMixin:
    """Serves the PNGs listed in an object's `plots` (paths under MODEL_DIR) to staff who may
    view the object, and shows them inline on its page."""

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<int:pk>/plot/<int:index>.png",
                self.admin_site.admin_view(self.plot_view),
                name="{}_{}_plot".format(*info),
            )
        ] + super().get_urls()

    def plot_view(self, request, pk: int, index: int):
        obj = self.get_object(request, str(pk))
        if obj is None:
            raise Http404("no such object")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        plots = obj.plots or []
        if index >= len(plots):
            raise Http404("no such plot")
        root = Path(settings.MODEL_DIR).resolve()
        file = (root / plots[index]).resolve()
        if root not in file.parents or not file.is_file():
            raise Http404("plot file missing")
        return FileResponse(file.open("rb"), content_type="image/png")

    @admin.display(description="plots")
    def plot_images(self, obj):
        if not obj or not obj.plots:
            return "–"
        info = self.model._meta.app_label, self.model._meta.model_name
        urls = [(reverse("admin:{}_{}_plot".format(*info), args=[obj.pk, i]), name) for i, name in enumerate(obj.plots)]
        return format_html_join(
            "",
            '<div style="margin:0 0 12px"><img src="{}" alt="{}" style="max-width:100%;border:1px solid #ddd"></div>',
            urls,
        )


def _metric(obj, key, digits=3):
    value = (obj.metrics or {}).get(key)
    return "–" if value is None else f"{value:.{digits}f}"


def _pretty(data) -> str:
    return format_html('<pre style="margin:0">{}</pre>', json.dumps(data, indent=2))


@admin.register(ModelVersion)
class ModelVersionAdmin(PlotsMixin, ReadOnlyAdmin):
    list_display = [
        "__str__",
        "algorithm",
        "active",
        "purpose",
        "validation_season",
        "mae",
        "pinball",
        "coverage_80",
        "width_80",
        "rows_train",
        "rows_validation",
        "training_seconds",
        "created",
    ]
    list_filter = ["active", "algorithm", "purpose", "feature_set_version", "validation_season"]
    list_select_related = ["training_run"]
    search_fields = ["=id", "notes", "task_id"]
    actions = ["activate_versions"]
    extra_readonly = ("plot_images", "metrics_table", "hyperparameters_json")
    fieldsets = [
        (None, {"fields": ["algorithm", "active", "purpose", "feature_set_version", "notes", "created"]}),
        ("Validation", {"fields": ["metrics_table", "plot_images"]}),
        (
            "Training data",
            {
                "fields": [
                    "train_seasons",
                    "validation_season",
                    "data_from",
                    "data_until",
                    "rows_train",
                    "rows_validation",
                    "training_seconds",
                    "training_run",
                    "task_id",
                ]
            },
        ),
        ("Model", {"fields": ["hyperparameters_json", "artifacts", "plots"]}),
    ]

    @admin.display(description="mae")
    def mae(self, obj):
        return _metric(obj, "mae")

    @admin.display(description="pinball")
    def pinball(self, obj):
        return _metric(obj, "pinball")

    @admin.display(description="coverage 80")
    def coverage_80(self, obj):
        return _metric(obj, "coverage_80")

    @admin.display(description="width 80")
    def width_80(self, obj):
        return _metric(obj, "width_80", 1)

    @admin.display(description="validation metrics")
    def metrics_table(self, obj):
        metrics = obj.metrics or {}
        rows = [(obj.algorithm, metrics)] + ([("ensemble", metrics["ensemble"])] if metrics.get("ensemble") else [])
        return format_html(
            "<table><tr><th></th><th>mae</th><th>pinball</th><th>coverage_80</th><th>width_80</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (name, *(f"{m.get(k, float('nan')):.3f}" for k in ("mae", "pinball", "coverage_80", "width_80")))
                    for name, m in rows
                ),
            ),
        )

    @admin.display(description="hyperparameters")
    def hyperparameters_json(self, obj):
        return _pretty(obj.hyperparameters)

    @admin.action(description="Activate the selected version (one per algorithm)", permissions=["change"])
    def activate_versions(self, request, queryset):
        from mlmodels.registry import activate

        chosen = list(queryset)
        algorithms = [v.algorithm for v in chosen]
        if len(set(algorithms)) != len(algorithms):
            self.message_user(request, "Select at most one version per algorithm.", messages.ERROR)
            return
        for version in chosen:
            if version.purpose != ModelVersion.Purpose.SERVING:
                self.message_user(
                    request, f"{version} was trained for a backtest and cannot be served.", messages.ERROR
                )
                continue
            activate(version)
            self.log_change(request, version, "activated")
            self.message_user(
                request,
                f"{version} is now the active {version.algorithm} model; workers load it on their next prediction.",
                messages.SUCCESS,
            )


@admin.register(TrainingRun)
class TrainingRunAdmin(JobAdminMixin, ReadOnlyAdmin):
    list_display = [
        "__str__",
        "kind",
        "status",
        "stage",
        "epoch",
        "percent",
        "seasons_span",
        "quick",
        "started_at",
        "finished_at",
        "version_links",
        "task_results",
    ]
    list_filter = ["status", "kind", "quick"]
    search_fields = ["=id", "task_id", "message"]
    extra_readonly = ("version_links", "task_results")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("versions")

    @admin.display(description="seasons")
    def seasons_span(self, obj):
        seasons = obj.seasons or []
        return f"{seasons[0]}..{seasons[-1]}" if len(seasons) > 1 else (seasons[0] if seasons else "–")

    @admin.display(description="versions")
    def version_links(self, obj):
        versions = list(obj.versions.all())
        if not versions:
            return "–"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:mlmodels_modelversion_change", args=[v.pk]), str(v)) for v in versions),
        )


def backtest_metric(report: BacktestReport, model: str, metric: str):
    """A metric of one model of a backtest's result (None when it has none)."""
    return (((report.result or {}).get("models") or {}).get(model) or {}).get(metric)


def backtest_metric_column(model: str, metric: str, description: str):
    """A changelist column showing `metric` of `model` in the backtest's result, to 3 decimals."""

    def column(self, report):
        value = backtest_metric(report, model, metric)
        return "–" if value is None else f"{value:.3f}"

    return admin.display(description=description)(column)


@admin.register(BacktestReport)
class BacktestReportAdmin(PlotsMixin, ReadOnlyAdmin):
    list_display = [
        "__str__",
        "test_season",
        "rows",
        "ensemble_mae",
        "last10_mae",
        "ratio_vs_last10",
        "ensemble_coverage",
        "quick",
        "seconds",
        "created",
    ]
    list_filter = ["test_season", "quick"]
    extra_readonly = ("plot_images", "result_table", "populations_table", "result_json", "version_links")
    fieldsets = [
        (None, {"fields": ["test_season", "rows", "quick", "seconds", "created", "task_id"]}),
        ("Result", {"fields": ["result_table", "populations_table", "plot_images", "result_json"]}),
        ("Models", {"fields": ["version_links", "plots"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("model_versions")

    ensemble_mae = backtest_metric_column("ensemble", "mae", "ensemble mae")
    last10_mae = backtest_metric_column("baseline_last10", "mae", "last-10 mae")

    @admin.display(description="ensemble / last-10")
    def ratio_vs_last10(self, obj):
        ours, base = backtest_metric(obj, "ensemble", "mae"), backtest_metric(obj, "baseline_last10", "mae")
        return "–" if not ours or not base else f"{ours / base:.3f}"

    ensemble_coverage = backtest_metric_column("ensemble", "coverage_80", "coverage 80")

    @admin.display(description="models")
    def result_table(self, obj):
        models = (obj.result or {}).get("models") or {}
        base = (models.get("baseline_last10") or {}).get("mae")

        def cell(m, key):
            return "–" if key not in m else f"{m[key]:.3f}"

        return format_html(
            "<table><tr><th>model</th><th>mae</th><th>x last-10</th><th>pinball</th><th>coverage_80</th>"
            "<th>width_80</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        name,
                        cell(m, "mae"),
                        f"{m['mae'] / base:.3f}" if base and "mae" in m else "–",
                        cell(m, "pinball"),
                        cell(m, "coverage_80"),
                        cell(m, "width_80"),
                    )
                    for name, m in models.items()
                ),
            ),
        )

    @admin.display(description="populations")
    def populations_table(self, obj):
        """One row per (population, model): rows, mae, x last-10 in that population, coverage, width."""
        populations = (obj.result or {}).get("populations") or {}
        if not populations:
            return "–"

        def cell(m, key, digits=3):
            return "–" if key not in m else f"{m[key]:.{digits}f}"

        lines = []
        for name, entry in populations.items():
            models = entry.get("models") or {}
            base = (models.get("baseline_last10") or {}).get("mae")
            for model, m in models.items():
                lines.append(
                    (
                        name,
                        entry.get("rows", 0),
                        model,
                        cell(m, "mae"),
                        f"{m['mae'] / base:.3f}" if base and "mae" in m else "–",
                        cell(m, "coverage_80"),
                        cell(m, "width_80", 1),
                    )
                )
        return format_html(
            "<table><tr><th>population</th><th>rows</th><th>model</th><th>mae</th><th>x last-10</th>"
            "<th>coverage_80</th><th>width_80</th></tr>{}</table>",
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", lines
            ),
        )

    @admin.display(description="JSON")
    def result_json(self, obj):
        return _pretty(obj.result)

    @admin.display(description="model versions")
    def version_links(self, obj):
        return (
            format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                (
                    (reverse("admin:mlmodels_modelversion_change", args=[v.pk]), str(v))
                    for v in obj.model_versions.all()
                ),
            )
            or "–"
        )
