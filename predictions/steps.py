"""The work of each pipeline step: resolve the matchup, build the features, run a model kind, combine
and store the range.

Above predictions.progress (each step begins and finishes through it), below the pipeline and the
tasks (which call these by name; docs/architecture.md, "Layers inside predictions"). Every step is
idempotent and checks the run token it was queued with, so a step re-run after a worker crash, or
a stale chain still running after the sweeper re-queued its request, changes nothing twice (and a
`Prediction` is one-to-one with its request).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.utils import timezone

from etl.models import Team
from etl.teams import unknown_team_message
from predictions import selectors, who_is_out
from predictions.dates import product_today
from predictions.models import FIRST_STEPS, LAST_STEPS, STEP_LABELS, STEP_NAMES, Prediction, PredictionRequest
from predictions.progress import StaleRun, begin_step, finish_step, resume_step, succeed

logger = logging.getLogger(__name__)


class InvalidInput(Exception):
    """Bad input for a new request: `errors` maps field names to messages (plus `did_you_mean`)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{key}: {' '.join(map(str, msgs))}" for key, msgs in errors.items()))
        self.errors = errors


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


# --- What a request refers to (checked at submit, resolved by the first step) ---------------------------


def validate_input(player, opponent: str = "", resolve_opponent: bool = True, match=None) -> tuple:
    """Cheap checks before anything is stored: the player and the opponent must exist.
    Returns (player, opponent team or None; with resolve_opponent=False its code, not loaded).
    `match`: the selectors.PlayerMatch of `player`, when already looked up."""
    errors: dict[str, list[str]] = {}
    match = selectors.find_player(player) if match is None else match
    if match.player is None:
        if match.ambiguous:
            errors["player"] = [f"{player!s} matches several players: give the full name or the id."]
        elif str(player).strip().isdecimal():  # as find_player reads an id
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
            errors["opponent"] = [unknown_team_message(opponent)]
    if errors:
        raise InvalidInput(errors)
    return match.player, opponent_team


def own_team_message(code: str, player_name: str, day: dt.date | None = None) -> str:
    on = f" on {day.isoformat()}" if day else ""
    return f"{code} is {player_name}'s own team{on}: pick another opponent."


def no_next_game_message(player_name: str, team_code: str, today: dt.date, opponent=None) -> str:
    """Why a request without a date has no game, and what the user can add: the date (an
    opponent was given), or an opponent and a date (neither was)."""
    against = f" against {opponent.code}" if opponent else ""
    missing = "give a date for that matchup" if opponent else "give an opponent and a date"
    return (
        f"no game found for {player_name} ({team_code}){against} on or after {today.isoformat()} (today) "
        f"in the database: {missing}"
    )


def resolve_matchup(request: PredictionRequest) -> dict:
    """What a request refers to, as fields of the request; PredictionFailed with the reason if nothing.

    Without a date the request means the player's next game on or after the product's today when it
    was asked (`as_of`: AS_OF_DATE, or today in UTC), for the team of his last game before it; a game
    today is still upcoming (the slate of today holds it too). One query in the usual case (a player
    by id or exact name: selectors.matchup), the separate look-ups otherwise."""
    day, home = request.date_input, request.home_input
    today = (request.as_of or product_today()) if day is None else None
    when = day or today
    found = selectors.matchup(request.player_input, request.opponent_input, when, upcoming=day is None)
    if found is None:
        found = _matchup_by_parts(request, when, upcoming=day is None)
    player, opponent, team, game = found.player, found.opponent, found.team, found.game
    known = {"player": player, "opponent": opponent, "game_date": day}
    if team is None:
        advice = "give an opponent and a later date" if day is None else "pick a later date"
        raise Unanswerable(
            f"{player.name} has no games before {when.isoformat()} in the database, so there "
            f"is nothing to base a prediction on: {advice}.",
            known,
        )
    known["team"] = team
    if game is None and day is None:
        raise Unanswerable(no_next_game_message(player.name, team.code, today, opponent), known)
    if game is None and opponent is None:
        raise Unanswerable(
            f"no game found for {player.name} ({team.code}) on {day.isoformat()}: "
            "give an opponent for a hypothetical matchup",
            known,
        )
    if game is not None:
        opponent = game.away if game.home_id == team.pk else game.home
        home = game.home_id == team.pk
        day = game.date
    if opponent.pk == team.pk:
        raise Unanswerable(own_team_message(opponent.code, player.name, request.date_input), known)
    if home is None:
        home = True  # a hypothetical matchup defaults to a home game
    resolved = {"player": player, "team": team, "opponent": opponent, "game": game, "game_date": day, "is_home": home}
    if request.out_players is not None:  # who is out: each one's team then, ignored when on neither side
        resolved["out_players"] = who_is_out.place(request.out_players, day, (team.pk, opponent.pk))
    return resolved


