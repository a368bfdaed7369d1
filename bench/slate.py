#!/usr/bin/env python
"""Benchmark of a slate: a whole night's ranges through the API, Celery and 2 worker processes.

Starts gunicorn and one Celery worker with 2 processes on the predictions queue (own queue
prefix, so a running app is not disturbed), picks the date with the most games in the latest
loaded season, deletes any slate of that date, POSTs /api/v1/slates/ and waits for success. Then
measures the floor: the same games' expected players, features and both models in this one
process, batched per game, no Celery, no HTTP. Prints date, games, players, seconds (submit to
succeeded), predictions_per_s, floor_seconds and ratio_to_floor. Targets (issue 16):
ratio_to_floor <= 2 and predictions_per_s >= 100. Uses DATABASE_URL/CELERY_BROKER_URL (PostgreSQL
+ RabbitMQ for meaningful figures); loads the bundled season and trains quick models when missing.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]

from api_load import bench_arguments, log, prepare_data, serving, setup_django  # noqa: E402


def busiest_date():
    """The date with the most games in the latest loaded season (earliest such date)."""
    from django.db.models import Count

    from etl.models import Game

    season = Game.objects.filter(player_logs__isnull=False).order_by("-date").values_list("season", flat=True).first()
    row = Game.objects.filter(season=season).values("date").annotate(n=Count("id")).order_by("-n", "date").first()
    return row["date"]


def post_slate(port: int, token: str, day) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/slates/",
        body=json.dumps({"date": day.isoformat()}),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    response = conn.getresponse()
    body = json.loads(response.read())
    if response.status != 202:
        raise SystemExit(f"POST /api/v1/slates/ answered {response.status}: {body}")
    return body


def run_slate(port: int, token: str, day, timeout: float = 600) -> tuple[float, object]:
    """Seconds from the POST to the slate's success, and the slate."""
    from predictions.models import Slate

    Slate.objects.filter(date=day).delete()
    started = time.perf_counter()
    body = post_slate(port, token, day)
    posted = time.perf_counter() - started
    deadline = time.monotonic() + timeout
    while True:
        slate = Slate.objects.get(pk=body["id"])
        if slate.is_finished:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"slate of {day} not done after {timeout:.0f} s: {slate.progress_text}")
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if slate.status != Slate.Status.SUCCEEDED:
        raise SystemExit(f"slate of {day} failed: {slate.message}")
    slate.post_seconds = posted
    return seconds, slate


def floor_seconds(day, versions) -> tuple[float, int]:
    """The same work in this process: every game's expected players, features and both models."""
    from etl.models import Game
    from predictions.slate_services import game_ranges

    games = list(Game.objects.filter(date=day).order_by("id"))
    game_ranges(games[0], versions)  # load the models first (the workers are warm too)
    started = time.perf_counter()
    players = sum(len(game_ranges(game, versions)) for game in games)
    return time.perf_counter() - started, players


def main() -> None:
    parser = bench_arguments(__doc__, workers=True)
    parser.add_argument("--date", default=None, help="the date (default: the busiest of the latest season)")
    parser.add_argument("--no-prepare", action="store_true", help="use the database as it is")
    args = parser.parse_args()

    setup_django()
    import datetime as dt

    from django.conf import settings

    from predictions.accounts import create_api_user

    if not args.no_prepare:
        prepare_data()
    day = dt.date.fromisoformat(args.date) if args.date else busiest_date()
    _user, token, _ = create_api_user("bench-slate")
    with serving("slate", args.worker_processes, 90) as (port, _name, _worker):
        # Warm-up slates of the days before: every web process and pool process has served one
        # (imports, broker and database connections, models) before the measured run.
        for back in (1, 2, 3):
            log(f"warm-up slate of {day - dt.timedelta(days=back)}")
            run_slate(port, token, day - dt.timedelta(days=back))
        log(f"measured slate of {day}")
        seconds, slate = run_slate(port, token, day)
    floor, floor_players = floor_seconds(day, slate.model_versions)
    figures = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
        "worker_processes": args.worker_processes,
        "date": day.isoformat(),
        "games": slate.games_done,
        "players": slate.players_done,
        "seconds": round(seconds, 3),
        "post_seconds": round(slate.post_seconds, 3),
        "queue_to_done_seconds": round((slate.finished_at - slate.created_at).total_seconds(), 3),
        "predictions_per_s": round(slate.players_done / seconds, 1),
        "floor_seconds": round(floor, 3),
        "floor_players": floor_players,
        "ratio_to_floor": round(seconds / floor, 2) if floor else None,
    }
    ratio = figures["ratio_to_floor"]
    figures["targets"] = {
        "ratio_to_floor_at_most_2": bool(ratio and ratio <= 2),
        "predictions_per_s_at_least_100": figures["predictions_per_s"] >= 100,
    }
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
