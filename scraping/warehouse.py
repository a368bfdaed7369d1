"""The ETL step of a scrape: staged rows -> Team/Player/Game/PlayerGameLog, idempotently.

Scraped and bundled (NBA.com) data land on the same rows:
- a game by its basketball-reference id, else by (date, home team) (its bref id is then set);
- a player by bref id; else by name among the players of that team in that very game (or the
  same box-score line when the two sources spell the name differently); else by name among
  players of that team around that date, then among recent players; else a new player. A
  match gets its bref id set, so the next time it is found directly;
- a line by (player, game), marked source='bref', written through etl.lines.upsert_lines (where
  the rule for which source's line wins lives).
Each game and its lines are written in one transaction. Did-not-play and inactive rows stay in
staging only: PlayerGameLog rows are games played. A scheduled game never overwrites a final one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter

from django.db import DatabaseError, transaction
from django.utils import timezone

from etl.lines import BOX_STATS, upsert_lines
from etl.models import Game, Player, PlayerGameLog, Team
from etl.names import normalise_name
from scraping.models import LoadStatus, PageKind, ScrapeRun, StagedGame, StagedLine, StagedRow

logger = logging.getLogger(__name__)

SUMMARY_KEYS = (
    "games_created",
    "games_updated",
    "games_unchanged",
    "players_created",
    "players_linked",
    "lines_created",
    "lines_updated",
    "lines_unchanged",
    "not_played",
    "errors",
)
SOURCE = "bref"
FINGERPRINT = ("pts", "fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "reb", "ast", "stl", "blk", "tov", "pf")
SUFFIX_RE = re.compile(r"\s+(jr|sr|ii|iii|iv|v)$")
NEARBY_DAYS = 60
RECENT_DAYS = 400


class LoadProblem(Exception):
    """A staged row that cannot go into the warehouse (unknown team, conflicting game...)."""


def _bare(name: str) -> str:
    return SUFFIX_RE.sub("", normalise_name(name))


class Loader:
    def __init__(self, run: ScrapeRun):
        self.run = run
        self.counts: Counter = Counter({key: 0 for key in SUMMARY_KEYS})
        self._teams: dict[str, Team | None] = {}

    # --- lookups -----------------------------------------------------------------------------
    def team(self, code: str) -> Team:
        if code not in self._teams:
            self._teams[code] = Team.objects.resolve(code)
        team = self._teams[code]
        if team is None:
            raise LoadProblem(f"unknown team {code!r}")
        return team

    def player(self, bref_id: str, name: str, team: Team, game: Game, line: StagedLine) -> Player:
        player = Player.objects.filter(bref_id=bref_id).first()
        if player is not None:
            return player
        player = self._match_player(name, team, game, line)
        if player is not None:
            player.bref_id = bref_id
            player.save(update_fields=["bref_id"])
            self.counts["players_linked"] += 1
            return player
        self.counts["players_created"] += 1
        return Player.objects.create(name=name, bref_id=bref_id)

    def _match_player(self, name: str, team: Team, game: Game, line: StagedLine) -> Player | None:
        wanted, bare = normalise_name(name), _bare(name)
        unlinked = Player.objects.filter(bref_id__isnull=True)
        # 1. the same game, same team: the bundled line of this player
        in_game = list(unlinked.filter(game_logs__game=game, game_logs__team=team).distinct())
        for test in (lambda p: p.normalised_name == wanted, lambda p: _bare(p.name) == bare):
            found = [p for p in in_game if test(p)]
            if len(found) == 1:
                return found[0]
        if line.pts is not None:  # names spelled differently: the identical box-score line
            same = [
                log.player
                for log in PlayerGameLog.objects.filter(game=game, team=team, player__in=in_game).select_related(
                    "player"
                )
                if all(getattr(log, field) == getattr(line, field) for field in FINGERPRINT)
            ]
            if len(same) == 1:
                return same[0]
        # 2. the same name on that team around that date, then anywhere recently
        near = dt.timedelta(days=NEARBY_DAYS)
        for scope in (
            dict(game_logs__team=team, game_logs__date__range=(game.date - near, game.date + near)),
            dict(
                game_logs__date__range=(
                    game.date - dt.timedelta(days=RECENT_DAYS),
                    game.date + dt.timedelta(days=RECENT_DAYS),
                )
            ),
        ):
            found = list(unlinked.filter(normalised_name=wanted, **scope).distinct()[:2])
            if len(found) == 1:
                return found[0]
        return None

    # --- games -------------------------------------------------------------------------------
    def upsert_game(
        self,
        staged: StagedRow,
        *,
        home: Team,
        away: Team,
        start_time: str,
        final: bool,
        home_score,
        away_score,
        overtimes,
        authoritative_type: bool,
    ) -> Game:
        """The warehouse game of a staged row (its id, date, season and type), created or updated."""
        bref_game_id, date, season, season_type = staged.bref_game_id, staged.date, staged.season, staged.season_type
        game = (
            Game.objects.select_for_update().filter(bref_game_id=bref_game_id).first()
            or Game.objects.select_for_update().filter(date=date, home=home).first()
        )
        if game is None:
            game = Game.objects.create(
                season=season,
                season_type=season_type or Game.SeasonType.REGULAR,
                date=date,
                start_time=start_time or "",
                home=home,
                away=away,
                bref_game_id=bref_game_id,
                home_score=home_score if final else None,
                away_score=away_score if final else None,
                overtimes=overtimes if final else None,
                status=Game.Status.FINAL if final else Game.Status.SCHEDULED,
            )
            self.counts["games_created"] += 1
            return game
        if game.date != date or game.home_id != home.pk:
            raise LoadProblem(f"{bref_game_id}: the warehouse has this id for {game}")
        if game.away_id != away.pk:
            raise LoadProblem(f"{bref_game_id}: the warehouse game {game} has another visitor than {away.code}")
        if game.bref_game_id and game.bref_game_id != bref_game_id:
            raise LoadProblem(f"{bref_game_id}: the warehouse game {game} has bref id {game.bref_game_id}")
        wanted = {"bref_game_id": bref_game_id}
        if final:
            wanted.update(home_score=home_score, away_score=away_score, status=Game.Status.FINAL)
            if overtimes is not None:
                wanted["overtimes"] = overtimes
        if start_time and (game.status == Game.Status.SCHEDULED or not game.start_time):
            wanted["start_time"] = start_time
        if season_type and authoritative_type:
            wanted["season_type"] = season_type
        changed = [field for field, value in wanted.items() if getattr(game, field) != value]
        if changed:
            for field in changed:
                setattr(game, field, wanted[field])
            game.save(update_fields=[*changed, "updated_at"])
            self.counts["games_updated"] += 1
        else:
            self.counts["games_unchanged"] += 1
        return game

    # --- lines ---------------------------------------------------------------------------------
    def line_values(self, line: StagedLine, game: Game, team: Team) -> dict | None:
        """The warehouse line of a staged line (its player found or created), for
        etl.lines.upsert_lines; None when he did not play (the row stays in staging only)."""
        if line.played != StagedLine.Played.PLAYED:
            line.load_status, line.load_message = LoadStatus.STAGED_ONLY, line.reason or line.played
            self.counts["not_played"] += 1
            return None
        player = self.player(line.player_bref_id, line.player_name, team, game, line)
        line.player = player
        is_home = team.pk == game.home_id
        line.load_status, line.load_message = LoadStatus.LOADED, ""
        return {
            "player_id": player.pk,
            "game_id": game.pk,
            "team_id": team.pk,
            "opponent_id": game.away_id if is_home else game.home_id,
            "date": game.date,
            "season": game.season,
            "is_home": is_home,
            "starter": line.starter,
            "seconds": line.seconds,
            "plus_minus": line.plus_minus,
            **{field: getattr(line, field) for field in BOX_STATS},
        }

    def write_lines(self, values: list[dict | None]) -> None:
        """Upsert the played lines through etl's one line API (which decides which source wins)."""
        counts = upsert_lines([line for line in values if line is not None], source=SOURCE)
        self.counts["lines_created"] += counts["created"]
        self.counts["lines_updated"] += counts["updated"]
        self.counts["lines_unchanged"] += counts["unchanged"] + counts["kept"]

    # --- staged rows -------------------------------------------------------------------------
    def load_game(self, staged: StagedGame) -> None:
        home, away = self.team(staged.home_code), self.team(staged.away_code)
        game = self.upsert_game(
            staged,
            home=home,
            away=away,
            start_time=staged.start_time,
            final=staged.status == "final",
            home_score=staged.home_score,
            away_score=staged.away_score,
            overtimes=staged.overtimes,
            authoritative_type=staged.kind == PageKind.SCHEDULE,
        )
        lines = list(staged.lines.all()) if staged.kind == PageKind.BOXSCORE else []
        self.write_lines(
            [self.line_values(line, game, home if line.team_code == staged.home_code else away) for line in lines]
        )
        if lines:
            StagedLine.objects.bulk_update(lines, ["load_status", "load_message", "player"])
        staged.game, staged.load_status, staged.load_message = game, LoadStatus.LOADED, ""
        staged.save(update_fields=["game", "load_status", "load_message"])

    def load_gamelog_line(self, line: StagedLine) -> None:
        team, opponent = self.team(line.team_code), self.team(line.opponent_code)
        home, away = (team, opponent) if line.is_home else (opponent, team)
        final = line.team_score is not None and line.opponent_score is not None
        game = self.upsert_game(
            line,
            home=home,
            away=away,
            start_time="",
            final=final,
            home_score=line.team_score if line.is_home else line.opponent_score,
            away_score=line.opponent_score if line.is_home else line.team_score,
            overtimes=None,
            authoritative_type=True,
        )
        self.write_lines([self.line_values(line, game, team)])
        line.save(update_fields=["load_status", "load_message", "player"])

    def run_all(self) -> dict:
        staged_games = self.run.staged_games.order_by("date", "pk")
        for staged in staged_games:
            self._guarded(staged, self.load_game)
        for line in self.run.staged_lines.filter(kind=PageKind.GAMELOG).order_by("date", "pk"):
            self._guarded(line, self.load_gamelog_line)
        return dict(self.counts)

    def _guarded(self, row, load) -> None:
        """Load one game (or game-log row) in its own transaction; a failure only skips that one."""
        saved = self.counts.copy()
        try:
            with transaction.atomic():
                load(row)
        except (LoadProblem, DatabaseError) as exc:
            self.counts = saved
            self.counts["errors"] += 1
            message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            logger.warning("load of %s skipped: %s", row, message)
            type(row).objects.filter(pk=row.pk).update(load_status=LoadStatus.ERROR, load_message=message)


def load_staged(run: ScrapeRun) -> dict:
    """Upsert the run's staged rows into the warehouse; returns (and stores) the counts."""
    summary = Loader(run).run_all()
    ScrapeRun.objects.filter(pk=run.pk).update(summary=summary, loaded_at=timezone.now())
    run.summary, run.loaded_at = summary, timezone.now()
    return summary
