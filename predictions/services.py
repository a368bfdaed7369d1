"""Writes of the predictions app: submitting a request and each pipeline step's work.

Tasks, views and commands call these functions; none of them knows about HTTP. Every
step is idempotent and checks the run token it was queued with, so a step re-run after a
worker crash, or a stale chain still running after the sweeper re-queued its request,
changes nothing twice (and a `Prediction` is one-to-one with its request).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from contextlib import nullcontext

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from etl.models import Team
from operations import logs
from predictions import selectors, who_is_out
from predictions.dates import product_today
from predictions.models import STEP_LABELS, STEP_NAMES, Prediction, PredictionEvent, PredictionRequest

logger = logging.getLogger(__name__)
Status = PredictionRequest.Status


class InvalidInput(Exception):
    """Bad input for a new request: `errors` maps field names to messages (plus `did_you_mean`)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{key}: {' '.join(map(str, msgs))}" for key, msgs in errors.items()))
        self.errors = errors


class NotEnoughData(Exception):
    """The answer would rest on missing or stale data (HTTP 422): the message says what is missing and
    what to do; `facts` holds the figures it names (data_ends, recent_games, last_game), for clients."""

    def __init__(self, message: str, **facts):
        super().__init__(message)
        self.facts = facts


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used by this user for a different request."""


class PredictionFailed(Exception):
    """A reason the pipeline cannot answer, worded for the user (no traceback needed).
    `resolved` holds what was found before the problem (e.g. the player), kept on the request."""

    def __init__(self, message: str, resolved: dict | None = None):
        super().__init__(message)
        self.resolved = resolved or {}


class Unanswerable(PredictionFailed):
    """The request itself has no answer (no such game, no games before that date, his own team as
    the opponent): the reason is the answer the user gets, not a fault of the system, so the
    step ends normally (no Celery FAILURE) after failing the request with it."""


class StaleRun(Exception):
    """This step belongs to a chain run that no longer owns the request (it was re-queued or is done)."""


# --- Submitting -----------------------------------------------------------------------------------------

def validate_input(player, opponent: str = "", resolve_opponent: bool = True) -> tuple:
    """Cheap checks before anything is stored: the player and the opponent must exist.
    Returns (player, opponent team or None; with resolve_opponent=False its code, not loaded)."""
    errors: dict[str, list[str]] = {}
    match = selectors.find_player(player)
    if match.player is None:
        if match.ambiguous:
            errors["player"] = [f"{player!s} matches several players: give the full name or the id."]
        elif str(player).strip().isdigit():
            errors["player"] = [f"no player with id {str(player).strip()}."]
        else:
            hint = f"; did you mean {', '.join(match.suggestions)}?" if match.suggestions else "."
            errors["player"] = [f"no player named {str(player).strip()!r}{hint}"]
        if match.suggestions:
            errors["did_you_mean"] = match.suggestions
    opponent_team = None
    if opponent:
        opponent_team = Team.objects.resolve(opponent) if resolve_opponent else selectors.team_code(opponent)
        if not opponent_team:
            errors["opponent"] = [f"unknown team {opponent!r}: use a code (BOS) or a name (Boston Celtics)."]
    if errors:
        raise InvalidInput(errors)
    return match.player, opponent_team


def submit_prediction(user, player, opponent: str = "", date: dt.date | None = None, home: bool | None = None,
                      idempotency_key: str | None = None, out: list[str] | None = None
                      ) -> tuple[PredictionRequest, bool]:
    """Store a request and queue its pipeline once the transaction commits.

    Returns (request, created). The same Idempotency-Key from the same user returns the first
    request instead of queuing a second pipeline. Never waits on the broker for long: when it is
    down the request stays queued (with the reason) for the sweeper. `out`: names or ids of
    players who will not play (None: not known), resolved here (predictions.who_is_out).
    """
    opponent = (opponent or "").strip()
    player_input = str(player).strip()
    out = who_is_out.normalise(out)

    def replay() -> PredictionRequest | None:
        return _replay(user, idempotency_key, player_input, opponent, date, home, out) if idempotency_key else None

    as_of = product_today()
    try:
        found, opponent_code = validate_input(player_input, opponent, resolve_opponent=False)
        # His team then (as the resolve step decides it): in his last game before the date, or before
        # today for the next game.
        latest = selectors.last_log(found, before=date or as_of)
        if opponent_code is not None and latest is not None and latest.team.code == opponent_code:
            raise InvalidInput({"opponent": [own_team_message(opponent_code, found.name, date)]})
        try:
            out_players = who_is_out.stored(who_is_out.resolve(out, found))
        except who_is_out.OutListError as exc:
            raise InvalidInput({"out": exc.messages}) from None
        check_data_is_fresh(found, date or as_of, latest, dated=date is not None)
    except (InvalidInput, NotEnoughData):
        existing = replay()  # a key seen before answers as before, even if the data changed since
        if existing is None:
            raise
        return existing, False
    from predictions.pipeline import new_run, publish_run

    token, task_ids = new_run()
    try:
        # One INSERT (its own transaction, or a savepoint inside the caller's): recorded as
        # published up front (attempts, ids, time), so a good publish costs no second write; a
        # failed one is written back by publish_run. The "queued" event is implicit (see events).
        with transaction.atomic(durable=False) if transaction.get_connection().in_atomic_block else nullcontext():
            request = PredictionRequest.objects.create(
                user=user, idempotency_key=idempotency_key or None, player_input=player_input,
                opponent_input=opponent, date_input=date, home_input=home, as_of=as_of,
                out_input=out, out_players=out_players,
                attempts=1, task_ids=task_ids, enqueued_at=timezone.now())
        logs.bind("prediction", request.pk)  # this HTTP request's later lines are about it
        logger.info("prediction %s stored for %s: %s", request.pk, user.get_username(), request.label)
        transaction.on_commit(lambda: publish_run(request.pk, token, task_ids))
    except IntegrityError:
        # The key was used before (a retry, or a concurrent twin that won the race): the unique
        # constraint tells, so a new key costs no lookup. Answer with the first request.
        existing = replay()
        if existing is None:
            raise
        return existing, False
    return request, True


# How to put fresh game logs in the warehouse, as the refusals say it.
LOAD_FRESH_DATA = ("load fresh game logs first: `.venv/bin/python manage.py load_gamelogs FILE.csv` for files in the "
                   "bundled format, or `.venv/bin/python manage.py crawl boxscores date=YYYY-MM-DD` to crawl a "
                   "day's box scores from basketball-reference.com and load them")


def stale_data_days() -> int:
    return int(getattr(settings, "PREDICTIONS_STALE_DATA_DAYS", 200))


def min_recent_games() -> int:
    return int(getattr(settings, "PREDICTIONS_MIN_RECENT_GAMES", 5))


def recent_games_window_days() -> int:
    return int(getattr(settings, "PREDICTIONS_RECENT_GAMES_WINDOW_DAYS", 365))


def check_data_is_fresh(player, day: dt.date, latest=None, dated: bool = True) -> None:
    """Refuse (NotEnoughData) a prediction for `day` that would rest on missing or stale data: no
    played game in the warehouse in the PREDICTIONS_STALE_DATA_DAYS before it (the data ends too
    early), or fewer than PREDICTIONS_MIN_RECENT_GAMES games of the player in the
    PREDICTIONS_RECENT_GAMES_WINDOW_DAYS before it. `latest` is his last line before `day`, when
    already read; `dated` says whether the user gave the date (else it is the product's today)."""
    when = day.isoformat() if dated else f"today ({day.isoformat()})"
    stale_days = stale_data_days()
    data_ends = selectors.latest_played_game_date(before=day)
    if data_ends is None or (day - data_ends).days > stale_days:
        if data_ends is not None:
            raise NotEnoughData(
                f"The data ends on {data_ends.isoformat()}, {(day - data_ends).days} days before {when} (more than "
                f"{stale_days}): a prediction would rest on stale data. To predict, {LOAD_FRESH_DATA}; or ask about "
                f"a date up to {stale_days} days after {data_ends.isoformat()}.",
                data_ends=data_ends)
        first = selectors.first_played_game_date()
        if first is None:
            raise NotEnoughData(
                "The warehouse has no played games yet, so there is nothing to base a prediction on: load the "
                "bundled seasons with `.venv/bin/python manage.py load_gamelogs --bundled`, or "
                f"{LOAD_FRESH_DATA}.", data_ends=None)
        raise NotEnoughData(
            f"The data begins on {first.isoformat()}, after {when}, so there is nothing to base a prediction on: "
            f"ask about a later date.", data_ends=None)
    needed, window = min_recent_games(), recent_games_window_days()
    recent = selectors.recent_games_count(player, day, window)
    if recent >= needed:
        return
    if latest is None:
        latest = selectors.last_log(player, before=day)
    games = f"{recent} game{'s' * (recent != 1)}"
    if latest is None:
        last = f"he has no game before {day.isoformat()} in the database"
    else:
        last = f"his last was on {latest.date.isoformat()}"
    raise NotEnoughData(
        f"Not enough recent data for {player.name}: {games} in the {window} days before {when} (at least "
        f"{needed} needed), {last}. Ask about a date closer to his games, or {LOAD_FRESH_DATA}.",
        data_ends=data_ends, recent_games=recent, last_game=latest.date if latest else None)


def own_team_message(code: str, player_name: str, day: dt.date | None = None) -> str:
    on = f" on {day.isoformat()}" if day else ""
    return f"{code} is {player_name}'s own team{on}: pick another opponent."


def _replay(user, key, player_input, opponent, date, home, out=None) -> PredictionRequest | None:
    """The first request of this key, when it asked the same question (who is out included: the
    same names, in any order; no list and an empty one differ); IdempotencyConflict otherwise."""
    existing = PredictionRequest.objects.filter(user=user, idempotency_key=key).order_by("pk").first()
    if existing is None:
        return None
    same_out = (existing.out_input is None and out is None) or (
        existing.out_input is not None and out is not None and sorted(existing.out_input) == sorted(out))
    same = same_out and (existing.player_input, existing.opponent_input, existing.date_input,
                         existing.home_input) == (player_input, opponent, date, home)
    if not same:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used for a different request "
                                  f"({existing.player_input!r}, id {existing.pk}).")
    return existing


