"""The warehouse: teams, players, games and player-game box-score lines.

Bundled NBA.com game logs and scraped basketball-reference pages land on the same rows,
matched by natural keys: a team by any of its codes (TeamAlias), a player by NBA.com or
basketball-reference id, a game by (date, home team), a line by (player, game).
"""

from __future__ import annotations

from django.db import models

from etl.names import alias_key, normalise_name
from operations.models import Job


class TeamQuerySet(models.QuerySet):
    def resolve(self, code_or_name: str) -> Team | None:
        """The team known by this code or name in any source (BRK, BKN, 'Brooklyn Nets', 'nets')."""
        alias = TeamAlias.objects.select_related("team").filter(alias=alias_key(code_or_name or "")).first()
        return alias.team if alias else None


class Team(models.Model):
    code = models.CharField(max_length=3, unique=True, help_text="Current NBA.com code, e.g. BKN.")
    bref_code = models.CharField(max_length=3, unique=True, help_text="basketball-reference code, e.g. BRK.")
    nba_id = models.BigIntegerField(unique=True, null=True, blank=True)
    name = models.CharField(max_length=64, unique=True)
    nickname = models.CharField(max_length=32)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class TeamAlias(models.Model):
    """Every code or name any source uses for a franchise (former names included)."""

    alias = models.CharField(max_length=64, unique=True, help_text="Lower-case code or name.")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        verbose_name_plural = "team aliases"
        ordering = ["alias"]

    def __str__(self):
        return f"{self.alias} -> {self.team.code}"


class Player(models.Model):
    name = models.CharField(max_length=128)
    normalised_name = models.CharField(
        max_length=128,
        db_index=True,
        editable=False,
        help_text="Lower-case, accents and punctuation removed, for search.",
    )
    nba_id = models.BigIntegerField(unique=True, null=True, blank=True)
    bref_id = models.CharField(max_length=16, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def save(self, *args, **kwargs):
        self.normalised_name = normalise_name(self.name)
        super().save(*args, **kwargs)

    def __str__(self):
        return self.name


class Game(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        FINAL = "final", "Final"

    class SeasonType(models.TextChoices):
        REGULAR = "regular", "Regular season"
        PLAYOFFS = "playoffs", "Playoffs"

    # Indexes are chosen for what features and pages ask, each in Meta (no per-field ones: a
    # game row is written with every load, and each index is a write; the composite indexes
    # also serve lookups by their first column, and exact-match ids need no LIKE index).
    season = models.CharField(max_length=7, help_text="e.g. 2023-24")
    season_type = models.CharField(max_length=8, choices=SeasonType.choices, default=SeasonType.REGULAR)
    date = models.DateField(help_text="Local (US) date of the game.")
    start_time = models.CharField(max_length=16, blank=True, help_text="Tip-off as listed, e.g. '7:30p' (ET).")
    home = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="home_games", db_index=False)
    away = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="away_games", db_index=False)
    home_score = models.PositiveSmallIntegerField(null=True, blank=True)
    away_score = models.PositiveSmallIntegerField(null=True, blank=True)
    overtimes = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.SCHEDULED)
    nba_game_id = models.CharField(max_length=10, null=True, blank=True, help_text="e.g. 0022300001")
    bref_game_id = models.CharField(max_length=12, null=True, blank=True, help_text="e.g. 202401260ATL")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "home__code"]
        constraints = [
            models.UniqueConstraint(fields=["date", "home"], name="game_unique_date_home"),
            models.UniqueConstraint(fields=["nba_game_id"], name="game_unique_nba_game_id"),
            models.UniqueConstraint(fields=["bref_game_id"], name="game_unique_bref_game_id"),
            models.CheckConstraint(condition=~models.Q(home=models.F("away")), name="game_home_is_not_away"),
        ]
        indexes = [
            models.Index(fields=["home", "date"], name="game_home_date"),
            models.Index(fields=["away", "date"], name="game_away_date"),
            models.Index(fields=["status", "date"], name="game_status_date"),
            models.Index(fields=["season"], name="game_season"),
        ]

    def __str__(self):
        return f"{self.date} {self.away.code} @ {self.home.code}"

    def bref_id(self) -> str:
        """basketball-reference's id for this game: date, a zero, the home team's bref code."""
        return f"{self.date:%Y%m%d}0{self.home.bref_code}"


