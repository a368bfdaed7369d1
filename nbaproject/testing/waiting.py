"""Waiting on a condition instead of sleeping a fixed time (tests share a loaded machine)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str = "the condition", interval: float = 0.1,
             describe: Callable[[], object] | None = None) -> T:
    """The first truthy value `condition()` returns within `timeout` seconds. On timeout an
    AssertionError names `what` and shows `describe()` (the state that kept it false), or the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            state = describe() if describe is not None else value
            raise AssertionError(f"{what} not true after {timeout:g} s: {state!r}")
        time.sleep(interval)