def create_api_user(username: str, staff: bool = False) -> tuple[object, str, bool]:
    """A user (no password: API token only, unless one is set later) and their token; idempotent."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
    if staff and not user.is_staff:
        user.is_staff = True
    if created or staff:
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key, created


# --- Progress ---------------------------------------------------------------------------------------------

def _locked(request_id) -> PredictionRequest:
    return PredictionRequest.objects.select_for_update().get(pk=request_id)


def record_event(request: PredictionRequest, message: str = "") -> None:
    """Append a progress event with the request's current state (call under its row lock)."""
    PredictionEvent.objects.create(
        request=request, status=request.status, step=request.stage, step_index=request.step_index,
        step_count=request.step_count, percent=request.percent, message=message[:500])


def max_step_starts() -> int:
    """Starts of one step within one run before the request is failed (PREDICTIONS_MAX_STEP_STARTS):
    above the step's own retries (3), so only a step that keeps dying with its worker process
    (acks_late redelivers it each time: a poison message) reaches it."""
    return int(getattr(settings, "PREDICTIONS_MAX_STEP_STARTS", 5))


def _gave_up_message(step: str, starts: int) -> str:
    return (f"the step '{STEP_LABELS[step]}' was started {starts} times without finishing (its worker process "
            "stopped each time); it was given up on and the team has the details. Please try again later.")


