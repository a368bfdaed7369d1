"""Loading player game logs into the warehouse: fast, idempotent, a game never half-loaded.

Files are read and checked as a whole first (a missing column stops the load before anything is
written), then validated row by row (etl.gamelogs) in a background thread while the previous
file is written, one transaction per file. Rows are staged in a temporary table (PostgreSQL:
binary COPY through psycopg's cursor.copy(); SQLite: executemany: see etl.bulk, the plumbing)
and upserted set-based with
`INSERT ... ON CONFLICT DO UPDATE ... WHERE <row changed>`, so a reload writes nothing and reports
every row unchanged. Which source's line wins is etl.lines' rule: lines scraped from
basketball-reference (source='bref', exact seconds and starters) are not overwritten by the
NBA.com logs.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from etl import bulk
from etl.gamelogs import (
    GamelogFormatError,
    ParsedFile,
    file_sha256,
    games_from_lines,
    parse_gamelog_file,
    read_gamelog_file,
)
from etl.lines import STAT_FIELDS, sources_kept_from
from etl.models import EtlRun, Game, PlayerGameLog, QuarantinedRow, Team, TeamAlias
from etl.names import normalise_name
from etl.teams import FRANCHISES, seed_teams
from operations import progress as job_progress

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
SUMMARY_KEYS = (
    "read",
    "inserted",
    "updated",
    "unchanged",
    "rejected",
    "teams_created",
    "players_created",
    "games_created",
    "games_updated",
)
LOG_STATS = list(STAT_FIELDS)  # etl.lines: the warehouse line's counted statistics
# What a reload compares and may change on an existing line (the key is player + game).
LOG_UPDATABLE = ["team_id", "opponent_id", "date", "season", "is_home", *LOG_STATS, "plus_minus"]
SOURCE = "nba"  # the lines' source (etl.lines.SOURCE_RANK decides which source's line wins)
STAGE_LOG = "etl_stage_log"
STAGE_PLAYER = "etl_stage_player"
STAGE_GAME = "etl_stage_game"
LOAD_LOCK = 0x6E62615F6574  # pg_advisory_xact_lock key of the game-log loader
BULK_MIN_LINES = 50_000  # a load at least this big (and as big as the table) rebuilds the indexes


class LoadError(RuntimeError):
    """The warehouse refused part of a load (e.g. two games claim the same NBA.com id)."""


def bundled_gamelog_paths() -> list[Path]:
    """The real seasons shipped with the project (etl/data), oldest first."""
    return sorted(Path(settings.BUNDLED_DATA_DIR).glob("player_logs_*.csv*"))


def team_aliases() -> dict[str, str]:
    """Every alias the warehouse knows (lower-case) -> canonical team code."""
    return dict(TeamAlias.objects.values_list("alias", "team__code"))


# --- staging ------------------------------------------------------------------------------------


def _create_stages() -> None:
    stats = ", ".join(
        f"{stat} smallint NOT NULL" if stat != "seconds" else "seconds integer NOT NULL" for stat in LOG_STATS
    )
    bulk.create_stage(STAGE_PLAYER, "nba_id bigint PRIMARY KEY, name varchar(128), normalised_name varchar(128)")
    bulk.create_stage(
        STAGE_GAME,
        "nba_game_id varchar(10) PRIMARY KEY, date date, season varchar(7), "
        "season_type varchar(8), home_id bigint, away_id bigint, home_score integer, "
        "away_score integer, overtimes integer",
    )
    bulk.create_stage(
        STAGE_LOG,
        f"player_id bigint NOT NULL, game_id bigint NOT NULL, team_id bigint NOT NULL, "
        f"opponent_id bigint NOT NULL, date date NOT NULL, season varchar(7) NOT NULL, "
        f"is_home boolean NOT NULL, {stats}, plus_minus smallint",
    )


# --- one file ---------------------------------------------------------------------------------


def _prepare(source, aliases: dict[str, str]) -> tuple[ParsedFile, pd.DataFrame, list[tuple]]:
    """The CPU-only part of a file (runs in the helper thread): validated lines, their games,
    their players (NBA.com id, name, normalised name; the latest name of each)."""
    parsed = parse_gamelog_file(source, aliases)
    lines = parsed.valid
    games = games_from_lines(lines) if len(lines) else pd.DataFrame()
    players = lines.drop_duplicates("player_nba_id", keep="last") if len(lines) else lines
    names = players["player_name"].tolist() if len(lines) else []
    player_rows = (
        list(zip(players["player_nba_id"].tolist(), names, map(normalise_name, names), strict=True)) if names else []
    )
    return parsed, games, player_rows


def _upsert_players(player_rows: list[tuple]) -> int:
    """Create or rename the file's players (by NBA.com id); returns how many were created."""
    bulk.fill_stage(STAGE_PLAYER, ["nba_id", "name", "normalised_name"], player_rows)
    with connection.cursor() as cursor:
        # A player first met on basketball-reference (no NBA.com id yet) gets his id, when his
        # name is unambiguous on both sides, instead of a second Player row.
        cursor.execute(f"""
            UPDATE etl_player SET nba_id = (SELECT s.nba_id FROM {STAGE_PLAYER} s
                                            WHERE s.normalised_name = etl_player.normalised_name)
            WHERE etl_player.nba_id IS NULL
              AND etl_player.normalised_name IN (SELECT normalised_name FROM {STAGE_PLAYER})
              AND (SELECT count(*) FROM {STAGE_PLAYER} s WHERE s.normalised_name = etl_player.normalised_name) = 1
              AND (SELECT count(*) FROM etl_player p WHERE p.normalised_name = etl_player.normalised_name) = 1
              AND NOT EXISTS (SELECT 1 FROM etl_player p JOIN {STAGE_PLAYER} s ON p.nba_id = s.nba_id
                              WHERE s.normalised_name = etl_player.normalised_name)""")
    created, _written = bulk.upsert(
        "etl_player",
        f"""
        INSERT INTO etl_player (name, normalised_name, nba_id)
        SELECT name, normalised_name, nba_id FROM {STAGE_PLAYER} WHERE true
        ON CONFLICT (nba_id) DO UPDATE SET name = excluded.name, normalised_name = excluded.normalised_name
        WHERE etl_player.name <> excluded.name""",
    )
    return created


