"""Slates: who is expected to play each game of a day, and every one of their points ranges in one job.

Reads (expected players, a slate's rows) and writes (submit, plan, one game, summary, the sweeper)
of the slate job. Tasks (predictions/slate_tasks.py), the API (predictions/slate_api.py), the user
page and `manage.py predict_slate` call these; each write is idempotent: a re-run game replaces its
rows and counts once, a second summary changes nothing, so the sweeper may re-publish freely.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from etl.models import Game, PlayerGameLog
from etl.schema import GAMES, LINES
from operations import logs, progress
from predictions import sweeping, who_is_out
from predictions.conf import stuck_timeout
from predictions.slate_models import Slate, SlateGame, SlatePrediction

logger = logging.getLogger(__name__)
RECENT_TEAM_GAMES = 3  # a player is expected if he played in one of his team's last 3 games
MAX_SWEEPS = 5  # a slate the sweeper re-published this often is failed instead (something else is wrong)
SWEEP_EVERY_SECONDS = 30
SWEEPER_TASK = "predictions.tasks.sweep_stuck_slates"
SWEEPER_SCHEDULE_NAME = "predictions: re-publish stuck slates"
NO_OUT_LIST = who_is_out.out_key(None)  # the out_key of a slate asked without an out list (who is out not known)


class SlateRefused(Exception):
    """A slate that cannot be answered; the message says what to do (HTTP 422, a command error)."""


class NoActiveModels(SlateRefused):
    """No complete active model set: the slate cannot be computed (train first)."""


class NoGames(SlateRefused):
    """The warehouse has no game on the slate's date: an empty slate would say nothing."""


def check_games(day: dt.date) -> None:
    """Refuse a date the warehouse has no game on, saying where its games end and what loads more."""
    if Game.objects.filter(date=day).exists():
        return
    last = Game.objects.order_by("-date").values_list("date", flat=True).first()
    where = f"its games end on {last.isoformat()}" if last else "it has no game at all"
    raise NoGames(
        f"no game on {day.isoformat()} in the warehouse ({where}): pick a date with games, or load the "
        'schedule first (`.venv/bin/python manage.py crawl schedule month=current,next`, or the "Scrape this and '
        "next month's schedule\" entry in admin)"
    )


# --- reads --------------------------------------------------------------------------------------


def _expected_sql() -> str:
    """Params: team, team, team, date, team, date, team. Names from etl.schema (never literals)."""
    recent = (
        f"SELECT {GAMES.id} FROM (SELECT g.{GAMES.id} FROM {GAMES} g WHERE (g.{GAMES.home} = %s "
        f"OR g.{GAMES.away} = %s) AND g.{GAMES.date} < %s AND EXISTS (SELECT 1 FROM {LINES} x "
        f"WHERE x.{LINES.game} = g.{GAMES.id} AND x.{LINES.team} = %s) "
        f"ORDER BY g.{GAMES.date} DESC LIMIT {RECENT_TEAM_GAMES}) AS recent"
    )
    latest_team = (
        f"SELECT y.{LINES.team} FROM {LINES} y WHERE y.{LINES.player} = l.{LINES.player} "
        f"AND y.{LINES.date} < %s ORDER BY y.{LINES.date} DESC LIMIT 1"
    )
    return (
        f"SELECT DISTINCT l.{LINES.player} FROM {LINES} l WHERE l.{LINES.team} = %s AND l.{LINES.seconds} > 0 "
        f"AND l.{LINES.game} IN ({recent}) AND ({latest_team}) = %s ORDER BY l.{LINES.player}"
    )


def expected_players(game: Game) -> list[tuple[int, int]]:
    """[(player id, team id)] expected in `game`: players with minutes in at least one of their
    team's last RECENT_TEAM_GAMES games before the game's date, whose latest line is for that team
    (one indexed query per team)."""
    from django.db import connection

    found = []
    with connection.cursor() as cursor:
        for team_id in (game.home_id, game.away_id):
            cursor.execute(_expected_sql(), [team_id, team_id, team_id, game.date, team_id, game.date, team_id])
            found += [(player, team_id) for (player,) in cursor.fetchall()]
    return found


