"""The page parsers on real saved basketball-reference pages (no server, no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from parsel import Selector

from scraping.crawler.html import LayoutError, tables_by_id
from scraping.crawler.parsers import (
    parse_boxscore,
    parse_daily_index,
    parse_gamelog,
    parse_schedule,
    schedule_month_links,
)
from scraping.crawler.validation import validate_item
from scraping.tests.bref_server import page


def box(saved_page, game_id, name=None):
    return parse_boxscore(
        saved_page(name or f"boxscores/{game_id}.html"),
        f"https://x/boxscores/{game_id}.html",
        game_id,
        "2026-01-01T00:00:00+00:00",
    )


def line_of(game, name):
    return next(line for line in game["lines"] if line["player_name"] == name)


def test_line_score_hidden_in_a_comment_is_found(saved_page):
    sel = saved_page("boxscores/201801010BRK.html")
    assert not sel.xpath('//table[@id="line_score"]')  # only inside <!-- ... -->
    assert "line_score" in tables_by_id(sel)


def test_boxscore_201801010BRK_scores_and_named_players(saved_page):
    game = box(saved_page, "201801010BRK")
    assert (game["away_code"], game["away_score"], game["home_code"], game["home_score"]) == ("ORL", 95, "BRK", 98)
    assert game["overtimes"] == 0 and game["status"] == "final" and game["date"] == "2018-01-01"
    assert game["season"] == "2017-18" and game["start_time"] == "7:30p"
    gordon = line_of(game, "Aaron Gordon")
    assert (gordon["pts"], gordon["seconds"], gordon["reb"], gordon["ast"], gordon["plus_minus"]) == (
        20,
        2436,
        12,
        0,
        -5,
    )
    assert gordon["starter"] is True and gordon["team_code"] == "ORL" and gordon["is_home"] is False
    levert = line_of(game, "Caris LeVert")
    assert (levert["pts"], levert["seconds"], levert["plus_minus"], levert["starter"]) == (15, 1626, 2, False)
    assert validate_item(dict(game)) == []


def test_boxscore_lists_starters_reserves_dnp_and_inactive_players(saved_page):
    game = box(saved_page, "201801010BRK")
    brk = [line for line in game["lines"] if line["team_code"] == "BRK"]
    played = [line for line in brk if line["played"] == "played"]
    assert sum(1 for line in played if line["starter"]) == 5 and len(played) == 10
    assert sum(line["pts"] for line in played) == 98  # the page's Team Totals
    dnp = {line["player_name"]: line["reason"] for line in brk if line["played"] == "dnp"}
    assert dnp == {"Milton Doyle": "Did Not Play", "Timofey Mozgov": "Did Not Play", "Jahlil Okafor": "Did Not Play"}
    inactive = {line["player_bref_id"] for line in brk if line["played"] == "inactive"}
    assert inactive == {"linje01", "russeda01", "whiteis01", "wileyja01"}
    assert all("pts" not in line for line in brk if line["played"] != "played")


def test_overtime_201701010ATL_2019_capture_with_q5_tables(saved_page):
    game = box(saved_page, "201701010ATL")
    assert (game["away_code"], game["away_score"], game["home_code"], game["home_score"]) == ("SAS", 112, "ATL", 114)
    assert game["overtimes"] == 1
    assert game["raw"]["overtime_tables"] == ["q5"]
    assert [label for label, _ in game["raw"]["line_score"][1]["periods"]] == ["1", "2", "3", "4", "OT"]
    aldridge = line_of(game, "LaMarcus Aldridge")
    assert (aldridge["pts"], aldridge["seconds"], aldridge["plus_minus"]) == (27, 2607, 18)
    assert validate_item(dict(game)) == []


def test_overtime_201801010TOR_current_layout_with_ot1_tables(saved_page):
    game = box(saved_page, "201801010TOR")
    assert (game["away_score"], game["home_score"], game["overtimes"]) == (127, 131, 1)
    assert game["raw"]["overtime_tables"] == ["ot1"]
    assert validate_item(dict(game)) == []


def test_old_boxscore_2001_and_a_rendered_fragment_parse_too(saved_page):
    old = box(saved_page, "200101010MIN")
    assert (old["away_code"], old["away_score"], old["home_code"], old["home_score"]) == ("HOU", 96, "MIN", 106)
    assert validate_item(dict(old)) == []
    doncic_game = box(saved_page, "202401260ATL", "rendered_fragments/boxscores/202401260ATL.fragment.html")
    doncic = line_of(doncic_game, "Luka Dončić")
    assert doncic["pts"] == 73 and doncic["team_code"] == "DAL"
    assert validate_item(dict(doncic_game)) == []


def values(item, *fields) -> tuple:
    """The item's values of `fields`, in that order."""
    return tuple(item[field] for field in fields)


def test_daily_index_links_every_game_of_the_day(saved_page):
    ids = parse_daily_index(saved_page("daily_boxscores_index/boxscores_2018-01-01.html"), dt.date(2018, 1, 1))
    assert ids == ["201801010BRK", "201801010CHI", "201801010MIN", "201801010TOR"]
    ids_2001 = parse_daily_index(saved_page("daily_boxscores_index/boxscores_2001-01-01.html"), dt.date(2001, 1, 1))
    assert ids_2001 == ["200101010MIN", "200101010POR"]