def begin_step(request_id, token: str, step: str, task_ids: dict | None = None) -> None:
    """Record that a step started; the first step claims the request for this chain run
    (and records that run's task ids).

    Raises StaleRun when another run owns the request or it is already finished, and fails the
    request (then raises StaleRun) when this step already started max_step_starts() times in this run."""
    first = step == STEP_NAMES[0]
    if connection.vendor == "postgresql":
        owned = "status = 'running' AND run_token = %(token)s"
        condition = f"(status = 'queued' OR ({owned})) AND " if first else f"{owned} AND "
        condition += "(status = 'queued' OR coalesce((step_starts ->> %(step)s)::int, 0) < %(max_starts)s)"
        # Only a queued request's claim resets the run's fields (a redelivered first step keeps them).
        fresh = "CASE WHEN status = 'queued' THEN {} ELSE {} END"
        starts = "jsonb_set(step_starts, ARRAY[%(step)s], to_jsonb(coalesce((step_starts ->> %(step)s)::int, 0) + 1))"
        changes = f"""run_token = %(token)s, status = 'running', stage = %(step)s, step_index = %(index)s,
            started_at = {fresh.format("coalesce(started_at, %(now)s)", "started_at")},
            steps_done = {fresh.format("'[]'::jsonb", "steps_done")},
            timings = {fresh.format("'{}'::jsonb", "timings")},
            step_starts = {fresh.format("jsonb_build_object(%(step)s, 1)", starts)},
            task_ids = {fresh.format("coalesce(%(task_ids)s::jsonb, task_ids)", "task_ids")}"""
        if not _progress(request_id, changes, condition, STEP_LABELS[step], {
                "token": token, "step": step, "index": STEP_NAMES.index(step) + 1, "max_starts": max_step_starts(),
                "task_ids": json.dumps(task_ids) if task_ids else None}):
            status, owner, step_starts = PredictionRequest.objects.filter(pk=request_id).values_list(
                "status", "run_token", "step_starts").get()
            if status == Status.RUNNING and owner == token:
                _give_up(request_id, token, step, step_starts.get(step, 0))
            if status in PredictionRequest.TERMINAL:
                raise StaleRun(f"request {request_id} is already {status}")
            raise StaleRun(f"request {request_id} is run by {owner}, not {token}")
        return
    with transaction.atomic():
        request = _locked(request_id)
        if request.is_done:
            raise StaleRun(f"request {request_id} is already {request.status}")
        starts = request.step_starts.get(step, 0) if request.status == Status.RUNNING else 0
        if first:
            if request.status == Status.QUEUED:
                request.run_token = token
                request.status = Status.RUNNING
                request.started_at = request.started_at or timezone.now()
                request.steps_done, request.timings, request.step_starts = [], {}, {}
                request.task_ids = task_ids or request.task_ids
            elif request.run_token != token:
                raise StaleRun(f"request {request_id} is run by {request.run_token}, not {token}")
        elif request.run_token != token or request.status != Status.RUNNING:
            raise StaleRun(f"request {request_id} is run by {request.run_token}, not {token}")
        if starts < max_step_starts():
            request.step_starts = {**request.step_starts, step: starts + 1}
            request.stage = step
            request.step_index = STEP_NAMES.index(step) + 1
            request.save(update_fields=["run_token", "status", "started_at", "steps_done", "timings", "step_starts",
                                        "stage", "step_index", "task_ids", "updated_at"])
            record_event(request, STEP_LABELS[step])
            return
    _give_up(request_id, token, step, starts)


