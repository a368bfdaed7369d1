#!/usr/bin/env python
"""Where one POST /api/v1/predictions/ spends its time, through the whole Django stack in process
(middleware, token auth, throttles, validation, the player and his form, INSERT, publishing), against
DATABASE_URL/CELERY_BROKER_URL. Default: cProfile over N POSTs, the top functions by cumulative time.
`--pieces`: the median wall and CPU time of each piece of a POST and of the bare GET
/api/v1/teams/{id}/ that bench/api_load.py compares it with (post_vs_bare), and their queries.
Run after bench/api_load.py prepared the database (a season loaded). Messages go to a `profile.`
queue prefix that no worker consumes; they are purged at the end."""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import statistics
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pieces(post, get, count: int) -> None:
    """Time the pieces of each request (wall and this thread's CPU), by wrapping the functions that do
    them, and every SQL statement; print the medians per request."""
    from django.db import connection
    from rest_framework import authentication, serializers, throttling

    from predictions import api, selectors, submission

    took: dict[str, float] = defaultdict(float)

    def wrap(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                took[f"{label} wall"] += time.perf_counter() - wall
                took[f"{label} cpu"] += time.thread_time() - cpu

        setattr(owner, name, timed)

    wrap(authentication.TokenAuthentication, "authenticate", "token auth")
    wrap(throttling.UserRateThrottle, "allow_request", "user throttle (cache table)")
    wrap(api.PredictionSubmitThrottle, "allow_request", "submit throttle")
    wrap(serializers.Serializer, "is_valid", "DRF validation")
    wrap(selectors, "find_player_with_form", "player and form")
    wrap(submission.PredictionRequest.objects, "create", "INSERT (and commit)")
    wrap(submission, "publish_run", "publish (confirmed)")

    def sql(execute, statement, params, many, context):
        took["queries"] += 1
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            took["SQL wall (all statements)"] += time.perf_counter() - started

    for name, request in (("POST /api/v1/predictions/", post), ("bare GET /api/v1/teams/{id}/", get)):
        for _ in range(20):
            request()
        rows: dict[str, list[float]] = defaultdict(list)
        with connection.execute_wrapper(sql):
            for _ in range(count):
                took.clear()
                wall, cpu = time.perf_counter(), time.thread_time()
                request()
                rows["whole request wall"].append(time.perf_counter() - wall)
                rows["whole request cpu"].append(time.thread_time() - cpu)
                for key, value in took.items():
                    rows[key].append(value)
        print(f"{name}: medians of {count}, ms (cpu: this process's Python, not PostgreSQL's or RabbitMQ's)")
        for key, values in sorted(rows.items(), key=lambda item: -statistics.median(item[1])):
            value = statistics.median(values)
            print(f"  {key:<36} {value:.0f}" if key == "queries" else f"  {key:<36} {1000 * value:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=200, help="POSTs (and GETs) measured (200)")
    parser.add_argument("top", nargs="?", type=int, default=35, help="functions listed (35)")
    parser.add_argument("--pieces", action="store_true", help="median wall/CPU per piece, POST and bare GET")
    args = parser.parse_args()
    os.environ["CELERY_QUEUE_PREFIX"] = os.environ.get("CELERY_QUEUE_PREFIX", "") + "profile."
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nbaproject.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.update(THROTTLE_PREDICTIONS="100000000/min", THROTTLE_USER="100000000/min", LOG_LEVEL="WARNING")
    os.environ.update(DEBUG="0", ALLOWED_HOSTS="127.0.0.1,localhost")  # as the production server runs
    import django

    django.setup()
    from api_load import purge_queues
    from django.test import Client

    from etl.models import Team
    from nbaproject.celery import app
    from predictions.accounts import create_api_user
    from predictions.models import PredictionRequest

    user, token = create_api_user("profile-post")[:2]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json", HTTP_HOST="127.0.0.1")
    body = json.dumps({"player": "Nikola Jokic", "opponent": "BOS", "date": "2024-03-07"})
    team_path = f"/api/v1/teams/{Team.objects.order_by('pk').values_list('pk', flat=True).first()}/"

    def post():
        response = client.post(
            "/api/v1/predictions/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
        )
        assert response.status_code == 202, response.content

    def get():
        response = client.get(team_path)
        assert response.status_code == 200, response.content

    try:
        if args.pieces:
            pieces(post, get, args.count)
            return
        for _ in range(20):  # connections, caches, imports
            post()
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(args.count):
            post()
        profiler.disable()
        took = time.perf_counter() - started
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(
            f"{args.count} POSTs in {took:.2f} s: {1000 * took / args.count:.2f} ms each (with the profiler's overhead)"
        )
        print(out.getvalue())
    finally:
        PredictionRequest.objects.filter(user=user).delete()
        purge_queues(app)


if __name__ == "__main__":
    main()
