"""The 30 NBA franchises and every code or name the sources use for them (the data is
etl/franchises.json), and the idempotent seeding of Team/TeamAlias from it.

NBA.com and basketball-reference disagree on some codes (BKN/BRK, CHA/CHO, PHX/PHO) and older
pages use the franchise's former codes (NJN, NOH, SEA, VAN...). Each one maps to one `Team`.
The canonical `Team.code` is the current NBA.com code. A franchise's city ("Boston", "Golden
State") names it too, except the city two franchises share (Los Angeles, or LA).
"""

from __future__ import annotations

import json
from pathlib import Path

from etl.models import Team, TeamAlias
from etl.names import alias_key

# (NBA.com code, basketball-reference code, NBA.com team id, full name, nickname, former codes/names)
FRANCHISES: list[tuple[str, str, int, str, str, tuple[str, ...]]] = [
    (*row[:5], tuple(row[5])) for row in json.loads((Path(__file__).parent / "franchises.json").read_text("utf-8"))
]


# The one city two franchises share, under both its spellings: alone, it names no team.
_SAME_CITY = {"la": "los angeles"}


def _city_key(city: str) -> str:
    key = alias_key(city)
    return _SAME_CITY.get(key, key)


def _cities() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The city part of every current full name ("Boston Celtics" -> "Boston"): those of one
    franchise (city as written -> code), and those of several (city key -> codes)."""
    by_key: dict[str, list[tuple[str, str]]] = {}
    for code, _bref, _nba_id, name, nickname, _former in FRANCHISES:
        city = name.removesuffix(nickname).strip()
        by_key.setdefault(_city_key(city), []).append((city, code))
    unique = {teams[0][0]: teams[0][1] for teams in by_key.values() if len(teams) == 1}
    shared = {key: [code for _city, code in teams] for key, teams in by_key.items() if len(teams) > 1}
    return unique, shared


CITY_ALIASES, SHARED_CITIES = _cities()

# Every code or name of each franchise (by its code), as written: codes, full and short names,
# former ones, its city.
ALIASES: dict[str, tuple[str, ...]] = {
    code: (code, bref, name, nickname, *former, *(city for city, of in CITY_ALIASES.items() if of == code))
    for code, bref, _nba_id, name, nickname, former in FRANCHISES
}


def unknown_team_message(text: str) -> str:
    """Why `text` names no team, worded for the user: a city two franchises share lists both.

    >>> unknown_team_message("Los Angeles")
    "'Los Angeles' could be LAC (LA Clippers) or LAL (Los Angeles Lakers): give the code or the full name."
    >>> unknown_team_message("Bostn")
    "unknown team 'Bostn': use a code (BOS), a name (Boston Celtics) or a city (Boston)."
    """
    shared = SHARED_CITIES.get(_city_key(text))
    if shared:
        names = {code: name for code, _bref, _nba_id, name, _nickname, _former in FRANCHISES}
        choices = " or ".join(f"{code} ({names[code]})" for code in shared)
        return f"{text.strip()!r} could be {choices}: give the code or the full name."
    return f"unknown team {text!r}: use a code (BOS), a name (Boston Celtics) or a city (Boston)."


def seed_teams() -> None:
    """Create or update the 30 teams and all their aliases (idempotent).

    Used by loaders, tests and benchmarks, since a test database flushed between transactional
    tests loses the rows the data migration (etl 0002, with its own frozen copy) created.
    """
    for code, bref, nba_id, name, nickname, _former in FRANCHISES:
        team, _ = Team.objects.update_or_create(
            code=code, defaults={"bref_code": bref, "nba_id": nba_id, "name": name, "nickname": nickname}
        )
        for alias in ALIASES[code]:
            TeamAlias.objects.update_or_create(alias=alias_key(alias), defaults={"team": team})