def _give_up(request_id, token: str, step: str, starts: int):
    """Fail the request of a step that keeps dying with its worker, and stop this attempt."""
    logger.error("prediction %s: step %s started %d times in run %s without finishing; failing the request",
                 request_id, step, starts, token)
    fail(request_id, token, _gave_up_message(step, starts))
    raise StaleRun(f"request {request_id}: step {step} given up after {starts} starts")


def finish_step(request_id, token: str, step: str, seconds: float, **fields) -> None:
    """Record a finished step (and any fields it resolved) and advance the percentage."""
    if connection.vendor == "postgresql":
        params = {"token": token, "done": json.dumps([step]), "timing": json.dumps({step: round(seconds, 4)})}
        assignments = []
        for number, (name, value) in enumerate(fields.items()):
            field = PredictionRequest._meta.get_field(name)
            if field.is_relation:
                value = value.pk if value is not None else None
            params[f"f{number}"] = field.get_db_prep_save(value, connection)
            assignments.append(f"{field.column} = %(f{number})s")
        # The percentage counts this step once, however often it is recorded (a re-run step).
        once = "CASE WHEN steps_done @> %(done)s::jsonb THEN 0 ELSE 1 END"
        changes = ", ".join([*assignments,
                             f"percent = least(99, round(100.0 * (jsonb_array_length(steps_done) + {once}) "
                             "/ step_count))",
                             f"steps_done = CASE WHEN {once} = 1 THEN steps_done || %(done)s::jsonb "
                             "ELSE steps_done END",
                             "timings = timings || %(timing)s::jsonb"])
        if not _progress(request_id, changes, "status = 'running' AND run_token = %(token)s",
                         f"{STEP_LABELS[step]}: done", params):
            raise StaleRun(f"request {request_id} is no longer run by {token}")
        return
    with transaction.atomic():
        request = _locked(request_id)
        if request.run_token != token or request.status != Status.RUNNING:
            raise StaleRun(f"request {request_id} is no longer run by {token}")
        for name, value in fields.items():
            setattr(request, name, value)
        if step not in request.steps_done:
            request.steps_done = [*request.steps_done, step]
        request.timings = {**request.timings, step: round(seconds, 4)}
        request.percent = min(99, round(100 * len(request.steps_done) / request.step_count))
        request.save()
        record_event(request, f"{STEP_LABELS[step]}: done")


