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
