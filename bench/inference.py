#!/usr/bin/env python
"""Benchmark of warm single-row inference: features + every model kind (+ the ensemble).

Uses the configured database (DATABASE_URL, as `manage.py` does) and its active models, the
way a prediction worker does: the models are loaded once, then each of N random real
(player, game) rows of the latest season is predicted alone, timing

  * features  mlmodels.warehouse.build_features_for (its indexed queries + the numpy code),
  * each model kind of settings.MODEL_KINDS, mlmodels.inference.predict(kind, features)
    (lightgbm: three quantile boosters; keras: the network, as a numpy forward pass),
  * combine   mlmodels.ensemble.combine,
  * total     all of them, one after the other (what one prediction costs the workers),
  * total_cpu the CPU time this process spent on `total` (thread time: neither waiting for a
              core nor the database server's own work; a figure that load inflates far less),

and, in the same run, a baseline: one plain indexed query (the player's last 10 points, i.e. the
"last 10 games" baseline a fan computes). Prints p50 / p99 in milliseconds and total / baseline.

Target (issue 5): total p50 under 10 ms. When the database has no game logs the bundled 2023-24
season is loaded; when it has no active models, they are trained (all loaded seasons; `--quick`
trains smoke-test models instead, which are smaller and faster than real ones: not the figure
to report). `--json` prints the figures as one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.api_load import bench_arguments  # noqa: E402

TARGET_MS = 10.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nbaproject.settings")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import django

    django.setup()


def prepare(quick: bool) -> None:
    from django.conf import settings

    from etl.models import PlayerGameLog
    from mlmodels.selectors import active_models_exist

    if not PlayerGameLog.objects.exists():
        from etl.services import load_gamelogs
        from etl.teams import seed_teams

        log("no game logs: loading the bundled 2023-24 season")
        seed_teams()
        load_gamelogs([Path(settings.BUNDLED_DATA_DIR) / "player_logs_2023-24.csv.gz"])
    if not active_models_exist():
        from mlmodels.services import train_models

        log(f"no active models: training {'quick' if quick else 'full'} models on the loaded seasons")
        train_models(quick=quick, progress=lambda stage=None, percent=None, **_: log(f"  {percent}% {stage}"))


def sample(count: int, seed: int) -> list[dict]:
    """Real (player, game) rows of the latest season whose player played before."""
    from django.db.models import Max

    from etl.models import PlayerGameLog

    season = PlayerGameLog.objects.aggregate(s=Max("season"))["s"]
    rows = list(
        PlayerGameLog.objects.filter(season=season, seconds__gte=600).values(
            "player_id", "team_id", "opponent_id", "date", "is_home"
        )
    )
    random.Random(seed).shuffle(rows)
    return rows[:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def teammates_out(rows: list[dict], count: int) -> None:
    """Adds `out` to each row: the `count` teammates with the most shots in the team's last game
    before it (a "who is out" list as a user would send it); not timed."""
    from etl.models import PlayerGameLog

    for row in rows:
        last = (
            PlayerGameLog.objects.filter(team_id=row["team_id"], date__lt=row["date"])
            .order_by("-date")
            .values_list("game_id", flat=True)
            .first()
        )
        row["out"] = (
            list(
                PlayerGameLog.objects.filter(game_id=last, team_id=row["team_id"])
                .exclude(player_id=row["player_id"])
                .order_by("-fga")
                .values_list("player_id", flat=True)[:count]
            )
            if last
            else []
        )


def measure(rows: list[dict], warmup: int) -> dict[str, list[float]]:
    from django.db import connection

    from etl.schema import LINES
    from mlmodels import inference, kinds
    from mlmodels.ensemble import combine
    from mlmodels.warehouse import build_features_for

    baseline_sql = (
        f"SELECT {LINES.pts} FROM {LINES} WHERE {LINES.player} = %s AND {LINES.date} < %s "
        f"ORDER BY {LINES.date} DESC LIMIT 10"
    )
    names = kinds.names()
    timings: dict[str, list[float]] = {
        k: [] for k in ("features", *names, "combine", "total", "baseline_query", "total_cpu")
    }
    clock = time.perf_counter
    for i, row in enumerate(rows):
        spent = {}
        cpu0 = time.thread_time()
        t0 = clock()
        features = build_features_for(
            row["player_id"],
            row["date"],
            row["opponent_id"],
            row["is_home"],
            team_id=row["team_id"],
            out=row.get("out"),
        )
        spent["features"] = clock() - t0
        outputs = []
        for name in names:
            started = clock()
            outputs.append(inference.predict(name, features))
            spent[name] = clock() - started
        started = clock()
        combine(outputs, features["min_mean_10"])
        spent["combine"] = clock() - started
        spent["total"] = clock() - t0
        spent["total_cpu"] = time.thread_time() - cpu0  # this process's CPU: what load does not inflate
        started = clock()
        with connection.cursor() as cursor:
            cursor.execute(baseline_sql, [row["player_id"], row["date"]])
            cursor.fetchall()
        spent["baseline_query"] = clock() - started
        if i < warmup:
            continue
        for name, seconds in spent.items():
            timings[name].append(seconds * 1000)
    return timings


def main() -> int:
    parser = bench_arguments(__doc__)
    parser.add_argument("--n", type=int, default=1000, help="measured predictions (default 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured predictions first (default 50)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="train quick models when none is active")
    parser.add_argument(
        "--out",
        type=int,
        default=0,
        metavar="N",
        help='send a "who is out" list: the N teammates with the most shots in the last game',
    )
    args = parser.parse_args()

    setup()
    prepare(args.quick)
    from mlmodels import inference, kinds
    from mlmodels.models import ModelVersion

    rows = sample(args.n + args.warmup, args.seed)
    if len(rows) < args.warmup + 10:
        log("not enough game logs to sample from")
        return 1
    if args.out:
        teammates_out(rows, args.out)
    started = time.perf_counter()
    for name in kinds.names():
        inference.model(name)  # the once-per-process load, not measured
    load_seconds = time.perf_counter() - started
    timings = measure(rows, args.warmup)
    figures = {
        name: {"p50_ms": round(percentile(v, 50), 3), "p99_ms": round(percentile(v, 99), 3)}
        for name, v in timings.items()
    }
    ratio = figures["total"]["p50_ms"] / figures["baseline_query"]["p50_ms"]
    versions = {
        v.algorithm: {
            "id": v.pk,
            "quick": bool(v.training_run and v.training_run.quick),
            "hyperparameters": {
                k: v.hyperparameters.get(k) for k in ("rounds", "hidden", "epochs_trained") if k in v.hyperparameters
            },
        }
        for v in ModelVersion.objects.filter(active=True).select_related("training_run")
    }
    result = {
        "predictions": len(timings["total"]),
        "out_list": args.out,
        "model_load_seconds": round(load_seconds, 3),
        "timings": figures,
        "total_p50_vs_baseline_query_p50": round(ratio, 2),
        "target_total_p50_ms": TARGET_MS,
        "meets_target": figures["total"]["p50_ms"] < TARGET_MS,
        "active_versions": versions,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"warm single-row inference, {result['predictions']} predictions (models loaded once in {load_seconds:.2f} s):"
    )
    for name, values in figures.items():
        print(f"  {name:<15} p50 {values['p50_ms']:7.3f} ms   p99 {values['p99_ms']:7.3f} ms")
    print(f"  total p50 = {ratio:.1f} x one plain indexed query (the last-10 points)")
    print(f"  target: total p50 < {TARGET_MS:.0f} ms: {'met' if result['meets_target'] else 'NOT met'}")
    for algorithm, version in versions.items():
        print(
            f"  active {algorithm} v{version['id']}{' (quick)' if version['quick'] else ''} "
            f"{version['hyperparameters']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