def versions_key(versions: dict) -> str:
    return ",".join(f"{algorithm}={versions[algorithm]}" for algorithm in sorted(versions))


def active_versions() -> dict[str, int]:
    from mlmodels import kinds
    from mlmodels.selectors import active_version_ids

    versions = {name: version for name, version in active_version_ids().items() if name in kinds.names()}
    missing = set(kinds.names()) - set(versions)
    if missing:
        raise NoActiveModels(
            f"no active {', '.join(sorted(missing))} model yet: an administrator must run `manage.py train` first"
        )
    return versions


def slate_games(slate: Slate) -> list[dict]:
    """Per game of the slate (by tip-off order): game id, home and away codes, and its players'
    rows (highest median first) with p10/p50/p90, data_through, actual and whether it fell inside."""
    games = {g.id: g for g in Game.objects.filter(date=slate.date).select_related("home", "away").order_by("id")}
    out = {
        gid: {"game": gid, "date": g.date, "home": g.home.code, "away": g.away.code, "players": []}
        for gid, g in games.items()
    }
    rows = (
        SlatePrediction.objects.filter(slate=slate)
        .select_related("player", "team")
        .order_by("game_id", "-p50", "player_id")
    )
    for row in rows:
        inside = None if row.actual is None else bool(row.p10 <= row.actual <= row.p90)
        out.setdefault(
            row.game_id, {"game": row.game_id, "date": slate.date, "home": None, "away": None, "players": []}
        )["players"].append(
            {
                "player": row.player_id,
                "name": row.player.name,
                "team": row.team.code,
                "p10": row.p10,
                "p50": row.p50,
                "p90": row.p90,
                "data_through": row.data_through,
                "actual": row.actual,
                "inside": inside,
            }
        )
    return list(out.values())


def coverage(slate: Slate) -> float | None:
    """Share of the rows with an actual score whose actual lies in p10-p90 (None: nothing played)."""
    played = SlatePrediction.objects.filter(slate=slate, actual__isnull=False)
    total = played.count()
    if not total:
        return None
    return played.filter(p10__lte=F("actual"), p90__gte=F("actual")).count() / total


# --- writes -------------------------------------------------------------------------------------


def submit_slate(user, day: dt.date, out: list[str] | None = None) -> tuple[Slate, bool]:
    """The slate of `day` for the active models and who is out: created and queued once (after
    commit), or the existing one (a failed one, or one whose message was lost, is queued again).
    `out`: names or ids of players who will not play (None: not known); an unknown or ambiguous
    name raises who_is_out.OutListError. Each is placed on his team then, `ignored` when it has no
    game that day."""
    versions = active_versions()
    check_games(day)
    out_players = who_is_out.resolve(out)
    if out_players is not None:
        playing = Game.objects.filter(date=day).values_list("home_id", "away_id")
        out_players = who_is_out.place(who_is_out.stored(out_players), day, {t for pair in playing for t in pair})
    key = NO_OUT_LIST if out_players is None else who_is_out.out_key([entry["id"] for entry in out_players])
    task_id = str(uuid.uuid4())
    with transaction.atomic():
        slate, created = Slate.objects.get_or_create(
            date=day,
            versions_key=versions_key(versions),
            out_key=key,
            defaults={
                "model_versions": versions,
                "requested_by": user if user and user.pk else None,
                "task_id": task_id,
                "out_players": out_players,
                "progressed_at": timezone.now(),
            },
        )
        requeue = not created and slate.status == Slate.Status.FAILED  # a lost one is the sweeper's
        if requeue:
            requeued = Slate.objects.filter(pk=slate.pk, status=slate.status, task_id=slate.task_id).update(
                status=Slate.Status.QUEUED, task_id=task_id, message="", finished_at=None, sweeps=0, progressed_at=Now()
            )
            requeue = bool(requeued)
        if created or requeue:
            slate.task_id = task_id
            transaction.on_commit(lambda: publish(slate.pk, task_id))
    logs.bind("slate", slate.pk)  # this HTTP request's later lines are about it
    logger.info(
        "slate %s of %s %s for %s",
        slate.pk,
        day.isoformat(),
        "created" if created else "queued again" if requeue else "found",
        getattr(user, "username", None),
    )
    return slate, created


