"""Admin of the scraping app: scrape runs (live progress, errors, log, linked TaskResult) and
the staging rows they wrote. Scheduled scrapes are django-celery-beat Periodic tasks."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from operations.job_admin import JobAdminMixin
from operations.staff_actions import task_action
from scraping.models import ScrapeRun, StagedGame, StagedLine


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by crawls: looked at, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScrapeRun)
class ScrapeRunAdmin(JobAdminMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "spider",
        "arguments",
        "status",
        "pages",
        "items",
        "errors",
        "created_at",
        "took",
        "task_results",
        "loaded",
    )
    list_filter = ("status", "spider")
    search_fields = ("task_id", "args", "message")
    date_hierarchy = "created_at"
    actions = ("crawl_again", "load_now")
    fields = (
        "spider",
        "arguments",
        "status",
        "message",
        "pages",
        "items",
        "errors",
        "errors_found",
        "created_at",
        "started_at",
        "finished_at",
        "task_results",
        "staged",
        "warehouse",
        "loaded_at",
        "log",
    )
    readonly_fields = fields

    @admin.display(description="arguments")
    def arguments(self, run):
        return " ".join(f"{key}={value}" for key, value in run.args.items())

    @admin.display(description="took")
    def took(self, run):
        return f"{run.duration.total_seconds():.1f} s" if run.duration else "-"

    @admin.display(description="loaded", boolean=True)
    def loaded(self, run):
        return run.loaded_at is not None

    @admin.display(description="errors found")
    def errors_found(self, run):
        if not run.error_list:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{}: {}</li>", ((e.get("url"), e.get("reason")) for e in run.error_list)),
        )

    @admin.display(description="staged rows")
    def staged(self, run):
        games = reverse("admin:scraping_stagedgame_changelist") + f"?run={run.pk}"
        lines = reverse("admin:scraping_stagedline_changelist") + f"?run={run.pk}"
        return format_html(
            '<a href="{}">{} games</a>, <a href="{}">{} player lines</a>',
            games,
            run.staged_games.count(),
            lines,
            run.staged_lines.count(),
        )

    @admin.display(description="warehouse upserts")
    def warehouse(self, run):
        return json.dumps(run.summary) if run.summary else "-"

    @admin.display(description="log tail")
    def log(self, run):
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 30em; overflow: auto">{}</pre>', run.log_tail or ""
        )

    crawl_again = task_action(
        "Crawl again with the same arguments",
        "scraping.tasks.crawl",
        lambda run: ([run.spider], run.args, f"Crawl {run.spider} again"),
        "{} crawl(s) queued; they appear as new runs.",
    )
    load_now = task_action(
        "Load the staged rows into the warehouse now",
        "scraping.tasks.load_staged",
        lambda run: ([run.pk], None, f"Load the staged rows of scrape run {run.pk}"),
        "{} load(s) queued on the etl queue.",
    )


class StagedRowAdmin(ReadOnlyAdmin):
    """The list of staged rows of one kind: its own `columns` and `filters`, then what every staged
    row (StagedRow) has: how loading it went and its run; filtered by page kind and load status."""

    columns: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()

    def get_list_display(self, request):
        return (*self.columns, "load_status", "load_message", "run")

    def get_list_filter(self, request):
        return ("kind", *self.filters, "load_status")


@admin.register(StagedGame)
class StagedGameAdmin(StagedRowAdmin):
    columns = (
        "bref_game_id",
        "kind",
        "date",
        "away_code",
        "away_score",
        "home_code",
        "home_score",
        "overtimes",
        "status",
    )
    filters = ("status",)
    search_fields = ("bref_game_id", "home_code", "away_code")
    raw_id_fields = ("run", "game")


@admin.register(StagedLine)
class StagedLineAdmin(StagedRowAdmin):
    columns = (
        "player_name",
        "player_bref_id",
        "bref_game_id",
        "team_code",
        "played",
        "reason",
        "starter",
        "seconds",
        "pts",
        "reb",
        "ast",
    )
    filters = ("played",)
    search_fields = ("player_name", "player_bref_id", "bref_game_id")
    raw_id_fields = ("run", "staged_game", "player")
