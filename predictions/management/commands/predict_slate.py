"""`manage.py predict_slate [--date YYYY-MM-DD] [--out NAME ...] [--json]`: every expected player's range for a day.

Submits the slate through the same queue as the API (the existing slate when it was asked for
before), shows a progress bar over the games in a terminal, then prints each game's players (or,
with --json, one object). Needs a worker on the predictions queue.
"""

from __future__ import annotations

import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from predictions import slate_services, who_is_out
from predictions.dates import product_today
from predictions.management.commands.predict import add_out_argument, out_option, parse_date
from predictions.slate_models import Slate


def slate_json(slate: Slate) -> dict:
    """The --json object: date, games with their players, the night's coverage."""
    return {
        "date": slate.date.isoformat(),
        "coverage_80": slate.coverage_80,
        "out": slate.out_players,
        "games": [
            {
                "game": game["game"],
                "home": game["home"],
                "away": game["away"],
                "players": [
                    {
                        "player": p["name"],
                        "team": p["team"],
                        "p10": round(p["p10"], 2),
                        "p50": round(p["p50"], 2),
                        "p90": round(p["p90"], 2),
                        "actual": p["actual"],
                    }
                    for p in game["players"]
                ],
            }
            for game in slate_services.slate_games(slate)
        ],
    }


class Command(BaseCommand):
    help = "Every expected player's points range for one day's games, as one Celery job, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--date", default=None, help="the day, YYYY-MM-DD (default: today, AS_OF_DATE)")
        add_out_argument(parser, "; they get no row and their teammates' features use it")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the slate")

    def handle(self, *args, **options):
        day = parse_date(options["date"]) if options["date"] else product_today()
        try:
            slate, _ = slate_services.submit_slate(None, day, out=out_option(options["out"]))
        except who_is_out.OutListError as exc:
            raise CommandError(f"--out: {exc}") from None
        except slate_services.SlateRefused as exc:
            raise CommandError(str(exc)) from None
        bar = None
        if not options["json"] and sys.stderr.isatty():
            bar = tqdm(total=None, unit="game", desc=f"slate of {day}", file=sys.stderr)
        deadline = time.monotonic() + options["timeout"]
        while True:
            slate.refresh_from_db()
            if bar is not None:
                bar.total = slate.games_total or None
                bar.n = slate.games_done
                bar.set_postfix_str(f"{slate.players_done} players")
                bar.refresh()
            if slate.is_finished:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"the slate of {day} is not done after {options['timeout']:.0f} s "
                    f"({slate.progress_text}): is a worker consuming the predictions queue?"
                )
            time.sleep(0.2)
        if bar is not None:
            bar.close()
        if slate.status != Slate.Status.SUCCEEDED:
            raise CommandError(f"the slate of {day} failed: {slate.message}")
        printed = slate_json(slate)
        if options["json"]:
            self.stdout.write(json.dumps(printed))
            return
        if not printed["games"]:
            self.stdout.write(f"No games on {day}.")
        for game in printed["games"]:
            self.stdout.write(f"{game['away']} at {game['home']} (game {game['game']})")
            for p in game["players"]:
                actual = "" if p["actual"] is None else f"  actual {p['actual']}"
                self.stdout.write(
                    f"  {p['player']:<28} {p['team']}  {p['p10']:5.1f} - {p['p90']:5.1f}  "
                    f"(median {p['p50']:.1f}){actual}"
                )
        if printed["coverage_80"] is not None:
            self.stdout.write(f"Coverage of the 80% ranges: {printed['coverage_80']:.0%}")
