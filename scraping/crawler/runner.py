"""Child-process entry point: run one ScrapeRun's crawl, then record its outcome.

    python -m scraping.crawler.runner RUN_ID [-s NAME=VALUE ...]

Started by scraping.services.run_crawl (from `manage.py crawl` and the Celery task) in a fresh
process each time: Twisted's reactor cannot be restarted inside a long-lived worker process.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def build_settings(overrides: dict | None = None):
    """The project's Scrapy settings plus NAME=VALUE overrides (at command-line priority)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("scraping.crawler.settings", priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_id", type=int)
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    options = parser.parse_args(argv)
    overrides = dict(pair.split("=", 1) for pair in options.set)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nbaproject.settings")
    import django

    django.setup()
    from django.db import connections
    from scrapy.crawler import AsyncCrawlerProcess

    from scraping import services
    from scraping.crawler.extensions import progress_counts

    run = services.mark_running(options.run_id, pid=os.getpid())
    # Scrapy installs its own root log handler (LOG_LEVEL, LOG_FORMAT): drop Django's console
    # handler so each line is logged once.
    logging.root.handlers.clear()
    process = AsyncCrawlerProcess(build_settings(overrides))
    crawler = process.create_crawler(process.spider_loader.load(run.spider))
    process.crawl(crawler, run_id=run.pk, **run.args)
    connections.close_all()  # the crawl uses its own connection in the database thread
    process.start()

    stats = crawler.stats.get_stats() or {}
    spider = getattr(crawler, "spider", None)
    counts = progress_counts(crawler)
    run = services.finish_run(
        run.pk,
        finish_reason=str(stats.get("finish_reason", "")),
        error_list=list(getattr(spider, "error_list", [])),
        stop_message=getattr(spider, "stop_message", ""),
        **counts,
    )
    connections.close_all()
    print(f"scrape run #{run.pk} {run.status}: {run.pages} pages, {run.items} items, {run.errors} errors", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