def _upsert_games(games: pd.DataFrame, team_ids: dict[str, int]) -> tuple[int, int]:
    """Create or update the file's games (final, scores from the lines); (created, updated).
    When every game is created, none can have lines yet."""
    overtimes = [None if pd.isna(value) else int(value) for value in games["overtimes"]]
    rows = list(
        zip(
            games["game_id"],
            pd.to_datetime(games["date"]).dt.date,
            games["season"],
            games["season_type"],
            _lookup(games["home"], team_ids).astype(int).tolist(),
            _lookup(games["away"], team_ids).astype(int).tolist(),
            games["home_score"].astype(int).tolist(),
            games["away_score"].astype(int).tolist(),
            overtimes,
            strict=True,
        )
    )
    bulk.fill_stage(
        STAGE_GAME,
        ["nba_game_id", "date", "season", "season_type", "home_id", "away_id", "home_score", "away_score", "overtimes"],
        rows,
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        # A game already known by its NBA.com id under another date or home team (postponed, or
        # corrected data) moves, unless another game holds that slot.
        cursor.execute(
            f"""
            UPDATE etl_game SET date = s.date, home_id = s.home_id, away_id = s.away_id, updated_at = %s
            FROM {STAGE_GAME} s
            WHERE etl_game.nba_game_id = s.nba_game_id
              AND (etl_game.date <> s.date OR etl_game.home_id <> s.home_id)
              AND NOT EXISTS (SELECT 1 FROM etl_game o WHERE o.date = s.date AND o.home_id = s.home_id)""",
            [now],
        )
        moved = cursor.rowcount
    created, written = bulk.upsert(
        "etl_game",
        f"""
            INSERT INTO etl_game (nba_game_id, date, season, season_type, start_time, home_id, away_id,
                                  home_score, away_score, overtimes, status, updated_at)
            SELECT nba_game_id, date, season, season_type, '', home_id, away_id, home_score, away_score,
                   overtimes, 'final', %s
            FROM {STAGE_GAME} WHERE true
            ON CONFLICT (date, home_id) DO UPDATE SET
                nba_game_id = excluded.nba_game_id, season = excluded.season, season_type = excluded.season_type,
                away_id = excluded.away_id, home_score = excluded.home_score, away_score = excluded.away_score,
                overtimes = excluded.overtimes, status = 'final', updated_at = excluded.updated_at
            WHERE (etl_game.nba_game_id IS NULL OR etl_game.nba_game_id = excluded.nba_game_id)
              AND (etl_game.nba_game_id, etl_game.season, etl_game.season_type, etl_game.away_id,
                   etl_game.home_score, etl_game.away_score, etl_game.overtimes, etl_game.status)
                  {bulk.differs()} (excluded.nba_game_id, excluded.season, excluded.season_type, excluded.away_id,
                   excluded.home_score, excluded.away_score, excluded.overtimes, 'final')""",
        [now],
    )
    return created, written - created + moved


def _lookup(values: pd.Series, mapping: dict, dtype=np.float64) -> np.ndarray:
    """values mapped through a dict (NaN where missing), once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([mapping.get(value, np.nan) for value in uniques] + [np.nan], dtype=dtype)
    return table[codes]


def _ids(sql: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def _line_columns(
    lines: pd.DataFrame, player_pk: np.ndarray, game_pk: np.ndarray, team_ids: dict[str, int]
) -> dict[str, np.ndarray]:
    return {
        "player_id": player_pk,
        "game_id": game_pk,
        "team_id": _lookup(lines["team"], team_ids).astype(np.int64),
        "opponent_id": _lookup(lines["opponent"], team_ids).astype(np.int64),
        "date": lines["date"].to_numpy(dtype="datetime64[D]"),
        "season": lines["season"].to_numpy(dtype=object),
        "is_home": lines["is_home"].to_numpy(dtype=bool),
        **{stat: lines[stat].to_numpy(dtype=np.int64) for stat in LOG_STATS},
        "plus_minus": lines["plus_minus"].to_numpy(dtype=np.float64),
    }


_COMPARED = ["team_id", "opponent_id", "is_home", *LOG_STATS, "plus_minus"]
_NO_PLUS_MINUS = -32768  # stands for NULL when lines are compared


def _kept_sources() -> str:
    """SQL list of the sources whose lines the NBA.com logs leave alone (etl.lines' rule)."""
    return ", ".join(f"'{source}'" for source in sources_kept_from(SOURCE)) or "NULL"


def _existing_lines() -> pd.DataFrame:
    """The warehouse's lines of the staged games, as comparable columns: keys, `protected`
    (scraped from basketball-reference, not overwritten), `stale` (date/season differ from the
    game's) and the values a reload compares."""
    names = ["game_id", "player_id", "protected", "stale", *_COMPARED]
    select = (
        f"SELECT l.game_id, l.player_id, CAST(l.source IN ({_kept_sources()}) AS integer), "
        f"CAST((l.date <> g.date OR l.season <> g.season) AS integer), l.team_id, l.opponent_id, "
        f"CAST(l.is_home AS integer), {', '.join(f'l.{stat}' for stat in LOG_STATS)}, "
        f"coalesce(l.plus_minus, {_NO_PLUS_MINUS}) "
        f"FROM etl_playergamelog l JOIN etl_game g ON g.id = l.game_id "
        f"JOIN {STAGE_GAME} s ON s.nba_game_id = g.nba_game_id"
    )
    return bulk.read_integers(select, names)


def _write_lines(
    lines: pd.DataFrame, team_ids: dict[str, int], all_games_new: bool = False
) -> tuple[int, int, np.ndarray]:
    """Write the file's player lines: new ones appended in bulk (COPY), changed ones updated
    set-based, the others left alone. Returns (inserted, updated, mask of lines refused because
    another game holds their game's date and home team)."""
    player_ids = _ids(f"SELECT p.nba_id, p.id FROM etl_player p JOIN {STAGE_PLAYER} s ON s.nba_id = p.nba_id")
    game_ids = _ids(f"SELECT g.nba_game_id, g.id FROM etl_game g JOIN {STAGE_GAME} s ON s.nba_game_id = g.nba_game_id")
    game_pk = _lookup(lines["game_id"], game_ids)
    refused = np.isnan(game_pk)
    if refused.any():
        lines, game_pk = lines[~refused], game_pk[~refused]
    game_pk = game_pk.astype(np.int64)
    player_pk = _lookup(lines["player_nba_id"], player_ids).astype(np.int64)
    order = np.lexsort((player_pk, game_pk))  # key order: cheaper index upkeep
    lines, game_pk, player_pk = lines.iloc[order], game_pk[order], player_pk[order]
    columns = _line_columns(lines, player_pk, game_pk, team_ids)
    existing = _existing_lines() if not all_games_new else None
    if existing is not None and len(existing):
        incoming = pd.DataFrame({"game_id": game_pk, "player_id": player_pk, "row": np.arange(len(lines))})
        matched = incoming.merge(existing, on=["game_id", "player_id"], how="inner")
        exists = np.zeros(len(lines), dtype=bool)
        exists[matched["row"].to_numpy()] = True
        rows = matched["row"].to_numpy()
        differs = matched["stale"].to_numpy(dtype=bool).copy()
        for name in _COMPARED:
            mine = columns[name][rows]
            if name == "plus_minus":
                mine = np.where(np.isnan(mine), _NO_PLUS_MINUS, mine)
            differs |= mine.astype(np.int64) != matched[name].to_numpy(dtype=np.int64)
        changed = np.zeros(len(lines), dtype=bool)
        changed[rows[differs & ~matched["protected"].to_numpy(dtype=bool)]] = True
    else:
        exists = changed = np.zeros(len(lines), dtype=bool)
    new = ~exists
    inserted, updated = int(new.sum()), 0
    if inserted:
        bulk.bulk_write(
            "etl_playergamelog",
            {
                **{name: values[new] for name, values in columns.items()},
                "starter": None,
                "source": np.full(inserted, SOURCE, dtype=object),
            },
            nullable="plus_minus",
        )
    if changed.any():
        bulk.empty_stage(STAGE_LOG)
        bulk.bulk_write(STAGE_LOG, {name: values[changed] for name, values in columns.items()}, nullable="plus_minus")
        with connection.cursor() as cursor:
            cursor.execute(f"""
                UPDATE etl_playergamelog SET {", ".join(f"{c} = s.{c}" for c in LOG_UPDATABLE)}
                FROM {STAGE_LOG} s
                WHERE etl_playergamelog.game_id = s.game_id AND etl_playergamelog.player_id = s.player_id
                  AND etl_playergamelog.source NOT IN ({_kept_sources()})""")
            updated = cursor.rowcount
    return inserted, updated, refused


def _quarantine(parsed: ParsedFile, run: EtlRun | None, extra: list[tuple[int, str, str]] = ()) -> int:
    """Keep the file's rejected rows with their reasons (one row per file line, latest run wins)."""
    rows = [
        QuarantinedRow(
            run=run,
            source_file=parsed.path.name[:255],
            file_sha256=parsed.sha256,
            line_number=line,
            reason=reason[:500],
            raw_line=raw,
        )
        for line, reason, raw in [*parsed.rejected, *extra]
    ]
    if rows:
        QuarantinedRow.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["file_sha256", "line_number"],
            update_fields=["run", "source_file", "reason", "raw_line"],
        )
    return len(rows)


REFUSED_SLOT_TAKEN = "another game (different NBA.com id) is recorded for this date and home team"


def _write_file(
    prepared: tuple[ParsedFile, pd.DataFrame, list[tuple]], team_ids: dict[str, int], run: EtlRun | None
) -> tuple[dict, Counter]:
    """One file's writes (inside the load's transaction): players, games, lines, quarantine.
    Returns the counts and the quarantined rows counted by reason."""
    parsed, games, player_rows = prepared
    counts = dict.fromkeys(SUMMARY_KEYS, 0)
    lines = parsed.valid
    refused_rows: list[tuple[int, str, str]] = []
    if len(lines):
        counts["players_created"] = _upsert_players(player_rows)
        counts["games_created"], counts["games_updated"] = _upsert_games(games, team_ids)
        all_new = counts["games_created"] == len(games)
        counts["inserted"], counts["updated"], refused = _write_lines(lines, team_ids, all_new)
        if refused.any():
            raw = parsed.source.text.split("\n")
            refused_rows = [(int(line), REFUSED_SLOT_TAKEN, raw[int(line) - 1]) for line in lines["line"][refused]]
    counts["rejected"] = _quarantine(parsed, run, refused_rows)
    counts["read"] = parsed.rows_read
    counts["unchanged"] = len(lines) - len(refused_rows) - counts["inserted"] - counts["updated"]
    by_reason = parsed.rejected_by_reason + Counter({REFUSED_SLOT_TAKEN: len(refused_rows)})
    return counts, by_reason


def _use_bulk_mode(total_lines: int) -> bool:
    """Build the line table's indexes (primary key included) once instead of updating them row
    by row: worth it (and the short exclusive lock acceptable) when a load brings at least twice
    as many lines as the table holds, as a first load does. PostgreSQL only."""
    if connection.vendor != "postgresql" or total_lines < BULK_MIN_LINES:
        return False
    return total_lines >= 2 * bulk.table_count("etl_playergamelog")


def _load(paths: list[Path], progress: Progress, run: EtlRun | None, rebuild: bool | None = None) -> dict:
    """Check every file, then validate (in a helper thread, a file ahead) and write them, all
    in one transaction: a failure leaves the warehouse as it was."""
    summary = dict.fromkeys(SUMMARY_KEYS, 0)
    rejected_by_reason: Counter = Counter()
    teams_before = Team.objects.count()
    if teams_before < len(FRANCHISES):
        seed_teams()
    summary["teams_created"] = Team.objects.count() - teams_before
    aliases = team_aliases()
    team_ids = dict(Team.objects.values_list("code", "id"))
    done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-validate") as pool:
        # The first files are validated while the others are read and checked.
        sources = [read_gamelog_file(path) for path in paths[:2]]
        pending = [pool.submit(_prepare, source, aliases) for source in sources]
        sources += [read_gamelog_file(path) for path in paths[2:]]  # GamelogFormatError: no game or line written
        total = sum(source.line_count for source in sources)
        progress(0, total, "validating")
        outermost = not connection.in_atomic_block  # (an outer transaction may hold checks on the games)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # A load is idempotent: losing its commit to a crash costs a re-run, not data.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                    # One loader at a time, so lines found new stay new until they are written.
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOAD_LOCK])
            rebuild = _use_bulk_mode(total) if rebuild is None else rebuild and bulk.is_postgresql()
            if rebuild:
                primary_key = bulk.drop_indexes(PlayerGameLog)
                # The games' foreign keys (to their teams) are checked once at the end, not per game.
                game_keys = bulk.drop_foreign_keys(Game) if outermost else []
            _create_stages()
            for index, source in enumerate(sources):
                prepared = pending[index].result()
                pending[index] = None  # the parsed frame is freed once written
                if index + 2 < len(sources):
                    pending.append(pool.submit(_prepare, sources[index + 2], aliases))
                counts, by_reason = _write_file(prepared, team_ids, run)
                rejected_by_reason += by_reason
                del prepared
                for key in SUMMARY_KEYS:
                    if key != "teams_created":
                        summary[key] += counts[key]
                done += source.line_count
                progress(done, total, f"loaded {source.name}")
                logger.info("%s: %s", source.name, counts)
            if rebuild:  # (autovacuum then refreshes the planner statistics of the grown tables)
                progress(done, total, "indexing")
                bulk.build_indexes(PlayerGameLog, primary_key)
                bulk.add_foreign_keys(Game, game_keys)
            bulk.drop_stages(STAGE_LOG, STAGE_PLAYER, STAGE_GAME)
    progress(total, total, "done")
    return {**summary, "rejected_by_reason": dict(rejected_by_reason.most_common())}


