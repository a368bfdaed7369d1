"""The settings the predictions app reads, each as a function read at call time (tests and
settings overrides change them): `queued_timeout()`. Their meaning and defaults: settings.py and
docs/configuration.md."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings


def setting(name: str, kind: Callable = int, doc: str = "") -> Callable[[], int | float]:
    """A function returning `settings.<name>` as `kind` at each call."""

    def read():
        return kind(getattr(settings, name))

    read.__name__ = read.__qualname__ = name.lower()
    read.__doc__ = doc or f"settings.{name}"
    return read


# The pipeline (predictions.pipeline, its sweeper) and the step state machine (predictions.progress).
queued_timeout = setting(
    "PREDICTIONS_QUEUED_TIMEOUT",
    float,
    "Seconds a published request may wait queued before the sweeper publishes it again.",
)
running_timeout = setting(
    "PREDICTIONS_RUNNING_TIMEOUT",
    float,
    "Seconds without progress after which a running request is taken over (above any step's time limit).",
)
max_attempts = setting("PREDICTIONS_MAX_ATTEMPTS", int, "Runs of a stalled request before the sweeper fails it.")
max_step_starts = setting(
    "PREDICTIONS_MAX_STEP_STARTS",
    int,
    "Starts of one step within one run before the request is failed: above the step's own retries (3), so "
    "only a step that keeps dying with its worker process (acks_late redelivers it each time: a poison "
    "message) reaches it.",
)
# What a request needs of the warehouse (predictions.submission) and who may be out (predictions.who_is_out).
stale_data_days = setting("PREDICTIONS_STALE_DATA_DAYS")
min_recent_games = setting("PREDICTIONS_MIN_RECENT_GAMES")
recent_games_window_days = setting("PREDICTIONS_RECENT_GAMES_WINDOW_DAYS")
max_out_players = setting("PREDICTIONS_MAX_OUT_PLAYERS")
# Slates (predictions.slate_services).
stuck_timeout = setting(
    "SLATES_STUCK_TIMEOUT", float, "Seconds a slate may stay silent before the sweeper re-publishes its lost work."
)
