"""Page parsers: a basketball-reference page (parsel Selector) -> items.

Pure functions, no network and no database, so saved pages can be parsed in tests and a
held-back page of the same kind goes through the same code. A page without the expected
tables raises LayoutError with the reason.
"""

from __future__ import annotations

import datetime as dt
import re

from parsel import Selector

from etl.seasons import season_for_date
from scraping.crawler.arguments import GAME_ID_RE, MONTHS
from scraping.crawler.html import (
    BOX_HREF_RE,
    PLAYER_HREF_RE,
    LayoutError,
    body_rows,
    cells,
    first_match,
    is_header_row,
    raw_values,
    tables_by_id,
    team_code,
    text_of,
    to_int,
)
from scraping.crawler.items import GameItem, GameLogLineItem, PlayerLineItem
from scraping.crawler.loaders import GameLogLineLoader, LineLoader

BOX_BASIC_RE = re.compile(r"^box-([A-Z0-9]{2,3})-game-basic$")
OT_TABLE_RE = re.compile(r"^box-([A-Z0-9]{2,3})-(q[5-9]|q1\d|ot\d+)-basic$")
PLAYOFF_TITLE_RE = re.compile(r"\b(Game \d+|Finals|Playoffs?|Play-In|Round|Semifinals)\b", re.I)
SCHEDULE_MONTH_RE = re.compile(r"/leagues/NBA_(\d{4})_games-([a-z]+)\.html")
RESULT_RE = re.compile(r"([WLT])\s*,?\s*(\d+)\s*-\s*(\d+)(?:\s*\((\d*)OT\))?")
NOT_PLAYED_INACTIVE = {"inactive"}


def game_date(bref_game_id: str) -> dt.date:
    match = GAME_ID_RE.match(bref_game_id or "")
    if not match:
        raise LayoutError(f"{bref_game_id!r} is not a basketball-reference game id")
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


def played_status(reason: str) -> str:
    return "inactive" if reason.strip().lower() in NOT_PLAYED_INACTIVE else "dnp"


def overtime_count(text: str) -> int | None:
    """'' -> 0, 'OT' -> 1, '2OT' -> 2; None when unreadable."""
    match = re.fullmatch(r"(\d*)\s*OT", (text or "").strip().upper())
    if not (text or "").strip():
        return 0
    return int(match[1] or 1) if match else None


def start_time_label(text: str) -> str:
    """'7:30 PM, January 1, 2018' -> '7:30p' (the schedule's own format)."""
    match = re.search(r"(\d{1,2}:\d{2})\s*([AaPp])\.?\s*[Mm]?", text or "")
    return f"{match[1]}{match[2].lower()}" if match else ""


# --- daily index ----------------------------------------------------------------------------


def page_game_fields(kind: str, url: str, fetched_at: str, bref_game_id: str, day: dt.date, season_type: str) -> dict:
    """The PageGameFields of an item: what kind of row, read where and when, and its game (whose
    date gives the season)."""
    return {
        "kind": kind,
        "source_url": url,
        "fetched_at": fetched_at,
        "bref_game_id": bref_game_id,
        "date": day.isoformat(),
        "season": season_for_date(day),
        "season_type": season_type,
    }


def parse_daily_index(sel: Selector, day: dt.date) -> list[str]:
    """Game ids linked from /boxscores/?month=&day=&year= for that date (in page order)."""
    prefix = f"{day:%Y%m%d}"
    ids: list[str] = []
    for href in sel.xpath("//a/@href").getall():
        match = BOX_HREF_RE.search(href)
        if match and match[1].startswith(prefix) and match[1] not in ids:
            ids.append(match[1])
    if not ids and not sel.xpath('//*[contains(@class, "game_summaries")] | //h1'):
        raise LayoutError("daily index without game summaries or a page heading")
    return ids


# --- box score -----------------------------------------------------------------------------


