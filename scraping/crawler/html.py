"""Reading basketball-reference tables robustly.

Tables are found by id whether they are normal markup or wrapped in an HTML comment (bref
ships `line_score`, `four_factors` and others commented out and un-comments them with
JavaScript). Cells are read by their `data-stat` name, never by column position.
"""

from __future__ import annotations

import re

from parsel import Selector

TEAM_HREF_RE = re.compile(r"/teams/([A-Z0-9]{2,3})/")
PLAYER_HREF_RE = re.compile(r"/players/[a-z]/([a-z0-9.'-]+)\.html")
BOX_HREF_RE = re.compile(r"/boxscores/(\d{8}0[A-Z]{3})\.html")


class LayoutError(Exception):
    """The page does not have the layout the parser expects (moved table, renamed cells...)."""


def tables_by_id(sel: Selector) -> dict[str, Selector]:
    """Every <table id=...> on the page, including those inside HTML comments (markup wins)."""
    found: dict[str, Selector] = {}
    for comment in sel.xpath("//comment()").getall():
        if "<table" not in comment:
            continue
        inner = Selector(text=comment[4:-3] if comment.startswith("<!--") else comment)
        for table in inner.xpath("//table[@id]"):
            found.setdefault(table.attrib["id"], table)
    for table in sel.xpath("//table[@id]"):
        found[table.attrib["id"]] = table
    return found


def text_of(node: Selector | None) -> str:
    """The visible text of a node, whitespace collapsed ('' for None)."""
    if node is None:
        return ""
    return " ".join(" ".join(node.xpath(".//text()").getall()).replace("\xa0", " ").split())


def body_rows(table: Selector) -> list[Selector]:
    """Data rows of a table: rows outside <thead>/<tfoot> (header rows repeated in the body are kept;
    callers recognise them by their class)."""
    return table.xpath(".//tr[not(ancestor::thead) and not(ancestor::tfoot)]")


def is_header_row(row: Selector) -> bool:
    classes = (row.attrib.get("class") or "").split()
    return "thead" in classes or "over_header" in classes


def cells(row: Selector) -> dict[str, Selector]:
    """data-stat name -> cell, for one row."""
    out: dict[str, Selector] = {}
    for cell in row.xpath("./th|./td"):
        stat = cell.attrib.get("data-stat")
        if stat:
            out.setdefault(stat, cell)
    return out


def raw_values(row: Selector) -> dict[str, str]:
    """data-stat name -> visible text, the raw values kept in staging."""
    return {stat: text_of(cell) for stat, cell in cells(row).items()}


def first_match(pattern: re.Pattern, values) -> str | None:
    for value in values:
        match = pattern.search(value or "")
        if match:
            return match.group(1)
    return None


def team_code(cell: Selector | None) -> str:
    """A team cell's code from its /teams/XXX/ link, else its text (a name Team.resolve knows)."""
    if cell is None:
        return ""
    code = first_match(TEAM_HREF_RE, cell.xpath(".//a/@href").getall())
    return code or text_of(cell)


def to_int(text: str | None) -> int | None:
    text = (text or "").strip().replace(",", "")
    if text.startswith("+"):
        text = text[1:]
    try:
        return int(text)
    except ValueError:
        return None


def minutes_to_seconds(text: str | None) -> int | None:
    """'43:27' -> 2607, '40' -> 2400, '' -> None."""
    text = (text or "").strip()
    match = re.fullmatch(r"(\d+):(\d{1,2})", text)
    if match:
        return int(match[1]) * 60 + int(match[2])
    if text.isdigit():
        return int(text) * 60
    return None
