"""Scrape runs and the staging rows they write.

A `ScrapeRun` records one crawl (spider, arguments, live progress, outcome, log tail, the
Celery task that ran it). Spiders never write the warehouse directly: their validated items
land in `StagedGame` / `StagedLine` (source URL, fetch time, raw cell values, parsed fields),
and `scraping.services.load_staged(run)` upserts those into `etl` Team/Player/Game/PlayerGameLog.
"""

from __future__ import annotations

from django.db import models

from operations.models import Job


class ScrapeRun(Job):
    TASK_FIELDS = {"crawl": "task_id", "load": "load_task_id"}

    class Spider(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        BOXSCORES = "boxscores", "Box scores"
        GAMELOG = "gamelog", "Player game log"

    spider = models.CharField(max_length=16, choices=Spider.choices)
    args = models.JSONField(default=dict, blank=True, help_text="Spider arguments, defaults filled in.")
    pages = models.PositiveIntegerField(
        default=0, help_text="Pages fetched and handled (robots.txt and retries excluded)."
    )
    items = models.PositiveIntegerField(default=0, help_text="Validated items written to staging.")
    errors = models.PositiveIntegerField(
        default=0, help_text="Pages or items that failed (404, changed layout, invalid)."
    )
    error_list = models.JSONField(default=list, blank=True, help_text="The first errors: url and reason.")
    log_tail = models.TextField(blank=True, help_text="Last lines of the crawl's log.")
    load_task_id = models.CharField(
        max_length=255, blank=True, help_text="Celery task id of the load step (etl queue)."
    )
    summary = models.JSONField(default=dict, blank=True, help_text="Warehouse upsert counts of the load step.")
    loaded_at = models.DateTimeField(null=True, blank=True, help_text="When the staged rows were loaded.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["spider", "-created_at"], name="scraperun_spider_created")]

    def __str__(self):
        args = " ".join(f"{key}={value}" for key, value in self.args.items() if key != "base_url")
        return f"#{self.pk} {self.spider} {args}".strip()


class LoadStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    LOADED = "loaded", "Loaded"
    STAGED_ONLY = "staged_only", "Kept in staging only"
    ERROR = "error", "Error"


class PageKind(models.TextChoices):
    """The kind of page a staged row was read from."""

    BOXSCORE = "boxscore", "Box score"
    SCHEDULE = "schedule", "Schedule"
    GAMELOG = "gamelog", "Game log"


class StagedRow(models.Model):
    """What every staged row carries: what kind of page it was read from, where and when, which game
    it belongs to, its cells as found, and how loading it into the warehouse went (as the crawler's
    items' PageGameFields)."""

    kind = models.CharField(max_length=8, choices=PageKind.choices)
    source_url = models.URLField(max_length=500)
    fetched_at = models.DateTimeField()
    bref_game_id = models.CharField(max_length=12, db_index=True)
    date = models.DateField()
    season = models.CharField(max_length=7)
    season_type = models.CharField(max_length=8, blank=True, help_text="regular/playoffs; blank when unknown.")
    raw = models.JSONField(default=dict, blank=True, help_text="Cell values as found on the page.")
    load_status = models.CharField(max_length=11, choices=LoadStatus.choices, default=LoadStatus.PENDING)
    load_message = models.CharField(max_length=300, blank=True)

    class Meta:
        abstract = True


class StagedGame(StagedRow):
    """A game as one page showed it (a box score's line score, or a schedule row)."""

    run = models.ForeignKey(ScrapeRun, on_delete=models.CASCADE, related_name="staged_games")
    start_time = models.CharField(max_length=16, blank=True)
    home_code = models.CharField(max_length=64)
    away_code = models.CharField(max_length=64)
    home_score = models.PositiveSmallIntegerField(null=True, blank=True)
    away_score = models.PositiveSmallIntegerField(null=True, blank=True)
    overtimes = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=9, help_text="final or scheduled")
    game = models.ForeignKey("etl.Game", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["date", "bref_game_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "kind", "bref_game_id"], name="stagedgame_unique_per_run")
        ]

    def __str__(self):
        return f"{self.bref_game_id} {self.away_code}@{self.home_code} ({self.kind})"


class StagedLine(StagedRow):
    """One player's row for one game: a box-score line or a game-log row, played or not."""

    class Played(models.TextChoices):
        PLAYED = "played", "Played"
        DNP = "dnp", "Did not play"
        INACTIVE = "inactive", "Inactive"

    run = models.ForeignKey(ScrapeRun, on_delete=models.CASCADE, related_name="staged_lines")
    staged_game = models.ForeignKey(StagedGame, null=True, blank=True, on_delete=models.CASCADE, related_name="lines")
    player_bref_id = models.CharField(max_length=16, db_index=True)
    player_name = models.CharField(max_length=128)
    team_code = models.CharField(max_length=64)
    opponent_code = models.CharField(max_length=64, blank=True)
    is_home = models.BooleanField(null=True, blank=True)
    played = models.CharField(max_length=8, choices=Played.choices)
    reason = models.CharField(max_length=64, blank=True, help_text="Why the player did not play, as written.")
    starter = models.BooleanField(null=True, blank=True)
    seconds = models.PositiveIntegerField(null=True, blank=True)
    pts = models.PositiveSmallIntegerField(null=True, blank=True)
    fgm = models.PositiveSmallIntegerField(null=True, blank=True)
    fga = models.PositiveSmallIntegerField(null=True, blank=True)
    fg3m = models.PositiveSmallIntegerField(null=True, blank=True)
    fg3a = models.PositiveSmallIntegerField(null=True, blank=True)
    ftm = models.PositiveSmallIntegerField(null=True, blank=True)
    fta = models.PositiveSmallIntegerField(null=True, blank=True)
    oreb = models.PositiveSmallIntegerField(null=True, blank=True)
    dreb = models.PositiveSmallIntegerField(null=True, blank=True)
    reb = models.PositiveSmallIntegerField(null=True, blank=True)
    ast = models.PositiveSmallIntegerField(null=True, blank=True)
    stl = models.PositiveSmallIntegerField(null=True, blank=True)
    blk = models.PositiveSmallIntegerField(null=True, blank=True)
    tov = models.PositiveSmallIntegerField(null=True, blank=True)
    pf = models.PositiveSmallIntegerField(null=True, blank=True)
    plus_minus = models.SmallIntegerField(null=True, blank=True)
    team_score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Game-log rows: the result.")
    opponent_score = models.PositiveSmallIntegerField(null=True, blank=True)
    player = models.ForeignKey("etl.Player", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["date", "bref_game_id", "team_code", "-starter", "-seconds"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "kind", "bref_game_id", "player_bref_id"], name="stagedline_unique_per_run"
            )
        ]

    def __str__(self):
        return f"{self.player_name} {self.bref_game_id} ({self.played})"