def _progress(request_id, changes: str, condition: str, message: str, params: dict) -> bool:
    """PostgreSQL: one statement updates the request (when `condition` holds) and appends its
    event from the updated row, where the locking transaction above costs five round trips
    and a commit. The UPDATE's row lock orders the events, as the transaction's lock does.
    False when the condition did not hold (nothing written)."""
    request_table, event_table = PredictionRequest._meta.db_table, PredictionEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH changed AS (
                UPDATE {request_table} SET {changes}, updated_at = %(now)s
                WHERE id = %(id)s AND ({condition})
                RETURNING id, status, stage, step_index, step_count, percent)
            INSERT INTO {event_table} (request_id, status, step, step_index, step_count, percent, message,
                                       created_at)
            SELECT id, status, stage, step_index, step_count, percent, %(message)s, %(now)s FROM changed
            RETURNING id""", {**params, "id": request_id, "now": timezone.now(), "message": message[:500]})
        return cursor.fetchone() is not None


def fail(request_id, token: str | None, message: str, kind: str = PredictionRequest.FailureKind.SYSTEM) -> bool:
    """Mark the request failed with a human-readable message (unless another run owns it); `kind`
    says whose failure it is (the metrics count them apart)."""
    with transaction.atomic():
        request = _locked(request_id)
        if request.is_done or (token is not None and request.run_token != token):
            return False
        request.status = Status.FAILED
        request.message = message
        request.failure_kind = kind
        request.finished_at = timezone.now()
        request.save(update_fields=["status", "message", "failure_kind", "finished_at", "updated_at"])
        record_event(request, message)
    logger.info("prediction %s failed (%s): %s", request_id, kind, message)
    return True


# --- Steps ------------------------------------------------------------------------------------------------

def resolve_request(request_id, token: str, task_ids: dict | None = None) -> None:
    """Step 1: the player, his team, the opponent, the game (or a hypothetical matchup) and home/away."""
    begin_step(request_id, token, "resolve", task_ids)
    started = time.perf_counter()
    request = PredictionRequest.objects.get(pk=request_id)
    try:
        resolved = resolve_matchup(request)
    except PredictionFailed as exc:
        if exc.resolved:
            PredictionRequest.objects.filter(pk=request_id, run_token=token).update(**exc.resolved)
        raise
    finish_step(request_id, token, "resolve", time.perf_counter() - started, **resolved)


def resolve_matchup(request: PredictionRequest) -> dict:
    """What a request refers to, as fields of the request; PredictionFailed with the reason if nothing.

    Without a date the request means the player's next game on or after the product's today when it
    was asked (`as_of`: AS_OF_DATE, or today in UTC), for the team of his last game before it; a game
    today is still upcoming (the slate of today holds it too)."""
    player, opponent = _resolve_inputs(request)
    day, home = request.date_input, request.home_input
    found = {"player": player, "opponent": opponent, "game_date": day}
    game = None
    if day is None:
        today = request.as_of or product_today()
        latest = selectors.last_log(player, before=today)
        if latest is None:
            raise Unanswerable(f"{player.name} has no games before {today.isoformat()} in the database, so there "
                               "is nothing to base a prediction on: give an opponent and a later date.", found)
        team = found["team"] = latest.team
        game = selectors.next_game(team, today, opponent)
        if game is None:
            raise Unanswerable(no_next_game_message(player.name, team.code, today, opponent), found)
    else:
        before = selectors.last_log(player, before=day)
        if before is None:
            raise Unanswerable(f"{player.name} has no games before {day.isoformat()} in the database, so "
                               "there is nothing to base a prediction on: pick a later date.", found)
        team = found["team"] = before.team
        game = selectors.game_on(team, day, opponent)
        if game is None and opponent is None:
            raise Unanswerable(f"no game found for {player.name} ({team.code}) on {day.isoformat()}: "
                               "give an opponent for a hypothetical matchup", found)
    if game is not None:
        opponent = game.away if game.home_id == team.pk else game.home
        home = game.home_id == team.pk
        day = game.date
    if opponent.pk == team.pk:
        raise Unanswerable(own_team_message(opponent.code, player.name, request.date_input), found)
    if home is None:
        home = True  # a hypothetical matchup defaults to a home game
    resolved = {"player": player, "team": team, "opponent": opponent, "game": game, "game_date": day, "is_home": home}
    if request.out_players is not None:  # who is out: each one's team then, ignored when on neither side
        resolved["out_players"] = who_is_out.place(request.out_players, day, (team.pk, opponent.pk))
    return resolved


def no_next_game_message(player_name: str, team_code: str, today: dt.date, opponent=None) -> str:
    """Why a request without a date has no game, and what the user can add: the date (an
    opponent was given), or an opponent and a date (neither was)."""
    against = f" against {opponent.code}" if opponent else ""
    missing = "give a date for that matchup" if opponent else "give an opponent and a date"
    return (f"no game found for {player_name} ({team_code}){against} on or after {today.isoformat()} (today) "
            f"in the database: {missing}")


def _resolve_inputs(request: PredictionRequest):
    try:
        return validate_input(request.player_input, request.opponent_input)
    except InvalidInput as exc:  # the data changed since the request was accepted
        raise Unanswerable(str(exc)) from None


def build_features(request_id, token: str) -> dict:
    """Step 2: the model features for the resolved (player, game), from mlmodels.warehouse."""
    begin_step(request_id, token, "features")
    started = time.perf_counter()
    from mlmodels.warehouse import build_features_for

    request = PredictionRequest.objects.get(pk=request_id)
    features = build_features_for(request.player_id, request.game_date, request.opponent_id, request.is_home,
                                  team_id=request.team_id, out=who_is_out.feature_ids(request.out_players))
    features = {name: _plain(value) for name, value in features.items()}
    finish_step(request_id, token, "features", time.perf_counter() - started, features=features)
    return features


def _plain(value):
    """A JSON-safe number (numpy scalars, NaN -> None)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return None if number != number else number