def test_schedule_month_counts_and_playoffs(saved_page):
    october = parse_schedule(saved_page("schedule_months/NBA_2018_games-october.html"), "u", "2026-01-01T00:00:00")
    assert len(october) == 104
    assert all(game["status"] == "final" for game in october)
    opener = october[0]
    fields = ("bref_game_id", "away_code", "away_score", "home_code", "home_score")
    assert values(opener, *fields) == ("201710170CLE", "BOS", 99, "CLE", 102)
    april = parse_schedule(saved_page("schedule_months/NBA_2018_games-april.html"), "u", "2026-01-01T00:00:00")
    regular = [g for g in april if g["season_type"] == "regular"]
    playoffs = [g for g in april if g["season_type"] == "playoffs"]
    assert len(regular) == 88 and len(playoffs) == 48
    assert min(g["date"] for g in playoffs) == "2018-04-14" and max(g["date"] for g in regular) == "2018-04-11"
    assert all(validate_item(dict(game)) == [] for game in october + april)


def test_schedule_future_games_have_no_scores(saved_page):
    games = parse_schedule(saved_page("schedule_months/NBA_2019_games-april.html"), "u", "2026-01-01T00:00:00")
    assert len(games) == 79
    first = games[0]
    fields = ("bref_game_id", "date", "start_time", "away_code", "home_code")
    assert values(first, *fields) == ("201904010BOS", "2019-04-01", "7:30p", "MIA", "BOS")
    assert all(g["status"] == "scheduled" and g["home_score"] is None and g["away_score"] is None for g in games)
    assert all(validate_item(dict(game)) == [] for game in games)


def test_schedule_links_every_month_of_the_season(saved_page):
    months = schedule_month_links(saved_page("schedule_months/NBA_2018_games-october.html"), 2018)
    assert months == ["october", "november", "december", "january", "february", "march", "april", "may", "june"]
    # the 2019 capture links months with absolute URLs
    assert "march" in schedule_month_links(saved_page("schedule_months/NBA_2019_games-april.html"), 2019)


def test_gamelog_2025_layout_keeps_inactive_rows(saved_page):
    rows = parse_gamelog(saved_page("player_gamelogs/westbru01_gamelog_2019.html"), "u", "westbru01", "t")
    regular = [r for r in rows if r["season_type"] == "regular"]
    played = [r for r in regular if r["played"] == "played"]
    assert len(played) == 73 and sum(r["pts"] for r in played) == 1675  # 22.9 points a game
    assert sorted({r["reason"] for r in regular if r["played"] != "played"}) == ["Inactive", "Not With Team"]
    first = rows[0]
    fields = ("date", "played", "team_code", "opponent_code", "is_home", "team_score", "opponent_score")
    assert values(first, *fields) == ("2018-10-16", "inactive", "OKC", "GSW", False, 100, 108)
    assert len([r for r in rows if r["season_type"] == "playoffs"]) == 5
    assert all(validate_item(dict(row)) == [] for row in rows)


def test_gamelog_of_a_player_with_few_games(saved_page):
    rows = parse_gamelog(saved_page("player_gamelogs/brownja01_gamelog_2015.html"), "u", "brownja01", "t")
    assert len(rows) == 20 and rows[0]["player_name"] == "Jabari Brown"
    assert sum(1 for r in rows if r["played"] == "played") == 19


def test_unknown_player_and_404_pages_are_layout_errors(saved_page):
    with pytest.raises(LayoutError, match="unknown player"):
        parse_gamelog(saved_page("misc/gamelog_unknown_player_foobar_2020.html"), "u", "foobar", "t")
    with pytest.raises(LayoutError):
        parse_boxscore(saved_page("misc/404_not_found.html"), "u", "201801010BRK", "t")
    with pytest.raises(LayoutError, match="no schedule table"):
        parse_schedule(saved_page("misc/404_not_found.html"), "u", "t")


def test_changed_layout_without_box_tables_is_a_layout_error():
    html = page("boxscores/201801010BRK.html").decode().replace("-game-basic", "-game-summary")
    with pytest.raises(LayoutError, match="game-basic"):
        parse_boxscore(Selector(text=html), "u", "201801010BRK", "t")


def test_validation_rejects_a_line_that_does_not_add_up(saved_page):
    game = box(saved_page, "201801010BRK")
    line_of(game, "Aaron Gordon")["pts"] = 21
    assert any("21 pts != 2*FG + 3P + FT" in problem for problem in validate_item(dict(game)))


def test_validation_rejects_lines_that_do_not_sum_to_the_line_score(saved_page):
    game = box(saved_page, "201801010BRK")
    gordon = line_of(game, "Aaron Gordon")
    gordon.update(fgm=9, fga=21, pts=22)  # a consistent line, but ORL now has 97, not 95
    assert validate_item(dict(game)) == ["201801010BRK: ORL players scored 97, line score says 95"]
