"""Reads for the predictions app: finding players and games, and what a user may see."""

from __future__ import annotations

import datetime as dt
import difflib
import time
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from etl.models import Game, Player, PlayerGameLog, Team, TeamAlias
from etl.names import alias_key, normalise_name
from predictions.models import PredictionRequest

MAX_SUGGESTIONS = 5


@dataclass
class PlayerMatch:
    """The outcome of looking a player up: one player, or none with the closest names."""

    player: Player | None = None
    suggestions: list[str] = field(default_factory=list)
    ambiguous: bool = False


def search_players(query: str) -> QuerySet[Player]:
    """Players whose name contains every word of the query, ignoring case and accents ('doncic')."""
    words = normalise_name(query or "").split()
    players = Player.objects.all()
    for word in words:
        players = players.filter(normalised_name__contains=word)
    return players


def find_player(text: str | int) -> PlayerMatch:
    """The player meant by an id or a name: exact (normalised) name first, then a unique
    all-words match ('lebron'); otherwise no player and the closest names."""
    text = str(text).strip()
    if text.isdecimal():  # not isdigit: int() refuses '²'
        player = Player.objects.filter(pk=int(text)).first()
        return PlayerMatch(player=player)
    norm = normalise_name(text)
    if not norm:
        return PlayerMatch()
    return _exact_match(list(Player.objects.filter(normalised_name=norm)[:MAX_SUGGESTIONS])) or _partial_match(norm)


def _exact_match(players: list[Player]) -> PlayerMatch | None:
    """The match of the players a normalised name names exactly (None: none does)."""
    if len(players) == 1:
        return PlayerMatch(player=players[0])
    if players:
        return PlayerMatch(ambiguous=True, suggestions=[f"{p.name} (id {p.pk})" for p in players])
    return None


def _partial_match(norm: str) -> PlayerMatch:
    """A normalised name no player has exactly: a unique all-words match, else the candidates or the
    closest names."""
    partial = list(search_players(norm).order_by("name")[: MAX_SUGGESTIONS + 1])
    if len(partial) == 1:
        return PlayerMatch(player=partial[0])
    if partial:
        return PlayerMatch(ambiguous=True, suggestions=[p.name for p in partial[:MAX_SUGGESTIONS]])
    return PlayerMatch(suggestions=suggest_players(norm))


