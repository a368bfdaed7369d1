"""Scrapy items: a game (with its player lines when it comes from a box score) and a game-log row.

A box score is one `GameItem` holding every line of both teams, so a game and its lines are
validated and staged together: never half a game.
"""

from __future__ import annotations

import scrapy


class PlayerLineItem(scrapy.Item):
    """One player's row for one game (played or not)."""

    player_bref_id = scrapy.Field()
    player_name = scrapy.Field()
    team_code = scrapy.Field()
    opponent_code = scrapy.Field()
    is_home = scrapy.Field()
    played = scrapy.Field()  # played / dnp / inactive
    reason = scrapy.Field()
    starter = scrapy.Field()
    seconds = scrapy.Field()
    pts = scrapy.Field()
    fgm = scrapy.Field()
    fga = scrapy.Field()
    fg3m = scrapy.Field()
    fg3a = scrapy.Field()
    ftm = scrapy.Field()
    fta = scrapy.Field()
    oreb = scrapy.Field()
    dreb = scrapy.Field()
    reb = scrapy.Field()
    ast = scrapy.Field()
    stl = scrapy.Field()
    blk = scrapy.Field()
    tov = scrapy.Field()
    pf = scrapy.Field()
    plus_minus = scrapy.Field()
    raw = scrapy.Field()


class PageGameFields(scrapy.Item):
    """Where a row was read (kind, page, time) and which game it belongs to: shared by both items
    that stand alone (a game, a game-log row)."""

    kind = scrapy.Field()
    source_url = scrapy.Field()
    fetched_at = scrapy.Field()
    bref_game_id = scrapy.Field()
    date = scrapy.Field()
    season = scrapy.Field()
    season_type = scrapy.Field()


class GameLogLineItem(PlayerLineItem, PageGameFields):
    """A row of a player's season game log (kind "gamelog"): the line plus the game it belongs to."""

    team_score = scrapy.Field()
    opponent_score = scrapy.Field()


class GameItem(PageGameFields):
    """A game from a box score (kind boxscore, with `lines`) or a schedule row (kind schedule)."""

    start_time = scrapy.Field()
    home_code = scrapy.Field()
    away_code = scrapy.Field()
    home_score = scrapy.Field()
    away_score = scrapy.Field()
    overtimes = scrapy.Field()
    status = scrapy.Field()  # final / scheduled
    raw = scrapy.Field()
    lines = scrapy.Field()  # list of PlayerLineItem dicts (box scores only)
