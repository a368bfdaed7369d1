"""Admin of the etl app: the warehouse (teams, players, games, lines) and the loads (runs,
quarantined rows). Every changelist selects its related rows in the same query (no N+1)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from etl.models import EtlRun, Game, Player, PlayerGameLog, QuarantinedRow, Team, TeamAlias
from operations.job_admin import JobAdminMixin


class TeamAliasInline(admin.TabularInline):
    model = TeamAlias
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["code", "bref_code", "name", "nickname", "nba_id"]
    search_fields = ["code", "bref_code", "name", "nickname", "aliases__alias"]
    inlines = [TeamAliasInline]


@admin.register(TeamAlias)
class TeamAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "team"]
    list_select_related = ["team"]
    search_fields = ["alias", "team__code", "team__name"]
    list_filter = ["team"]


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ["name", "normalised_name", "nba_id", "bref_id"]
    search_fields = ["name", "normalised_name", "=nba_id", "=bref_id"]
    readonly_fields = ["normalised_name"]
    show_full_result_count = False


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = [
        "date",
        "away",
        "home",
        "score",
        "overtimes",
        "status",
        "season",
        "season_type",
        "nba_game_id",
        "bref_game_id",
    ]
    list_filter = ["season", "status", "season_type", "date"]
    date_hierarchy = "date"
    search_fields = ["nba_game_id", "bref_game_id", "home__code", "away__code", "home__name", "away__name"]
    list_select_related = ["home", "away"]
    show_full_result_count = False

    @admin.display(description="score (away–home)")
    def score(self, obj):
        if obj.home_score is None or obj.away_score is None:
            return "–"
        return f"{obj.away_score}–{obj.home_score}"


@admin.register(PlayerGameLog)
class PlayerGameLogAdmin(admin.ModelAdmin):
    list_display = [
        "date",
        "player",
        "team",
        "home_or_away",
        "opponent",
        "minutes",
        "pts",
        "reb",
        "ast",
        "plus_minus",
        "source",
    ]
    list_filter = ["season", "source", "is_home", "starter", "team"]
    search_fields = ["player__name", "player__normalised_name", "=player__nba_id", "=game__nba_game_id"]
    raw_id_fields = ["player", "game"]
    list_select_related = ["player", "team", "opponent"]
    show_full_result_count = False
    ordering = ["-date"]

    @admin.display(description="", ordering="is_home")
    def home_or_away(self, obj):
        return "vs" if obj.is_home else "@"

    @admin.display(description="min", ordering="seconds")
    def minutes(self, obj):
        return f"{obj.seconds // 60}:{obj.seconds % 60:02d}"


class QuarantinedRowInline(admin.TabularInline):
    model = QuarantinedRow
    fields = ["source_file", "line_number", "reason", "raw_line"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("source_file", "line_number")


def run_count(run: EtlRun, key: str):
    """One of a run's counts (read, inserted, ...); "–" when it has none (not finished)."""
    return (run.counts or {}).get(key, "–")


def count_column(key: str):
    """A changelist column showing the run's count `key`."""
    return admin.display(description=key)(lambda self, obj: run_count(obj, key))


@admin.register(EtlRun)
class EtlRunAdmin(JobAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "progress",
        "rows_read",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "task_results",
        "source_short",
    ]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["source", "task_id", "message", "sha256"]
    date_hierarchy = "created_at"
    actions = ["load_again"]

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in EtlRun._meta.fields), "task_results", "quarantined_rows"]

    def has_add_permission(self, request):
        return False

    def get_inlines(self, request, obj):
        # The rejected rows of a run, when there are few enough to read on one page.
        if obj is not None and 0 < obj.quarantined.count() <= 200:
            return [QuarantinedRowInline]
        return []

    rows_read = count_column("read")
    inserted = count_column("inserted")
    updated = count_column("updated")
    unchanged = count_column("unchanged")

    @admin.display(description="rejected")
    def rejected(self, obj):
        count = run_count(obj, "rejected")
        if not count or count == "–":
            return count
        url = reverse("admin:etl_quarantinedrow_changelist") + f"?run__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.display(description="source")
    def source_short(self, obj):
        first, _, rest = obj.source.partition("\n")
        return first[:80] + (f" (+{rest.count(chr(10)) + 1} more)" if rest else "")

    @admin.display(description="quarantined rows")
    def quarantined_rows(self, obj):
        count = obj.quarantined.count()
        url = reverse("admin:etl_quarantinedrow_changelist") + f"?run__id__exact={obj.pk}"
        return format_html('<a href="{}">{} row(s)</a>', url, count)

    @admin.action(description="Load the run's files again (as a task on the etl queue)")
    def load_again(self, request, queryset):
        from operations.staff_actions import start_task

        queued = 0
        for run in queryset:
            paths = [line.strip() for line in run.source.splitlines() if line.strip()]
            if paths:
                start_task(
                    request.user,
                    "etl.tasks.load_gamelogs",
                    args=[paths],
                    obj=run,
                    description=f"Load the files of ETL run {run.pk} again",
                )
                queued += 1
        self.message_user(request, f"{queued} load(s) queued on the etl queue.", messages.SUCCESS)


@admin.register(QuarantinedRow)
class QuarantinedRowAdmin(admin.ModelAdmin):
    list_display = ["source_file", "line_number", "reason", "raw_short", "run_link", "created_at"]
    list_filter = ["source_file", "created_at"]
    search_fields = ["reason", "raw_line", "source_file", "=file_sha256"]
    list_select_related = ["run"]
    raw_id_fields = ["run"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in QuarantinedRow._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description="line as read")
    def raw_short(self, obj):
        return obj.raw_line[:120]

    @admin.display(description="run", ordering="run")
    def run_link(self, obj):
        if obj.run is None:
            return "–"
        url = reverse("admin:etl_etlrun_change", args=[obj.run_id])
        return format_html('<a href="{}">{}</a>', url, f"run {obj.run_id} ({obj.run.status})")