class _ProgressReporter:
    """Delivers progress reports from a helper thread with its own database connection, so
    they are committed (and seen by the dashboard) while the load's transaction is open.

    Only the latest report matters: a report not yet delivered is replaced by a newer one.
    """

    def __init__(self, report: Progress):
        self._report = report
        self._latest = None
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="etl-progress", daemon=True)
        self._thread.start()

    def __call__(self, done: int, total: int, stage: str) -> None:
        with self._wake:
            self._latest = (done, total, stage)
            self._wake.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while self._latest is None and not self._closed:
                        self._wake.wait()
                    latest, self._latest = self._latest, None
                    if latest is None:
                        return
                try:
                    self._report(*latest)
                except Exception:  # a lost progress report must not fail the load
                    logger.exception("progress report failed")
        finally:
            connection.close()  # this thread's own connection

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()


# --- the recorded load ------------------------------------------------------------------------


def loaded_file_hashes() -> set[str]:
    """Content hashes of every file a succeeded load has taken in."""
    hashes: set[str] = set()
    for counts in EtlRun.objects.filter(status=EtlRun.Status.SUCCEEDED, kind="gamelogs").values_list(
        "counts", flat=True
    ):
        hashes.update((counts or {}).get("file_hashes", []))
    return hashes


def loaded_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The paths whose content (sha256) a succeeded run already loaded."""
    done = loaded_file_hashes()
    return [Path(p) for p in paths if Path(p).is_file() and file_sha256(Path(p)) in done]


def _progress_caller(progress: Callable | None) -> Progress:
    """Adapt the caller's progress callable: (done, total) or (done, total, stage)."""
    if progress is None:
        return lambda done, total, stage: None
    try:
        parameters = inspect.signature(progress).parameters.values()
        takes_stage = (
            sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters) >= 3
        )
    except (TypeError, ValueError):
        takes_stage = False
    return progress if takes_stage else (lambda done, total, stage: progress(done, total))