def _matchup_by_parts(request: PredictionRequest, when: dt.date, upcoming: bool) -> selectors.Matchup:
    """selectors.matchup's answer from the separate look-ups: a partial name ('lebron'), or the reason
    (Unanswerable) why the player or the opponent is not found."""
    player, opponent = _resolve_inputs(request)
    latest = selectors.last_log(player, before=when)
    team = latest.team if latest is not None else None
    game = None
    if team is not None:
        game = (selectors.next_game if upcoming else selectors.game_on)(team, when, opponent)
    return selectors.Matchup(player, team, opponent, game)


def _resolve_inputs(request: PredictionRequest):
    try:
        return validate_input(request.player_input, request.opponent_input)
    except InvalidInput as exc:  # the data changed since the request was accepted
        raise Unanswerable(str(exc)) from None


# --- The steps ----------------------------------------------------------------------------------------------


def resolve_request(request_id, token: str, task_ids: dict | None = None) -> dict:
    """Step 1: the player, his team, the opponent, the game (or a hypothetical matchup) and home/away.
    Returns what the features step needs of them (`matchup`: sent in its message, so that its first
    delivery reads nothing before its own queries)."""
    request = begin_step(request_id, token, "resolve", task_ids)
    started = time.perf_counter()
    try:
        resolved = resolve_matchup(request)
    except PredictionFailed as exc:
        if exc.resolved:
            PredictionRequest.objects.filter(pk=request_id, run_token=token).update(**exc.resolved)
        raise
    finish_step(request_id, token, "resolve", time.perf_counter() - started, then=("features",), **resolved)
    return features_input(PredictionRequest(**resolved))


def features_input(request: PredictionRequest) -> dict:
    """What the features step needs of a resolved request (JSON: the message resolve sends it)."""
    return {
        "player_id": request.player_id,
        "team_id": request.team_id,
        "opponent_id": request.opponent_id,
        "game_date": request.game_date.isoformat(),
        "is_home": request.is_home,
        "out": who_is_out.feature_ids(request.out_players),
    }


def _begin(request_id, token: str, step: str, handed_over: bool) -> PredictionRequest:
    """The request as a later step starts: its first delivery (`handed_over`: the previous step's
    finish recorded that it started) only reads it; a redelivery or a retry records its start."""
    return resume_step(request_id, token, step) if handed_over else begin_step(request_id, token, step)


def build_features(
    request_id, token: str, handed_over: bool = False, matchup: dict | None = None, models: list | None = None
) -> dict:
    """Step 2: the model features for the resolved (player, game), from mlmodels.warehouse. Its first
    delivery with the `matchup` resolve_request returned reads nothing else (its finish checks the
    run token); otherwise it reads the resolved request. Its finish hands over to the run's model
    steps (`models`, default this process's) that this process knows (the others record their start
    themselves)."""
    if not (handed_over and matchup):
        matchup = features_input(_begin(request_id, token, "features", handed_over))
    started = time.perf_counter()
    from mlmodels.warehouse import build_features_for

    features = build_features_for(
        matchup["player_id"],
        dt.date.fromisoformat(matchup["game_date"]),
        matchup["opponent_id"],
        matchup["is_home"],
        team_id=matchup["team_id"],
        out=matchup["out"],
    )
    features = {name: _plain(value) for name, value in features.items()}
    then = tuple(name for name in models if name in STEP_LABELS) if models is not None else model_steps()
    finish_step(request_id, token, "features", time.perf_counter() - started, then=then, features=features)
    return {"features": features, "handed_over": list(then)}


def _from_features_step(payload: dict) -> tuple[dict, tuple[str, ...]]:
    """A model step's first argument: (the features, the model steps the features step's finish handed
    over to). build_features returns them; a plain features dict hands over nothing known."""
    if isinstance(payload.get("features"), dict) and isinstance(payload.get("handed_over"), list):
        return payload["features"], tuple(payload["handed_over"])
    return payload, ()


def model_steps() -> tuple[str, ...]:
    """The model steps of this process's pipeline (one per model kind), run in parallel after features."""
    return tuple(STEP_NAMES[len(FIRST_STEPS) : -len(LAST_STEPS)])