# predictions.slate_tasks' tasks, sent by name (no import upwards)
PLAN_SLATE_TASK = "predictions.tasks.plan_slate"
GAME_TASK = "predictions.tasks.slate_game"
SUMMARY_TASK = "predictions.tasks.slate_summary"


def publish(slate_id: int, task_id: str) -> None:
    from nbaproject.celery import app

    try:
        app.signature(PLAN_SLATE_TASK, args=(slate_id,)).apply_async(
            task_id=task_id, retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2}
        )
        logger.info("slate %s: task %s published", slate_id, task_id)
    except Exception as exc:  # broker down: the sweeper publishes it again
        logger.warning("slate %s not published: %s", slate_id, exc)
        Slate.objects.filter(pk=slate_id).update(message=f"{NOT_QUEUED} (broker unavailable: {exc})")


NOT_QUEUED = "not queued yet"


def plan(slate_id: int) -> list[int]:
    """Start the slate: one SlateGame per game of its date; returns the game ids (none: done)."""
    slate = Slate.objects.get(pk=slate_id)
    game_ids = list(Game.objects.filter(date=slate.date).order_by("id").values_list("id", flat=True))
    SlateGame.objects.bulk_create([SlateGame(slate=slate, game_id=gid) for gid in game_ids], ignore_conflicts=True)
    done = SlateGame.objects.filter(slate=slate, done=True)
    progress.start(
        slate,
        stage="games",
        games_total=len(game_ids),
        games_done=done.count(),
        players_done=sum(done.values_list("players", flat=True)),
        step=(0, len(game_ids)),
        progressed_at=timezone.now(),
        message="",
    )
    return game_ids


def predict_matrix(matrix, versions: dict | None = None) -> list[dict]:
    """Both models on a feature matrix, then each row's ensemble (as a single prediction combines)."""
    from mlmodels import inference, training
    from mlmodels.ensemble import combine

    per_model = []
    for algorithm in sorted(active_versions() if versions is None else versions):
        version_id, fitted = inference.model(algorithm)
        if versions is not None and version_id != versions[algorithm]:
            raise NoActiveModels(f"the active {algorithm} model changed while the slate ran: ask for the slate again")
        p10, p50, p90 = fitted.predict(matrix)
        per_model.append((version_id, p10, p50, p90))
    rows = []
    tier_minutes = training.tier_minutes(matrix)
    for i in range(len(matrix)):
        outputs = [
            {"p10": float(p10[i]), "p50": float(p50[i]), "p90": float(p90[i]), "model_version": version}
            for version, p10, p50, p90 in per_model
        ]
        combined = combine(outputs, float(tier_minutes[i]))
        low, mid, high = sorted([combined["p10"], combined["p50"], combined["p90"]])
        rows.append({"p10": low, "p50": mid, "p90": high})
    return rows


