"""`manage.py predict "Player Name" [--opponent BOS] [--date YYYY-MM-DD] [--home|--away] [--out NAME ...]`.

Submits through the same queue as the API, shows a progress bar until the answer comes,
then prints the range. Needs a worker on the predictions queue.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from predictions.accounts import create_api_user
from predictions.dates import NotADate, parse_iso_date
from predictions.models import PredictionRequest
from predictions.submission import IdempotencyConflict, InvalidInput, NotEnoughData, submit_prediction
from predictions.who_is_out import split_names


def parse_date(value: str) -> dt.date:
    """--date as a date; a malformed value and a day not on the calendar get different messages."""
    try:
        return parse_iso_date(value)
    except NotADate as exc:
        raise CommandError(f"--date: {exc}") from None


def add_out_argument(parser, note: str) -> None:
    """`--out NAME ...` (repeatable; each value may be a comma-separated list): read with out_option.
    `note` ends its help: what the list does in this command."""
    parser.add_argument(
        "--out",
        nargs="+",
        action="extend",
        default=None,
        metavar="NAME",
        help=f"who is out: players who will not play (names or ids; several, or one comma-separated list){note}",
    )


def out_option(values: list[str] | None) -> list[str] | None:
    """--out's names (each value may be a comma-separated list); None when not given."""
    return None if values is None else [name for value in values for name in split_names(value)]


class Command(BaseCommand):
    help = "Predict a player's points range through the Celery pipeline, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("player", help="player name (any case/accents) or id")
        parser.add_argument("--opponent", default="", help="team code, name or city (BOS, Celtics, Boston)")
        parser.add_argument("--date", default=None, help="game date YYYY-MM-DD")
        venue = parser.add_mutually_exclusive_group()
        venue.add_argument("--home", dest="home", action="store_true", default=None, help="a home game")
        venue.add_argument("--away", dest="home", action="store_false", help="an away game")
        add_out_argument(parser, ": --out 'Kyrie Irving, Dereck Lively II'")
        parser.add_argument("--user", default="cli", help="owner of the request (created if missing; default cli)")
        parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the answer")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        date = parse_date(options["date"]) if options["date"] else None
        user, _token, _created = create_api_user(options["user"])
        try:
            job, _ = submit_prediction(
                user, options["player"], options["opponent"], date, options["home"], out=out_option(options["out"])
            )
        except InvalidInput as exc:
            raise CommandError(
                "; ".join(
                    f"{field}: {' '.join(map(str, msgs))}"
                    for field, msgs in exc.errors.items()
                    if field != "did_you_mean"
                )
            ) from None
        except (IdempotencyConflict, NotEnoughData) as exc:
            raise CommandError(str(exc)) from None
        job = self.wait(job, options["timeout"], show_bar=options["verbosity"] > 0 and not options["json"])
        if job.status == PredictionRequest.Status.FAILED:
            raise CommandError(job.message)
        self.report(job, as_json=options["json"])

    def wait(self, job: PredictionRequest, timeout: float, show_bar: bool) -> PredictionRequest:
        deadline = time.monotonic() + timeout
        bar = tqdm(
            total=100, unit="%", bar_format="{l_bar}{bar}| {n_fmt}% [{elapsed}]", disable=not show_bar, file=sys.stderr
        )
        try:
            while True:
                job.refresh_from_db()
                bar.set_description(
                    f"step {job.step_index}/{job.step_count} {job.step_label}" if job.step_index else job.step_label
                )
                bar.update(job.percent - bar.n)
                if job.is_done:
                    return job
                if time.monotonic() > deadline:
                    why = (
                        f" ({job.enqueue_error})"
                        if job.enqueue_error
                        else ": is a worker consuming the predictions queue?"
                    )
                    raise CommandError(f"no answer after {timeout:.0f} s, request {job.pk} is still {job.status}{why}")
                time.sleep(0.1)
        finally:
            bar.close()

    def report(self, job: PredictionRequest, as_json: bool) -> None:
        result = job.prediction
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "id": str(job.pk),
                        "player": job.player.name,
                        "team": job.team.code,
                        "opponent": job.opponent.code,
                        "date": job.game_date.isoformat(),
                        "home": job.is_home,
                        "hypothetical": job.hypothetical,
                        "p10": result.p10,
                        "p50": result.p50,
                        "p90": result.p90,
                        "actual_points": result.actual_points,
                        "data_through": result.data_through.isoformat() if result.data_through else None,
                        "days_since_last_game": result.days_since_last_game,
                        "out": job.out_players,
                        "models": result.model_outputs,
                        "timings": result.timings,
                    }
                )
            )
            return
        where = "vs" if job.is_home else "@"
        kind = " (hypothetical matchup)" if job.hypothetical else ""
        self.stdout.write(
            f"{job.player.name} ({job.team.code}) {where} {job.opponent.code}, {job.game_date:%a %Y-%m-%d}{kind}"
        )
        self.stdout.write(
            self.style.SUCCESS(f"  {result.p10:.0f}-{result.p90:.0f} points (80% range), median {result.p50:.0f}")
        )
        if job.out_players is not None:
            self.stdout.write(
                "  out: "
                + (
                    ", ".join(
                        f"{p['name']} ({p['team'] or '?'}{', ignored: on neither team' if p['ignored'] else ''})"
                        for p in job.out_players
                    )
                    or "nobody"
                )
            )
        if result.data_through is not None:
            self.stdout.write(
                f"  data through {result.data_through:%Y-%m-%d} (his last game, "
                f"{result.days_since_last_game} days before)"
            )
        for name, output in result.model_outputs.items():
            self.stdout.write(
                f"  {name:9s} {output['p10']:5.1f} {output['p50']:5.1f} {output['p90']:5.1f}"
                f"  ({output.get('model_version') or '?'})"
            )
        if result.actual_points is not None:
            inside = "inside" if result.p10 <= result.actual_points <= result.p90 else "outside"
            self.stdout.write(f"  actual: {result.actual_points} points ({inside} the range)")
        self.stdout.write(f"  took {result.timings.get('total', 0):.2f} s  (request {job.pk})")
