"""Item pipelines: validate, then write staging rows for the spider's ScrapeRun.

The ORM is synchronous and Scrapy runs on an asyncio event loop, so database work goes through
`sync_to_async` (one dedicated thread, its own connection), never blocking or breaking the loop.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from scraping.crawler.validation import validate_item


class ValidationPipeline:
    """Drops (and so counts as an error) any item that fails scraping.crawler.validation."""

    def process_item(self, item):
        data = ItemAdapter(item).asdict()
        problems = validate_item(data)
        if problems:
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            raise DropItem(
                f"invalid {data.get('kind', 'item')} from {data.get('source_url')}: " + "; ".join(problems[:3]) + more
            )
        return item


class StagingPipeline:
    """Writes each item (a game with all its lines, or a game-log row) in one transaction."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_item(self, item):
        run_id = getattr(self.crawler.spider, "run_id", None)
        if run_id is None:  # a crawl outside a ScrapeRun (e.g. plain `scrapy crawl`): nothing to stage
            return item
        from scraping.services import stage_item

        await sync_to_async(stage_item)(run_id, ItemAdapter(item).asdict())
        return item

    async def close_spider(self):
        from django.db import connections

        await sync_to_async(connections.close_all)()