def parse_line_score(table: Selector) -> list[dict]:
    """Rows of the line score as [{team, periods: [(label, pts)], total}] (away first).

    Current pages name cells data-stat="1".."4","1OT".."T"; 2019-era captures have bare cells,
    read against that table's own header labels (1, 2, 3, 4, OT, 2OT, T).
    """
    labels: list[str] = []
    for row in table.xpath(".//tr"):
        texts = [text_of(c) for c in row.xpath("./th|./td")]
        if "T" in texts and any(t in ("1", "2", "3", "4") for t in texts):
            labels = texts
    teams = []
    for row in table.xpath(".//tr"):
        row_cells = row.xpath("./th|./td")
        code = team_code(row_cells[0]) if row_cells else ""
        if not row_cells or not row_cells[0].xpath(".//a[contains(@href, '/teams/')]"):
            continue
        named = cells(row)
        periods: list[tuple[str, int | None]] = []
        total = None
        if named and "T" in named:
            for stat, cell in named.items():
                if stat == "team":
                    continue
                value = to_int(text_of(cell))
                if stat == "T":
                    total = value
                else:
                    periods.append((stat, value))
        else:
            if len(labels) != len(row_cells):
                raise LayoutError("line score header and rows do not line up")
            for label, cell in zip(labels[1:], row_cells[1:], strict=True):
                value = to_int(text_of(cell))
                if label == "T":
                    total = value
                else:
                    periods.append((label, value))
        teams.append({"team": code, "periods": periods, "total": total})
    if len(teams) != 2:
        raise LayoutError(f"line score has {len(teams)} team rows, expected 2")
    return teams


def parse_box_table(table: Selector, team: str, opponent: str, is_home: bool) -> list[dict]:
    """Every player row of a box-<TEAM>-game-basic table: starters, reserves, did-not-play."""
    lines: list[dict] = []
    starter = True
    for row in body_rows(table):
        if is_header_row(row):
            if "reserve" in text_of(row).lower():
                starter = False
            continue
        named = cells(row)
        player_cell = named.get("player")
        if player_cell is None:
            continue
        bref_id = player_cell.attrib.get("data-append-csv") or first_match(
            PLAYER_HREF_RE, player_cell.xpath(".//a/@href").getall()
        )
        if not bref_id:  # "Team Totals" and similar rows
            continue
        loader = LineLoader(selector=row)
        loader.add_value("player_bref_id", bref_id)
        loader.add_value("player_name", text_of(player_cell))
        loader.add_value("team_code", team)
        loader.add_value("opponent_code", opponent)
        loader.add_value("is_home", is_home)
        loader.add_value("raw", raw_values(row))
        reason = text_of(named["reason"]) if "reason" in named else ""
        if "pts" not in named and "mp" not in named:
            if not reason:
                spanning = row.xpath("./td[@colspan]")
                reason = text_of(spanning[0]) if spanning else ""
            loader.add_value("played", played_status(reason))
            loader.add_value("reason", reason or "Did Not Play")
        else:
            loader.add_value("played", "played")
            loader.add_value("starter", starter)
            loader.add_stats()
        lines.append(dict(loader.load_item()))
    return lines


