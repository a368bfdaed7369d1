"""`manage.py daily [--date D]`: the daily pipeline now (yesterday's box scores -> load -> today's slate).

The same service as the schedule and the Pipeline page's button (predictions.daily_services): it
submits the day's DailyRun, which runs as a Celery chain on the scraping, etl and predictions
queues, and prints each step as it goes until the run ends. Needs workers on those queues (`make
run` starts them). Running a day again reuses its run; while it is running, this follows it.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from predictions import daily_services
from predictions.daily_models import DailyRun
from predictions.dates import NotADate, parse_iso_date


class Command(BaseCommand):
    help = (
        "Run the daily pipeline now: crawl yesterday's box scores, load them, compute today's slate "
        "(today: --date, else AS_OF_DATE, else today in UTC). Prints each step until the run ends."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", default=None, help="the slate's day, YYYY-MM-DD (box scores of the day before)")
        parser.add_argument("--base-url", default=None, help="a basketball-reference mirror (tests, caches)")
        parser.add_argument("--timeout", type=float, default=45 * 60, help="seconds to wait for the run")

    def handle(self, *args, **options):
        try:
            day = parse_iso_date(options["date"]) if options["date"] else None
        except NotADate as exc:
            raise CommandError(str(exc)) from None
        run, started = daily_services.submit_daily(day, base_url=options["base_url"])
        if started:
            self.stdout.write(
                f"Daily run of {run.date} (attempt {run.attempts}): box scores of "
                f"{run.box_score_date}, then the slate of {run.date}."
            )
        else:
            self.stdout.write(f"The daily run of {run.date} is already {run.status}; following it.")
        deadline = time.monotonic() + options["timeout"]
        shown = None
        while True:
            run = DailyRun.objects.get(pk=run.pk)
            line = daily_services.describe(run)
            if line != shown:
                shown = line
                self.stdout.write(line)
                self.stdout.flush()
            if run.is_finished:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"the daily run of {run.date} is not done after {options['timeout']:.0f} s "
                    f"({line}): are workers consuming the scraping, etl and predictions queues?"
                )
            time.sleep(0.5)
        if run.status != DailyRun.Status.SUCCEEDED:
            raise CommandError(f"the daily run of {run.date} failed: {run.message}")
        summary = run.summary
        self.stdout.write(
            f"Done: {summary.get('games_crawled', 0)} games crawled, "
            f"{summary.get('load_games_created', 0) + summary.get('load_games_updated', 0)} games and "
            f"{summary.get('load_lines_created', 0) + summary.get('load_lines_updated', 0)} lines changed in the "
            f"warehouse; slate of {run.date}: {summary.get('slate_games', 0)} games, "
            f"{summary.get('slate_players', 0)} players (slate #{run.slate_id})."
        )
