"""`gamelog`: one player's season game log, /players/<x>/<id>/gamelog/<season>.

    player=westbru01 season=2019
Rows of games played become lines; Inactive / Did Not Play / Not With Team rows are kept as
such in staging (they never become PlayerGameLog rows).
"""

from __future__ import annotations

from scraping.crawler.html import LayoutError
from scraping.crawler.parsers import parse_gamelog
from scraping.crawler.spiders.base import BrefSpider, logger


class GameLogSpider(BrefSpider):
    name = "gamelog"

    async def start(self):
        player, season = self.args["player"], self.args["season"]
        yield self.request(f"/players/{player[0]}/{player}/gamelog/{season}", self.parse_gamelog)

    def parse_gamelog(self, response):
        if not self.text_response(response):
            return
        try:
            rows = parse_gamelog(response.selector, response.url, self.args["player"], self.fetched_at())
        except LayoutError as exc:
            self.record_error(response.url, f"layout: {exc}")
            return
        logger.info("%s: %d rows", response.url, len(rows))
        yield from rows