def parse_inactive(sel: Selector) -> dict[str, list[tuple[str, str]]]:
    """The 'Inactive:' list under the box scores: team code -> [(bref id, name)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    for block in sel.xpath('//div[strong[starts-with(normalize-space(.), "Inactive")]]'):
        current = None
        for node in block.xpath("./span|./a"):
            if node.root.tag == "span":
                current = text_of(node).strip() or None
                if current:
                    out.setdefault(current, [])
            elif current:
                bref_id = first_match(PLAYER_HREF_RE, [node.attrib.get("href", "")])
                if bref_id:
                    out[current].append((bref_id, text_of(node)))
    return out


def parse_boxscore(sel: Selector, url: str, bref_game_id: str, fetched_at: str) -> GameItem:
    """A box score page -> one GameItem with the line score and every player's line."""
    day = game_date(bref_game_id)
    home = GAME_ID_RE.match(bref_game_id)[4]
    tables = tables_by_id(sel)
    basic = {BOX_BASIC_RE.match(tid)[1]: table for tid, table in tables.items() if BOX_BASIC_RE.match(tid)}
    if len(basic) != 2:
        raise LayoutError(f"expected 2 box-<TEAM>-game-basic tables, found {len(basic)}")
    if "line_score" not in tables:
        raise LayoutError("no line_score table (neither in the markup nor in a comment)")
    line_score = parse_line_score(tables["line_score"])
    away_row, home_row = line_score
    if home not in basic:
        raise LayoutError(f"home team {home} of {bref_game_id} has no box score table")
    away = next(code for code in basic if code != home)
    if {away_row["team"], home_row["team"]} != {away, home} or home_row["team"] != home:
        raise LayoutError(f"line score teams {away_row['team']}/{home_row['team']} do not match {away}@{home}")
    periods = len(home_row["periods"])
    if periods < 4 or len(away_row["periods"]) != periods:
        raise LayoutError(f"line score has {periods} periods")
    ot_tables = {m[2] for tid in tables if (m := OT_TABLE_RE.match(tid))}

    lines = parse_box_table(basic[away], away, home, False) + parse_box_table(basic[home], home, away, True)
    listed = {line["player_bref_id"] for line in lines}
    for code, players in parse_inactive(sel).items():
        if code not in (home, away):
            continue
        for bref_id, name in players:
            if bref_id in listed:
                continue
            listed.add(bref_id)
            lines.append(
                dict(
                    PlayerLineItem(
                        player_bref_id=bref_id,
                        player_name=name,
                        team_code=code,
                        opponent_code=away if code == home else home,
                        is_home=code == home,
                        played="inactive",
                        reason="Inactive",
                        raw={"inactive_list": name},
                    )
                )
            )

    title = text_of(sel.xpath("//h1")[0]) if sel.xpath("//h1") else ""
    meta = sel.xpath('//div[contains(@class, "scorebox_meta")]/div[1]')
    return GameItem(
        **page_game_fields(
            "boxscore", url, fetched_at, bref_game_id, day, "playoffs" if PLAYOFF_TITLE_RE.search(title) else ""
        ),
        start_time=start_time_label(text_of(meta[0]) if meta else ""),
        home_code=home,
        away_code=away,
        home_score=home_row["total"],
        away_score=away_row["total"],
        overtimes=periods - 4,
        status="final",
        raw={"title": title, "line_score": line_score, "overtime_tables": sorted(ot_tables)},
        lines=lines,
    )


# --- schedule --------------------------------------------------------------------------------


def schedule_month_links(sel: Selector, season: int) -> list[str]:
    """Month names of the season's schedule pages, in the order the page links them."""
    months: list[str] = []
    for href in sel.xpath("//a/@href").getall():
        match = SCHEDULE_MONTH_RE.search(href)
        if match and int(match[1]) == season and match[2] in MONTHS and match[2] not in months:
            months.append(match[2])
    return months


