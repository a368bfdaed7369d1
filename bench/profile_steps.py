#!/usr/bin/env python
"""Where one prediction's steps spend their time beyond Celery: each step's work (predictions.steps)
run in process, one request after another, with its wall time and database queries per step, and
optionally a cProfile of them all (`--profile`). Against DATABASE_URL, no broker needed. Run after
bench/api_load.py prepared the database (a season loaded, active models). What the no-op chain of
bench/api_load.py does not do is what these figures show: e2e_vs_noop follows from them."""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60, help="predictions to run (60)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the steps")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nbaproject.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from api_load import sample_bodies
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mlmodels import kinds
    from predictions import steps
    from predictions.accounts import create_api_user
    from predictions.models import PredictionRequest
    from predictions.pipeline import new_run

    user = create_api_user("profile-steps")[0]
    bodies = sample_bodies(args.requests + 5)
    times: dict[str, list[float]] = {}
    queries: dict[str, list[int]] = {}
    profiler = cProfile.Profile()

    def timed(name, work, *call_args):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = work(*call_args)
            took = time.perf_counter() - started
        times.setdefault(name, []).append(took)
        queries.setdefault(name, []).append(len(captured))
        return result

    def one(measure: bool):
        body = bodies.pop()
        request = PredictionRequest.objects.create(
            user=user, player_input=body["player"], opponent_input=body["opponent"], date_input=body["date"], attempts=1
        )
        token, task_ids = new_run()
        call = timed if measure else (lambda name, work, *a: work(*a))
        matchup = call("resolve", steps.resolve_request, request.pk, token, task_ids)
        features = call("features", steps.build_features, request.pk, token, True, matchup)
        outputs = [call(name, steps.run_model, name, features, request.pk, token, True) for name in kinds.names()]
        call("combine", steps.store_prediction, outputs, request.pk, token, True)

    for _ in range(5):  # models loaded, caches filled
        one(False)
    if args.profile:
        profiler.enable()
    started = time.perf_counter()
    for _ in range(args.requests):
        one(True)
    took = time.perf_counter() - started
    if args.profile:
        profiler.disable()
    PredictionRequest.objects.filter(user=user).delete()
    print(f"{args.requests} predictions in process: {1000 * took / args.requests:.1f} ms each (all steps)")
    for name in times:
        print(
            f"  {name:<10} p50 {1000 * statistics.median(times[name]):6.2f} ms   "
            f"{statistics.median(queries[name]):.0f} queries"
        )
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(
            int(os.environ.get("TOP", "40"))
        )
        print(out.getvalue())


if __name__ == "__main__":
    main()
