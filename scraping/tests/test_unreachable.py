"""A crawl that cannot reach the site fails at once with one readable line; a crawl that
retries says so in the terminal. No network needed: a name under `.invalid` never resolves
(RFC 6761) and a closed local port refuses the connection."""

from __future__ import annotations

import socket
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from scraping.models import ScrapeRun

pytestmark = pytest.mark.django_db(transaction=True)

# The production backoff (10 s, 20 s, 40 s, 80 s), not the tests' short one: failing fast must
# not depend on it.
PRODUCTION_BACKOFF = ["-s", "RETRY_BACKOFF_BASE=10"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def crawl_unreachable(base_url: str) -> tuple[str, str, str, float]:
    """Run `manage.py crawl` against base_url; (error line, stdout, stderr, seconds taken)."""
    out, err = StringIO(), StringIO()
    started = time.monotonic()
    with pytest.raises(CommandError) as raised:
        call_command(
            "crawl",
            "boxscores",
            "game=201801010BRK",
            "--base-url",
            base_url,
            *PRODUCTION_BACKOFF,
            stdout=out,
            stderr=err,
        )
    return str(raised.value), out.getvalue(), err.getvalue(), time.monotonic() - started


@pytest.mark.parametrize(
    "where, reason",
    [
        ("http://www.basketball-reference.invalid", "DNS lookup failed"),
        ("http://127.0.0.1:{port}", "connection refused"),
    ],
)
def test_an_unreachable_site_fails_within_a_minute_with_one_readable_line(teams, where, reason):
    base_url = where.format(port=closed_port())
    host = base_url.split("://", 1)[1]

    error, out, err, seconds = crawl_unreachable(base_url)

    assert seconds < 60
    assert error == f"cannot reach {host}: {reason}"
    run = ScrapeRun.objects.get()
    assert (run.status, run.message) == (ScrapeRun.Status.FAILED, error)
    assert "Traceback" not in out + err and "twisted" not in (out + err).lower()
    assert f"cannot reach {host}: {reason}" in out  # the run's summary line names the reason too


def test_a_retrying_crawl_says_so_in_the_terminal(bref_server, teams):
    target = "/boxscores/201801010TOR.html"
    bref_server.script(target, (503, {}, b"unavailable"), (503, {}, b"unavailable"))
    out = StringIO()
    call_command(
        "crawl",
        "boxscores",
        "game=201801010TOR",
        "--base-url",
        bref_server.base_url,
        "--no-load",
        "-s",
        "RETRY_BACKOFF_BASE=1",
        stdout=out,
    )
    url = bref_server.base_url + target
    assert f"retrying {url} in 1 s (attempt 2 of 5): HTTP 503" in out.getvalue()
    assert f"retrying {url} in 2 s (attempt 3 of 5): HTTP 503" in out.getvalue()
    assert ScrapeRun.objects.get().status == ScrapeRun.Status.SUCCEEDED
