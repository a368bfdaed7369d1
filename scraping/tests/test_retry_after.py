"""Retry-After values, as seconds or an HTTP date."""

from __future__ import annotations

import email.utils

from scraping.crawler.middlewares import retry_after_seconds


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds(b"120") == 120.0
    now = 1_700_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds(b"soon") is None
