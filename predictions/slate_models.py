"""A slate: every expected player's points range for one day's games, computed as one job.

`Slate` is the job row (operations.models.Job): one per (date, active model versions, who is out), so
asking again returns the same slate. `SlateGame` records each game's part of the job (done or not, how
many players), which is what makes a re-run game task replace its rows instead of counting twice.
`SlatePrediction` holds one player's range; (slate, player) is unique. A slate whose messages were
lost (broker restarted, worker killed) is taken over by the sweeper (slate_services.sweep_stuck_slates)
once silent for SLATES_STUCK_TIMEOUT seconds (`progressed_at`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from operations.models import Job
from predictions.fields import link, optional


class Slate(Job):
    date = models.DateField(help_text="The day whose games the slate covers.")
    model_versions = models.JSONField(default=dict, help_text="{algorithm: model version id} used.")
    versions_key = models.CharField(max_length=200, help_text="The versions as text (unique with the date).")
    out_players = models.JSONField(
        null=True, blank=True, help_text="Who is out: [{id, name, team, ignored}] (empty: not given, not known)."
    )
    out_key = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="The out set as text (unique with the date and versions; '': none given).",
    )
    requested_by = link(settings.AUTH_USER_MODEL)
    task_id = models.CharField(max_length=64, blank=True, help_text="Celery id of the planning task.")
    games_total = models.PositiveIntegerField(default=0)
    games_done = models.PositiveIntegerField(default=0)
    players_done = models.PositiveIntegerField(default=0)
    coverage_80 = models.FloatField(
        null=True, blank=True, help_text="Share of the played games' actual points inside p10-p90."
    )
    seconds = models.FloatField(null=True, blank=True, help_text="From creation to success.")
    progressed_at = optional(
        models.DateTimeField,
        "Last sign of life (queued, planned, a game done, swept): the "
        "sweeper takes over a slate silent for SLATES_STUCK_TIMEOUT s.",
    )
    sweeps = models.PositiveSmallIntegerField(default=0, help_text="Times the sweeper re-published its lost work.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["date", "versions_key", "out_key"], name="slate_unique_date_versions_out")
        ]

    def __str__(self):
        return f"slate of {self.date} ({self.status})"

    @property
    def progress_text(self) -> str:
        return f"{self.games_done} of {self.games_total} games, {self.players_done} players"


class SlateGame(models.Model):
    slate = models.ForeignKey(Slate, on_delete=models.CASCADE, related_name="games")
    game = models.ForeignKey("etl.Game", on_delete=models.CASCADE, related_name="+")
    done = models.BooleanField(default=False)
    players = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slate", "game"], name="slategame_unique")]


class SlatePrediction(models.Model):
    slate = models.ForeignKey(Slate, on_delete=models.CASCADE, related_name="predictions")
    game = models.ForeignKey("etl.Game", on_delete=models.CASCADE, related_name="+")
    player = models.ForeignKey("etl.Player", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("etl.Team", on_delete=models.CASCADE, related_name="+")
    p10 = models.FloatField()
    p50 = models.FloatField()
    p90 = models.FloatField()
    data_through = models.DateField(null=True, blank=True, help_text="Date of the last game the features used.")
    actual = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Points scored, once played.")

    class Meta:
        ordering = ["game_id", "-p50"]
        constraints = [models.UniqueConstraint(fields=["slate", "player"], name="slateprediction_unique_player")]
