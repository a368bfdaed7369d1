"""Retry with backoff: 429 and 5xx answers are retried after a wait, honouring Retry-After.

Scrapy's stock RetryMiddleware re-sends at once. Here the wait is Retry-After when the server
sends one (seconds or an HTTP date, capped by RETRY_AFTER_MAX), otherwise
RETRY_BACKOFF_BASE * 2**(attempt-1) capped by RETRY_BACKOFF_MAX. While waiting, the download
slot is held back too, so no other request reaches the site before the wait is over, and the
run's message says so (`retrying URL in 8 s (attempt 2 of 5): HTTP 503`).

A site that cannot be reached at all (its name does not resolve, or it refuses the connection)
is not worth minutes of retries: the crawl stops at once, its run failing with one readable
line (`cannot reach www.basketball-reference.com: DNS lookup failed`).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError
from scrapy.utils.response import response_status_message
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, NoRouteError

logger = logging.getLogger(__name__)

# Failures that say the site cannot be reached from here (no use retrying them for minutes).
# (Scrapy's download handlers raise their own exceptions; Twisted's are kept for older handlers.)
UNREACHABLE = (
    ((CannotResolveHostError, DNSLookupError), "DNS lookup failed"),
    ((DownloadConnectionRefusedError, ConnectionRefusedError), "connection refused"),
    (NoRouteError, "no route to host"),
)


def unreachable_reason(exception: BaseException) -> str | None:
    """'DNS lookup failed' / 'connection refused' / 'no route to host', or None."""
    return next((reason for kind, reason in UNREACHABLE if isinstance(exception, kind)), None)


def cannot_reach(url: str, reason: str) -> str:
    """The one line that tells why a site could not be crawled."""
    return f"cannot reach {urlsplit(url).netloc}: {reason}"


def _seconds(wait: float) -> str:
    return f"{wait:.0f}" if wait >= 1 or wait == 0 else f"{wait:.1f}"


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: '120' -> 120.0; an HTTP date -> seconds until then."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 10.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 300.0)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX", 900.0)
        self._cancelled: asyncio.Event | None = None

    def cancel_waits(self) -> None:
        """End every wait now (the crawl is being stopped); the pages waiting count as errors."""
        self._events().set()

    def _events(self) -> asyncio.Event:
        if self._cancelled is None:
            self._cancelled = asyncio.Event()
        return self._cancelled

    async def _wait(self, seconds: float) -> bool:
        """Sleep `seconds`; False when the wait was cancelled."""
        if seconds <= 0:
            return not self._events().is_set()
        try:
            await asyncio.wait_for(self._events().wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))

    async def process_response(self, request, response):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        attempt = request.meta.get("retry_times", 0) + 1
        advised = retry_after_seconds(response.headers.get("Retry-After"))
        if advised is not None and advised > self.retry_after_max:
            logger.warning(
                "%s: Retry-After %.0f s is longer than %.0f s, giving up this page",
                request.url,
                advised,
                self.retry_after_max,
            )
            return response
        wait = advised if advised is not None else self.backoff(attempt)
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        self._announce(
            request, wait, attempt, f"HTTP {response.status}" + (" (Retry-After)" if advised is not None else "")
        )
        self.crawler.stats.inc_value("retry/waited_seconds", wait)
        self._hold_slot(request, wait)
        return retry if await self._wait(wait) else response

    def _hold_slot(self, request, wait: float) -> None:
        """Keep other requests to the same site back until the wait is over."""
        downloader = getattr(self.crawler.engine, "downloader", None)
        key = request.meta.get("download_slot")
        slot = downloader.slots.get(key) if downloader and key else None
        if slot is not None and slot.delay:
            slot.lastseen = max(slot.lastseen, time.monotonic() + wait)

    def _announce(self, request, wait: float, attempt: int, cause: str) -> None:
        """Log the coming retry and show it as the run's message (the terminal prints it)."""
        attempts = request.meta.get("max_retry_times", self.max_retry_times) + 1
        text = f"retrying {request.url} in {_seconds(wait)} s (attempt {attempt + 1} of {attempts}): {cause}"
        logger.info("%s", text)
        spider = getattr(self.crawler, "spider", None)
        if spider is not None:
            spider.activity = text

    def _stop_unreachable(self, request, reason: str) -> None:
        """Stop the crawl: the site cannot be reached, and retrying will not change that soon."""
        spider = getattr(self.crawler, "spider", None)
        if spider is None or getattr(spider, "stop_message", None):
            return
        spider.stop_message = cannot_reach(request.url, reason)
        logger.error("%s: stopping the crawl", spider.stop_message)
        self.cancel_waits()
        asyncio.ensure_future(self.crawler.engine.close_spider_async(reason="unreachable"))

    async def process_exception(self, request, exception):
        """The site cannot be reached: stop the crawl. Other connection errors and timeouts:
        retried with the same exponential backoff."""
        reason = unreachable_reason(exception)
        if reason is not None:
            self._stop_unreachable(request, reason)
            return None
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        attempt = request.meta.get("retry_times", 0) + 1
        retry = self._retry(request, exception)
        if retry is not None:
            wait = self.backoff(attempt)
            self._announce(request, wait, attempt, type(exception).__name__)
            self._hold_slot(request, wait)
            if not await self._wait(wait):
                return None
        return retry
