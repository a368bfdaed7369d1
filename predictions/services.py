"""The compatibility surface of the old `predictions.services` grab-bag: re-exports only, no code.

The code lives in layers (docs/architecture.md, "Layers inside predictions"):
`progress` (a step's state machine) -> `steps` (each step's work) -> `pipeline` (publishing,
the sweeper) -> `submission` (checks, idempotency, submit), plus `accounts` (API users) and
`first_run` (`make run`'s full training). Nothing in this tree imports this module; import the
layer instead. It stays so that code written against the old names keeps working.
"""

from predictions.accounts import create_api_user
from predictions.first_run import queue_full_training_once
from predictions.progress import StaleRun, begin_step, fail, finish_step, max_step_starts, record_event
from predictions.steps import (
    InvalidInput,
    PredictionFailed,
    Unanswerable,
    build_features,
    data_freshness,
    no_next_game_message,
    own_team_message,
    prediction_summary,
    resolve_matchup,
    resolve_request,
    run_model,
    store_prediction,
    validate_input,
)
from predictions.submission import (
    LOAD_FRESH_DATA,
    IdempotencyConflict,
    NotEnoughData,
    check_data_is_fresh,
    min_recent_games,
    recent_games_window_days,
    stale_data_days,
    submit_prediction,
)

__all__ = [
    "LOAD_FRESH_DATA",
    "IdempotencyConflict",
    "InvalidInput",
    "NotEnoughData",
    "PredictionFailed",
    "StaleRun",
    "Unanswerable",
    "begin_step",
    "build_features",
    "check_data_is_fresh",
    "create_api_user",
    "data_freshness",
    "fail",
    "finish_step",
    "max_step_starts",
    "min_recent_games",
    "no_next_game_message",
    "own_team_message",
    "prediction_summary",
    "queue_full_training_once",
    "recent_games_window_days",
    "record_event",
    "resolve_matchup",
    "resolve_request",
    "run_model",
    "stale_data_days",
    "store_prediction",
    "submit_prediction",
    "validate_input",
]
