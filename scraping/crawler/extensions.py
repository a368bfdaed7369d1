"""Live progress of a crawl on its ScrapeRun row, and error accounting for dropped items.

Every RUN_PROGRESS_INTERVAL seconds the pages/items/errors counts are written to the run, so
`manage.py crawl`, the Celery task state and the admin all see the crawl advance.
"""

from __future__ import annotations

import asyncio
import logging
import os

from asgiref.sync import sync_to_async
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

logger = logging.getLogger(__name__)


def progress_counts(crawler) -> dict:
    stats = crawler.stats
    return {
        "pages": stats.get_value("nba/pages", 0),
        "items": stats.get_value("item_scraped_count", 0),
        "errors": stats.get_value("nba/errors", 0),
    }


class RunProgress:
    def __init__(self, crawler):
        self.crawler = crawler
        self.interval = crawler.settings.getfloat("RUN_PROGRESS_INTERVAL", 1.0)
        if self.interval <= 0:
            raise NotConfigured
        self.loop = None
        self.pending: asyncio.Future | None = None
        self.last: dict | None = None
        self.parent_pid = os.getppid()
        self.stopping = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.item_error, signal=signals.item_error)
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _record(self, url: str, reason: str) -> None:
        spider = self.crawler.spider
        if hasattr(spider, "record_error"):
            spider.record_error(url, reason)

    def item_dropped(self, item, response, exception, spider=None):
        self._record(getattr(response, "url", "") or "", str(exception))

    def item_error(self, item, response, failure, spider=None):
        self._record(getattr(response, "url", "") or "", f"could not stage: {failure.getErrorMessage()}")

    def spider_error(self, failure, response, spider=None):
        self._record(getattr(response, "url", "") or "", f"{failure.type.__name__}: {failure.getErrorMessage()}")

    def spider_opened(self, spider=None):
        if getattr(self.crawler.spider, "run_id", None) is None:
            return
        self.loop = create_looping_call(self.flush)
        self.loop.start(self.interval, now=False)

    def spider_closed(self, spider=None, reason=None):
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def flush(self) -> None:
        """Write the counts to the run if they changed (at most one write in flight)."""
        if os.getppid() != self.parent_pid and not self.stopping:
            # The process waiting for this crawl is gone (killed worker): do not crawl on alone.
            self.stopping = True
            logger.error("the process that started this crawl has gone: stopping")
            from scraping.crawler.middlewares import BackoffRetryMiddleware

            retry = self.crawler.get_downloader_middleware(BackoffRetryMiddleware)
            if retry is not None:
                retry.cancel_waits()
            asyncio.ensure_future(self.crawler.engine.close_spider_async(reason="parent_gone"))
        if self.pending is not None and not self.pending.done():
            return
        counts = progress_counts(self.crawler)
        spider = self.crawler.spider
        counts["error_list"] = list(getattr(spider, "error_list", []))
        if getattr(spider, "activity", ""):
            counts["message"] = spider.activity
        if counts == self.last:
            return
        self.last = counts
        from scraping.services import record_progress

        self.pending = asyncio.ensure_future(sync_to_async(record_progress)(spider.run_id, **counts))
