"""Server-sent events for one prediction request: its progress events in order, then the result.

The stream polls the request's event log (ids allocated under the request's row lock, so in
commit order), honours Last-Event-ID to resume, and ends with an `event: result` carrying the
same JSON as GET /api/v1/predictions/{id}/. Its lifetime is bounded (a web thread is held while
it runs): on timeout it says so and the client reconnects (EventSource does so by itself).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from django.conf import settings

from predictions.models import PredictionEvent, PredictionRequest


def sse(event: str, data, event_id: int | None = None) -> str:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in json.dumps(data, default=str).splitlines() or [""])
    return "\n".join(lines) + "\n\n"


def parse_last_event_id(value: str | None) -> int | None:
    """The Last-Event-ID of a reconnecting client, or None for a new stream. Our event ids are
    whole numbers (as the schema says): anything else is a ValueError (the view's 400)."""
    if value is None:
        return None
    text = value.strip()
    if not (text.lstrip("-").isdigit() and text.isascii()):
        raise ValueError(f"Last-Event-ID must be an event id (a whole number), not {value[:40]!r}.")
    return max(0, int(text))


def submitted_event(request: PredictionRequest) -> dict:
    """The first event of every request, implied by the row itself (not stored: one write less per POST)."""
    return {
        "seq": 0,
        "status": PredictionRequest.Status.QUEUED,
        "step": "",
        "step_index": 0,
        "step_count": request.step_count,
        "percent": 0,
        "message": "Waiting for a worker",
        "at": request.created_at.isoformat(),
    }


def event_stream(
    request_id,
    render_result: Callable[[PredictionRequest], dict],
    last_seq: int | None = None,
    lifetime: float | None = None,
    poll: float = 0.2,
    keepalive: float = 15.0,
) -> Iterator[str]:
    """Yield SSE frames until the request is done (then its result) or `lifetime` seconds passed.
    `last_seq` is the Last-Event-ID of a reconnecting client (None: a new stream, from the start)."""
    lifetime = float(settings.PREDICTIONS_SSE_LIFETIME) if lifetime is None else lifetime
    deadline = time.monotonic() + lifetime
    last_sent = time.monotonic()
    yield "retry: 1000\n\n"
    first = last_seq is None
    last_seq = last_seq or 0
    while True:
        # Status first, then events: the terminal event is committed with the terminal status,
        # so once the status is final the query below sees every event.
        request = PredictionRequest.objects.filter(pk=request_id).first()
        if request is None:
            yield sse("error", {"detail": "the prediction request no longer exists"})
            return
        if first:
            yield sse("progress", submitted_event(request), 0)
            first = False
        events = list(PredictionEvent.objects.filter(request_id=request_id, id__gt=last_seq).order_by("id")[:200])
        for event in events:
            last_seq = event.id
            yield sse("progress", event.as_dict(), event.id)
            last_sent = time.monotonic()
        if request.is_done and len(events) < 200:
            yield sse("result", render_result(request), last_seq)
            return
        if time.monotonic() >= deadline:
            yield sse("timeout", {"detail": "stream lifetime reached: reconnect to continue", "last_seq": last_seq})
            return
        if time.monotonic() - last_sent >= keepalive:
            yield ": keepalive\n\n"
            last_sent = time.monotonic()
        time.sleep(poll)
