"""Waiting on a condition instead of sleeping a fixed time (tests share a loaded machine)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str = "the condition",
    interval: float = 0.1,
    describe: Callable[[], object] | None = None,
) -> T:
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


def progress_until_done(result, timeout: float, what: str = "the task") -> list:
    """Wait until a Celery AsyncResult is ready; return the distinct PROGRESS metas seen on the way."""
    seen: list = []

    def ready() -> bool:
        meta = result.backend.get_task_meta(result.id)  # state and info from one read
        if meta["status"] == "PROGRESS" and (not seen or seen[-1] != meta["result"]):
            seen.append(meta["result"])
        return result.ready()

    wait_for(ready, timeout, f"{what} finished", interval=0.02)
    return seen