def run_model(algorithm: str, features: dict, request_id, token: str) -> dict:
    """A model step (one per model kind, in parallel): that kind's p10/p50/p90 for the features."""
    begin_step(request_id, token, algorithm)
    started = time.perf_counter()
    from mlmodels import inference

    try:
        output = inference.predict(algorithm, features)
    except inference.NoActiveModel as exc:
        raise PredictionFailed(f"no trained {algorithm} model is active yet ({exc}): an administrator must "
                               "run `manage.py train`") from None
    output = {key: _plain(value) for key, value in output.items()}
    finish_step(request_id, token, algorithm, time.perf_counter() - started)
    return {"algorithm": algorithm, **output}


def store_prediction(outputs: list[dict], request_id, token: str) -> dict:
    """Last step: combine the models' outputs and store the one Prediction of the request."""
    stored = Prediction.objects.filter(request_id=request_id).first()
    if stored is not None:  # a re-run after the result was stored
        return prediction_summary(stored)
    begin_step(request_id, token, "combine")
    started = time.perf_counter()
    from mlmodels.ensemble import combine

    combined = {key: _plain(value) for key, value in combine([_model_output(o) for o in outputs]).items()}
    p10, p50, p90 = sorted([combined["p10"], combined["p50"], combined["p90"]])
    with transaction.atomic():
        request = _locked(request_id)
        if request.run_token != token or request.status != Status.RUNNING:
            raise StaleRun(f"request {request_id} is no longer run by {token}")
        now = timezone.now()
        timings = {**request.timings, "combine": round(time.perf_counter() - started, 4)}
        if request.enqueued_at and request.started_at:
            timings["queued"] = round(max(0.0, (request.started_at - request.enqueued_at).total_seconds()), 4)
        timings["total"] = round((now - request.created_at).total_seconds(), 4)
        prediction, _ = Prediction.objects.get_or_create(request=request, defaults={
            "p10": p10, "p50": p50, "p90": p90,
            "model_outputs": {o["algorithm"]: _model_output(o) for o in outputs},
            "model_versions": {o["algorithm"]: o.get("model_version") for o in outputs},
            "features": request.features or {},
            "timings": timings,
            "actual_points": selectors.actual_points(request.player_id, request.game),
            **data_freshness(request.player_id, request.game_date),
        })
        request.status = Status.SUCCEEDED
        request.stage = "combine"
        request.step_index = request.step_count
        request.steps_done = [*request.steps_done, "combine"] if "combine" not in request.steps_done \
            else request.steps_done
        request.timings = timings
        request.percent = 100
        request.finished_at = now
        request.save()
        record_event(request, f"{p10:.0f}-{p90:.0f} points (median {p50:.0f})")
    logger.info("prediction %s succeeded: %.0f-%.0f points (median %.0f) in %.3f s", request_id, p10, p90, p50,
                timings["total"])
    return prediction_summary(prediction)


