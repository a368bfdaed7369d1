"""The 30 NBA franchises and every code or name the sources use for them (the data is
etl/franchises.json), and the idempotent seeding of Team/TeamAlias from it.

NBA.com and basketball-reference disagree on some codes (BKN/BRK, CHA/CHO, PHX/PHO) and older
pages use the franchise's former codes (NJN, NOH, SEA, VAN...). Each one maps to one `Team`.
The canonical `Team.code` is the current NBA.com code.
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


def seed_teams() -> None:
    """Create or update the 30 teams and all their aliases (idempotent).

    Used by loaders, tests and benchmarks, since a test database flushed between transactional
    tests loses the rows the data migration (etl 0002, with its own frozen copy) created.
    """
    for code, bref, nba_id, name, nickname, former in FRANCHISES:
        team, _ = Team.objects.update_or_create(
            code=code, defaults={"bref_code": bref, "nba_id": nba_id, "name": name, "nickname": nickname}
        )
        for alias in (code, bref, name, nickname, *former):
            TeamAlias.objects.update_or_create(alias=alias_key(alias), defaults={"team": team})
