"""`schedule`: a season's games from /leagues/NBA_<season>_games-<month>.html.

    season=2018 month=january   -> that month only (several: month=january,february)
    season=2018                 -> the season page, then every month it links to
    month=current,next          -> this and next month (the season is worked out)
Played games come with scores; future games with date, start time and teams only.
"""

from __future__ import annotations

from scraping.crawler.html import LayoutError
from scraping.crawler.parsers import parse_schedule, schedule_month_links
from scraping.crawler.spiders.base import BrefSpider, logger


class ScheduleSpider(BrefSpider):
    name = "schedule"

    async def start(self):
        season, months = self.args["season"], self.args["month"]
        if months == "none":
            logger.info("no NBA games this month or next: nothing to fetch")
            return
        if months:
            for month in months.split(","):
                yield self.request(f"/leagues/NBA_{season}_games-{month}.html", self.parse_month)
        else:
            yield self.request(f"/leagues/NBA_{season}_games.html", self.parse_season)

    def parse_season(self, response):
        if not self.text_response(response):
            return
        months = schedule_month_links(response.selector, self.args["season"])
        if not months:
            self.record_error(response.url, "layout: no links to the season's month pages")
            return
        logger.info("%s: months %s", response.url, ", ".join(months))
        for month in months:
            yield self.request(f"/leagues/NBA_{self.args['season']}_games-{month}.html", self.parse_month)

    def parse_month(self, response):
        if not self.text_response(response):
            return
        try:
            games = parse_schedule(response.selector, response.url, self.fetched_at())
        except LayoutError as exc:
            self.record_error(response.url, f"layout: {exc}")
            return
        logger.info("%s: %d games", response.url, len(games))
        yield from games
