"""Fixtures of the scraping tests: the local bref server, saved pages, teams, bundled-style rows."""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import pytest
from parsel import Selector

from scraping.tests.bref_server import BrefServer, page

# Crawls in tests (child processes, also those of the Celery worker started for the session)
# run without the 3 s politeness delay and with short retry backoffs.
os.environ["SCRAPE_DOWNLOAD_DELAY"] = "0"
os.environ["SCRAPE_RETRY_BACKOFF_BASE"] = "0.2"
os.environ["SCRAPE_PROGRESS_INTERVAL"] = "0.2"
os.environ.setdefault("SCRAPY_LOG_LEVEL", "INFO")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def bref_server():
    server = BrefServer().start()
    yield server
    server.stop()


@pytest.fixture
def saved_page():
    """saved_page('boxscores/201801010BRK.html') -> a parsel Selector of that real page."""
    return lambda name: Selector(text=page(name).decode("utf-8"))


@pytest.fixture
def teams(db):
    from etl.teams import seed_teams

    seed_teams()


@pytest.fixture
def bundled_game_0021700545(teams):
    """ORL @ BKN, 2018-01-01 as the bundled NBA.com logs have it (real rows of that game):
    a Game with its NBA.com id, players with NBA.com ids and names, lines with whole minutes."""
    from etl.lines import BOX_STATS
    from etl.models import Game, Player, PlayerGameLog, Team

    rows = list(csv.DictReader((FIXTURES / "nba_logs_0021700545.csv").open()))
    home, away = Team.objects.get(code="BKN"), Team.objects.get(code="ORL")
    points = {code: sum(int(r["PTS"]) for r in rows if r["TEAM_ABBREVIATION"] == code) for code in ("BKN", "ORL")}
    game = Game.objects.create(
        season="2017-18",
        date=dt.date(2018, 1, 1),
        home=home,
        away=away,
        home_score=points["BKN"],
        away_score=points["ORL"],
        status=Game.Status.FINAL,
        nba_game_id=rows[0]["GAME_ID"],
    )
    for row in rows:
        player = Player.objects.create(name=row["PLAYER_NAME"], nba_id=int(row["PLAYER_ID"]))
        team = home if row["TEAM_ABBREVIATION"] == "BKN" else away
        PlayerGameLog.objects.create(
            player=player,
            game=game,
            team=team,
            opponent=away if team == home else home,
            date=game.date,
            season=game.season,
            is_home=team == home,
            starter=None,
            seconds=int(row["MIN"]) * 60,
            **{stat: row[stat.upper()] for stat in BOX_STATS},  # the NBA.com columns are the names in capitals
            plus_minus=row["PLUS_MINUS"],
            source="nba",
        )
    return game
