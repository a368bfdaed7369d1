"""Spider arguments: checked and completed once, before a crawl starts.

`normalise_args(spider, args)` is used by the crawl command, the Celery task and the spiders
themselves, so a user mistake is reported in plain words before any process is started, and
the arguments recorded on the ScrapeRun are concrete (e.g. the date "yesterday" stood for).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from etl.seasons import season_end_year, season_for_date

DEFAULT_BASE_URL = "https://www.basketball-reference.com"
SPIDERS = ("schedule", "boxscores", "gamelog")
# NBA dates are US dates: "yesterday" is yesterday on the US east coast.
NBA_TZ = ZoneInfo("America/New_York")

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
GAME_ID_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})0([A-Z]{3})$")
PLAYER_ID_RE = re.compile(r"^[a-z0-9.'-]{2,16}$")
ALLOWED = {
    "schedule": ("base_url", "season", "month"),
    "boxscores": ("base_url", "date", "game"),
    "gamelog": ("base_url", "player", "season"),
}
HELP = {
    "schedule": "season=2018 (the year the season ends, or 2017-18) [month=january|1|current|next|a,b]",
    "boxscores": "date=YYYY-MM-DD (default: yesterday, US Eastern) or game=201801010BRK[,...]",
    "gamelog": "player=westbru01 [season=2019 (default: the current season)]",
}


class BadArguments(ValueError):
    """The spider name or its arguments are not usable; the message says why."""


def nba_today() -> dt.date:
    return dt.datetime.now(NBA_TZ).date()


def _season(value, name="season") -> int:
    text = str(value).strip()
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
    else:
        try:
            year = season_end_year(text)
        except ValueError:
            raise BadArguments(
                f"{name}={value!r}: use the year the season ends (2018) or a label like 2017-18"
            ) from None
    if not 1947 <= year <= nba_today().year + 1:
        raise BadArguments(f"{name}={year}: no NBA season ends in that year")
    return year


def _month(token: str) -> str:
    token = token.strip().lower()
    if token.isdigit() and 1 <= int(token) <= 12:
        return MONTHS[int(token) - 1]
    for name in MONTHS:
        if token == name or (len(token) >= 3 and name.startswith(token)):
            return name
    raise BadArguments(f"month={token!r}: use a month name (january), its number (1), current or next")


def _has_games(year: int, month: int) -> bool:
    """August and September never have NBA games; July only had them in 2020 and 2021."""
    if month in (8, 9):
        return year == 2020
    if month == 7:
        return year in (2020, 2021)
    return True


def _relative_months(tokens: list[str], today: dt.date) -> tuple[int, list[str]]:
    """'current'/'next' -> (season end year, month names), skipping months without games."""
    picked: list[tuple[int, str]] = []
    for token in tokens:
        offset = 0 if token == "current" else 1
        year, month = today.year + (today.month - 1 + offset) // 12, (today.month - 1 + offset) % 12 + 1
        if _has_games(year, month):
            day = dt.date(year, month, 1)
            picked.append((season_end_year(season_for_date(day)), MONTHS[month - 1]))
    seasons = {season for season, _ in picked}
    if len(seasons) > 1:  # cannot happen with the months skipped above; keep the current one
        picked = [p for p in picked if p[0] == picked[0][0]]
    if not picked:
        return season_end_year(season_for_date(today)), []
    return picked[0][0], [month for _, month in picked]


def _base_url(value) -> str:
    url = str(value or DEFAULT_BASE_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise BadArguments(f"base_url={value!r}: use an http(s) address such as {DEFAULT_BASE_URL}")
    return url


def _date(value, today: dt.date) -> str:
    text = str(value).strip().lower()
    if text == "yesterday":
        return (today - dt.timedelta(days=1)).isoformat()
    if text == "today":
        return today.isoformat()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadArguments(f"date={value!r}: use YYYY-MM-DD (or yesterday/today)") from None


def normalise_args(spider: str, args: dict | None, today: dt.date | None = None) -> dict:
    """Check `args` for `spider` and return them complete and concrete; raise BadArguments."""
    if spider not in SPIDERS:
        raise BadArguments(f"unknown spider {spider!r}: choose one of {', '.join(SPIDERS)}")
    args = {key: value for key, value in (args or {}).items() if value not in (None, "")}
    unknown = sorted(set(args) - set(ALLOWED[spider]))
    if unknown:
        raise BadArguments(f"{spider}: unknown argument(s) {', '.join(unknown)}; arguments: {HELP[spider]}")
    today = today or nba_today()
    out: dict = {"base_url": _base_url(args.get("base_url"))}

    if spider == "schedule":
        tokens = [t.strip().lower() for t in str(args.get("month", "")).split(",") if t.strip()]
        relative = [t for t in tokens if t in ("current", "next")]
        if relative and len(relative) != len(tokens):
            raise BadArguments("month: do not mix current/next with month names")
        if relative:
            season, months = _relative_months(relative, today)
            if "season" in args and _season(args["season"]) != season:
                raise BadArguments(f"month={','.join(tokens)} belongs to season {season}, not season={args['season']}")
            # "none": the off-season, nothing to fetch (an empty month would mean every month).
            out.update(season=season, month=",".join(months) or "none")
        else:
            if "season" not in args:
                raise BadArguments(f"schedule needs season=; arguments: {HELP[spider]}")
            months = []
            for token in [] if tokens == ["none"] else tokens:
                name = _month(token)
                if name not in months:
                    months.append(name)
            out.update(season=_season(args["season"]), month=",".join(months) or ("none" if tokens else ""))
    elif spider == "boxscores":
        if "date" in args and "game" in args:
            raise BadArguments("boxscores: give date= or game=, not both")
        if "game" in args:
            games = [g.strip() for g in str(args["game"]).split(",") if g.strip()]
            for game in games:
                match = GAME_ID_RE.match(game)
                if not match:
                    raise BadArguments(f"game={game!r}: use a basketball-reference game id like 201801010BRK")
                try:
                    dt.date(int(match[1]), int(match[2]), int(match[3]))
                except ValueError:
                    raise BadArguments(f"game={game!r}: the id does not start with a valid date") from None
            if not games:
                raise BadArguments("game=: give at least one game id")
            out["game"] = ",".join(games)
        else:
            out["date"] = _date(args.get("date", "yesterday"), today)
    else:  # gamelog
        player = str(args.get("player", "")).strip()
        if not player:
            raise BadArguments(f"gamelog needs player=; arguments: {HELP[spider]}")
        if not PLAYER_ID_RE.match(player):
            raise BadArguments(f"player={player!r}: use a basketball-reference player id like westbru01")
        out["player"] = player
        out["season"] = _season(args["season"]) if "season" in args else season_end_year(season_for_date(today))
    return out


def parse_key_values(pairs: list[str]) -> dict:
    """['date=2018-01-01', 'season=2018'] -> dict; raises BadArguments on a malformed pair."""
    args: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadArguments(f"{pair!r}: spider arguments are key=value")
        args[key.strip().replace("-", "_")] = value.strip()
    return args