def suggest_players(norm: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Closest player names to a normalised name ('lebrom jmes' -> 'LeBron James'), by
    similarity of the whole name and of the last name."""
    names: dict[str, str] = {}
    for normalised, name in Player.objects.values_list("normalised_name", "name"):
        names.setdefault(normalised, name)
    close = difflib.get_close_matches(norm, list(names), n=limit, cutoff=0.7)
    if len(close) < limit and " " not in norm:
        by_last = {key.split()[-1]: key for key in names if key}
        for last in difflib.get_close_matches(norm, list(by_last), n=limit, cutoff=0.75):
            if by_last[last] not in close:
                close.append(by_last[last])
    return [names[key] for key in close[:limit]]


_ALIAS_CACHE: dict = {"codes": {}, "loaded": 0.0}
ALIAS_CACHE_SECONDS = 300


def team_code(text: str) -> str | None:
    """The code of the team going by this code or name, or None; served from a per-process map
    of aliases (refreshed every few minutes, and on a miss), so a valid opponent costs no query."""
    key = alias_key(text or "")
    if key in _ALIAS_CACHE["codes"] and time.monotonic() - _ALIAS_CACHE["loaded"] < ALIAS_CACHE_SECONDS:
        return _ALIAS_CACHE["codes"][key]
    codes = dict(TeamAlias.objects.values_list("alias", "team__code"))
    _ALIAS_CACHE.update(codes=codes, loaded=time.monotonic())
    return codes.get(key)


def last_log(player: Player, before: dt.date | None = None) -> PlayerGameLog | None:
    """The player's latest box-score line (strictly before a date when given)."""
    logs = PlayerGameLog.objects.filter(player=player).select_related("team")
    if before is not None:
        logs = logs.filter(date__lt=before)
    return logs.order_by("-date").first()


@dataclass
class RecentForm:
    """What a submission checks about a player before a day, read in one query: his last line in the
    window (its date and team) and how many games he has in it, and where the warehouse's data ends."""

    last_date: dt.date
    team_code: str
    recent_games: int
    data_ends: dt.date | None


def recent_form(player: Player, before: dt.date, days: int) -> RecentForm | None:
    """The player's RecentForm in the `days` before a date (the date excluded), or None when he has
    no game in them: one indexed query."""
    found = _players_with_form(_BY_ID, player.pk, before, days)
    return found[0][1] if found else None


def find_player_with_form(text: str | int, before: dt.date, days: int) -> tuple[PlayerMatch, RecentForm | None]:
    """`find_player(text)` and, when it finds one player, his `recent_form(player, before, days)`: one
    query for an id or an exact (normalised) name, the submission's usual case; a partial name
    ('lebron') costs find_player's second query and the form's own."""
    key = _player_key(text)
    if key is None:
        return PlayerMatch(), None
    where, value = key
    found = _players_with_form(where, value, before, days)
    if where == _BY_ID:
        return (PlayerMatch(player=found[0][0]), found[0][1]) if found else (PlayerMatch(), None)
    if found:
        return _exact_match([player for player, _ in found]), found[0][1] if len(found) == 1 else None
    match = _partial_match(value)
    return match, recent_form(match.player, before, days) if match.player is not None else None


_BY_ID, _BY_NAME = "p.id = %s", "p.normalised_name = %s"


def _player_key(text: str | int) -> tuple[str, int | str] | None:
    """How the written-out queries find a player (table alias `p`) as find_player reads the text: the
    WHERE clause and its value, by id or by exact normalised name; None when no player can match (an
    id beyond the column's range, as the ORM answers it; a name of no letters)."""
    text = str(text).strip()
    if text.isdecimal():  # not isdigit: int() refuses '²'
        _low, high = connection.ops.integer_field_range(Player._meta.pk.get_internal_type())
        return None if high is not None and int(text) > high else (_BY_ID, int(text))
    norm = normalise_name(text)
    return (_BY_NAME, norm) if norm else None


# The players a WHERE clause picks (by name, at most MAX_SUGGESTIONS) with their form: SQL written out,
# since the ORM spends longer building this query (correlated subqueries) than the database running it,
# and it is on every submission's path. The same on PostgreSQL and SQLite.
_FORM_SQL = """
SELECT {player_columns},
  (SELECT l.date FROM {log} l WHERE l.player_id = p.id AND l.date < %s AND l.date >= %s
    ORDER BY l.date DESC LIMIT 1),
  (SELECT t.code FROM {log} l INNER JOIN {team} t ON t.id = l.team_id
    WHERE l.player_id = p.id AND l.date < %s AND l.date >= %s ORDER BY l.date DESC LIMIT 1),
  (SELECT COUNT(*) FROM {log} l WHERE l.player_id = p.id AND l.date < %s AND l.date >= %s),
  (SELECT g.date FROM {game} g WHERE g.status = %s AND g.date < %s ORDER BY g.date DESC LIMIT 1)
FROM {player} p WHERE {where} ORDER BY p.name LIMIT {limit}
"""


def _players_with_form(where: str, value, before: dt.date, days: int) -> list[tuple[Player, RecentForm | None]]:
    quote = connection.ops.quote_name
    fields = Player._meta.concrete_fields
    sql = _FORM_SQL.format(
        player_columns=", ".join(f"p.{quote(f.column)}" for f in fields),
        log=quote(PlayerGameLog._meta.db_table),
        team=quote(Team._meta.db_table),
        game=quote(Game._meta.db_table),
        player=quote(Player._meta.db_table),
        where=where,
        limit=MAX_SUGGESTIONS,
    )
    adapt = connection.ops.adapt_datefield_value
    window = [adapt(before), adapt(before - dt.timedelta(days=days))]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*window, *window, *window, Game.Status.FINAL, window[0], value])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        player = _from_row(Player, row[: len(fields)])
        last_date, team_code, recent, data_ends = row[len(fields) :]
        form = None if last_date is None else RecentForm(_date(last_date), team_code, recent, _date(data_ends))
        found.append((player, form))
    return found


def _date(value) -> dt.date | None:
    """A date read by raw SQL (SQLite gives its text)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


@dataclass
class Matchup:
    """What the resolve step looks up for a request: the player, his team in his last game before the
    day (None: he has none), the opponent given (None: none given) and his team's game on the day, or
    its first on or after it for the next game (None: no such game; against the opponent when given)."""

    player: Player
    team: Team | None
    opponent: Team | None
    game: Game | None


# The resolve step's look-ups in one query (SQL written out: it is on every prediction's path, and the
# ORM takes longer to build its four queries than the database to run them): the player by id or exact
# (normalised) name, the team of his last line before the day, the opponent by alias, the team's game
# and the game's other side. The same on PostgreSQL and SQLite.
_MATCHUP_SQL = """
SELECT {columns}
FROM {player} p
LEFT JOIN {team} t ON t.id = (
  SELECT l.team_id FROM {log} l WHERE l.player_id = p.id AND l.date < %s ORDER BY l.date DESC LIMIT 1)
