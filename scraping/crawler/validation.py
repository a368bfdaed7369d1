"""Item validation: what a staged game or line must satisfy (a list of problems, empty when fine).

Besides required fields and types, box-score arithmetic is checked (points = 2*FG + 3P + FT,
rebounds = ORB + DRB, each team's player points add up to its line-score total), which also
catches a page whose layout changed in a way the parser did not notice.
"""

from __future__ import annotations

import datetime as dt

from etl.lines import BOX_STATS
from scraping.crawler.arguments import GAME_ID_RE

PLAYED_VALUES = ("played", "dnp", "inactive")
MAX_SECONDS = 48 * 60 + 10 * 5 * 60  # regulation plus ten overtimes


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def validate_line(line: dict) -> list[str]:
    """Problems of one player line (box-score line or game-log row)."""
    who = line.get("player_bref_id") or line.get("player_name") or "?"
    problems = []
    if not line.get("player_bref_id") or not line.get("player_name"):
        problems.append("line without player id or name")
    if not line.get("team_code"):
        problems.append(f"{who}: no team")
    played = line.get("played")
    if played not in PLAYED_VALUES:
        problems.append(f"{who}: played={played!r}")
    if played != "played":
        return problems
    missing = [field for field in (*BOX_STATS, "seconds") if not _is_count(line.get(field))]
    if missing:
        return problems + [f"{who}: missing or negative {', '.join(missing)}"]
    if line["seconds"] > MAX_SECONDS:
        problems.append(f"{who}: {line['seconds']} seconds played")
    if line["pts"] != 2 * line["fgm"] + line["fg3m"] + line["ftm"]:
        problems.append(f"{who}: {line['pts']} pts != 2*FG + 3P + FT")
    if line["reb"] != line["oreb"] + line["dreb"]:
        problems.append(f"{who}: TRB != ORB + DRB")
    if not (
        line["fgm"] <= line["fga"]
        and line["fg3m"] <= line["fg3a"]
        and line["ftm"] <= line["fta"]
        and line["fg3m"] <= line["fgm"]
        and line["fg3a"] <= line["fga"]
    ):
        problems.append(f"{who}: made > attempted")
    plus_minus = line.get("plus_minus")
    if plus_minus is not None and (isinstance(plus_minus, bool) or not isinstance(plus_minus, int)):
        problems.append(f"{who}: plus_minus={plus_minus!r}")
    return problems


def validate_game(game: dict) -> list[str]:
    """Problems of a game item, including all its lines for a box score."""
    gid = game.get("bref_game_id") or "?"
    problems = []
    match = GAME_ID_RE.match(gid)
    day = _date(game.get("date"))
    if not match:
        problems.append(f"bad game id {gid!r}")
    if day is None:
        problems.append(f"{gid}: bad date {game.get('date')!r}")
    elif match and f"{day:%Y%m%d}" != gid[:8]:
        problems.append(f"{gid}: date {day} does not match the game id")
    home, away = game.get("home_code"), game.get("away_code")
    if not home or not away or home == away:
        problems.append(f"{gid}: teams {away!r} @ {home!r}")
    status = game.get("status")
    scores = (game.get("home_score"), game.get("away_score"))
    if status == "final":
        if not all(_is_count(score) for score in scores):
            problems.append(f"{gid}: final without both scores")
        elif scores[0] == scores[1]:
            problems.append(f"{gid}: final score is a tie {scores[0]}-{scores[1]}")
        if game.get("overtimes") is not None and not _is_count(game.get("overtimes")):
            problems.append(f"{gid}: overtimes={game.get('overtimes')!r}")
    elif status == "scheduled":
        if any(score is not None for score in scores):
            problems.append(f"{gid}: scheduled game with a score")
    else:
        problems.append(f"{gid}: status={status!r}")
    if game.get("kind") == "boxscore":
        problems += _validate_box(game, gid)
    return problems


def _validate_box(game: dict, gid: str) -> list[str]:
    problems = []
    lines = game.get("lines") or []
    for line in lines:
        problems += validate_line(line)
    if problems:
        return problems
    for code, score_key in ((game.get("home_code"), "home_score"), (game.get("away_code"), "away_score")):
        played = [line for line in lines if line.get("team_code") == code and line.get("played") == "played"]
        if len(played) < 5:
            problems.append(f"{gid}: {code} has {len(played)} players who played")
            continue
        points = sum(line["pts"] for line in played)
        if points != game.get(score_key):
            problems.append(f"{gid}: {code} players scored {points}, line score says {game.get(score_key)}")
        starters = sum(1 for line in played if line.get("starter"))
        if starters != 5:
            problems.append(f"{gid}: {code} has {starters} starters")
    ids = [line.get("player_bref_id") for line in lines]
    if len(ids) != len(set(ids)):
        problems.append(f"{gid}: a player is listed twice")
    return problems


def validate_item(item: dict) -> list[str]:
    if item.get("kind") == "gamelog":
        problems = validate_line(item)
        if not GAME_ID_RE.match(item.get("bref_game_id") or ""):
            problems.append(f"bad game id {item.get('bref_game_id')!r}")
        if _date(item.get("date")) is None:
            problems.append(f"bad date {item.get('date')!r}")
        return problems
    return validate_game(item)
