"""The model registry: every trained model version and every backtest, with metrics and plots."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models

from mlmodels import kinds
from operations.models import Job, task_id_field


class TrainingRun(Job):
    """One training job (command, task or backtest): its progress while it runs and the versions it made."""

    kind = models.CharField(max_length=8, default="train", help_text="train or backtest")
    epoch = models.PositiveIntegerField(null=True, blank=True)
    seasons = models.JSONField(default=list, blank=True)
    quick = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} run {self.pk} ({self.status})"


class ModelVersion(models.Model):
    """One trained model: what it learned from, how well it did on the validation season, where
    its files are (relative to settings.MODEL_DIR). At most one active version per algorithm
    (= model kind: a module of settings.MODEL_KINDS, mlmodels.kinds)."""

    class Purpose(models.TextChoices):
        SERVING = "serving", "Serving (may be activated)"
        BACKTEST = "backtest", "Backtest (never activated)"

    algorithm = models.CharField(
        max_length=16,
        choices=kinds.choices,
        db_index=True,
        help_text="The model kind (settings.MODEL_KINDS): lightgbm, keras, ...",
    )
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.SERVING)
    feature_set_version = models.PositiveIntegerField()
    train_seasons = models.JSONField(default=list, help_text="Seasons the model was fitted on.")
    validation_season = models.CharField(
        max_length=7, blank=True, help_text="Held-out season for early stopping, calibration and activation."
    )
    data_from = models.DateField(null=True, blank=True, help_text="First game date of the training data.")
    data_until = models.DateField(null=True, blank=True, help_text="Last game date of the training data.")
    rows_train = models.PositiveIntegerField(default=0)
    rows_validation = models.PositiveIntegerField(default=0)
    hyperparameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Validation-season metrics: mae, pinball, coverage_80, width_80, ..."
    )
    artifacts = models.JSONField(default=list, blank=True, help_text="Files under MODEL_DIR.")
    plots = models.JSONField(default=list, blank=True, help_text="PNG files under MODEL_DIR.")
    active = models.BooleanField(default=False)
    training_seconds = models.FloatField(null=True, blank=True)
    task_id = task_id_field("Celery task id when trained by a task (TaskResult.task_id).", db_index=True)
    # No database constraint: a version stays usable (and its row restorable from a dump) when
    # old training runs are pruned; `training_run` is then just an unknown id.
    training_run = models.ForeignKey(
        TrainingRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="versions", db_constraint=False
    )
    notes = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["algorithm"], condition=models.Q(active=True), name="modelversion_one_active_per_algorithm"
            ),
        ]

    def __str__(self):
        flag = " (active)" if self.active else ""
        return f"{self.algorithm} v{self.pk}{flag}"

    def path(self, name: str) -> Path:
        return Path(settings.MODEL_DIR) / name


class BacktestReport(models.Model):
    """One `manage.py backtest` run: the JSON it printed, its plots and the models it trained."""

    test_season = models.CharField(max_length=7, db_index=True)
    rows = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, help_text="The printed JSON: test_season, rows, models.")
    plots = models.JSONField(default=list, blank=True, help_text="PNG files under MODEL_DIR.")
    quick = models.BooleanField(default=False, help_text="Quick mode (few rounds/epochs): a smoke run.")
    model_versions = models.ManyToManyField(ModelVersion, blank=True, related_name="backtests")
    seconds = models.FloatField(null=True, blank=True)
    task_id = task_id_field("", db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"backtest {self.test_season} #{self.pk}"


class TeamGamePart(models.Model):
    """One side's sums in one game: the per-(game, team) totals of its lines that the team
    features read (mlmodels.features.PART_SUMS; what `team_parts_from_lines` makes of each line,
    summed). Derived from the warehouse, never written by the application: database triggers on
    the lines table (installed by mlmodels.team_parts, migration 0005) keep it equal to the lines,
    whatever writes them (the ETL, the scraped loads, the admin, a test's factory). A prediction
    reads about 80 of these rows instead of summing some 900 lines."""

    # No index or constraint of their own: the unique key and the two (side, date) indexes start with them.
    game = models.ForeignKey(
        "etl.Game", on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    team = models.ForeignKey(
        "etl.Team", on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    opponent = models.ForeignKey(
        "etl.Team", on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    date = models.DateField()
    poss100 = models.BigIntegerField(help_text="100 x (usage - offensive rebounds): a possessions proxy.")
    pts = models.BigIntegerField()
    usg100 = models.BigIntegerField(help_text="100 x (FGA + 0.44 FTA + TOV).")
    role0_pts = models.BigIntegerField()
    role0_usg100 = models.BigIntegerField()
    role0_sec = models.BigIntegerField()
    role0_lines = models.BigIntegerField()
    role1_pts = models.BigIntegerField()
    role1_usg100 = models.BigIntegerField()
    role1_sec = models.BigIntegerField()
    role1_lines = models.BigIntegerField()
    role2_pts = models.BigIntegerField()
    role2_usg100 = models.BigIntegerField()
    role2_sec = models.BigIntegerField()
    role2_lines = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["game", "team", "opponent"], name="teamgamepart_unique_game_team"),
        ]
        indexes = [
            models.Index(fields=["team", "date"], name="teamgamepart_team_date"),
            models.Index(fields=["opponent", "date"], name="teamgamepart_opponent_date"),
        ]

    def __str__(self):
        return f"team {self.team_id} in game {self.game_id}: {self.pts} pts"