LEFT JOIN {alias} a ON a.alias = %s
LEFT JOIN {team} o ON o.id = a.team_id
LEFT JOIN {game} g ON g.id = (
  SELECT g2.id FROM {game} g2 WHERE (g2.home_id = t.id OR g2.away_id = t.id) AND g2.date {on} %s {against}
  ORDER BY g2.date LIMIT 1)
LEFT JOIN {team} x ON x.id = CASE WHEN g.home_id = t.id THEN g.away_id ELSE g.home_id END
WHERE {where} ORDER BY p.name LIMIT {limit}
"""


def matchup(player_text: str | int, opponent_text: str, day: dt.date, upcoming: bool) -> Matchup | None:
    """The Matchup of a player (an id or a name), an opponent (a code or a name, or ''), and a day:
    his team's game on `day`, or with `upcoming` its first game on or after it. One query; None when
    it cannot tell (no single player with that id or exact name, an unknown opponent): find_player,
    Team.objects.resolve, last_log and game_on / next_game then say why, and find partial names."""
    key = _player_key(player_text)
    if key is None:
        return None
    where, value = key
    alias = alias_key(opponent_text) if opponent_text else None
    quote = connection.ops.quote_name
    models = {"p": Player, "t": Team, "o": Team, "g": Game, "x": Team}
    sql = _MATCHUP_SQL.format(
        columns=", ".join(f"{a}.{quote(f.column)}" for a, model in models.items() for f in model._meta.concrete_fields),
        player=quote(Player._meta.db_table),
        team=quote(Team._meta.db_table),
        log=quote(PlayerGameLog._meta.db_table),
        alias=quote(TeamAlias._meta.db_table),
        game=quote(Game._meta.db_table),
        on=">=" if upcoming else "=",
        against="AND (g2.home_id = o.id OR g2.away_id = o.id)" if alias else "",
        where=where,
        limit=2,
    )
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(day), alias, adapt(day), value])
        rows = cursor.fetchall()
    if len(rows) != 1:
        return None
    row, found = rows[0], {}
    for name, model in models.items():
        fields = model._meta.concrete_fields
        values, row = row[: len(fields)], row[len(fields) :]
        found[name] = None if values[0] is None else _from_row(model, values)
    if alias and found["o"] is None:
        return None
    game = found["g"]
    if game is not None:  # its sides, without another query
        game.home, game.away = (found["t"], found["x"]) if game.home_id == found["t"].pk else (found["x"], found["t"])
    return Matchup(found["p"], found["t"], found["o"], game)


def _from_row(model, values):
    """A model instance from its columns read by raw SQL, converted as the ORM converts them (SQLite
    gives dates as text)."""
    converted = []
    for model_field, value in zip(model._meta.concrete_fields, values, strict=True):
        column = model_field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in model._meta.concrete_fields], converted)


def team_games(team: Team) -> QuerySet[Game]:
    return Game.objects.filter(Q(home=team) | Q(away=team)).select_related("home", "away")


def next_game(team: Team, on_or_after: dt.date, opponent: Team | None = None) -> Game | None:
    """The team's first game on or after a date (against an opponent when given), whatever its
    status: with AS_OF_DATE replaying a loaded season, the games after it are played ones in the
    warehouse, and they are still upcoming for the product."""
    games = team_games(team).filter(date__gte=on_or_after)
    if opponent is not None:
        games = games.filter(Q(home=opponent) | Q(away=opponent))
    return games.order_by("date").first()


def game_on(team: Team, day: dt.date, opponent: Team | None = None) -> Game | None:
    games = team_games(team).filter(date=day)
    if opponent is not None:
        games = games.filter(Q(home=opponent) | Q(away=opponent))
    return games.first()


def latest_played_game_date(before: dt.date) -> dt.date | None:
    """The date of the warehouse's latest played (final) game before a date: where its data ends."""
    return (
        Game.objects.filter(status=Game.Status.FINAL, date__lt=before)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )


def first_played_game_date() -> dt.date | None:
    return Game.objects.filter(status=Game.Status.FINAL).order_by("date").values_list("date", flat=True).first()


def recent_games_count(player: Player, before: dt.date, days: int) -> int:
    """How many games the player has in the `days` before a date (the date itself excluded)."""
    return PlayerGameLog.objects.filter(
        player=player, date__lt=before, date__gte=before - dt.timedelta(days=days)
    ).count()


def last_game_date(player_id: int, before: dt.date, since: dt.date | None = None) -> dt.date | None:
    """The date of the player's last game before a date (and on or after `since` when given)."""
    logs = PlayerGameLog.objects.filter(player_id=player_id, date__lt=before)
    if since is not None:
        logs = logs.filter(date__gte=since)
    return logs.order_by("-date").values_list("date", flat=True).first()


