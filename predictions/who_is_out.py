"""Who is out: the players a user declares will not play a game (injured, resting).

A prediction and a slate take an optional list of names (or ids), resolved here like the
player field (selectors.find_player). Once the game is known, each out player is placed on his
team then (the team of his last game before the date); a player on neither team of the game is
kept in the echo but marked `ignored` and never reaches the features. The ids that do reach them
go to `mlmodels.warehouse.build_features_for(..., out=...)` (a single prediction) and
`mlmodels.batch_features.build_features_for_game(..., out=...)` (a slate), which turn the
teammates' absences into the OUT_FEATURES.

`None` (no list given) means "not known"; `[]` means "everyone is available": the features differ,
so the two are different questions (idempotency, slate identity).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db.models import OuterRef, Subquery

from etl.models import Player, PlayerGameLog
from predictions import selectors
from predictions.conf import max_out_players


class OutListError(ValueError):
    """The out list cannot be used: `messages` says why, one line per problem (naming the names)."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


def split_names(text: str | None) -> list[str]:
    """'Kyrie Irving, Dereck Lively II' -> ['Kyrie Irving', 'Dereck Lively II'] (the page and the commands)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def normalise(names) -> list[str] | None:
    """The list as stored and compared: each entry stripped, blanks and repeats dropped, order kept
    (None stays None: not known)."""
    if names is None:
        return None
    seen: dict[str, None] = {}
    for name in names:
        text = str(name).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def resolve(names: list[str] | None, player: Player | None = None) -> list[Player] | None:
    """The players meant by `names` (None: no list). Raises OutListError naming every name that
    matches no player (with the closest names), several players (with them), or the predicted
    `player` himself, and a list longer than PREDICTIONS_MAX_OUT_PLAYERS."""
    names = normalise(names)
    if names is None:
        return None
    limit = max_out_players()
    if len(names) > limit:
        raise OutListError(
            [
                f"{len(names)} players out is more than the {limit} allowed "
                "(PREDICTIONS_MAX_OUT_PLAYERS): list only the players of the two teams."
            ]
        )
    problems, found = [], {}
    for name in names:
        match = selectors.find_player(name)
        if match.player is None:
            if match.ambiguous:
                problems.append(
                    f"{name!r} matches several players ({', '.join(match.suggestions)}): give the full name or the id."
                )
            elif name.isdecimal():  # as find_player reads an id
                problems.append(f"no player with id {name}.")
            else:
                hint = f"; did you mean {', '.join(match.suggestions)}?" if match.suggestions else "."
                problems.append(f"no player named {name!r}{hint}")
        elif player is not None and match.player.pk == player.pk:
            problems.append(f"{match.player.name} is the player you ask about: he cannot be out of his own prediction.")
        else:
            found.setdefault(match.player.pk, match.player)
    if problems:
        raise OutListError(problems)
    return list(found.values())


def stored(players: list[Player] | None) -> list[dict] | None:
    """The request's `out_players` before the game is known: id and name (team and ignored come
    with the resolve step)."""
    if players is None:
        return None
    return [{"id": p.pk, "name": p.name, "team": None, "ignored": None} for p in players]


def teams_before(player_ids: list[int], day: dt.date) -> dict[int, tuple[int, str]]:
    """{player id: (team id, team code)} of each player's last game before `day` (one query;
    a player without one is left out)."""
    last = PlayerGameLog.objects.filter(player=OuterRef("pk"), date__lt=day).order_by("-date")
    rows = Player.objects.filter(pk__in=player_ids).annotate(
        last_team=Subquery(last.values("team_id")[:1]), last_code=Subquery(last.values("team__code")[:1])
    )
    return {row.pk: (row.last_team, row.last_code) for row in rows if row.last_team is not None}


def on_teams(player_ids: list[int], day: dt.date, team_ids) -> list[int]:
    """The ids (in order) whose team on `day` is one of `team_ids`: those a game's features use."""
    teams = teams_before(player_ids, day)
    wanted = set(team_ids)
    return [pk for pk in player_ids if pk in teams and teams[pk][0] in wanted]


def place(out_players: list[dict] | None, day: dt.date, team_ids) -> list[dict] | None:
    """`out_players` with each one's team on `day` and whether he is `ignored` (on none of
    `team_ids`, the game's teams, so he counts for nothing)."""
    if out_players is None:
        return None
    teams = teams_before([entry["id"] for entry in out_players], day)
    wanted = set(team_ids)
    placed = []
    for entry in out_players:
        team_id, code = teams.get(entry["id"], (None, None))
        placed.append({"id": entry["id"], "name": entry["name"], "team": code, "ignored": team_id not in wanted})
    return placed


def feature_ids(out_players: list[dict] | None) -> list[int] | None:
    """The ids the features use: the placed players not ignored (None: no list, "not known")."""
    if out_players is None:
        return None
    return [entry["id"] for entry in out_players if not entry.get("ignored")]


def out_key(player_ids: list[int] | None) -> str:
    """A slate's out set as a short unique text: '' when no list was given, else a digest of the
    sorted ids (an empty list, "everyone plays", has its own)."""
    if player_ids is None:
        return ""
    text = ",".join(str(pk) for pk in sorted(set(player_ids)))
    return "out-" + hashlib.sha1(text.encode()).hexdigest()
