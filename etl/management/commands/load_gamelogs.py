"""Validate and load NBA.com player game-log CSVs (gzipped or not) into the warehouse. Idempotent:
loading the same file again changes nothing. Bad rows are quarantined."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from etl.gamelogs import GamelogFormatError
from etl.services import SUMMARY_KEYS, bundled_gamelog_paths, loaded_paths, run_gamelog_load


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="CSV or CSV.gz files in the NBA.com leaguegamelog format")
        parser.add_argument("--bundled", action="store_true", help="also load the nine seasons shipped in etl/data")
        parser.add_argument(
            "--skip-loaded",
            action="store_true",
            help="leave out files whose content (sha256) a successful earlier run loaded",
        )
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    def handle(self, *args, **options):
        paths = [Path(p) for p in options["paths"]] + (bundled_gamelog_paths() if options["bundled"] else [])
        if not paths:
            raise CommandError("give one or more CSV paths, or --bundled")
        skipped = loaded_paths(paths) if options["skip_loaded"] else []
        paths = [p for p in paths if p not in skipped]
        bars = []  # the progress bar, made at the first report (once the files were read)

        def progress(done, total, stage):
            if options["json"]:
                return
            if not bars:
                bars.append(tqdm(total=total, unit="rows", unit_scale=True, file=self.stderr._out))
            bars[0].set_description(stage)
            bars[0].update(done - bars[0].n)

        try:
            counts = run_gamelog_load(paths, progress=progress).counts if paths else {}
        except GamelogFormatError as exc:
            raise CommandError(f"{exc} (nothing was loaded)") from None
        finally:
            for bar in bars:
                bar.close()
        summary = {key: counts.get(key, 0) for key in SUMMARY_KEYS}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            f"{len(paths)} file(s) loaded" + (f", {len(skipped)} already loaded and skipped" if skipped else "")
        )
        width = max(len(key) for key in summary)
        for key, value in summary.items():
            self.stdout.write(f"  {key:<{width}}  {value:>9,}")
        if summary["rejected"]:
            self.stdout.write(
                self.style.WARNING(
                    f"{summary['rejected']:,} row(s) quarantined (each with its line and reason in the admin, "
                    f"ETL > Quarantined rows):"
                )
            )
            for reason, rows in counts.get("rejected_by_reason", {}).items():
                self.stdout.write(f"  {rows:>5,}  {reason}")