def result_facts(player_id: int, game_id: int | None, before: dt.date, since: dt.date) -> dict:
    """{actual_points: his points in the game if it is final (else None), data_through: the date of his
    last game before `before`, on or after `since`}, in one indexed query over his lines."""
    lines = PlayerGameLog.objects.filter(player_id=player_id, date__gte=since, date__lte=before)
    if game_id is None:
        return {"actual_points": None, **lines.aggregate(data_through=Max("date", filter=Q(date__lt=before)))}
    return lines.aggregate(
        data_through=Max("date", filter=Q(date__lt=before)),
        actual_points=Max("pts", filter=Q(game_id=game_id, game__status=Game.Status.FINAL)),
    )


def result_facts_of_request() -> dict:
    """result_facts as annotations of a PredictionRequest, from its own player, game and game date
    (`before`), so that the request and its facts are read in one statement (combine's read):
    `data_through` (his last line before the game date, whatever its age: the caller drops one older
    than `since`) and `actual_points` (his points in the game once it is final, else None: one line
    per game and player)."""
    lines = PlayerGameLog.objects.filter(player_id=OuterRef("player_id"))
    before = lines.filter(date__lt=OuterRef("game_date")).order_by("-date").values("date")[:1]
    points = lines.filter(game_id=OuterRef("game_id"), game__status=Game.Status.FINAL).values("pts")
    return {"data_through": Subquery(before), "actual_points": Subquery(points[:1])}


def actual_points(player_id: int, game: Game | None) -> int | None:
    if game is None or game.status != Game.Status.FINAL:
        return None
    return PlayerGameLog.objects.filter(player_id=player_id, game=game).values_list("pts", flat=True).first()


def nth_latest_request_since(user_id: int, since: dt.datetime, n: int) -> dt.datetime | None:
    """When the user's n-th latest prediction request created since a time was created (None: he
    made fewer): the submit throttle's query, on every submission's path, so written out (one index
    range scan on predreq_user_created; the ORM takes longer to build it than the database to run it)."""
    sql = (
        "SELECT created_at FROM {table} WHERE user_id = %s AND created_at >= %s "
        "ORDER BY created_at DESC LIMIT 1 OFFSET %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(table=connection.ops.quote_name(PredictionRequest._meta.db_table)),
            [user_id, connection.ops.adapt_datetimefield_value(since), n - 1],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    value = parse_datetime(row[0]) if isinstance(row[0], str) else row[0]  # SQLite: naive UTC text
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)


def visible_requests(user) -> QuerySet[PredictionRequest]:
    """Users see their own requests; staff see everyone's."""
    requests = PredictionRequest.objects.select_related(
        "user", "player", "team", "opponent", "game", "game__home", "game__away", "prediction"
    )
    if user.is_staff:
        return requests
    return requests.filter(user=user)


# --- Which models answer (the user page and `make run`'s banner) -----------------------------------


def serving_models() -> dict:
    """The active model versions, whether they are the quick ones `make run` starts on, and the full
    training run queued or running on the batch worker that will replace them (None when none)."""
    from mlmodels.models import ModelVersion, TrainingRun

    versions = list(ModelVersion.objects.filter(active=True).order_by("algorithm"))
    runs = TrainingRun.objects.in_bulk({v.training_run_id for v in versions if v.training_run_id})
    upcoming = (
        TrainingRun.objects.filter(
            kind="train", quick=False, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
        )
        .order_by("-created_at")
        .first()
    )
    return {
        "versions": [
            {
                "algorithm": v.algorithm,
                "id": v.pk,
                "seasons": len(v.train_seasons or []),
                "quick": bool(runs.get(v.training_run_id) and runs[v.training_run_id].quick),
            }
            for v in versions
        ],
        "quick": any(runs.get(v.training_run_id) and runs[v.training_run_id].quick for v in versions),
        "upcoming": None if upcoming is None else {"stage": upcoming.stage, "percent": upcoming.percent},
    }


def describe_serving(serving: dict) -> str:
    """One sentence on `serving_models()` for people: which models answer, and what comes next."""
    if not serving["versions"]:
        return "no model is trained yet: predictions fail until a training run finishes."
    names = " and ".join(f"{v['algorithm']} v{v['id']}" for v in serving["versions"])
    seasons = max(v["seasons"] for v in serving["versions"])
    if not serving["quick"]:
        return f"{names}, trained on {seasons} season{'s' * (seasons != 1)}."
    text = f"quick models ({names}: trained in seconds, less accurate)"
    upcoming = serving["upcoming"]
    if upcoming:
        step = (
            "queued" if upcoming["stage"] == "queued" else f"{upcoming['stage'] or 'training'}, {upcoming['percent']}%"
        )
        return (
            f"{text}; better ones are on their way: the full models are training on the batch worker "
            f"({step}) and answer as soon as they are registered."
        )
    return f"{text}; run `.venv/bin/python manage.py train` for the full models."
