"""Submitting a prediction request: validate the input, refuse answers that would rest on missing or
stale data, honour the Idempotency-Key, store the request and publish its run after the commit.

The top of the pipeline's layers (docs/architecture.md, "Layers inside predictions"): the API, the
user page and `manage.py predict` call `submit_prediction`; it uses the steps' input checks
(predictions.steps) and publishes through predictions.pipeline. None of it knows about HTTP.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import nullcontext

from django.db import IntegrityError, transaction
from django.utils import timezone

from operations import logs
from predictions import selectors, who_is_out
from predictions.conf import min_recent_games, recent_games_window_days, stale_data_days
from predictions.dates import product_today
from predictions.models import PredictionRequest
from predictions.pipeline import new_run, publish_run
from predictions.steps import InvalidInput, own_team_message, validate_input

logger = logging.getLogger(__name__)

__all__ = [
    "IdempotencyConflict",
    "InvalidInput",
    "LOAD_FRESH_DATA",
    "NotEnoughData",
    "check_data_is_fresh",
    "min_recent_games",
    "recent_games_window_days",
    "stale_data_days",
    "submit_prediction",
]


class NotEnoughData(Exception):
    """The answer would rest on missing or stale data (HTTP 422): the message says what is missing and
    what to do; `facts` holds the figures it names (data_ends, recent_games, last_game), for clients."""

    def __init__(self, message: str, **facts):
        super().__init__(message)
        self.facts = facts


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used by this user for a different request."""


def submit_prediction(
    user,
    player,
    opponent: str = "",
    date: dt.date | None = None,
    home: bool | None = None,
    idempotency_key: str | None = None,
    out: list[str] | None = None,
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
    day = date or as_of
    try:
        # The player and his form in the window before the day, in one query (an id or an exact name).
        match, form = selectors.find_player_with_form(player_input, day, recent_games_window_days())
        found, opponent_code = validate_input(player_input, opponent, resolve_opponent=False, match=match)
        # His team then (as the resolve step decides it): in his last game before the date, or before
        # today for the next game. No other query when he played in the window (the usual case).
        latest = None if form is not None else selectors.last_log(found, before=day)
        team_code = form.team_code if form is not None else latest.team.code if latest is not None else None
        if opponent_code is not None and team_code == opponent_code:
            raise InvalidInput({"opponent": [own_team_message(opponent_code, found.name, date)]})
        try:
            out_players = who_is_out.stored(who_is_out.resolve(out, found))
        except who_is_out.OutListError as exc:
            raise InvalidInput({"out": exc.messages}) from None
        check_data_is_fresh(found, day, latest, dated=date is not None, form=form)
    except (InvalidInput, NotEnoughData):
        existing = replay()  # a key seen before answers as before, even if the data changed since
        if existing is None:
            raise
        return existing, False
    token, task_ids = new_run()
    try:
        # One INSERT (its own transaction, or a savepoint inside the caller's): recorded as
        # published up front (attempts, ids, time), so a good publish costs no second write; a
        # failed one is written back by publish_run. The "queued" event is implicit (see events).
        with transaction.atomic(durable=False) if transaction.get_connection().in_atomic_block else nullcontext():
            request = PredictionRequest.objects.create(
                user=user,
                idempotency_key=idempotency_key or None,
                player_input=player_input,
                opponent_input=opponent,
                date_input=date,
                home_input=home,
                as_of=as_of,
                out_input=out,
                out_players=out_players,
                attempts=1,
                task_ids=task_ids,
                enqueued_at=timezone.now(),
            )
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
LOAD_FRESH_DATA = (
    "load fresh game logs first: `.venv/bin/python manage.py load_gamelogs FILE.csv` for files in the "
    "bundled format, or `.venv/bin/python manage.py crawl boxscores date=YYYY-MM-DD` to crawl a "
    "day's box scores from basketball-reference.com and load them"
)


def check_data_is_fresh(
    player, day: dt.date, latest=None, dated: bool = True, form: selectors.RecentForm | None = None
) -> None:
    """Refuse (NotEnoughData) a prediction for `day` that would rest on missing or stale data: no
    played game in the warehouse in the PREDICTIONS_STALE_DATA_DAYS before it (the data ends too
    early), or fewer than PREDICTIONS_MIN_RECENT_GAMES games of the player in the
    PREDICTIONS_RECENT_GAMES_WINDOW_DAYS before it. `latest` is his last line before `day`, when
    already read; `dated` says whether the user gave the date (else it is the product's today); `form`
    the player's selectors.recent_form in the window, when already read (then no other query)."""
    when = day.isoformat() if dated else f"today ({day.isoformat()})"
    stale_days = stale_data_days()
    data_ends = form.data_ends if form is not None else selectors.latest_played_game_date(before=day)
    if data_ends is None or (day - data_ends).days > stale_days:
        if data_ends is not None:
            raise NotEnoughData(
                f"The data ends on {data_ends.isoformat()}, {(day - data_ends).days} days before {when} (more than "
                f"{stale_days}): a prediction would rest on stale data. To predict, {LOAD_FRESH_DATA}; or ask about "
                f"a date up to {stale_days} days after {data_ends.isoformat()}.",
                data_ends=data_ends,
            )
        first = selectors.first_played_game_date()
        if first is None:
            raise NotEnoughData(
                "The warehouse has no played games yet, so there is nothing to base a prediction on: load the "
                "bundled seasons with `.venv/bin/python manage.py load_gamelogs --bundled`, or "
                f"{LOAD_FRESH_DATA}.",
                data_ends=None,
            )
        raise NotEnoughData(
            f"The data begins on {first.isoformat()}, after {when}, so there is nothing to base a prediction on: "
            f"ask about a later date.",
            data_ends=None,
        )
    needed, window = min_recent_games(), recent_games_window_days()
    recent = form.recent_games if form is not None else selectors.recent_games_count(player, day, window)
    if recent >= needed:
        return
    if form is not None:
        last_date = form.last_date
    else:
        latest = latest if latest is not None else selectors.last_log(player, before=day)
        last_date = latest.date if latest is not None else None
    games = f"{recent} game{'s' * (recent != 1)}"
    if last_date is None:
        last = f"he has no game before {day.isoformat()} in the database"
    else:
        last = f"his last was on {last_date.isoformat()}"
    raise NotEnoughData(
        f"Not enough recent data for {player.name}: {games} in the {window} days before {when} (at least "
        f"{needed} needed), {last}. Ask about a date closer to his games, or {LOAD_FRESH_DATA}.",
        data_ends=data_ends,
        recent_games=recent,
        last_game=last_date,
    )


def _replay(user, key, player_input, opponent, date, home, out=None) -> PredictionRequest | None:
    """The first request of this key, when it asked the same question (who is out included: the
    same names, in any order; no list and an empty one differ); IdempotencyConflict otherwise."""
    existing = PredictionRequest.objects.filter(user=user, idempotency_key=key).order_by("pk").first()
    if existing is None:
        return None
    same_out = (existing.out_input is None and out is None) or (
        existing.out_input is not None and out is not None and sorted(existing.out_input) == sorted(out)
    )
    same = same_out and (existing.player_input, existing.opponent_input, existing.date_input, existing.home_input) == (
        player_input,
        opponent,
        date,
        home,
    )
    if not same:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used for a different request "
            f"({existing.player_input!r}, id {existing.pk})."
        )
    return existing
