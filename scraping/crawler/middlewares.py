"""Retry with backoff: 429 and 5xx answers are retried after a wait, honouring Retry-After.

Scrapy's stock RetryMiddleware re-sends at once. Here the wait is Retry-After when the server
sends one (seconds or an HTTP date, capped by RETRY_AFTER_MAX), otherwise
RETRY_BACKOFF_BASE * 2**(attempt-1) capped by RETRY_BACKOFF_MAX. While waiting, the download
slot is held back too, so no other request reaches the site before the wait is over.
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import time

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.response import response_status_message

logger = logging.getLogger(__name__)


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
            logger.warning("%s: Retry-After %.0f s is longer than %.0f s, giving up this page",
                           request.url, advised, self.retry_after_max)
            return response
        wait = advised if advised is not None else self.backoff(attempt)
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        logger.info("%s: HTTP %s, retry %d in %.1f s%s", request.url, response.status, attempt, wait,
                    " (Retry-After)" if advised is not None else "")
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

    async def process_exception(self, request, exception):
        """Connection errors and timeouts: retried with the same exponential backoff."""
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        attempt = request.meta.get("retry_times", 0) + 1
        retry = self._retry(request, exception)
        if retry is not None:
            wait = self.backoff(attempt)
            logger.info("%s: %s, retry %d in %.1f s", request.url, type(exception).__name__, attempt, wait)
            self._hold_slot(request, wait)
            if not await self._wait(wait):
                return None
        return retry
