"""Probes for the local PostgreSQL and RabbitMQ servers the tests use when they answer."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/nbaproject"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def reachable(url: str, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    default_port = {"postgres": 5432, "postgresql": 5432, "amqp": 5672, "redis": 6379}.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout):
            return True
    except OSError:
        return False
