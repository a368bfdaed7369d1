"""Prediction jobs and their results.

`PredictionRequest` is our own job row and the source of truth for a request: Celery's
`TaskResult` only knows a task once it started, and a chain's state is only its last
task's. The row records the input, what it resolved to, the progress of the pipeline
(step i of n, percent, timestamps), the task ids of every step and the error, if any.
`PredictionEvent` is the ordered progress log the events stream replays; `Prediction`
is the result, at most one per request.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from operations.models import Job
from predictions.fields import json_object, link, optional

# The pipeline's steps in order: (name, label shown to users). The model steps in between are one
# per model kind of settings.MODEL_KINDS (mlmodels.kinds), run in parallel.
FIRST_STEPS = [("resolve", "Finding the player and the game"), ("features", "Building features")]
LAST_STEPS = [("combine", "Combining the models and storing the range")]


def pipeline_steps() -> list[tuple[str, str]]:
    """[(name, label)] of every step: resolve, features, one per registered model kind, combine."""
    from mlmodels import kinds

    return [*FIRST_STEPS, *((kind.name, kind.label) for kind in kinds.registered().values()), *LAST_STEPS]


def step_count() -> int:
    """Steps of a new request's pipeline (the field default)."""
    return len(pipeline_steps())


# This process's steps (settings.MODEL_KINDS when it started).
STEPS: list[tuple[str, str]] = pipeline_steps()
STEP_NAMES = [name for name, _ in STEPS]
STEP_LABELS = dict(STEPS)


class PredictionRequest(Job):
    TASK_FIELDS = {"*": "task_ids"}  # {step: task id} of the current run
    task_id = None

    class FailureKind(models.TextChoices):
        """Whose a failure is: the request had no answer (the user's input), or the system failed."""

        INPUT = "input", "User input"
        SYSTEM = "system", "System"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prediction_requests")
    idempotency_key = models.CharField(
        max_length=255, null=True, blank=True, help_text="Idempotency-Key header: one request per key and user."
    )

    # What the user asked for, as given.
    player_input = models.CharField(max_length=128)
    opponent_input = models.CharField(max_length=64, blank=True)
    date_input = models.DateField(null=True, blank=True)
    home_input = models.BooleanField(null=True, blank=True)
    out_input = optional(
        models.JSONField,
        "Who is out, as given: the names or ids of players who will not play (empty: not given, not known).",
    )
    as_of = optional(
        models.DateField,
        "The product's today when it was asked (AS_OF_DATE, or today in UTC): "
        "without a date, the request means the next game on or after it.",
    )

    # What the resolve step made of it.
    player = link("etl.Player")
    team = link("etl.Team")
    opponent = link("etl.Team")
    game = link("etl.Game", "The game in the database; empty for a hypothetical matchup.")
    game_date = optional(models.DateField)
    is_home = optional(models.BooleanField)
    out_players = optional(
        models.JSONField,
        "Who is out, resolved: [{id, name, team, ignored}]; team and ignored "
        "(on neither team of the game) once the game is known.",
    )
    features = optional(models.JSONField, "Features built for the models.")

    # Progress (status, stage = the step running or last run, step i of n, percent, message = the
    # human-readable reason of a failure, timestamps: operations.models.Job).
    step_count = models.PositiveSmallIntegerField(default=step_count)
    steps_done = models.JSONField(default=list, blank=True)
    timings = json_object("Seconds per finished step.")
    step_starts = json_object(
        "Starts of each step in the current run: a step that keeps dying with its worker process is given up on."
    )

    # Queueing: every (re-)queue is a new chain run with its own token and task ids.
    run_token = models.CharField(max_length=64, blank=True, help_text="Token of the chain run that owns the request.")
    task_ids = json_object("Celery task id of each step of the current run.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs of the pipeline published to the broker.")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the last run was published.")
    failure_kind = models.CharField(
        max_length=6,
        choices=FailureKind.choices,
        blank=True,
        help_text="Set when failed: the user's input had no answer, or the system failed.",
    )
    enqueue_error = models.TextField(blank=True, help_text="Last publish failure (broker down); the sweeper retries.")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, help_text="Heartbeat: every progress update touches it.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                name="predictionrequest_unique_user_key",
                condition=models.Q(idempotency_key__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="predreq_user_created"),
            models.Index(fields=["status", "updated_at"], name="predreq_status_updated"),
        ]

    def __str__(self):
        return f"{self.label} ({self.status})"

    @property
    def label(self) -> str:
        """What the request is about, for lists: the resolved player's name, opponent and date once
        the resolve step found them ('Nikola Jokić vs BOS on 2024-03-07'), what was typed until then
        ('1179 vs NYK'). Select `player` and `opponent` with the rows to avoid a query each."""
        player = self.player.name if self.player_id else self.player_input
        opponent = self.opponent.code if self.opponent_id else self.opponent_input
        day = self.game_date or self.date_input
        return player + (f" vs {opponent}" if opponent else "") + (f" on {day.isoformat()}" if day else "")

    @property
    def is_done(self) -> bool:
        return self.is_finished

    @property
    def step_label(self) -> str:
        if self.status == self.Status.QUEUED:
            return "Waiting for a worker"
        return STEP_LABELS.get(self.stage, self.stage)

    @property
    def hypothetical(self) -> bool | None:
        """True when the matchup is not a game in the database (known once resolved)."""
        if self.game_date is None:
            return None
        return self.game_id is None


class PredictionEvent(models.Model):
    """One progress update, in order (ids are allocated under the request's row lock)."""

    request = models.ForeignKey(PredictionRequest, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=9, choices=PredictionRequest.Status.choices)
    step = models.CharField(max_length=16, blank=True)
    step_index = models.PositiveSmallIntegerField(default=0)
    step_count = models.PositiveSmallIntegerField(default=step_count)
    percent = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def as_dict(self) -> dict:
        return {
            "seq": self.id,
            "status": self.status,
            "step": self.step,
            "step_index": self.step_index,
            "step_count": self.step_count,
            "percent": self.percent,
            "message": self.message,
            "at": self.created_at.isoformat(),
        }


class Prediction(models.Model):
    """The range for one request; the one-to-one key makes a re-run step unable to add a second."""

    request = models.OneToOneField(PredictionRequest, on_delete=models.CASCADE, related_name="prediction")
    p10 = models.FloatField()
    p50 = models.FloatField()
    p90 = models.FloatField()
    model_outputs = models.JSONField(help_text="Each model's own p10/p50/p90, by algorithm.")
    model_versions = models.JSONField(help_text="Model version of each algorithm.")
    features = models.JSONField(help_text="The feature values the models saw.")
    timings = models.JSONField(help_text="Seconds per step, plus time spent queued and in total.")
    actual_points = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Points really scored, for a past game."
    )
    data_through = models.DateField(
        null=True, blank=True, help_text="Date of the player's last game the features used."
    )
    days_since_last_game = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days from data_through to the game's date."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.p10:.0f}-{self.p90:.0f} (median {self.p50:.0f})"


from predictions.daily_models import DailyRun  # noqa: E402,F401  (the daily pipeline: its own module)
from predictions.slate_models import Slate, SlateGame, SlatePrediction  # noqa: E402,F401  (slates: their own module)