class PlayerGameLog(models.Model):
    """One player's box-score line in one game he played (DNP/inactive players have no row)."""

    # A fact table loaded in bulk. The keys need no index of their own: the unique (game, player)
    # and the (player|team, date) indexes below start with them
    # (a team's opponents' lines are found through its games). They carry no database
    # constraint either: its deferred per-row checks (each locking the referenced row) would double
    # a load's time. Integrity is the loader's job (ids come from rows upserted in the same
    # transaction; etl/tests checks for orphans) and deletes cascade in the ORM (on_delete).
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="game_logs", db_index=False, db_constraint=False
    )
    game = models.ForeignKey(
        Game, on_delete=models.CASCADE, related_name="player_logs", db_index=False, db_constraint=False
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    opponent = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    # Denormalised from the game so per-player and per-team history reads need no join.
    date = models.DateField()
    season = models.CharField(max_length=7)
    is_home = models.BooleanField()
    starter = models.BooleanField(null=True, blank=True, help_text="Unknown (null) in the NBA.com logs.")
    seconds = models.PositiveIntegerField(help_text="Seconds played (NBA.com logs give whole minutes).")
    pts = models.PositiveSmallIntegerField()
    oreb = models.PositiveSmallIntegerField()
    dreb = models.PositiveSmallIntegerField()
    reb = models.PositiveSmallIntegerField()
    ast = models.PositiveSmallIntegerField()
    stl = models.PositiveSmallIntegerField()
    blk = models.PositiveSmallIntegerField()
    tov = models.PositiveSmallIntegerField()
    pf = models.PositiveSmallIntegerField()
    fgm = models.PositiveSmallIntegerField()
    fga = models.PositiveSmallIntegerField()
    fg3m = models.PositiveSmallIntegerField()
    fg3a = models.PositiveSmallIntegerField()
    ftm = models.PositiveSmallIntegerField()
    fta = models.PositiveSmallIntegerField()
    plus_minus = models.SmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=8, default="nba", help_text="nba (bundled logs) or bref (scraped).")

    class Meta:
        ordering = ["date"]
        # (game, player): one line per player and game, and the index of a game's box score.
        constraints = [models.UniqueConstraint(fields=["game", "player"], name="pgl_unique_game_player")]
        indexes = [
            models.Index(fields=["player", "date"], name="pgl_player_date"),
            models.Index(fields=["team", "date"], name="pgl_team_date"),
        ]

    def __str__(self):
        return f"{self.player} {self.date} {self.pts} pts"


class EtlRun(Job):
    """One load into the warehouse: what, when, how it went, and what it changed."""

    kind = models.CharField(max_length=16, default="gamelogs")
    source = models.TextField(help_text="The files loaded (one per line).")
    sha256 = models.CharField(max_length=64, blank=True, db_index=True, help_text="Content hash of the files.")
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "ETL run"

    def __str__(self):
        return f"{self.kind} run {self.pk} ({self.status})"


class QuarantinedRow(models.Model):
    """A source row that failed validation, kept with the reason and the line as it was."""

    run = models.ForeignKey(EtlRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="quarantined")
    source_file = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    line_number = models.PositiveIntegerField(help_text="1-based line in the file (line 1 is the header).")
    reason = models.CharField(max_length=500)
    raw_line = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source_file", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["file_sha256", "line_number"], name="quarantinedrow_unique_file_line")
        ]

    def __str__(self):
        return f"{self.source_file}:{self.line_number} {self.reason}"