def load_gamelogs(paths: Iterable[str | Path], **options) -> dict:
    """`run_gamelog_load`'s summary: the counts of player-game rows (SUMMARY_KEYS)."""
    run = run_gamelog_load(paths, **options)
    return {key: run.counts[key] for key in SUMMARY_KEYS}


def run_gamelog_load(
    paths: Iterable[str | Path],
    *,
    source: str | None = None,
    progress: Callable | None = None,
    skip_loaded: bool = False,
    task_id: str | None = None,
    bulk: bool | None = None,
) -> EtlRun:
    """Validate and load NBA.com player game-log CSVs (gzipped or not), recorded as an EtlRun.

    Returns the EtlRun, whose counts hold the summary (counts of player-game rows): read,
    inserted, updated, unchanged, rejected, plus teams_created, players_created, games_created,
    games_updated; and rejected_by_reason (reason without its values -> rows quarantined).
    `progress(done_rows, total_rows)` (or `(done, total, stage)`) is called as the load advances.
    With skip_loaded, files whose content (sha256) a succeeded run already loaded are left out.
    A file that cannot be read as a whole (missing, not a CSV, missing column) raises
    GamelogFormatError before anything is written. Idempotent: loading the same files again
    reports inserted == updated == 0. With task_id, that task's run row is reused, so a
    redelivered task does not record a second run. `bulk` forces (True) or forbids (False) the
    index rebuild of big loads on PostgreSQL (default: automatic).
    """
    paths = [Path(p) for p in paths]
    report_progress = _progress_caller(progress)
    hashes = {path: file_sha256(path) if path.is_file() else "" for path in paths}
    skipped = 0
    if skip_loaded:
        done = loaded_file_hashes()
        kept = [p for p in paths if not hashes[p] or hashes[p] not in done]
        skipped, paths = len(paths) - len(kept), kept
    fields = {
        "kind": "gamelogs",
        "source": (source or "\n".join(str(p) for p in paths))[:10_000],
        "sha256": hashes[paths[0]] if len(paths) == 1 else "",
        "status": EtlRun.Status.RUNNING,
        "message": "",
        "started_at": timezone.now(),
        "finished_at": None,
        "rows_done": 0,
        "rows_total": 0,
        "stage": "reading",
        "percent": 0,
    }
    if task_id:
        run, _ = EtlRun.objects.update_or_create(task_id=task_id, defaults=fields)
    else:
        run = EtlRun.objects.create(**fields)

    latest = {"rows_done": 0, "rows_total": 0}

    def report(done: int, total: int, stage: str) -> None:
        latest.update(rows_done=done, rows_total=total)
        job_progress.report(
            run, stage=stage, percent=100 * done / total if total else 0, rows_done=done, rows_total=total
        )
        report_progress(done, total, stage)

    # On PostgreSQL the reports leave through another connection, so they are visible while
    # the load's transaction is open (SQLite has one writer at a time: they stay in line).
    reporter = _ProgressReporter(report) if connection.vendor == "postgresql" else None
    try:
        summary = (
            _load(paths, reporter or report, run, rebuild=bulk)
            if paths
            else {**dict.fromkeys(SUMMARY_KEYS, 0), "rejected_by_reason": {}}
        )
    except BaseException as exc:
        if reporter:
            reporter.close()
        job_progress.fail(run, str(exc) if isinstance(exc, GamelogFormatError) else f"{exc.__class__.__name__}: {exc}")
        raise
    if reporter:
        reporter.close()
    job_progress.succeed(
        run,
        stage="done",
        rows_done=latest["rows_done"],
        rows_total=latest["rows_total"],
        counts={**summary, "files_skipped": skipped, "file_hashes": [hashes[p] for p in paths]},
    )
    return run


def refresh_warehouse_statistics() -> None:
    """ANALYZE the line and game tables on PostgreSQL: after a bulk load the planner's row
    estimates are off until autovacuum runs, and indexed reads can turn into table scans."""
    if connection.vendor == "postgresql":
        from etl.schema import GAMES, LINES

        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {LINES}")
            cursor.execute(f"ANALYZE {GAMES}")