def data_freshness(player_id: int, game_date: dt.date) -> dict:
    """`data_through`, the date of the player's last game the features used (his lines before the
    game inside the features' horizon: this season and the last), and `days_since_last_game`."""
    from mlmodels.features import EPOCH, horizon

    first_day = EPOCH + dt.timedelta(days=horizon(game_date)[0])
    through = selectors.last_game_date(player_id, before=game_date, since=first_day)
    return {"data_through": through, "days_since_last_game": (game_date - through).days if through else None}


def _model_output(output: dict) -> dict:
    return {key: output[key] for key in ("p10", "p50", "p90", "model_version") if key in output}


def prediction_summary(prediction: Prediction) -> dict:
    return {"request": str(prediction.request_id), "p10": prediction.p10, "p50": prediction.p50,
            "p90": prediction.p90, "actual_points": prediction.actual_points}


# --- `make run`'s first start: quick models now, the full ones on the batch worker ------------------

def queue_full_training_once():
    """Queue one full training run (task mlmodels.tasks.train, ml queue) unless one is already queued,
    running or has succeeded (a failed one is tried again). Returns (run, queued_now). The run row is
    written first under the task's id, so a second call sees it before the worker starts, and the
    task reuses that row (mlmodels.runs.start_run)."""
    import uuid

    from mlmodels.models import TrainingRun
    from etl.selectors import loaded_seasons
    from mlmodels.tasks import train

    with transaction.atomic():
        pending = (TrainingRun.objects.select_for_update()
                   .filter(kind="train", quick=False, status__in=[
                       TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING, TrainingRun.Status.SUCCEEDED])
                   .order_by("-created_at").first())
        if pending is not None:
            return pending, False
        run = TrainingRun.objects.create(kind="train", quick=False, task_id=str(uuid.uuid4()), stage="queued",
                                         status=TrainingRun.Status.QUEUED, seasons=loaded_seasons())
    try:
        train.apply_async(kwargs={"quick": False}, task_id=run.task_id)
    except Exception as exc:
        run.fail(f"could not queue the task: {exc}")
        raise
    return run, True
