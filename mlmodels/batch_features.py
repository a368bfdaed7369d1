"""Features of every player of one game at once: the same numbers as `build_features_for`, from
one batch of queries instead of three per player.

The batch reads the lines of all the game's players (one query), the per-team sums of both teams'
last TEAM_GAMES games (the query a single prediction runs, which already covers both sides), and
every line of each team's last MATES_GAMES games, then runs `compute_features` once on all
targets. Every window of `compute_features` is keyed by player or team and sums integers, so a
target sees exactly the rows it would see alone: a slate's numbers equal single predictions'.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from mlmodels import features as f
from mlmodels import warehouse as w


def build_features_for_game(game_date: dt.date, home_id: int, away_id: int, players: list[tuple[int, int]],
                            out: list[int] | None = None) -> tuple[np.ndarray, list[dt.date | None]]:
    """(matrix of FEATURE_NAMES columns, one row per player, NaN = unknown; each player's last
    game date the features used) for `players` = [(player id, team id)] of the game on `game_date`.
    `out`: ids of players who will not play, as `build_features_for`'s (None: not known), the same
    list for every player of the game (each one's teammates in it count)."""
    from django.db import connection

    from etl.schema import LINES

    if not players:
        return np.zeros((0, len(f.FEATURE_NAMES))), []
    first_day = f.EPOCH + dt.timedelta(days=f.horizon(game_date)[0])
    player_ids = [player for player, _ in players]
    marks = ", ".join(["%s"] * len(player_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {w.log_sql()} FROM {LINES} WHERE {LINES.player} IN ({marks}) "
                       f"AND {LINES.date} < %s AND {LINES.date} >= %s ORDER BY {LINES.player}, {LINES.date}",
                       [*player_ids, game_date, first_day])
        player_rows = cursor.fetchall()
        cursor.execute(w._parts_sql(), [away_id, game_date, first_day] * 2 + [home_id, game_date, first_day] * 2)
        part_rows = cursor.fetchall()
        mate_rows = []
        for team_id in {home_id, away_id}:
            cursor.execute(w._mates_sql(), [team_id, game_date, first_day, team_id] * 2 + [team_id])
            mate_rows += cursor.fetchall()
    logs = w.logs_from_rows(player_rows)
    matrix = np.array(part_rows, dtype=np.int64).reshape(len(part_rows), len(w._PART_COLUMNS))
    parts = {name: matrix[:, i] for i, name in enumerate(w._PART_COLUMNS)}
    mates = np.array(mate_rows, dtype=np.int64).reshape(len(mate_rows), len(w.MATES_COLUMNS))
    team_lines = {name: mates[:, i] for i, name in enumerate(w.MATES_COLUMNS)}
    teams = np.array([team for _, team in players], dtype=np.int64)
    targets = {"player_id": np.array(player_ids, dtype=np.int64), "team_id": teams,
               "opponent_id": np.where(teams == home_id, away_id, home_id).astype(np.int64),
               "date": np.full(len(players), f.day_number(game_date), dtype=np.int64),
               "is_home": teams == home_id}
    out_players = None if out is None else {
        "target": np.repeat(np.arange(len(players), dtype=np.int64), len(out)),
        "player_id": np.tile(np.array([int(p) for p in out], dtype=np.int64), len(players))}
    columns = f.compute_features(logs, targets, team_parts=parts, team_lines=team_lines, out=out_players)
    out = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in f.FEATURE_NAMES])
    out[~np.isfinite(out)] = np.nan  # as build_features_for's None
    last_day: dict[int, int] = {}
    for player, day in zip(logs["player_id"].tolist(), logs["date"].tolist()):
        last_day[player] = max(day, last_day.get(player, day))
    through = [f.EPOCH + dt.timedelta(days=last_day[p]) if p in last_day else None for p in player_ids]
    return out, through
