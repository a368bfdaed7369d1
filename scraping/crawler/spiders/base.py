"""What every basketball-reference spider shares: arguments, URLs, page and error accounting."""

from __future__ import annotations

import logging

import scrapy
from django.utils import timezone
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from scraping.crawler.arguments import normalise_args
from scraping.crawler.html import text_of
from scraping.crawler.middlewares import cannot_reach, unreachable_reason

MAX_ERROR_DETAILS = 100
logger = logging.getLogger(__name__)


class BrefSpider(scrapy.Spider):
    """Base spider: `base_url` plus the spider's own arguments (see crawler.arguments)."""

    def __init__(self, run_id=None, **kwargs):
        super().__init__()
        self.args = normalise_args(self.name, kwargs)  # BadArguments on a mistake
        self.base_url = self.args["base_url"]
        self.run_id = int(run_id) if run_id else None
        self.error_list: list[dict] = []
        self.activity = ""  # what the crawl is doing now, when worth telling (e.g. waiting to retry)
        self.stop_message = ""  # why the crawl was stopped early, when it was (one line)

    def url(self, path: str) -> str:
        """An absolute URL on the configured site (page links are followed by path only)."""
        return self.base_url + path

    def request(self, path: str, callback, **cb_kwargs) -> scrapy.Request:
        return scrapy.Request(self.url(path), callback=callback, errback=self.on_error, cb_kwargs=cb_kwargs)

    # --- accounting -------------------------------------------------------------------------
    def page_seen(self) -> None:
        self.crawler.stats.inc_value("nba/pages")

    def record_error(self, url: str, reason: str) -> None:
        """A counted, logged error for one page or item; the crawl goes on."""
        self.crawler.stats.inc_value("nba/errors")
        if len(self.error_list) < MAX_ERROR_DETAILS:
            self.error_list.append({"url": url, "reason": reason[:300]})
        logger.error("%s: %s", url, reason)

    def on_error(self, failure):
        request = failure.request
        if failure.check(HttpError):
            response = failure.value.response
            self.page_seen()
            title = ""
            if isinstance(response, TextResponse):
                try:
                    title = text_of(response.xpath("//title")[0]) if response.xpath("//title") else ""
                except ValueError:
                    title = ""
            self.record_error(response.url, f"HTTP {response.status}" + (f" ({title})" if title else ""))
        elif failure.check(IgnoreRequest):
            self.record_error(request.url, f"not fetched: {failure.getErrorMessage()}")
        elif unreachable_reason(failure.value):
            self.record_error(request.url, cannot_reach(request.url, unreachable_reason(failure.value)))
        else:
            self.record_error(request.url, f"{failure.type.__name__}: {failure.getErrorMessage()}")

    def text_response(self, response) -> bool:
        """Count the page; False (and a counted error) when it is not an HTML/text page."""
        self.page_seen()
        if not isinstance(response, TextResponse):
            self.record_error(response.url, "not an HTML page")
            return False
        return True

    @staticmethod
    def fetched_at() -> str:
        return timezone.now().isoformat()