def _schedule_date(text: str, csk: str) -> dt.date | None:
    for fmt in ("%a, %b %d, %Y", "%b %d, %Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    match = re.match(r"(\d{4})(\d{2})(\d{2})", csk or "")
    return dt.date(int(match[1]), int(match[2]), int(match[3])) if match else None


def parse_schedule(sel: Selector, url: str, fetched_at: str) -> list[GameItem]:
    """A schedule month page -> one GameItem per game (final with scores, or scheduled)."""
    table = tables_by_id(sel).get("schedule")
    if table is None:
        raise LayoutError("no schedule table")
    games: list[GameItem] = []
    season_type = "regular"
    for row in body_rows(table):
        if is_header_row(row):
            heading = text_of(row).lower()
            if "playoff" in heading or "play-in" in heading:
                season_type = "playoffs"
            continue
        named = cells(row)
        if "date_game" not in named or "home_team_name" not in named:
            continue
        date_cell = named["date_game"]
        day = _schedule_date(text_of(date_cell), date_cell.attrib.get("csk", ""))
        if day is None:
            raise LayoutError(f"unreadable schedule date {text_of(date_cell)!r}")
        home, away = team_code(named.get("home_team_name")), team_code(named.get("visitor_team_name"))
        bref_id = (
            first_match(BOX_HREF_RE, row.xpath(".//a/@href").getall())
            or (date_cell.attrib.get("csk") if GAME_ID_RE.match(date_cell.attrib.get("csk", "")) else None)
            or f"{day:%Y%m%d}0{home}"
        )
        home_pts = to_int(text_of(named.get("home_pts")))
        away_pts = to_int(text_of(named.get("visitor_pts")))
        final = home_pts is not None and away_pts is not None
        overtimes = overtime_count(text_of(named.get("overtimes"))) if final else None
        remarks = text_of(named.get("game_remarks"))
        games.append(
            GameItem(
                **page_game_fields(
                    "schedule",
                    url,
                    fetched_at,
                    bref_id,
                    day,
                    "playoffs" if season_type == "playoffs" or "play-in" in remarks.lower() else "regular",
                ),
                start_time=text_of(named.get("game_start_time")),
                home_code=home,
                away_code=away,
                home_score=home_pts if final else None,
                away_score=away_pts if final else None,
                overtimes=overtimes,
                status="final" if final else "scheduled",
                raw=raw_values(row),
                lines=[],
            )
        )
    return games


# --- player game log ---------------------------------------------------------------------------


def gamelog_player_name(sel: Selector) -> str:
    heading = text_of(sel.xpath("//h1")[0]) if sel.xpath("//h1") else ""
    name = re.sub(r"\s+\d{4}-\d{2}\s+(Playoffs\s+)?Game Log.*$", "", heading).strip()
    return name


def parse_gamelog(sel: Selector, url: str, player_id: str, fetched_at: str) -> list[GameLogLineItem]:
    """A player's season game log -> one item per row (games played and Inactive/DNP rows)."""
    tables = tables_by_id(sel)
    sources = [
        (tables.get("player_game_log_reg") or tables.get("pgl_basic"), "regular"),
        (tables.get("player_game_log_post") or tables.get("pgl_playoffs"), "playoffs"),
    ]
    sources = [(table, kind) for table, kind in sources if table is not None]
    if not sources:
        raise LayoutError("no game log table (player_game_log_reg): unknown player or changed layout")
    name = gamelog_player_name(sel)
    if not name:
        raise LayoutError("game log page without the player's name heading")
    out: list[GameLogLineItem] = []
    for table, season_type in sources:
        for row in body_rows(table):
            if is_header_row(row):
                continue
            named = cells(row)
            date_cell = named.get("date") or named.get("date_game")
            if date_cell is None:
                continue
            bref_id = first_match(BOX_HREF_RE, row.xpath(".//a/@href").getall())
            if not bref_id:
                continue
            day = game_date(bref_id)
            team = team_code(named.get("team_name_abbr") or named.get("team_id"))
            opponent = team_code(named.get("opp_name_abbr") or named.get("opp_id"))
            location = text_of(named.get("game_location"))
            is_home = bref_id.endswith(team) if location not in ("@", "") else location != "@"
            result = RESULT_RE.search(text_of(named.get("game_result")))
            loader = GameLogLineLoader(selector=row)
            for field, value in page_game_fields("gamelog", url, fetched_at, bref_id, day, season_type).items():
                loader.add_value(field, value)
            loader.add_value("player_bref_id", player_id)
            loader.add_value("player_name", name)
            loader.add_value("team_code", team)
            loader.add_value("opponent_code", opponent)
            loader.add_value("is_home", is_home)
            if result:
                loader.add_value("team_score", result[2])
                loader.add_value("opponent_score", result[3])
            loader.add_value("raw", raw_values(row))
            starter_cell = named.get("is_starter") or named.get("gs")
            spanning = row.xpath("./td[@colspan]")
            if "pts" not in named:
                reason = text_of(named.get("reason")) or (text_of(spanning[0]) if spanning else "") or "Did Not Play"
                loader.add_value("played", played_status(reason))
                loader.add_value("reason", reason)
            else:
                loader.add_value("played", "played")
                starter_text = text_of(starter_cell)
                loader.add_value("starter", starter_text in ("1", "*"))
                loader.add_stats()
            out.append(loader.load_item())
    return out
