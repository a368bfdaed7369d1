"""`manage.py backtest --test-season 2023-24 [--quick] [--json]`"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from mlmodels.backtest import run_backtest
from mlmodels.dataset import TrainingError
from mlmodels.management.commands._progress import stderr_progress


class Command(BaseCommand):
    help = (
        "Train fresh models on the seasons before the test season only and score them on every game of the "
        "test season whose player played before, next to last-5, last-10 and season-average baselines. "
        "Stores a BacktestReport with PNG plots (admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--test-season", required=True, help="the season to evaluate on, like 2023-24")
        parser.add_argument("--quick", action="store_true", help="few rounds / one epoch: a smoke run")
        parser.add_argument("--json", action="store_true", help="print only the result JSON")

    def handle(self, *args, **options):
        try:
            report = run_backtest(options["test_season"], quick=options["quick"], progress=stderr_progress(self))
        except TrainingError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.result))
            return
        result = report.result
        self.stdout.write(
            f"backtest {result['test_season']}: {result['rows']:,} player-games "
            f"(report {report.pk}, {report.seconds:.0f} s)"
        )
        base = result["models"]["baseline_last10"]["mae"]
        for name, m in result["models"].items():
            extra = (
                ""
                if "pinball" not in m
                else (f"  pinball {m['pinball']:.3f}  coverage_80 {m['coverage_80']:.3f}  width_80 {m['width_80']:.1f}")
            )
            self.stdout.write(f"  {name:<20} mae {m['mae']:.3f} ({m['mae'] / base:.3f} x last-10){extra}")
        self.stdout.write(json.dumps(result))
