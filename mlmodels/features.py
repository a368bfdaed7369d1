"""Leak-free model features for (player, game) pairs.

ONE function, `compute_features(logs, targets)`, computes every feature. Training calls it on
the whole warehouse (every line is a target); inference (`mlmodels.warehouse.build_features_for`,
where the SQL reads are) calls it on the few rows a few indexed queries return (the player's
recent lines, the last games of both teams). The packed sort keys are in mlmodels.keys.
Both paths run the same numpy code on the same rows, so they give identical numbers
(tests/test_features.py checks it).

No leakage: a target (player, team, opponent, date D) only sees lines dated strictly before D.
Every window is also bounded by a horizon (the target's season and the one before it), which is
what lets the inference path fetch a bounded number of rows instead of a player's whole career:
  * player windows: last 5/10/20 games, season to date, previous season, exponentially weighted
    mean over the last 20 games; sums of integer box-score counts (exact in float64, so prefix
    sums give the same result over 226k rows as over 50);
  * team windows (player's team and opponent): last 10/20 team games: possessions (pace proxy),
    points scored and allowed, points allowed per possession, and points allowed per usage to
    players of the target player's usage role (primary / secondary / role player);
  * teammates (the team's last MATES_GAMES games): usage, points and minutes per game of the
    teammates who did not play the team's most recent game (an injured star frees shots and
    minutes), of those who did, the size of that game's rotation and the player's usage share.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from etl.seasons import season_for_date
from mlmodels.keys import GROUP_DAY, PLAYER_TEAM_ROW, TEAM_DAY_GAME, TEAM_GAME

FEATURE_SET_VERSION = 3

EPOCH = dt.date(1970, 1, 1)
TEAM_GAMES = 20  # team windows look at most this many games back (the inference query's LIMIT)
MATES_GAMES = 10  # teammate windows: the team's last games whose every line is read
EWM_SPAN = 20
EWM_DECAY = 0.85
REST_CAP = 30
# Usage (FGA + 0.44 FTA + TOV per game) thresholds of the three roles: primary, secondary, role player.
ROLE_THRESHOLDS = (16.0, 9.0)

# Columns the features read from etl.PlayerGameLog, in this order (selectors and the inference queries).
LOG_COLUMNS = [
    "player_id",
    "game_id",
    "team_id",
    "opponent_id",
    "date",
    "starter",
    "seconds",
    "pts",
    "fga",
    "fg3a",
    "fta",
    "tov",
    "oreb",
    "is_home",
]
COUNT_COLUMNS = ["seconds", "pts", "fga", "fg3a", "fta", "tov", "oreb"]

PLAYER_WINDOWS = (5, 10, 20)
TEAM_WINDOWS = (10, 20)


def _feature_names() -> list[str]:
    names = []
    for w in PLAYER_WINDOWS:
        names += [
            f"pts_mean_{w}",
            f"min_mean_{w}",
            f"fga_mean_{w}",
            f"fg3a_mean_{w}",
            f"fta_mean_{w}",
            f"usg_mean_{w}",
            f"ppm_{w}",
            f"upm_{w}",
            f"ppu_{w}",
        ]
    for w in (10, 20):
        names += [f"pts_std_{w}", f"min_std_{w}"]
    names += [
        "pts_mean_season",
        "min_mean_season",
        "usg_mean_season",
        "ppm_season",
        "ppu_season",
        "pts_std_season",
        "games_season",
        "pts_mean_prev",
        "min_mean_prev",
        "ppm_prev",
        "games_prev",
        "games_horizon",
        "pts_ewm",
        "min_ewm",
        "usg_ewm",
        "fga_ewm",
        "fta_ewm",
        "ppm_ewm",
        "pts_lag1",
        "min_lag1",
        "pts_max_10",
        "min_max_10",
        "pts_trend",
        "min_trend",
        "min_trend_season",
        "usg_trend",
        "rest_days",
        "back_to_back",
        "is_home",
        "starter_rate_10",
        "heavy_min_rate_10",
        "exp_pts_ewm",
        "exp_pts_10",
        "exp_pts_season",
        "exp_pts_blend",
        "role",
        "missed_team_games",
    ]
    for side in ("team", "opp"):
        for w in TEAM_WINDOWS:
            names += [f"{side}_poss_{w}", f"{side}_pts_{w}", f"{side}_allowed_{w}", f"{side}_allowed_pp_{w}"]
        names += [f"{side}_rest_days", f"{side}_games"]
    names += [
        "opp_allowed_ppu_20",
        "opp_role_allowed_ppu_20",
        "opp_role_allowed_ppm_20",
        "opp_role_allowed_pts_20",
        "opp_def_factor",
        "exp_pts_opp",
        "pace_factor",
    ]
    names += MATES_FEATURES
    names += EXTRA_FEATURES
    names += OUT_FEATURES
    return names


MATES_FEATURES = [
    "mates_absent_usg",
    "mates_present_usg",
    "mates_absent_pts",
    "mates_absent_min",
    "roster_last",
    "own_usg_share",
]
# "Who is out": usage, points and minutes per game over the team's last MATES_GAMES games of the
# teammates who will not play, and their share of the team's usage (NaN when not known).
OUT_FEATURES = ["out_usg", "out_pts", "out_min", "out_usg_share"]


# Feature set 3 (each group's backtest gain is in docs/models.md): robust recent levels (medians:
# a blow-out or foul trouble moves a mean, not a median), schedule density and travel, season
# progress, shot mix, and the two teams' strength difference (blow-out risk cuts stars' minutes).
FEATURE_GROUPS = {
    "medians": ["pts_median_5", "pts_median_10", "min_median_5", "min_median_10", "ppm_median_10"],
    "schedule": ["games_last_4d", "games_last_7d", "away_rate_5", "prev_away", "season_day"],
    "shot_mix": ["fg3_rate_20", "ft_rate_20", "fg3a_share_10"],
    "strength": ["net_diff_10", "net_diff_20", "abs_net_diff_20", "team_net_20", "opp_net_20"],
}
EXTRA_FEATURES = [name for group in FEATURE_GROUPS.values() for name in group]

FEATURE_NAMES = _feature_names()


# --- dates and horizons -----------------------------------------------------------------------


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def season_start(label: str) -> dt.date:
    """First date of a season as `etl.seasons.season_for_date` counts it (2020-21 began after the bubble)."""
    year = int(label[:4])
    return dt.date(2020, 11, 1) if year == 2020 else dt.date(year, 8, 1)


def previous_season(label: str) -> str:
    year = int(label[:4]) - 1
    return f"{year}-{(year + 1) % 100:02d}"


def horizon(day: dt.date) -> tuple[int, int]:
    """(first day of the horizon = start of the previous season, first day of the target's season)."""
    season = season_for_date(day)
    return day_number(season_start(previous_season(season))), day_number(season_start(season))


def _horizons(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, inverse = np.unique(days, return_inverse=True)
    bounds = np.array([horizon(EPOCH + dt.timedelta(days=int(d))) for d in unique], dtype=np.int64).reshape(-1, 2)
    return bounds[inverse, 0], bounds[inverse, 1]


# --- array helpers ----------------------------------------------------------------------------


def _div(num, den):
    """num / den, NaN where den is 0 (callers run under np.errstate(divide/invalid=ignore))."""
    return np.where(den == 0, np.nan, np.true_divide(num, den))


def _row_nanmedian(values: np.ndarray) -> np.ndarray:
    """np.nanmedian(values, axis=1) (NaN for a row without a value), without its masked-array path
    for small inputs, which cost a third of a single-row feature build."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    count = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(len(values))
    low = ordered[rows, np.maximum((count - 1) // 2, 0)]
    high = ordered[rows, np.maximum(count // 2, 0)]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _sorted_table(groups: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = GROUP_DAY.pack(groups, days)
    order = np.argsort(keys, kind="stable")
    return order, keys[order]


def _locate(keys: np.ndarray, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Index of the first row of `group` dated on/after `day` (= number of earlier rows, globally)."""
    return np.searchsorted(keys, GROUP_DAY.search(groups, days), side="left")


# --- the features -----------------------------------------------------------------------------


def compute_features(
    logs: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    team_parts: dict[str, np.ndarray] | None = None,
    team_lines: dict[str, np.ndarray] | None = None,
    out=None,
) -> dict[str, np.ndarray]:
    """Feature columns (FEATURE_NAMES, float64, NaN when unknown) for each target.

    logs: the players' lines, LOG_COLUMNS as arrays (date as day numbers, starter as float with
    NaN for unknown). targets: player_id, team_id, opponent_id, date (day numbers), is_home.
    team_parts: per (game, team) sums of lines (`team_parts_from_lines`); computed from `logs`
    when not given (inference passes the sums its query computed). team_lines: the lines of the
    targets' teams (player_id, team_id, game_id, date, seconds, pts, fga, fta, tov), by default
    `logs` (inference passes the lines of the team's last MATES_GAMES games). Only lines dated
    strictly before a target's date (and inside its horizon) are used for it.

    out ("who is out", the OUT_FEATURES): None = not known (NaN); {"target": indexes into the
    targets, "player_id": ids} = the players declared out for each target (users know injuries
    before tip-off); "actual" = everyone of the team's last MATES_GAMES games who did not play
    the target's game (the backtest's "who actually played"; `team_lines` must then include the
    target games' lines). Both give the same numbers for the same players (a test checks it).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _compute(logs, targets, team_parts, logs if team_lines is None else team_lines, out)


def _compute(logs, targets, team_parts, team_lines, out_players=None):
    n_targets = len(targets["player_id"])
    t_day = np.asarray(targets["date"], dtype=np.int64)
    h_day, s_day = _horizons(t_day)
    out: dict[str, np.ndarray] = {}

    # ---- the player's own lines: prefix sums of integer series, one matrix
    order, keys = _sorted_table(logs["player_id"], logs["date"])
    sec = logs["seconds"][order].astype(np.float64)
    pts = logs["pts"][order].astype(np.float64)
    fga, fg3a, fta, tov = (logs[c][order].astype(np.float64) for c in ("fga", "fg3a", "fta", "tov"))
    usg100 = 100 * fga + 44 * fta + 100 * tov  # integers: exact prefix sums
    starter = logs["starter"][order].astype(np.float64)
    known = ~np.isnan(starter)
    series = np.column_stack(
        [pts, sec, fga, fg3a, fta, usg100, pts * pts, sec * sec, known, np.where(known, starter, 0.0), sec >= 24 * 60]
    )
    PTS, SEC, FGA, FG3A, FTA, USG, PTS2, SEC2, KNOWN, STARTER, HEAVY = range(11)
    prefix = np.zeros((len(order) + 1, series.shape[1]))
    np.cumsum(series, axis=0, out=prefix[1:])
    days_sorted = logs["date"][order].astype(np.int64)
    pid = np.asarray(targets["player_id"], dtype=np.int64)
    pos = _locate(keys, pid, t_day)
    h_pos = _locate(keys, pid, h_day)
    s_pos = np.maximum(_locate(keys, pid, s_day), h_pos)

    def window(lo):
        return (pos - lo).astype(np.float64), prefix[pos] - prefix[lo]

    def std(s1, s2, n):
        mean = _div(s1, n)
        return np.sqrt(np.maximum(_div(s2, n) - mean * mean, 0.0))

    for w in PLAYER_WINDOWS:
        n, s = window(np.maximum(pos - w, h_pos))
        out[f"pts_mean_{w}"] = _div(s[:, PTS], n)
        out[f"min_mean_{w}"] = _div(s[:, SEC], n * 60)
        out[f"fga_mean_{w}"] = _div(s[:, FGA], n)
        out[f"fg3a_mean_{w}"] = _div(s[:, FG3A], n)
        out[f"fta_mean_{w}"] = _div(s[:, FTA], n)
        out[f"usg_mean_{w}"] = _div(s[:, USG], n * 100)
        out[f"ppm_{w}"] = _div(s[:, PTS] * 60, s[:, SEC])
        out[f"upm_{w}"] = _div(s[:, USG] * 60, s[:, SEC] * 100)
        out[f"ppu_{w}"] = _div(s[:, PTS] * 100, s[:, USG])
        if w in (10, 20):
            out[f"pts_std_{w}"] = std(s[:, PTS], s[:, PTS2], n)
            out[f"min_std_{w}"] = std(s[:, SEC], s[:, SEC2], n) / 60
        if w == 10:
            out["starter_rate_10"] = _div(s[:, STARTER], s[:, KNOWN])
            out["heavy_min_rate_10"] = _div(s[:, HEAVY], n)

    n, s = window(s_pos)
    out["pts_mean_season"] = _div(s[:, PTS], n)
    out["min_mean_season"] = _div(s[:, SEC], n * 60)
    out["usg_mean_season"] = _div(s[:, USG], n * 100)
    out["ppm_season"] = _div(s[:, PTS] * 60, s[:, SEC])
    out["ppu_season"] = _div(s[:, PTS] * 100, s[:, USG])
    out["pts_std_season"] = std(s[:, PTS], s[:, PTS2], n)
    out["games_season"] = n
    n_prev = (s_pos - h_pos).astype(np.float64)  # previous season: rows [h_pos, s_pos)
    prev = prefix[s_pos] - prefix[h_pos]
    out["pts_mean_prev"] = _div(prev[:, PTS], n_prev)
    out["min_mean_prev"] = _div(prev[:, SEC], n_prev * 60)
    out["ppm_prev"] = _div(prev[:, PTS] * 60, prev[:, SEC])
    out["games_prev"] = n_prev
    out["games_horizon"] = (pos - h_pos).astype(np.float64)

    # exponentially weighted means over the last EWM_SPAN games: a fixed sequence of elementwise
    # operations per target, so any number of targets gives the same numbers
    ewm_cols = [PTS, SEC, USG, FGA, FTA]
    ewm = np.zeros((n_targets, len(ewm_cols)))
    weight = np.zeros(n_targets)
    top = np.full((n_targets, 2), -np.inf)
    ewm_series = series[:, ewm_cols] if len(series) else np.zeros((1, len(ewm_cols)))
    for lag in range(1, EWM_SPAN + 1):
        idx = pos - lag
        valid = idx >= h_pos
        lagged = ewm_series[np.where(valid, idx, 0)]
        factor = EWM_DECAY ** (lag - 1)
        ewm += np.where(valid[:, None], factor * lagged, 0.0)
        weight += np.where(valid, factor, 0.0)
        if lag <= 10:
            top = np.where(valid[:, None], np.maximum(top, lagged[:, :2]), top)
    out["pts_ewm"] = _div(ewm[:, 0], weight)
    out["min_ewm"] = _div(ewm[:, 1], weight * 60)
    out["usg_ewm"] = _div(ewm[:, 2], weight * 100)
    out["fga_ewm"] = _div(ewm[:, 3], weight)
    out["fta_ewm"] = _div(ewm[:, 4], weight)
    out["ppm_ewm"] = _div(ewm[:, 0] * 60, ewm[:, 1])
    top[~np.isfinite(top)] = np.nan
    out["pts_max_10"] = top[:, 0]
    out["min_max_10"] = top[:, 1] / 60

    has_last = pos - 1 >= h_pos
    last = np.where(has_last, pos - 1, 0)
    last_row = series[last] if len(series) else np.zeros((n_targets, series.shape[1]))
    last_day = days_sorted[last] if len(series) else np.zeros(n_targets, dtype=np.int64)
    out["pts_lag1"] = np.where(has_last, last_row[:, PTS], np.nan)
    out["min_lag1"] = np.where(has_last, last_row[:, SEC] / 60, np.nan)
    out["pts_trend"] = out["pts_mean_5"] - out["pts_mean_20"]
    out["min_trend"] = out["min_mean_5"] - out["min_mean_20"]
    out["min_trend_season"] = out["min_mean_5"] - out["min_mean_season"]
    out["usg_trend"] = out["usg_mean_5"] - out["usg_mean_20"]
    rest = np.where(has_last, np.minimum(t_day - last_day, REST_CAP), np.nan).astype(np.float64)
    out["rest_days"] = rest
    out["back_to_back"] = np.where(has_last, (rest == 1).astype(np.float64), np.nan)
    out["is_home"] = np.asarray(targets["is_home"], dtype=np.float64)

    # medians of the last 5 / 10 games (a lag matrix, NaN where the horizon ends)
    lags = np.full((n_targets, 10, 2), np.nan)
    for lag in range(1, 11):
        idx = pos - lag
        valid = idx >= h_pos
        if len(series):
            lags[:, lag - 1, :] = np.where(valid[:, None], series[np.where(valid, idx, 0)][:, [PTS, SEC]], np.nan)
    for w in (5, 10):
        out[f"pts_median_{w}"] = _row_nanmedian(lags[:, :w, 0])
        out[f"min_median_{w}"] = _row_nanmedian(lags[:, :w, 1]) / 60
    out["ppm_median_10"] = _row_nanmedian(_div(lags[:, :, 0] * 60, lags[:, :, 1]))

    # schedule: games in the last 4 / 7 days, away games among the last 5, the last one away, season day
    for days in (4, 7):
        lo = np.maximum(_locate(keys, pid, t_day - days), h_pos)
        out[f"games_last_{days}d"] = (pos - lo).astype(np.float64)
    home = logs["is_home"][order].astype(np.float64) if "is_home" in logs else np.full(len(order), np.nan)
    home_prefix = np.concatenate([[0.0], np.cumsum(home)])
    lo5 = np.maximum(pos - 5, h_pos)
    out["away_rate_5"] = _div((pos - lo5) - (home_prefix[pos] - home_prefix[lo5]), (pos - lo5).astype(np.float64))
    out["prev_away"] = np.where(has_last, 1.0 - (home[last] if len(home) else np.nan), np.nan)
    out["season_day"] = (t_day - s_day).astype(np.float64)

    # shot mix: share of threes and free-throw rate over the last 20 / 10 games
    n20, s20 = window(np.maximum(pos - 20, h_pos))
    out["fg3_rate_20"] = _div(s20[:, FG3A], s20[:, FGA])
    out["ft_rate_20"] = _div(s20[:, FTA], s20[:, FGA])
    out["fg3a_share_10"] = _div(out["fg3a_mean_10"], out["fga_mean_10"] + 0.44 * out["fta_mean_10"])

    # expected points: per-minute scoring x expected minutes, several blends
    ppm_base = np.where(
        out["games_season"] >= 5,
        out["ppm_season"],
        np.where(np.isnan(out["ppm_prev"]), out["ppm_season"], out["ppm_prev"]),
    )
    out["exp_pts_ewm"] = out["ppm_ewm"] * out["min_ewm"]
    out["exp_pts_10"] = out["ppm_10"] * out["min_mean_5"]
    out["exp_pts_season"] = ppm_base * out["min_ewm"]
    parts = np.column_stack([out["exp_pts_ewm"], out["exp_pts_10"], out["exp_pts_season"]])
    out["exp_pts_blend"] = _div(np.nan_to_num(parts).sum(axis=1), (~np.isnan(parts)).sum(axis=1))
    role = _role100(np.nan_to_num(out["usg_mean_10"], nan=0.0) * 100)
    out["role"] = role.astype(np.float64)

    # ---- teams: one row per (team, game) with its own and its opponents' totals
    if team_parts is None:
        team_parts = team_parts_from_lines(logs)
    team_rows = _team_games(team_parts)
    t_order, t_keys = _sorted_table(team_rows["team_id"], team_rows["date"])
    tmatrix = (
        np.column_stack([team_rows[name][t_order] for name in TEAM_SUMS])
        if len(t_order)
        else np.zeros((0, len(TEAM_SUMS)))
    )
    tprefix = np.zeros((len(t_order) + 1, len(TEAM_SUMS)))
    np.cumsum(tmatrix, axis=0, out=tprefix[1:])
    col = {name: i for i, name in enumerate(TEAM_SUMS)}
    t_days = team_rows["date"][t_order]
    for side, team_ids in (("team", targets["team_id"]), ("opp", targets["opponent_id"])):
        team_ids = np.asarray(team_ids, dtype=np.int64)
        tpos = _locate(t_keys, team_ids, t_day)
        th = np.maximum(_locate(t_keys, team_ids, h_day), tpos - TEAM_GAMES)
        for w in TEAM_WINDOWS:
            lo = np.maximum(tpos - w, th)
            n = (tpos - lo).astype(np.float64)
            s = tprefix[tpos] - tprefix[lo]
            out[f"{side}_poss_{w}"] = _div(s[:, col["poss100"]], n * 100)
            out[f"{side}_pts_{w}"] = _div(s[:, col["pts"]], n)
            out[f"{side}_allowed_{w}"] = _div(s[:, col["allowed"]], n)
            out[f"{side}_allowed_pp_{w}"] = _div(s[:, col["allowed"]] * 100, s[:, col["opp_poss100"]])
        has = tpos - 1 >= th
        last_game = t_days[np.where(has, tpos - 1, 0)] if len(t_days) else np.zeros(n_targets, dtype=np.int64)
        out[f"{side}_rest_days"] = np.where(has, np.minimum(t_day - last_game, REST_CAP), np.nan).astype(np.float64)
        out[f"{side}_games"] = (tpos - th).astype(np.float64)
        if side == "team":
            # the team's games the player missed since his last game (injury, rest), at most TEAM_GAMES
            after_last = _locate(t_keys, team_ids, np.where(has_last, last_day + 1, t_day))
            missed = tpos - np.maximum(after_last, th)
            out["missed_team_games"] = np.where(has_last, np.maximum(missed, 0), np.nan).astype(np.float64)
        else:
            s = tprefix[tpos] - tprefix[th]  # the last TEAM_GAMES games
            out["opp_allowed_ppu_20"] = _div(s[:, col["allowed"]] * 100, s[:, col["allowed_usg100"]])
            pick = np.arange(n_targets)
            role_sum = {
                k: s[:, [col[f"role{r}_{k}"] for r in range(3)]][pick, role] for k in ("pts", "usg100", "sec", "lines")
            }
            out["opp_role_allowed_ppu_20"] = _div(role_sum["pts"] * 100, role_sum["usg100"])
            out["opp_role_allowed_ppm_20"] = _div(role_sum["pts"] * 60, role_sum["sec"])
            out["opp_role_allowed_pts_20"] = _div(role_sum["pts"], role_sum["lines"])

    out.update(_mates(team_lines, targets, t_day, h_day, out_players))

    # opponent defence and pace relative to the player's own context
    out["opp_def_factor"] = _div(out["opp_role_allowed_ppu_20"], out["ppu_20"])
    out["exp_pts_opp"] = out["exp_pts_blend"] * out["opp_allowed_pp_20"] / 1.1
    out["pace_factor"] = _div(out["opp_poss_20"] + out["team_poss_20"], 2 * out["team_poss_20"])
    # team strength: net points per game of each side and their difference (blow-out risk)
    for w in TEAM_WINDOWS:
        team_net = out[f"team_pts_{w}"] - out[f"team_allowed_{w}"]
        opp_net = out[f"opp_pts_{w}"] - out[f"opp_allowed_{w}"]
        out[f"net_diff_{w}"] = team_net - opp_net
        if w == 20:
            out["team_net_20"], out["opp_net_20"] = team_net, opp_net
    out["abs_net_diff_20"] = np.abs(out["net_diff_20"])
    return {name: out[name] for name in FEATURE_NAMES}


def _mates(lines, targets, t_day, h_day, out_players=None) -> dict[str, np.ndarray]:
    """Teammate features over W, the team's last MATES_GAMES games before the target's date
    (inside its horizon), and g, the last of them. For each teammate q who played g, u_q is q's
    usage for this team over W; the ones absent from g are the rest of the team's usage over W.
    The OUT_FEATURES are the same sums over the teammates who will not play (see compute_features)."""
    n_targets = len(t_day)
    team = np.asarray(lines["team_id"], dtype=np.int64)
    player = np.asarray(lines["player_id"], dtype=np.int64)
    game = np.asarray(lines["game_id"], dtype=np.int64)
    days = np.asarray(lines["date"], dtype=np.int64)
    usg = (100 * lines["fga"] + 44 * lines["fta"] + 100 * lines["tov"]).astype(np.float64)
    values = (
        np.column_stack([usg, lines["pts"].astype(np.float64), lines["seconds"].astype(np.float64)])
        if len(team)
        else np.zeros((0, 3))
    )
    # the team games (team, date, game), sorted; j = a line's team game
    tg_keys, j = np.unique(TEAM_DAY_GAME.pack(team, days, game), return_inverse=True)
    j = j.reshape(-1)
    tg_team, tg_day, _ = TEAM_DAY_GAME.unpack(tg_keys)
    tg_sorted = GROUP_DAY.pack(tg_team, tg_day)
    totals = np.zeros((len(tg_keys) + 1, 3))
    if len(j):
        np.add.at(totals[1:], j, values)
    totals = np.cumsum(totals, axis=0)
    # lines by (player, team, team game) with prefix sums; and by team game (each game's players)
    by_player = np.lexsort((j, team, player))
    pkey = PLAYER_TEAM_ROW.pack(player[by_player], team[by_player], j[by_player])
    pprefix = np.zeros((len(by_player) + 1, 3))
    np.cumsum(values[by_player], axis=0, out=pprefix[1:])
    by_game = np.argsort(j, kind="stable")
    game_start = np.searchsorted(j[by_game], np.arange(len(tg_keys) + 1))

    t_team = np.asarray(targets["team_id"], dtype=np.int64)
    t_player = np.asarray(targets["player_id"], dtype=np.int64)
    tpos = np.searchsorted(tg_sorted, GROUP_DAY.search(t_team, t_day), side="left")
    th = np.maximum(np.searchsorted(tg_sorted, GROUP_DAY.search(t_team, h_day), side="left"), tpos - MATES_GAMES)
    has = tpos > th
    last = np.where(has, tpos - 1, 0)
    lo = np.where(has, th, 0)
    hi = np.where(has, tpos, 0)

    def window_sum(q, team_ids, lo, hi):
        return (
            pprefix[np.searchsorted(pkey, PLAYER_TEAM_ROW.search(q, team_ids, hi))]
            - pprefix[np.searchsorted(pkey, PLAYER_TEAM_ROW.search(q, team_ids, lo))]
        )

    total = totals[hi] - totals[lo]
    own = window_sum(t_player, t_team, lo, hi)
    own_last = np.zeros(n_targets, dtype=bool)
    if len(by_player):
        count = np.searchsorted(pkey, PLAYER_TEAM_ROW.search(t_player, t_team, last + 1)) - np.searchsorted(
            pkey, PLAYER_TEAM_ROW.search(t_player, t_team, last)
        )
        own_last = has & (count > 0)
    # every (target, line of g) pair: that player's sums over W
    sizes = np.where(has, game_start[last + 1] - game_start[last], 0) if len(tg_keys) else np.zeros(n_targets, int)
    pair_target = np.repeat(np.arange(n_targets), sizes)
    offsets = np.arange(len(pair_target)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    pair_line = by_game[game_start[last][pair_target] + offsets] if len(pair_target) else np.zeros(0, dtype=np.int64)
    present = np.zeros((n_targets, 3))
    if len(pair_target):
        sums = window_sum(player[pair_line], team[pair_line], lo[pair_target], hi[pair_target])
        np.add.at(present, pair_target, sums)
    mates_present = present - np.where(own_last[:, None], own, 0.0)
    mates_absent = total - present - np.where(own_last[:, None], 0.0, own)
    n = np.where(has, hi - lo, 0).astype(np.float64)

    # who is out: the window sums of the teammates who will not play the target's game
    missing = np.zeros((n_targets, 3))
    known = np.zeros(n_targets, dtype=bool)
    if isinstance(out_players, str) and out_players == "actual":
        # everyone of W minus everyone who played the target's game (the player himself did)
        today = np.minimum(tpos, max(len(tg_keys) - 1, 0))
        plays = (
            has & (tpos < len(tg_keys)) & (tg_sorted[today] == GROUP_DAY.search(t_team, t_day))
            if len(tg_keys)
            else np.zeros(n_targets, dtype=bool)
        )
        sizes = np.where(plays, game_start[today + 1] - game_start[today], 0)
        pair_target = np.repeat(np.arange(n_targets), sizes)
        offsets = np.arange(len(pair_target)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        pair_line = (
            by_game[game_start[today][pair_target] + offsets] if len(pair_target) else np.zeros(0, dtype=np.int64)
        )
        played = np.zeros((n_targets, 3))
        if len(pair_target):
            np.add.at(
                played, pair_target, window_sum(player[pair_line], team[pair_line], lo[pair_target], hi[pair_target])
            )
        missing = total - played
        known = plays
    elif out_players is not None:
        pair_target = np.asarray(out_players["target"], dtype=np.int64)
        pair_player = np.asarray(out_players["player_id"], dtype=np.int64)
        keep = pair_player != t_player[pair_target]  # the player himself is not "out" for his own game
        pair_target, pair_player = pair_target[keep], pair_player[keep]
        if len(pair_target) and len(pkey):
            np.add.at(
                missing, pair_target, window_sum(pair_player, t_team[pair_target], lo[pair_target], hi[pair_target])
            )
        known = has.copy()
    missing = np.where(known[:, None], missing, np.nan)
    return {
        "out_usg": _div(missing[:, 0], n * 100),
        "out_pts": _div(missing[:, 1], n),
        "out_min": _div(missing[:, 2], n * 60),
        "out_usg_share": _div(missing[:, 0], np.where(has, total[:, 0], 0.0)),
        "mates_absent_usg": _div(mates_absent[:, 0], n * 100),
        "mates_present_usg": _div(mates_present[:, 0], n * 100),
        "mates_absent_pts": _div(mates_absent[:, 1], n),
        "mates_absent_min": _div(mates_absent[:, 2], n * 60),
        "roster_last": np.where(has, sizes, np.nan).astype(np.float64),
        "own_usg_share": _div(own[:, 0], np.where(has, total[:, 0], 0.0)),
    }


# Per (game, team) sums of its lines: the part of a team-game table one side contributes.
PART_SUMS = ["poss100", "pts", "usg100"] + [f"role{r}_{k}" for r in range(3) for k in ("pts", "usg100", "sec", "lines")]
TEAM_SUMS = ["poss100", "pts", "allowed", "opp_poss100", "allowed_usg100"] + [
    f"role{r}_{k}" for r in range(3) for k in ("pts", "usg100", "sec", "lines")
]


def _role100(usage100: np.ndarray) -> np.ndarray:
    """0 primary, 1 secondary, 2 role player, from 100 x usage per game (integers compare exactly)."""
    high, mid = (int(t * 100) for t in ROLE_THRESHOLDS)
    return np.where(usage100 >= high, 0, np.where(usage100 >= mid, 1, 2)).astype(np.int64)


def team_parts_from_lines(logs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-line parts (each line is its own part): team, opponent, game, date and PART_SUMS."""
    fga, fta, tov, oreb = (logs[c].astype(np.float64) for c in ("fga", "fta", "tov", "oreb"))
    usg100 = 100 * fga + 44 * fta + 100 * tov
    pts = logs["pts"].astype(np.float64)
    parts = {
        "team_id": logs["team_id"],
        "opponent_id": logs["opponent_id"],
        "game_id": logs["game_id"],
        "date": logs["date"],
        "poss100": usg100 - 100 * oreb,
        "pts": pts,
        "usg100": usg100,
    }
    role = _role100(usg100)
    for r in range(3):
        mine = (role == r).astype(np.float64)
        parts[f"role{r}_pts"] = pts * mine
        parts[f"role{r}_usg100"] = usg100 * mine
        parts[f"role{r}_sec"] = logs["seconds"].astype(np.float64) * mine
        parts[f"role{r}_lines"] = mine
    return parts


def _team_games(parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per (team, game): its own possessions and points, and what its opponents scored (allowed),
    their possessions and usage, overall and per role."""
    team = np.asarray(parts["team_id"], dtype=np.int64)
    opp = np.asarray(parts["opponent_id"], dtype=np.int64)
    game = np.asarray(parts["game_id"], dtype=np.int64)
    keys, inverse = np.unique(
        np.concatenate([TEAM_GAME.pack(team, game), TEAM_GAME.pack(opp, game)]), return_inverse=True
    )
    own, allowed = inverse[: len(team)], inverse[len(team) :]
    size = len(keys)

    def total(idx, name):
        return np.bincount(idx, weights=np.asarray(parts[name], dtype=np.float64), minlength=size)

    key_team, key_game = TEAM_GAME.unpack(keys)
    rows = {
        "team_id": key_team,
        "game_id": key_game,
        "date": np.zeros(size, dtype=np.int64),
        "poss100": total(own, "poss100"),
        "pts": total(own, "pts"),
        "allowed": total(allowed, "pts"),
        "opp_poss100": total(allowed, "poss100"),
        "allowed_usg100": total(allowed, "usg100"),
    }
    rows["date"][own] = parts["date"]
    rows["date"][allowed] = parts["date"]
    for name in PART_SUMS[3:]:
        rows[name] = total(allowed, name)
    return rows


# --- the training frame ------------------------------------------------------------------------


def build_training_frame(logs: dict[str, np.ndarray], out=None):
    """Every log line as a target: the features (before its date) with its keys and points.
    Returns a DataFrame: player_id, game_id, date, season, pts, has_history + FEATURE_NAMES.
    out="actual": the OUT_FEATURES from who actually played each game (else NaN)."""
    import pandas as pd

    targets = {
        "player_id": logs["player_id"],
        "team_id": logs["team_id"],
        "opponent_id": logs["opponent_id"],
        "date": logs["date"],
        "is_home": logs["is_home"],
    }
    features = compute_features(logs, targets, out=out)
    frame = pd.DataFrame(features)
    frame.insert(0, "player_id", logs["player_id"])
    frame.insert(1, "game_id", logs["game_id"])
    frame.insert(2, "date", logs["date"].astype("datetime64[D]"))
    frame.insert(3, "season", logs["season"])
    frame.insert(4, "pts", logs["pts"].astype(np.float64))
    frame.insert(5, "has_history", _has_earlier_game(logs))
    return frame


def _has_earlier_game(logs: dict[str, np.ndarray]) -> np.ndarray:
    """Whether the player has any line before this one in the data (not only in the horizon)."""
    order, keys = _sorted_table(logs["player_id"], logs["date"])
    first = np.ones(len(order), dtype=bool)
    if len(order):
        first[1:] = logs["player_id"][order][1:] != logs["player_id"][order][:-1]
    out = np.empty(len(order), dtype=bool)
    out[order] = ~first
    return out


def feature_matrix(rows: list[dict] | dict) -> np.ndarray:
    """FEATURE_NAMES columns of feature dicts as a float64 matrix (None -> NaN)."""
    if isinstance(rows, dict):
        rows = [rows]
    return np.array(
        [[np.nan if row.get(name) is None else row[name] for name in FEATURE_NAMES] for row in rows], dtype=np.float64
    )