def _plain(value):
    """A JSON-safe number (numpy scalars, NaN -> None)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return None if number != number else number


def run_model(algorithm: str, features: dict, request_id, token: str, handed_over: bool = False) -> dict:
    """A model step (one per model kind, in parallel): that kind's p10/p50/p90 for the features
    (`features`: what build_features returned). Its first delivery, when the features step's finish
    handed over to it (recorded its start), reads and writes nothing before its own finish, whose
    conditional UPDATE checks the run token (StaleRun). A first delivery of a kind not handed over
    reads whether its start was recorded (and records it if not); a redelivery or a retry records
    its start (the poison give-up counts it)."""
    features, handed = _from_features_step(features)
    if not handed_over:
        begin_step(request_id, token, algorithm)
    elif algorithm not in handed:
        resume_step(request_id, token, algorithm, row=False)
    started = time.perf_counter()
    from mlmodels import inference

    try:
        output = inference.predict(algorithm, features)
    except inference.NoActiveModel as exc:
        raise PredictionFailed(
            f"no trained {algorithm} model is active yet ({exc}): an administrator must run `manage.py train`"
        ) from None
    output = {key: _plain(value) for key, value in output.items()}
    # The last model step to finish hands over to combine.
    finish_step(request_id, token, algorithm, time.perf_counter() - started, then=("combine",), once_all_done=True)
    return {"algorithm": algorithm, **output}


def store_prediction(outputs: list[dict], request_id, token: str, handed_over: bool = False) -> dict:
    """Last step: combine the models' outputs and store the one Prediction of the request (with the
    request's final state, in one statement). A re-run after the result was stored answers with it.
    Its first delivery reads the request and the result's facts in one statement; otherwise they are
    two reads."""
    try:
        if handed_over:
            request = resume_step(request_id, token, "combine", annotations=selectors.result_facts_of_request())
        else:
            request = begin_step(request_id, token, "combine")
    except StaleRun:
        stored = Prediction.objects.filter(request_id=request_id).first()
        if stored is not None:
            return prediction_summary(stored)
        raise
    started = time.perf_counter()
    from mlmodels.ensemble import combine
    from mlmodels.training import TIER_FEATURE

    tier_minutes = (request.features or {}).get(TIER_FEATURE)  # the ensemble is calibrated per minutes tier
    combined = {key: _plain(value) for key, value in combine([_model_output(o) for o in outputs], tier_minutes).items()}
    p10, p50, p90 = sorted([combined["p10"], combined["p50"], combined["p90"]])
    timings = {**request.timings, "combine": round(time.perf_counter() - started, 4)}
    if request.enqueued_at and request.started_at:
        timings["queued"] = round(max(0.0, (request.started_at - request.enqueued_at).total_seconds()), 4)
    timings["total"] = round((timezone.now() - request.created_at).total_seconds(), 4)
    prediction = Prediction(
        request_id=request_id,
        p10=p10,
        p50=p50,
        p90=p90,
        model_outputs={o["algorithm"]: _model_output(o) for o in outputs},
        model_versions={o["algorithm"]: o.get("model_version") for o in outputs},
        features=request.features or {},
        timings=timings,
        **_facts_of(request),
    )
    succeed(request_id, token, "combine", timings, f"{p10:.0f}-{p90:.0f} points (median {p50:.0f})", prediction)
    logger.info(
        "prediction %s succeeded: %.0f-%.0f points (median %.0f) in %.3f s", request_id, p10, p90, p50, timings["total"]
    )
    return prediction_summary(prediction)


def _horizon_start(game_date: dt.date) -> dt.date:
    """The first day of the lines a prediction for `game_date` uses (the features' horizon)."""
    from mlmodels.features import EPOCH, horizon

    return EPOCH + dt.timedelta(days=horizon(game_date)[0])


def _with_days_since(facts: dict, game_date: dt.date) -> dict:
    through = facts["data_through"]
    return {**facts, "days_since_last_game": (game_date - through).days if through else None}


def _facts_of(request: PredictionRequest) -> dict:
    """result_facts of the request: read with it when its first delivery could
    (selectors.result_facts_of_request, whose last line is not bounded by the horizon: one before it
    is dropped here), else now."""
    if not hasattr(request, "data_through"):
        return result_facts(request.player_id, request.game_id, request.game_date)
    through = request.data_through
    if through is not None and through < _horizon_start(request.game_date):
        through = None
    return _with_days_since({"actual_points": request.actual_points, "data_through": through}, request.game_date)


def result_facts(player_id: int, game_id: int | None, game_date: dt.date) -> dict:
    """A result's facts about the data, in one query: `actual_points` (his points in the game, once it
    is final), and data_freshness's `data_through` and `days_since_last_game`."""
    since = _horizon_start(game_date)
    return _with_days_since(selectors.result_facts(player_id, game_id, before=game_date, since=since), game_date)


def data_freshness(player_id: int, game_date: dt.date) -> dict:
    """`data_through`, the date of the player's last game the features used (his lines before the
    game inside the features' horizon: this season and the last), and `days_since_last_game`."""
    through = selectors.last_game_date(player_id, before=game_date, since=_horizon_start(game_date))
    return _with_days_since({"data_through": through}, game_date)


def _model_output(output: dict) -> dict:
    return {key: output[key] for key in ("p10", "p50", "p90", "model_version") if key in output}


def prediction_summary(prediction: Prediction) -> dict:
    return {
        "request": str(prediction.request_id),
        "p10": prediction.p10,
        "p50": prediction.p50,
        "p90": prediction.p90,
        "actual_points": prediction.actual_points,
    }
