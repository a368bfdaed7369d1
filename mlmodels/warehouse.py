"""Reads of the etl warehouse for the features: the SQL twin of mlmodels.features' inputs.

Training reads every line at once (`mlmodels.selectors.gamelog_arrays`, with `log_sql` and
`logs_from_rows`); a prediction reads one (player, game) with `build_features_for`'s few indexed
queries and runs the same numpy code (mlmodels.features.compute_features) on them. Table and
column names come from the etl models (etl.schema), never string literals, so a renamed field
fails when this module is imported. Every query runs on PostgreSQL and the embedded SQLite.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from django.db import connection

from etl.schema import LINES
from mlmodels.features import (
    EPOCH,
    LOG_COLUMNS,
    MATES_GAMES,
    PART_SUMS,
    TEAM_GAMES,
    compute_features,
    day_number,
    horizon,
)
from mlmodels.team_parts import PARTS

# --- the line columns as integers ---------------------------------------------------------------


def day_sql(column: str | None = None, vendor: str | None = None) -> str:
    """SQL for a date column (default: the lines' date) as days since 1970-01-01 (an integer)."""
    column = column or LINES.date
    vendor = vendor or connection.vendor
    if vendor == "postgresql":
        return f"({column} - DATE '1970-01-01')"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


def log_sql(vendor: str | None = None) -> str:
    """LOG_COLUMNS as integer SQL expressions (date as days since 1970, unknown starter as -1),
    so a result converts to arrays in one numpy call."""
    special = {
        "date": day_sql(LINES.date, vendor),
        "starter": f"COALESCE(CAST({LINES.starter} AS INTEGER), -1)",
        "is_home": f"CAST({LINES.is_home} AS INTEGER)",
    }
    return ", ".join(special.get(name, LINES.column(name)) for name in LOG_COLUMNS)


def logs_from_rows(rows: list[tuple], extra: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """LOG_COLUMNS (+ `extra` integer columns) arrays from rows selected with `log_sql`."""
    columns = LOG_COLUMNS + list(extra)
    matrix = np.array(rows, dtype=np.int64).reshape(len(rows), len(columns))
    arrays = {name: matrix[:, i] for i, name in enumerate(columns)}
    starter = arrays["starter"].astype(np.float64)
    starter[starter < 0] = np.nan
    arrays["starter"] = starter
    return arrays


# --- one (player, game): the inference fast path ---------------------------------------------------


def _players_sql(count: int) -> str:
    """The players' lines inside the horizon before the date (params: the `count` player ids,
    date, first day), by player then date."""
    marks = ", ".join(["%s"] * count)
    return (
        f"SELECT {log_sql()} FROM {LINES} WHERE {LINES.player} IN ({marks}) AND {LINES.date} < %s "
        f"AND {LINES.date} >= %s ORDER BY {LINES.player}, {LINES.date}"
    )


_LAST_TEAM_SQL = (
    f"SELECT {LINES.team} FROM {LINES} WHERE {LINES.player} = %s AND {LINES.date} < %s "
    f"ORDER BY {LINES.date} DESC LIMIT 1"
)


def _last_games(limit: int, alias: str, sides: tuple[str, ...] = ("team", "opponent")) -> str:
    """The ids of a team's last `limit` games with lines before a date and inside the horizon, from
    the per-(game, team) sums (mlmodels.team_parts): games where it has lines (`sides` "team") or
    its opponent has (`sides` "opponent"), through their (side, date) indexes. Params per side:
    team, date, first day. Each LIMITed select is wrapped as a derived table so the compound
    select runs on both databases."""

    def side(name: str) -> str:
        return (
            f"SELECT {PARTS.game}, {PARTS.date} FROM (SELECT {PARTS.game}, {PARTS.date} FROM {PARTS} "
            f"WHERE {PARTS.column(name)} = %s AND {PARTS.date} < %s AND {PARTS.date} >= %s "
            f"ORDER BY {PARTS.date} DESC LIMIT {limit}) AS {name}_{alias}"
        )

    return (
        f"SELECT {PARTS.game} FROM ({' UNION '.join(side(name) for name in sides)}) AS side "
        f"ORDER BY {PARTS.date} DESC LIMIT {limit}"
    )


_PART_COLUMNS = ["team_id", "opponent_id", "game_id", "date"] + PART_SUMS
# Every line of the team's last MATES_GAMES games, for the teammate features.
MATES_COLUMNS = ["player_id", "team_id", "game_id", "date", "seconds", "pts", "fga", "fta", "tov"]


def _in_subquery(column: str, subquery: str) -> str:
    """`column IN (subquery)`; on PostgreSQL `= ANY(ARRAY(subquery))`, which runs the small
    subquery first and then looks the rows up by index (IN lets the planner hash-join a table scan)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(ARRAY({subquery}))"
    return f"{column} IN ({subquery})"


def _parts_sql() -> str:
    """Both teams' per-(game, team) sums of the two teams' last TEAM_GAMES games. Params: the
    opponent, date, first day (twice: both sides), then the same for the team."""
    games = " UNION ".join(
        f"SELECT * FROM ({_last_games(TEAM_GAMES, alias)}) AS {alias}_ids" for alias in ("opp_games", "team_games")
    )
    return (
        f"SELECT {PARTS.columns('team_id', 'opponent_id', 'game_id')}, {day_sql(PARTS.date)}, "
        f"{PARTS.columns(*PART_SUMS)} FROM {PARTS} WHERE {_in_subquery(PARTS.game, games)}"
    )


def _mates_sql() -> str:
    """Every line of a team's last MATES_GAMES games with its lines. Params: team, date, first day, team."""
    columns = [day_sql() if name == "date" else LINES.column(name) for name in MATES_COLUMNS]
    return (
        f"SELECT {', '.join(columns)} FROM {LINES} "
        f"WHERE {_in_subquery(LINES.game, _last_games(MATES_GAMES, 'mates_games', sides=('team',)))} "
        f"AND {LINES.team} = %s"
    )


@dataclass
class TargetParts:
    """compute_features' inputs for targets of one game date: the targets' players' lines
    (`logs`), the per-(game, team) sums of both teams' last TEAM_GAMES games (`team_parts`) and
    every line of the `mates_of` teams' last MATES_GAMES games (`team_lines`)."""

    logs: dict[str, np.ndarray]
    team_parts: dict[str, np.ndarray]
    team_lines: dict[str, np.ndarray]
    team_id: int  # the (first) side, resolved from the player's last line when it was not given


def read_parts(
    game_date: dt.date,
    player_ids: list[int],
    team_id: int | None,
    opponent_id: int,
    mates_of: tuple[int, ...] | None = None,
) -> TargetParts:
    """The warehouse reads behind the features of players of `team_id` (and/or `opponent_id`) in a
    game on `game_date`: one query for the players' lines, one for both teams' recent sums, one per
    team in `mates_of` (default: `team_id`) for the teammates' lines. A single prediction reads one
    player of one team; a slate reads every expected player of a game and both teams' mates, and
    gets the same numbers since every window of compute_features is keyed by player or team.
    `team_id` None: the team of the (single) player's last line (-1: unknown)."""
    first_day = EPOCH + dt.timedelta(days=horizon(game_date)[0])
    with connection.cursor() as cursor:
        cursor.execute(_players_sql(len(player_ids)), [*player_ids, game_date, first_day])
        player_rows = cursor.fetchall()
        if team_id is None:
            if player_rows:
                team_id = player_rows[-1][2]
            else:
                cursor.execute(_LAST_TEAM_SQL, [player_ids[0], game_date])
                row = cursor.fetchone()
                team_id = row[0] if row else -1
        cursor.execute(_parts_sql(), [opponent_id, game_date, first_day] * 2 + [team_id, game_date, first_day] * 2)
        part_rows = cursor.fetchall()
        mate_rows = []
        for mates_team in (team_id,) if mates_of is None else mates_of:
            cursor.execute(_mates_sql(), [mates_team, game_date, first_day, mates_team])
            mate_rows += cursor.fetchall()
    parts = np.array(part_rows, dtype=np.int64).reshape(len(part_rows), len(_PART_COLUMNS))
    mates = np.array(mate_rows, dtype=np.int64).reshape(len(mate_rows), len(MATES_COLUMNS))
    return TargetParts(
        logs=logs_from_rows(player_rows),
        team_parts={name: parts[:, i] for i, name in enumerate(_PART_COLUMNS)},
        team_lines={name: mates[:, i] for i, name in enumerate(MATES_COLUMNS)},
        team_id=team_id,
    )


def build_features_for(
    player_id: int, game_date: dt.date, opponent_id: int, is_home: bool, team_id: int | None = None, out=None
) -> dict[str, float | None]:
    """Features of one (player, game) from a few indexed queries (read_parts): the player's lines
    of this and last season before `game_date`, the per-team sums of the last TEAM_GAMES games of
    his team and of the opponent, and every line of his team's last MATES_GAMES games. `team_id`
    defaults to the player's team in his last game (-1: unknown). `out`: ids of players who will
    not play (None: not known, the OUT_FEATURES are then None; [] = everyone available; players
    of other teams or not in the team's last games count for nothing)."""
    if isinstance(game_date, dt.datetime):
        game_date = game_date.date()
    parts = read_parts(game_date, [player_id], team_id, opponent_id)
    targets = {
        "player_id": np.array([player_id], dtype=np.int64),
        "team_id": np.array([parts.team_id], dtype=np.int64),
        "opponent_id": np.array([opponent_id], dtype=np.int64),
        "date": np.array([day_number(game_date)], dtype=np.int64),
        "is_home": np.array([bool(is_home)]),
    }
    out_players = (
        None
        if out is None
        else {
            "target": np.zeros(len(out), dtype=np.int64),
            "player_id": np.array([int(p) for p in out], dtype=np.int64),
        }
    )
    features = compute_features(
        parts.logs, targets, team_parts=parts.team_parts, team_lines=parts.team_lines, out=out_players
    )
    return {name: _plain(values[0]) for name, values in features.items()}


def _plain(value) -> float | None:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number
