"""Features of every player of one game at once: the same numbers as `build_features_for`, from
one batch of queries instead of three per player.

The batch reads, through the same `mlmodels.warehouse.read_parts` as a single prediction, the
lines of all the game's players (one query), the per-team sums of both teams' last TEAM_GAMES
games (which already cover both sides), and every line of each team's last MATES_GAMES games,
then runs `compute_features` once on all targets. Every window of `compute_features` is keyed by
player or team and sums integers, so a target sees exactly the rows it would see alone: a slate's
numbers equal single predictions'.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from mlmodels import features as f
from mlmodels import warehouse as w


def build_features_for_game(
    game_date: dt.date, home_id: int, away_id: int, players: list[tuple[int, int]], out: list[int] | None = None
) -> tuple[np.ndarray, list[dt.date | None]]:
    """(matrix of FEATURE_NAMES columns, one row per player, NaN = unknown; each player's last
    game date the features used) for `players` = [(player id, team id)] of the game on `game_date`.
    `out`: ids of players who will not play, as `build_features_for`'s (None: not known), the same
    list for every player of the game (each one's teammates in it count)."""
    if not players:
        return np.zeros((0, len(f.FEATURE_NAMES))), []
    player_ids = [player for player, _ in players]
    parts = w.read_parts(game_date, player_ids, home_id, away_id, mates_of=(home_id, away_id))
    teams = np.array([team for _, team in players], dtype=np.int64)
    targets = {
        "player_id": np.array(player_ids, dtype=np.int64),
        "team_id": teams,
        "opponent_id": np.where(teams == home_id, away_id, home_id).astype(np.int64),
        "date": np.full(len(players), f.day_number(game_date), dtype=np.int64),
        "is_home": teams == home_id,
    }
    out_players = (
        None
        if out is None
        else {
            "target": np.repeat(np.arange(len(players), dtype=np.int64), len(out)),
            "player_id": np.tile(np.array([int(p) for p in out], dtype=np.int64), len(players)),
        }
    )
    columns = f.compute_features(
        parts.logs, targets, team_parts=parts.team_parts, team_lines=parts.team_lines, out=out_players
    )
    matrix = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in f.FEATURE_NAMES])
    matrix[~np.isfinite(matrix)] = np.nan  # as build_features_for's None
    last_day: dict[int, int] = {}
    for player, day in zip(parts.logs["player_id"].tolist(), parts.logs["date"].tolist(), strict=True):
        last_day[player] = max(day, last_day.get(player, day))
    through = [f.EPOCH + dt.timedelta(days=last_day[p]) if p in last_day else None for p in player_ids]
    return matrix, through
