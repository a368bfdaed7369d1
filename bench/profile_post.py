#!/usr/bin/env python
"""Where one POST /api/v1/predictions/ spends its time: cProfile over N POSTs through the whole
Django stack (middleware, token auth, throttles, validation, INSERT, publishing the canvas), in
process, against DATABASE_URL/CELERY_BROKER_URL. Prints the top functions by cumulative time.
Run after bench/api_load.py prepared the database (a season loaded). Messages go to a `profile.`
queue prefix that no worker consumes; they are purged at the end."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(count: int = 200, top: int = 35) -> None:
    os.environ["CELERY_QUEUE_PREFIX"] = os.environ.get("CELERY_QUEUE_PREFIX", "") + "profile."
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nbaproject.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.update(THROTTLE_PREDICTIONS="100000000/min", THROTTLE_USER="100000000/min", LOG_LEVEL="WARNING")
    import django

    django.setup()
    from api_load import purge_queues
    from django.test import Client

    from nbaproject.celery import app
    from predictions.accounts import create_api_user
    from predictions.models import PredictionRequest

    user, token = create_api_user("profile-post")[:2]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json", HTTP_HOST="127.0.0.1")
    body = json.dumps({"player": "Nikola Jokic", "opponent": "BOS", "date": "2024-03-07"})

    def post():
        response = client.post(
            "/api/v1/predictions/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
        )
        assert response.status_code == 202, response.content

    for _ in range(20):  # connections, caches, imports
        post()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(count):
        post()
    profiler.disable()
    took = time.perf_counter() - started
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(f"{count} POSTs in {took:.2f} s: {1000 * took / count:.2f} ms each (with the profiler's overhead)")
    print(out.getvalue())
    PredictionRequest.objects.filter(user=user).delete()
    purge_queues(app)


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