def game_ranges(game: Game, versions: dict | None = None, out: list[int] | None = None) -> list[dict]:
    """Every expected player's range for one game (no write): features in one batch, both models.
    `out`: ids of players who will not play (None: not known): left out of the rows, and those of
    the game's two teams given to the features (as a single prediction with the same list)."""
    from mlmodels.batch_features import build_features_for_game

    excluded = set(out or ())
    players = [(player, team) for player, team in expected_players(game) if player not in excluded]
    feature_out = None if out is None else who_is_out.on_teams(list(out), game.date, (game.home_id, game.away_id))
    matrix, through = build_features_for_game(game.date, game.home_id, game.away_id, players, out=feature_out)
    ranges = predict_matrix(matrix, versions) if players else []
    actual = dict(PlayerGameLog.objects.filter(game=game).values_list("player_id", "pts"))
    return [
        {"player_id": player, "team_id": team, **numbers, "data_through": day, "actual": actual.get(player)}
        for (player, team), numbers, day in zip(players, ranges, through, strict=True)
    ]


def compute_game(slate_id: int, game_id: int) -> int:
    """One game of the slate: its rows replaced (never duplicated) and the slate's counters moved
    once per game, in one transaction. Returns the number of players."""
    slate = Slate.objects.get(pk=slate_id)
    game = Game.objects.get(pk=game_id)
    rows = game_ranges(game, slate.model_versions, out=who_is_out.feature_ids(slate.out_players))
    with transaction.atomic():
        part, _ = SlateGame.objects.select_for_update().get_or_create(slate_id=slate_id, game_id=game_id)
        SlatePrediction.objects.filter(slate_id=slate_id, game_id=game_id).delete()
        SlatePrediction.objects.bulk_create(
            [SlatePrediction(slate_id=slate_id, game_id=game_id, **row) for row in rows]
        )
        games_step = 0 if part.done else 1
        Slate.objects.filter(pk=slate_id).update(
            games_done=F("games_done") + games_step,
            players_done=F("players_done") + len(rows) - part.players,
            step_index=F("step_index") + games_step,
            progressed_at=Now(),
        )
        Slate.objects.filter(pk=slate_id, games_total__gt=0).update(percent=F("games_done") * 99 / F("games_total"))
        part.done, part.players = True, len(rows)
        part.save(update_fields=["done", "players"])
    return len(rows)


def summarize(slate_id: int) -> dict:
    """The last step: counters from the rows, the night's coverage, succeeded. Exactly once: a
    summary that finds the slate succeeded, or a game still to do (a chord fired early by a
    redelivered game task), changes nothing (the game's own task or the sweeper finishes it)."""
    with transaction.atomic():
        slate = Slate.objects.select_for_update().get(pk=slate_id)
        parts = SlateGame.objects.filter(slate=slate)
        games_total, games_done = parts.count(), parts.filter(done=True).count()
        players = SlatePrediction.objects.filter(slate=slate).count()
        answer = {"slate": slate_id, "games": games_done, "players": players}
        if slate.status == Slate.Status.SUCCEEDED:
            return {**answer, "coverage_80": slate.coverage_80, "already": True}
        if games_done < games_total:
            logger.info(
                "slate %s: summary with %d of %d games done: left to the sweeper", slate_id, games_done, games_total
            )
            return {**answer, "coverage_80": None, "pending": games_total - games_done}
        share = coverage(slate)
        seconds = (timezone.now() - slate.created_at).total_seconds()
        progress.succeed(
            slate,
            stage="done",
            games_total=games_total,
            games_done=games_done,
            players_done=players,
            step=(games_done, games_total),
            coverage_80=share,
            seconds=seconds,
            message="",
        )
    return {**answer, "coverage_80": share}


# --- the sweeper: lost messages (broker restarted, worker killed) -------------------------------


def _silent(now, stuck_after: float, grace: float) -> Q:
    cutoff = now - dt.timedelta(seconds=stuck_after)
    unfinished = Q(status__in=[Slate.Status.QUEUED, Slate.Status.RUNNING])
    never_published = Q(
        status=Slate.Status.QUEUED, message__startswith=NOT_QUEUED, created_at__lt=now - dt.timedelta(seconds=grace)
    )
    return unfinished & (
        Q(progressed_at__lt=cutoff) | Q(progressed_at__isnull=True, created_at__lt=cutoff) | never_published
    )


