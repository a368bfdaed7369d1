"""The per-(game, team) sums table (mlmodels.models.TeamGamePart) and the triggers that keep it equal
to the warehouse's lines.

A prediction's team features need both teams' last TEAM_GAMES games, summed per side. Summing
them from the lines at request time (some 900 lines, fifteen sums each) was the costliest
statement of a prediction; the sums change only when lines do, so triggers on the lines table
recompute the sums of every game a statement touched, on PostgreSQL (one statement-level trigger
per operation, with transition tables) and on the embedded SQLite (row-level triggers). Every
writer of lines is covered without knowing of this table: the ETL, the scraped loads, the admin,
tests' factories. The sums are the SQL twin of `features.team_parts_from_lines` (a test compares
them), so changing those means a migration that calls `install` again.
"""

from __future__ import annotations

from etl.schema import LINES, Table
from mlmodels.features import PART_SUMS, ROLE_THRESHOLDS
from mlmodels.models import TeamGamePart

PARTS = Table(TeamGamePart)


def line_values(row: str = "") -> list[str]:
    """team_parts_from_lines in SQL: one line's PART_SUMS, as expressions on the lines' columns
    (prefixed with `row`, e.g. "NEW.")."""
    fga, fta, tov, oreb, pts, seconds = (
        f"{row}{LINES.column(name)}" for name in ("fga", "fta", "tov", "oreb", "pts", "seconds")
    )
    usage = f"(100 * {fga} + 44 * {fta} + 100 * {tov})"
    high, mid = (int(threshold * 100) for threshold in ROLE_THRESHOLDS)
    roles = [f"{usage} >= {high}", f"{usage} < {high} AND {usage} >= {mid}", f"{usage} < {mid}"]
    return [f"{usage} - 100 * {oreb}", pts, usage] + [
        f"CASE WHEN {where} THEN {value} ELSE 0 END" for where in roles for value in (pts, usage, seconds, "1")
    ]


# per (game, team) sums of its lines, overall and per usage role
SUMS_SQL = ", ".join(f"SUM({value})" for value in line_values())
_KEYS = ("game_id", "team_id", "opponent_id")
_INSERT = f"INSERT INTO {PARTS} ({PARTS.columns(*_KEYS, 'date', *PART_SUMS)})"
_NAME = "mlmodels_team_parts"
# PostgreSQL: the refreshes of concurrent writers of lines run one after the other (their
# transactions), so each one's sums are read after the other's lines were committed.
REFRESH_LOCK = 0x7465616D  # "team"


def refresh_sql(games_where: str) -> str:
    """Recompute the sums of the games `games_where` selects (a condition on the lines' game id):
    delete theirs, insert them again from the lines (a game without lines left gets none)."""
    keys = LINES.columns(*_KEYS)
    replace = ", ".join(f"{name} = excluded.{name}" for name in ("date", *PART_SUMS))
    return (
        f"DELETE FROM {PARTS} WHERE {PARTS.game} {games_where}; "
        f"{_INSERT} SELECT {keys}, MIN({LINES.date}), {SUMS_SQL} FROM {LINES} "
        f"WHERE {LINES.game} {games_where} GROUP BY {keys} "
        f"ON CONFLICT ({PARTS.columns(*_KEYS)}) DO UPDATE SET {replace};"
    )


def _postgresql() -> list[str]:
    touched = {
        "INSERT": "IN (SELECT game_id FROM new_lines)",
        "DELETE": "IN (SELECT game_id FROM old_lines)",
        "UPDATE": "IN (SELECT game_id FROM new_lines UNION SELECT game_id FROM old_lines)",
    }
    statements = [
        # The touched games as a semi-join on the transition table (not an array: a first load's
        # thousands of games against a lines table without its indexes would compare each line with each)
        f"""CREATE OR REPLACE FUNCTION {_NAME}_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock({REFRESH_LOCK});
  IF TG_OP = 'INSERT' THEN {refresh_sql(touched["INSERT"])}
  ELSIF TG_OP = 'DELETE' THEN {refresh_sql(touched["DELETE"])}
  ELSE {refresh_sql(touched["UPDATE"])}
  END IF;
  RETURN NULL;
END $$""",
        f"""CREATE OR REPLACE FUNCTION {_NAME}_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM {PARTS}; RETURN NULL; END $$""",
    ]
    transition = {
        "INSERT": "REFERENCING NEW TABLE AS new_lines",
        "UPDATE": "REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines",
        "DELETE": "REFERENCING OLD TABLE AS old_lines",
    }
    for operation, referencing in transition.items():
        statements.append(f"DROP TRIGGER IF EXISTS {_NAME}_{operation.lower()} ON {LINES}")
        statements.append(
            f"CREATE TRIGGER {_NAME}_{operation.lower()} AFTER {operation} ON {LINES} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_NAME}_refresh()"
        )
    statements.append(f"DROP TRIGGER IF EXISTS {_NAME}_truncate ON {LINES}")
    statements.append(
        f"CREATE TRIGGER {_NAME}_truncate AFTER TRUNCATE ON {LINES} FOR EACH STATEMENT EXECUTE FUNCTION {_NAME}_clear()"
    )
    return statements


def _sqlite() -> list[str]:
    """Row-level triggers (SQLite has no statement-level ones): an inserted line adds its values to
    its side's sums (a first load inserts every line: recomputing the game each time would take
    four times the load; its date is the game's, as its side's first line's), an update or a delete
    recomputes the games concerned."""
    increments = ", ".join(f"{name} = {name} + excluded.{name}" for name in PART_SUMS)
    add_line = (
        f"{_INSERT} VALUES ({', '.join(f'NEW.{LINES.column(name)}' for name in (*_KEYS, 'date'))}, "
        f"{', '.join(line_values('NEW.'))}) ON CONFLICT ({PARTS.columns(*_KEYS)}) DO UPDATE SET "
        f"{increments};"
    )
    bodies = {
        "insert": add_line,
        "update": refresh_sql("IN (OLD.game_id, NEW.game_id)"),
        "delete": refresh_sql("= OLD.game_id"),
    }
    statements = []
    for operation, body in bodies.items():
        statements.append(f"DROP TRIGGER IF EXISTS {_NAME}_{operation}")
        statements.append(
            f"CREATE TRIGGER {_NAME}_{operation} AFTER {operation.upper()} ON {LINES} FOR EACH ROW BEGIN {body} END"
        )
    return statements


def install(connection) -> None:
    """(Re)create the triggers on `connection`'s database and recompute every game's sums."""
    statements = _postgresql() if connection.vendor == "postgresql" else _sqlite()
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(f"DELETE FROM {PARTS}")
        keys = LINES.columns(*_KEYS)
        cursor.execute(f"{_INSERT} SELECT {keys}, MIN({LINES.date}), {SUMS_SQL} FROM {LINES} GROUP BY {keys}")


def uninstall(connection) -> None:
    """Drop the triggers (the migration's reverse; the table goes with the model)."""
    with connection.cursor() as cursor:
        for operation in ("insert", "update", "delete", "truncate"):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {_NAME}_{operation} ON {LINES}")
            elif operation != "truncate":
                cursor.execute(f"DROP TRIGGER IF EXISTS {_NAME}_{operation}")
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {_NAME}_refresh(), {_NAME}_clear()")
