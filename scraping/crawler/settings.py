"""Scrapy settings of the project; politeness defaults can be changed through the environment.

basketball-reference.com asks for at most 20 requests per minute: one request at a time with
at least 3 s between requests (no random jitter below that), AutoThrottle slowing down further
when the site is slow, robots.txt obeyed, and 429/5xx answers retried with backoff that
honours Retry-After (scraping.crawler.middlewares.BackoffRetryMiddleware).
"""

from __future__ import annotations

import os
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_bool(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


BOT_NAME = "nbaproject"
SPIDER_MODULES = ["scraping.crawler.spiders"]
NEWSPIDER_MODULE = "scraping.crawler.spiders"
USER_AGENT = _env("SCRAPE_USER_AGENT", "nbaproject-scraper/1.0 (+https://github.com/; polite, 20 req/min)")

# --- Politeness ------------------------------------------------------------------------------
ROBOTSTXT_OBEY = _env_bool("SCRAPE_ROBOTSTXT_OBEY", True)
CONCURRENT_REQUESTS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = float(_env("SCRAPE_DOWNLOAD_DELAY", "3"))  # 3 s -> at most 20 requests/minute
DOWNLOAD_DELAY_JITTER = 0  # a random jitter would go below the 3 s minimum
AUTOTHROTTLE_ENABLED = _env_bool("SCRAPE_AUTOTHROTTLE", True)
AUTOTHROTTLE_START_DELAY = max(DOWNLOAD_DELAY, 0.0)
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = int(_env("SCRAPE_DOWNLOAD_TIMEOUT", "60"))
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

# --- Retries: 429 and 5xx, exponential backoff, Retry-After honoured ----------------------------
RETRY_ENABLED = True
RETRY_TIMES = int(_env("SCRAPE_RETRY_TIMES", "4"))
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_BACKOFF_BASE = float(_env("SCRAPE_RETRY_BACKOFF_BASE", "10"))  # 10, 20, 40, 80 s
RETRY_BACKOFF_MAX = float(_env("SCRAPE_RETRY_BACKOFF_MAX", "300"))
RETRY_AFTER_MAX = float(_env("SCRAPE_RETRY_AFTER_MAX", "900"))  # longer Retry-After: give up that page
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scraping.crawler.middlewares.BackoffRetryMiddleware": 550,
}

# --- Development cache (off by default): SCRAPE_HTTPCACHE=1 keeps every page under VAR_DIR ------
HTTPCACHE_ENABLED = _env_bool("SCRAPE_HTTPCACHE", False)
HTTPCACHE_DIR = str(Path(_env("VAR_DIR", str(Path(__file__).resolve().parents[2] / "var"))) / "scrapy-httpcache")
HTTPCACHE_EXPIRATION_SECS = int(_env("SCRAPE_HTTPCACHE_EXPIRATION_SECS", "0"))  # 0: never expires
HTTPCACHE_IGNORE_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]

# --- Items ---------------------------------------------------------------------------------------
ITEM_PIPELINES = {
    "scraping.crawler.pipelines.ValidationPipeline": 100,
    "scraping.crawler.pipelines.StagingPipeline": 500,
}
EXTENSIONS = {
    "scraping.crawler.extensions.RunProgress": 500,
}
# One crawl never runs past the Celery task's limit (which stays under RabbitMQ's 30 minutes).
CLOSESPIDER_TIMEOUT = int(_env("SCRAPE_MAX_SECONDS", str(22 * 60)))
RUN_PROGRESS_INTERVAL = float(_env("SCRAPE_PROGRESS_INTERVAL", "1"))

LOG_LEVEL = _env("SCRAPY_LOG_LEVEL", "INFO")
LOG_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"
FEED_EXPORT_ENCODING = "utf-8"