def sweep_stuck_slates(stuck_after: float | None = None, grace: float = 5.0, limit: int = 50) -> dict:
    """Re-publish the lost work of every slate silent for `stuck_after` s (SLATES_STUCK_TIMEOUT):
    a queued one's planning task, a running one's unfinished games (then the summary), or only
    the summary when every game is done. Safe to repeat and to race with late original messages:
    a game re-run replaces its rows and counts once, a second summary does nothing. A slate
    swept MAX_SWEEPS times is failed (asking again starts it over)."""
    stuck_after = stuck_timeout() if stuck_after is None else stuck_after

    def publish(slate: Slate, missing: list[int] | None) -> bool:
        try:
            what = _republish(slate, missing)
        except Exception as exc:  # broker still down: the next sweep tries again
            logger.warning("slate sweeper: slate %s not published: %s", slate.pk, exc)
            return False
        Slate.objects.filter(pk=slate.pk).update(sweeps=F("sweeps") + 1, progressed_at=Now())  # next: a full timeout
        logger.info("slate sweeper: slate %s silent for %ss: re-published %s", slate.pk, int(stuck_after), what)
        return True

    silent = _silent(timezone.now(), stuck_after, grace)
    swept, failed, not_published = sweeping.sweep(Slate, silent, limit, _missing_games, publish)
    return {"swept": swept, "failed": failed, "not_published": not_published}


def _missing_games(slate: Slate):
    """A silent slate, under its row lock: failed after MAX_SWEEPS (sweeping.GAVE_UP), else what to
    publish again: a running one's unfinished games, or None (a queued one: its planning)."""
    if slate.sweeps >= MAX_SWEEPS:
        progress.fail(
            slate,
            f"gave up after {slate.sweeps} re-publications: the workers did not finish this slate; ask for it again",
        )
        return sweeping.GAVE_UP
    if slate.status != Slate.Status.RUNNING:
        return None
    return list(SlateGame.objects.filter(slate=slate, done=False).order_by("game_id").values_list("game_id", flat=True))


def _republish(slate: Slate, missing: list[int] | None) -> str:
    """Publish a queued slate's planning (missing=None), a running one's missing games then the
    summary, or the summary alone. Returns what was published."""
    from celery import chord

    from nbaproject.celery import app

    policy = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2}
    if missing is None:
        task_id = str(uuid.uuid4())
        app.signature(PLAN_SLATE_TASK, args=(slate.pk,)).apply_async(task_id=task_id, retry=True, retry_policy=policy)
        Slate.objects.filter(pk=slate.pk).update(task_id=task_id, message="")
        return "its planning"
    summary = app.signature(SUMMARY_TASK, args=(slate.pk,), immutable=True)
    if missing:
        chord([app.signature(GAME_TASK, args=(slate.pk, gid), immutable=True) for gid in missing])(summary)
        return f"{len(missing)} game(s) and the summary"
    summary.apply_async(retry=True, retry_policy=policy)
    return "the summary"


def ensure_sweeper_schedule(periodic_task_model=None, interval_model=None) -> list[tuple[str, bool]]:
    """The slate sweeper's beat entry (every 30 s), created or brought up to date: [(name, created)].
    Registered as a schedule setup (predictions/jobs.py); its migration passes historical models."""
    created = sweeping.ensure_every(
        SWEEPER_SCHEDULE_NAME,
        SWEEPER_TASK,
        SWEEP_EVERY_SECONDS,
        "Re-publishes the lost game tasks or summary of slates silent for SLATES_STUCK_TIMEOUT "
        "seconds (predictions.slate_services.sweep_stuck_slates).",
        periodic_task_model,
        interval_model,
    )
    return [(SWEEPER_SCHEDULE_NAME, created)]


def fail(slate_id: int, message: str) -> None:
    slate = Slate.objects.filter(pk=slate_id).first()
    if slate is not None and slate.status != Slate.Status.SUCCEEDED:
        progress.fail(slate, message)
