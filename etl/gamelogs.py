"""Reading and validating NBA.com player game-log CSVs (the stats `leaguegamelog` format).

Validation is vectorised over the whole file: each bad row gets a reason, and every other row
of a game with a bad row is held back too, so a game is never loaded half (its score is the
sum of its lines). Exact duplicate lines are quarantined while the first copy loads.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from etl.seasons import season_end_year, season_for_date

# Which line it is: the player, the team, the game.
LINE_KEY_COLUMNS = ["PLAYER_ID", "PLAYER_NAME", "TEAM_ABBREVIATION", "GAME_ID", "GAME_DATE", "MATCHUP"]
# Highest believable value of each count in one game ("absurd" above it: a typo or a shifted column).
MAXIMUM = {
    "PTS": 100,
    "FGM": 50,
    "FGA": 100,
    "FG3M": 30,
    "FG3A": 50,
    "FTM": 40,
    "FTA": 50,
    "OREB": 30,
    "DREB": 40,
    "REB": 60,
    "AST": 40,
    "STL": 20,
    "BLK": 20,
    "TOV": 20,
    "PF": 10,
}
COUNT_COLUMNS = list(MAXIMUM)
REQUIRED_COLUMNS = [*LINE_KEY_COLUMNS, "MIN", *COUNT_COLUMNS, "PLUS_MINUS"]
STRING_COLUMNS = [*LINE_KEY_COLUMNS, "SEASON_LABEL", "MIN"]  # read as text, not numbers
USED_COLUMNS = {*REQUIRED_COLUMNS, "SEASON_LABEL"}
MAX_MINUTES = 75  # a quadruple-overtime game is 68 minutes long
MAX_PLUS_MINUS = 100
FIRST_GAME = dt.date(1946, 11, 1)
# GAME_ID "00<type><yy><nnnnn>": 2 regular season, 4 playoffs, 5 play-in (postseason).
GAME_TYPES = {"2": "regular", "4": "playoffs", "5": "playoffs"}
MATCHUP = r"^\s*([A-Za-z]{2,4})\s+(vs\.?|@)\s+([A-Za-z]{2,4})\s*$"
MINUTES_SECONDS = re.compile(r"^(\d{1,3}):([0-5]\d)$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T00:00:00)?$")
# A reason's template without its value: "PTS is above 100 ({})" -> "PTS is above 100".
REASON_VALUE = re.compile(r"\s*\(\{[^}]*\}\)|:?\s*\{[^}]*\}")
WRONG_FIELD_COUNT = "wrong number of fields"
HELD_BACK = "held back with its game (another line of the game was rejected)"


class GamelogFormatError(ValueError):
    """The file as a whole cannot be read (missing, not a CSV, missing columns): nothing is loaded."""


@dataclass
class SourceFile:
    """A file read into memory and checked as a whole: decoded text, header, content hash."""

    path: Path
    sha256: str
    text: str
    columns: list[str]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def line_count(self) -> int:
        """Data lines (an upper bound of the rows: blank lines are not rows)."""
        return max(self.text.count("\n") + (0 if self.text.endswith("\n") else 1) - 1, 0)


@dataclass
class ParsedFile:
    source: SourceFile
    rows_read: int
    valid: pd.DataFrame  # one row per (player, game), typed, home/away/opponent derived
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line number, reason, raw line)
    rejected_by_reason: Counter = field(default_factory=Counter)  # reason kind (no values) -> rows

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def sha256(self) -> str:
        return self.source.sha256


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_gamelog_file(path: str | Path) -> SourceFile:
    """Read (gunzip when gzipped) and decode a file and check its header: every required
    column must be there. Raises GamelogFormatError naming the file and what is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GamelogFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GamelogFormatError(f"{path}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise GamelogFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    sha256 = hashlib.sha256(raw).hexdigest()
    if path.suffix.lower() == ".gz" and raw[:2] != b"\x1f\x8b":
        start = raw[:24].decode("utf-8", "replace").split("\n")[0]
        raise GamelogFormatError(
            f"{path.name}: not a gzip file (the name ends in .gz, but the content starts "
            f"with {start!r}; gzip it, or name it .csv)"
        )
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise GamelogFormatError(f"{path.name}: damaged gzip file ({exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GamelogFormatError(f"{path.name}: not UTF-8 text (is it a CSV file?)") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise GamelogFormatError(f"{path.name}: empty file, or no header line")
    columns = [name.strip().upper() for name in next(csv.reader([first_line]))]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise GamelogFormatError(
            f"{path.name}: column{'s' if len(repeated) > 1 else ''} "
            f"{', '.join(repeated)} appear{'' if len(repeated) > 1 else 's'} twice in the header"
        )
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise GamelogFormatError(
            f"{path.name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(an NBA.com player game log has {', '.join(REQUIRED_COLUMNS[:4])}, …)"
        )
    return SourceFile(path=path, sha256=sha256, text=text, columns=columns)


class Distinct:
    """A column as codes into its distinct values, so per-value work (parsing, lookups) runs
    once per distinct value: a season file has ~600 players, ~1,200 games, ~170 dates."""

    def __init__(self, column):
        self.codes, uniques = pd.factorize(pd.Series(column, dtype=object), use_na_sentinel=True)
        self.values = ["" if value is None or value != value else str(value).strip() for value in uniques]

    def map(self, func, dtype=object) -> np.ndarray:
        """func of each row's (stripped) value; func("") for a missing value."""
        table = np.array([func(value) for value in self.values] + [func("")], dtype=dtype)
        return table[self.codes]

    def map_many(self, func, dtypes: tuple) -> tuple[np.ndarray, ...]:
        """Like map, for a func returning a tuple: one array per element."""
        results = [func(value) for value in self.values] + [func("")]
        return tuple(
            np.array([result[k] for result in results], dtype=dtype)[self.codes] for k, dtype in enumerate(dtypes)
        )

    def text(self) -> np.ndarray:
        return self.map(lambda value: value)


def per_distinct(series: pd.Series, func) -> np.ndarray:
    """func applied once per distinct value (missing values get func(None)), mapped back."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    results[:-1] = [func(value) for value in uniques]
    results[-1] = func(None)
    return results[codes]


class _RawLines:
    """A file's data lines by row, split from the text only when one is needed (a rejected row)."""

    def __init__(self, source: SourceFile, rows: list[str] | None = None):
        self._text, self._rows = source.text, rows

    def __getitem__(self, index: int) -> str:
        if self._rows is None:
            self._rows = self._text.rstrip("\n").split("\n")[1:]
        return self._rows[index]


def _records(source: SourceFile) -> tuple[pd.DataFrame, np.ndarray, _RawLines, list[tuple[int, str, str]]]:
    """The file's rows as a frame (string columns as text, counts as numbers where clean),
    their line numbers and raw text, and the lines rejected for a wrong number of fields."""
    width = len(source.columns)
    rejected: list[tuple[int, str, str]] = []
    dtypes = {c: object for c in STRING_COLUMNS if c in source.columns}
    used = [c for c in source.columns if c in USED_COLUMNS]
    line_count = source.text.count("\n") + (0 if source.text.endswith("\n") else 1)
    if '"' not in source.text:
        # Fast path: no quoting, so one line is one record and fields are split by commas.
        if source.text.count(",") == (width - 1) * line_count and "\n\n" not in source.text:
            text, kept, raw = source.text, np.arange(line_count - 1), _RawLines(source)
        else:
            lines = source.text.rstrip("\n").split("\n")
            body = lines[1:]
            counts = np.fromiter((line.count(",") for line in body), dtype=np.int64, count=len(body))
            good = counts == width - 1
            blank = ~good & np.fromiter((not line.strip() for line in body), dtype=bool, count=len(body))
            for index in np.flatnonzero(~good & ~blank):
                rejected.append((int(index) + 2, f"expected {width} fields, found {counts[index] + 1}", body[index]))
            kept = np.flatnonzero(good)
            rows = [body[i] for i in kept]
            text, raw = "\n".join([lines[0], *rows]), _RawLines(source, rows)
        frame = pd.read_csv(
            io.StringIO(text),
            names=source.columns,
            header=0,
            usecols=used,
            dtype=dtypes,
            keep_default_na=False,
            na_values={c: [""] for c in used if c not in dtypes},
            engine="c",
        )
        return frame, kept + 2, raw, rejected
    # Quoted fields (possibly spanning lines): the csv module, keeping each record's lines.
    lines = source.text.rstrip("\n").split("\n")
    records, numbers, raws = [], [], []
    reader = csv.reader(lines[1:])
    start = 2
    for record in reader:
        end = reader.line_num + 1
        text = "\n".join(lines[start - 1 : end - 1])
        if len(record) == width:
            records.append(record)
            numbers.append(start)
            raws.append(text)
        elif any(value.strip() for value in record):
            rejected.append((start, f"expected {width} fields, found {len(record)}", text))
        start = end + 1
    frame = pd.DataFrame(records, columns=source.columns, dtype=object)[used]
    for column in frame.columns:
        if column not in dtypes:
            frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce")
    return frame, np.asarray(numbers, dtype=np.int64), _RawLines(source, raws), rejected


def _as_number(column: pd.Series) -> np.ndarray:
    """Float values (NaN where missing or not a number)."""
    if column.dtype.kind not in "iuf":
        column = pd.to_numeric(column, errors="coerce")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _minutes(value) -> float:
    """'37' or '36.5' or '36:30' (mm:ss) -> minutes; NaN when it is none of those."""
    text = "" if value is None else str(value).strip()
    match = MINUTES_SECONDS.match(text)
    if match:
        return int(match.group(1)) + int(match.group(2)) / 60
    try:
        return float(text) if text else np.nan
    except ValueError:
        return np.nan


def _date(value) -> dt.date | None:
    text = "" if value is None else str(value).strip()
    if not ISO_DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _game_id(value) -> str | None:
    """10-digit NBA.com game id; a number that lost its leading zeros gets them back."""
    text = "" if value is None else str(value).strip()
    return text.zfill(10) if text.isdigit() and 8 <= len(text) <= 10 else None


def _positive_int(value) -> float:
    text = "" if value is None else str(value).strip()
    return float(text) if text.isdigit() and int(text) > 0 else np.nan


def _season(value) -> str | None:
    try:
        season_end_year(str(value).strip())
        return str(value).strip()
    except (ValueError, TypeError):
        return None


def _matchup(team_codes: dict[str, str]):
    pattern = re.compile(MATCHUP)

    def parse(value: str) -> tuple:
        """'CLE vs. IND' -> (own code, 'vs.' or '@', opponent code), codes resolved (None: unknown)."""
        match = pattern.match(value)
        if not match:
            return (None, None, None, False)
        own, where, other = match.groups()
        return (team_codes.get(own.lower()), where, team_codes.get(other.lower()), True)

    return parse


def parse_gamelog_file(source: SourceFile | str | Path, team_codes: dict[str, str]) -> ParsedFile:
    """Split one file into typed valid rows and rejected rows (line number, reason, raw line).

    `team_codes` maps every known team alias (lower-case) to the canonical team code.
    """
    if not isinstance(source, SourceFile):
        source = read_gamelog_file(source)
    frame, line_numbers, raw_lines, rejected = _records(source)
    n = len(frame)
    rows_read = n + len(rejected)
    reasons = np.full(n, "", dtype=object)
    kinds = np.full(n, "", dtype=object)  # the reason without its values, to count rows by reason
    ok = np.ones(n, dtype=bool)

    def reject(mask, reason: str, values=None, kind: str | None = None) -> None:
        """Rows still fine that match the mask get this reason (the first reason wins);
        `values` (an array, or a callable giving one) fills the reason's {}."""
        hit = np.asarray(mask, dtype=bool) & ok
        if not hit.any():
            return
        kinds[hit] = kind or REASON_VALUE.sub("", reason)
        if values is None:
            reasons[hit] = reason
        else:
            values = values() if callable(values) else values
            reasons[hit] = [reason.format(value) for value in np.asarray(values, dtype=object)[hit]]
        ok[hit] = False

    players = Distinct(frame["PLAYER_ID"])
    player_ids = players.map(_positive_int, dtype=np.float64)
    reject(np.isnan(player_ids), "PLAYER_ID is not a positive number ({!r})", players.text)
    names = Distinct(frame["PLAYER_NAME"])
    reject(
        names.map(lambda v: not v or len(v) > 128, dtype=bool), "PLAYER_NAME is empty or too long ({!r})", names.text
    )
    games = Distinct(frame["GAME_ID"])
    game_ids = games.map(_game_id)
    reject(pd.isna(game_ids), "GAME_ID is not an NBA.com game id ({!r})", games.text)
    season_type = games.map(lambda v: GAME_TYPES.get(_game_id(v)[2]) if _game_id(v) else None)
    reject(pd.isna(season_type), "GAME_ID {} is not a regular-season or playoff game", game_ids)
    dates_text = Distinct(frame["GAME_DATE"])
    latest = dt.date.today() + dt.timedelta(days=1)
    dates = dates_text.map(_date)
    days = dates_text.map(_date, dtype="datetime64[D]")  # NaT where not a date
    reject(pd.isna(dates), "GAME_DATE is not a date (YYYY-MM-DD): {!r}", dates_text.text)
    reject(
        dates_text.map(lambda v: bool(_date(v)) and not FIRST_GAME <= _date(v) <= latest, dtype=bool),
        "GAME_DATE {} is not the date of a played NBA game",
        dates,
    )
    seasons = dates_text.map(lambda v: season_for_date(_date(v)) if _date(v) else None)
    if "SEASON_LABEL" in frame.columns:
        labels = Distinct(frame["SEASON_LABEL"]).text()
        reject(
            (labels != "") & pd.isna(per_distinct(pd.Series(labels), _season)),
            "SEASON_LABEL is not a season like 2023-24 ({!r})",
            labels,
        )
        reject(
            (labels != "") & (labels != seasons),
            "GAME_DATE is not in season SEASON_LABEL ({})",
            lambda: dates_text.text() + " / " + labels.astype(object),
        )

    minutes_text = Distinct(frame["MIN"])
    minutes = minutes_text.map(_minutes, dtype=np.float64)
    reject(np.isnan(minutes), "MIN is not a number of minutes ({!r})", minutes_text.text)
    reject(minutes < 0, "MIN is negative ({})", minutes_text.text)
    reject(minutes > MAX_MINUTES, f"MIN above {MAX_MINUTES} ({{}})", minutes_text.text)
    numbers = {}
    for column, highest in MAXIMUM.items():
        values = _as_number(frame[column])
        reject(np.isnan(values), f"{column} is not a number ({{!r}})", frame[column])
        reject(values < 0, f"{column} is negative ({{}})", values)
        reject(values != np.round(values), f"{column} is not a whole number ({{}})", values)
        reject(values > highest, f"{column} is above {highest} ({{}})", values)
        numbers[column] = values
    plus_minus = _as_number(frame["PLUS_MINUS"])
    reject(
        frame["PLUS_MINUS"].notna().to_numpy() & np.isnan(plus_minus),
        "PLUS_MINUS is not a number ({!r})",
        frame["PLUS_MINUS"],
    )
    reject(np.abs(plus_minus) > MAX_PLUS_MINUS, f"PLUS_MINUS beyond ±{MAX_PLUS_MINUS} ({{}})", plus_minus)
    reject(plus_minus != np.round(plus_minus), "PLUS_MINUS is not a whole number ({})", plus_minus)
    for made, tried in (("FGM", "FGA"), ("FG3M", "FG3A"), ("FTM", "FTA"), ("FG3M", "FGM"), ("FG3A", "FGA")):
        reject(numbers[made] > numbers[tried], f"{made} above {tried}")
    reject(numbers["OREB"] + numbers["DREB"] != numbers["REB"], "REB is not OREB + DREB")
    reject(2 * numbers["FGM"] + numbers["FG3M"] + numbers["FTM"] != numbers["PTS"], "PTS is not 2*FGM + FG3M + FTM")

    # MATCHUP names the game's two teams and which one is at home ("CLE vs. IND": CLE at home;
    # "IND @ CLE": the same). At a neutral site both teams' lines carry the same text, so the
    # text decides the game's home and away whichever team a line belongs to, and the line's
    # own team (which must be one of the two) decides its side.
    matchups = Distinct(frame["MATCHUP"])
    first, where, second, well_formed = matchups.map_many(_matchup(team_codes), (object, object, object, bool))
    team_text = Distinct(frame["TEAM_ABBREVIATION"])
    team = team_text.map(lambda v: team_codes.get(v.lower()))
    reject(pd.isna(team), "unknown team code {!r} in TEAM_ABBREVIATION", team_text.text)
    reject(~well_formed, "MATCHUP is not 'TEAM vs. OPP' or 'TEAM @ OPP' ({!r})", matchups.text)
    reject(pd.isna(first), "unknown team code in MATCHUP ({!r})", matchups.text)
    reject(pd.isna(second), "unknown opponent code in MATCHUP ({!r})", matchups.text)
    reject(first == second, "the team plays itself in MATCHUP ({!r})", matchups.text)
    reject(
        (team != first) & (team != second),
        "the player's team is not in MATCHUP ({})",
        lambda: team_text.text() + " / " + matchups.text().astype(object),
    )

    first_at_home = np.isin(where, ["vs.", "vs"])
    home = np.where(first_at_home, first, second)
    away = np.where(first_at_home, second, first)
    is_home = (team == home).astype(bool)
    opponent = np.where(is_home, away, home)

    # The same player twice in a game: an exact copy of a line is quarantined as a duplicate
    # (the first copy loads); different numbers make both doubtful.
    key = np.where(np.isnan(player_ids), -1, player_ids).astype(np.int64) * 10**10 + games.map(
        lambda v: int(_game_id(v)) if _game_id(v) else -1, dtype=np.int64
    )
    repeated = pd.Series(key).duplicated(keep=False).to_numpy()
    duplicate_line = np.zeros(n, dtype=bool)
    if repeated.any():
        candidates = np.flatnonzero(repeated)
        copies = pd.Series([raw_lines[i].rstrip() for i in candidates], index=candidates).duplicated(keep="first")
        duplicate_line[candidates[copies.to_numpy()]] = True
        reject(duplicate_line, "duplicate row (the same line appears earlier)")
        distinct = pd.Series(key[~duplicate_line])
        twice = np.isin(key, distinct[distinct.duplicated()].to_numpy()) & ~duplicate_line
        reject(twice, "the same player twice in this game with different numbers")

    # Every line of a game must tell the same story (date, teams), and a game has two teams.
    if ok.any():
        story = pd.DataFrame({"game": games.codes, "date": dates_text.codes, "home": home, "away": away, "team": team})[
            ok
        ]
        told = story.drop_duplicates(["game", "date", "home", "away"])["game"].value_counts()
        sides = story.drop_duplicates(["game", "team"])["game"].value_counts()
        broken = set(told.index[told > 1]) | set(sides.index[sides != 2])
        reject(
            np.isin(games.codes, list(broken)),
            "the lines of this game disagree on its date or teams, or only one team's lines are present",
        )
    # Hold back every other line of a game that has a rejected line (duplicate copies excepted):
    # loading the rest would give the game a wrong score.
    bad = ~ok & ~duplicate_line
    first_bad: dict[str, int] = {}
    game_column = source.columns.index("GAME_ID")
    for line_number, _reason, raw_line in rejected:  # lines with a wrong number of fields
        values = next(csv.reader([raw_line]), [])
        game = _game_id(values[game_column]) if len(values) > game_column else None
        if game:
            first_bad.setdefault(game, line_number)
    for index in np.flatnonzero(bad):
        if game_ids[index] is not None:
            first_bad.setdefault(game_ids[index], int(line_numbers[index]))
    if first_bad:
        held = np.isin(game_ids.astype(str), list(first_bad)) & ok
        messages = np.full(n, "", dtype=object)
        messages[held] = [
            f"held back with its game {game}: line {first_bad[game]} of this game was rejected"
            for game in game_ids[held]
        ]
        reject(held, "{}", messages, kind=HELD_BACK)

    keep = ok
    valid = pd.DataFrame(
        {
            "player_nba_id": player_ids[keep].astype(np.int64),
            "player_name": names.text()[keep],
            "game_id": game_ids[keep],
            "season_type": season_type[keep],
            "date": days[keep],
            "season": seasons[keep],
            "team": team[keep],
            "opponent": opponent[keep],
            "home": home[keep],
            "away": away[keep],
            "is_home": is_home[keep],
            "seconds": np.round(minutes[keep] * 60).astype(np.int64),
            **{column.lower(): numbers[column][keep].astype(np.int64) for column in COUNT_COLUMNS},
            "plus_minus": plus_minus[keep],
            "line": line_numbers[keep],
        }
    )
    by_reason = Counter({WRONG_FIELD_COUNT: len(rejected)} if rejected else {})
    by_reason.update(kinds[~ok].tolist())
    rejected += [(int(line_numbers[i]), reasons[i], raw_lines[i]) for i in np.flatnonzero(~ok)]
    rejected.sort()
    return ParsedFile(source=source, rows_read=rows_read, valid=valid, rejected=rejected, rejected_by_reason=by_reason)


def games_from_lines(valid: pd.DataFrame) -> pd.DataFrame:
    """One row per game: date, teams, final scores (the sum of the players' points), overtimes.

    Overtimes come from the minutes played: 240 team minutes in regulation and 25 more per
    overtime. The logs round each player's minutes, which stays far inside half a period; a
    game whose minutes fit no number of periods (lines missing) gets no overtime count.
    """
    codes, game_ids = pd.factorize(valid["game_id"])
    games = len(game_ids)
    home = valid["is_home"].to_numpy(dtype=bool)
    points = valid["pts"].to_numpy(dtype=np.int64)
    seconds = valid["seconds"].to_numpy(dtype=np.int64)
    first = np.unique(codes, return_index=True)[1]
    out = valid.iloc[first][["game_id", "date", "season", "season_type", "home", "away"]].reset_index(drop=True)
    out["home_score"] = np.bincount(codes, weights=np.where(home, points, 0), minlength=games).astype(np.int64)
    out["away_score"] = np.bincount(codes, weights=np.where(home, 0, points), minlength=games).astype(np.int64)
    team_minutes = np.bincount(codes, weights=seconds, minlength=games) / 2 / 60
    periods = np.round((team_minutes - 240) / 25)
    fits = (periods >= 0) & (np.abs(team_minutes - 240 - 25 * periods) <= 10)
    out["overtimes"] = pd.array(np.where(fits, periods, 0).astype(np.int64), dtype="Int64")
    out.loc[~fits, "overtimes"] = pd.NA
    return out
