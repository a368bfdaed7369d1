"""`boxscores`: every game of a date (via the daily index) or the given game ids.

    date=YYYY-MM-DD  -> /boxscores/?month=M&day=D&year=Y, then each /boxscores/<id>.html
    game=<id>[,<id>] -> /boxscores/<id>.html
Each box score yields one GameItem: line score (scores, overtimes) and every player's line.
"""

from __future__ import annotations

import datetime as dt

from scraping.crawler.html import LayoutError
from scraping.crawler.parsers import parse_boxscore, parse_daily_index
from scraping.crawler.spiders.base import BrefSpider, logger


class BoxScoresSpider(BrefSpider):
    name = "boxscores"

    async def start(self):
        if "game" in self.args:
            for game_id in self.args["game"].split(","):
                yield self.request(f"/boxscores/{game_id}.html", self.parse_boxscore, bref_game_id=game_id)
        else:
            day = dt.date.fromisoformat(self.args["date"])
            yield self.request(
                f"/boxscores/?month={day.month}&day={day.day}&year={day.year}", self.parse_index, day=day
            )

    def parse_index(self, response, day: dt.date):
        if not self.text_response(response):
            return
        try:
            game_ids = parse_daily_index(response.selector, day)
        except LayoutError as exc:
            self.record_error(response.url, f"layout: {exc}")
            return
        logger.info("%s: %d games on %s", response.url, len(game_ids), day)
        for game_id in game_ids:
            yield self.request(f"/boxscores/{game_id}.html", self.parse_boxscore, bref_game_id=game_id)

    def parse_boxscore(self, response, bref_game_id: str):
        if not self.text_response(response):
            return
        try:
            yield parse_boxscore(response.selector, response.url, bref_game_id, self.fetched_at())
        except LayoutError as exc:
            self.record_error(response.url, f"layout: {exc}")
