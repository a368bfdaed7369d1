"""The 30 NBA franchises and every code or name the sources use for them (data, and the
idempotent seeding of Team/TeamAlias from it).

NBA.com and basketball-reference disagree on some codes (BKN/BRK, CHA/CHO, PHX/PHO) and older
pages use the franchise's former codes (NJN, NOH, SEA, VAN...). Each one maps to one `Team`.
The canonical `Team.code` is the current NBA.com code.
"""

from __future__ import annotations

from etl.models import Team, TeamAlias
from etl.names import alias_key

# (NBA.com code, basketball-reference code, NBA.com team id, full name, nickname, former codes/names)
FRANCHISES: list[tuple[str, str, int, str, str, tuple[str, ...]]] = [
    ("ATL", "ATL", 1610612737, "Atlanta Hawks", "Hawks", ()),
    ("BOS", "BOS", 1610612738, "Boston Celtics", "Celtics", ()),
    ("BKN", "BRK", 1610612751, "Brooklyn Nets", "Nets", ("NJN", "New Jersey Nets")),
    ("CHA", "CHO", 1610612766, "Charlotte Hornets", "Hornets", ("CHH", "Charlotte Bobcats")),
    ("CHI", "CHI", 1610612741, "Chicago Bulls", "Bulls", ()),
    ("CLE", "CLE", 1610612739, "Cleveland Cavaliers", "Cavaliers", ("Cavs",)),
    ("DAL", "DAL", 1610612742, "Dallas Mavericks", "Mavericks", ("Mavs",)),
    ("DEN", "DEN", 1610612743, "Denver Nuggets", "Nuggets", ()),
    ("DET", "DET", 1610612765, "Detroit Pistons", "Pistons", ()),
    ("GSW", "GSW", 1610612744, "Golden State Warriors", "Warriors", ("GS",)),
    ("HOU", "HOU", 1610612745, "Houston Rockets", "Rockets", ()),
    ("IND", "IND", 1610612754, "Indiana Pacers", "Pacers", ()),
    ("LAC", "LAC", 1610612746, "LA Clippers", "Clippers", ("Los Angeles Clippers", "San Diego Clippers", "SDC")),
    ("LAL", "LAL", 1610612747, "Los Angeles Lakers", "Lakers", ("LA Lakers",)),
    ("MEM", "MEM", 1610612763, "Memphis Grizzlies", "Grizzlies", ("VAN", "Vancouver Grizzlies")),
    ("MIA", "MIA", 1610612748, "Miami Heat", "Heat", ()),
    ("MIL", "MIL", 1610612749, "Milwaukee Bucks", "Bucks", ()),
    ("MIN", "MIN", 1610612750, "Minnesota Timberwolves", "Timberwolves", ("Wolves",)),
    (
        "NOP",
        "NOP",
        1610612740,
        "New Orleans Pelicans",
        "Pelicans",
        ("NOH", "NOK", "New Orleans Hornets", "New Orleans/Oklahoma City Hornets"),
    ),
    ("NYK", "NYK", 1610612752, "New York Knicks", "Knicks", ("NY",)),
    ("OKC", "OKC", 1610612760, "Oklahoma City Thunder", "Thunder", ("SEA", "Seattle SuperSonics")),
    ("ORL", "ORL", 1610612753, "Orlando Magic", "Magic", ()),
    ("PHI", "PHI", 1610612755, "Philadelphia 76ers", "76ers", ("Sixers",)),
    ("PHX", "PHO", 1610612756, "Phoenix Suns", "Suns", ()),
    ("POR", "POR", 1610612757, "Portland Trail Blazers", "Trail Blazers", ("Blazers",)),
    ("SAC", "SAC", 1610612758, "Sacramento Kings", "Kings", ("KCK", "Kansas City Kings")),
    ("SAS", "SAS", 1610612759, "San Antonio Spurs", "Spurs", ("SA",)),
    ("TOR", "TOR", 1610612761, "Toronto Raptors", "Raptors", ()),
    ("UTA", "UTA", 1610612762, "Utah Jazz", "Jazz", ("UTAH",)),
    ("WAS", "WAS", 1610612764, "Washington Wizards", "Wizards", ("WSB", "Washington Bullets")),
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
