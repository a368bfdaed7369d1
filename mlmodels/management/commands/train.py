"""`manage.py train [--seasons 2022-23 2023-24 ...] [--quick] [--json]`"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from mlmodels.dataset import TrainingError
from mlmodels.management.commands._progress import stderr_progress
from mlmodels.services import summary, train_models


class Command(BaseCommand):
    help = (
        "Train the LightGBM and Keras quantile models on the loaded seasons (the last one validates), "
        "register them and activate each when it is not worse than the active version."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seasons",
            nargs="+",
            metavar="SEASON",
            help="seasons to train on, like 2022-23 (default: every loaded season)",
        )
        parser.add_argument("--quick", action="store_true", help="few rounds / one epoch: a smoke run")
        parser.add_argument("--json", action="store_true", help="print the run's summary as one JSON object")

    def handle(self, *args, **options):
        try:
            run = train_models(seasons=options["seasons"], quick=options["quick"], progress=stderr_progress(self))
        except TrainingError as exc:
            raise CommandError(str(exc)) from None
        result = summary(run)
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"training run {run.pk}: seasons {', '.join(run.seasons)} in {result['seconds']:.0f} s")
        for version in result["versions"]:
            m = version["metrics"]
            state = "ACTIVE" if version["active"] else "inactive"
            self.stdout.write(
                f"  {version['algorithm']:<8} v{version['id']} {state:<8} validation "
                f"{version['validation_season']}: mae {m['mae']:.3f}  pinball {m['pinball']:.3f}  "
                f"coverage_80 {m['coverage_80']:.3f}  width_80 {m['width_80']:.1f}"
            )
            self.stdout.write(f"      {version['notes'].splitlines()[-1] if version['notes'] else ''}")
        if result["ensemble"]:
            m = result["ensemble"]
            self.stdout.write(
                f"  ensemble             validation: mae {m['mae']:.3f}  pinball {m['pinball']:.3f}  "
                f"coverage_80 {m['coverage_80']:.3f}  width_80 {m['width_80']:.1f}"
            )
