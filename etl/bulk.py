"""Database plumbing of the bulk loader: COPY in and out, staging tables, counted upserts and
the index rebuild of big loads. No business rule lives here (what is loaded, and which line
wins, is etl.services' and etl.lines' business).

On PostgreSQL rows travel through psycopg 3's `cursor.copy()`: in by binary COPY with the column
types given by `set_types` and one `write_row` per row; out by a text COPY TO that pandas' C
parser reads. On SQLite (the embedded default) the same calls fall back to executemany / fetchall.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from django.db import connection, models

# format_type() names -> the psycopg type names binary COPY is told (varchar travels as text).
_COPY_TYPES = {
    "bigint": "int8",
    "integer": "int4",
    "smallint": "int2",
    "boolean": "bool",
    "date": "date",
    "character varying": "text",
    "text": "text",
}


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def column_types(table: str) -> dict[str, str]:
    """PostgreSQL column name -> the type name binary COPY uses for it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [table],
        )
        return {name: _COPY_TYPES.get(type_name, type_name) for name, type_name in cursor.fetchall()}


def _python_values(values: np.ndarray | None, rows: int, nullable: bool) -> list:
    """A numpy column as the Python values a database driver takes (dates as datetime.date,
    NaN as None in a nullable column, None everywhere for a None column)."""
    if values is None:
        return [None] * rows
    if values.dtype.kind == "M":
        return values.astype("datetime64[D]").tolist()
    if nullable:  # whole numbers as Python ints, NaN as None: vectorised, not a Python test per row
        missing = np.isnan(values)
        python = np.where(missing, 0, values).astype(np.int64).astype(object)
        python[missing] = None
        return python.tolist()
    return values.tolist()


def bulk_write(table: str, columns: dict[str, np.ndarray | None], nullable: str | None = None) -> None:
    """Append rows to a table: binary COPY on PostgreSQL, executemany elsewhere.

    columns: name -> values (None: NULL in every row); the `nullable` column's NaNs are NULLs.
    """
    names = list(columns)
    rows = len(next(values for values in columns.values() if values is not None))
    lists = [_python_values(columns[name], rows, name == nullable) for name in names]
    with connection.cursor() as cursor:
        if is_postgresql():
            types = column_types(table)
            with cursor.cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT binary)") as copy:
                copy.set_types([types[name] for name in names])
                for row in zip(*lists, strict=True):
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(names))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", list(zip(*lists, strict=True)))


def read_integers(select: str, names: list[str]) -> pd.DataFrame:
    """The rows of a SELECT whose columns are all integers (never NULL), as an int64 frame. On
    PostgreSQL they come by COPY TO (text) and pandas' C parser reads them: no Python per row."""
    with connection.cursor() as cursor:
        if not is_postgresql():
            cursor.execute(select)
            rows = cursor.fetchall()
            return pd.DataFrame(np.array(rows, dtype=np.int64).reshape(len(rows), len(names)), columns=names)
        with cursor.cursor.copy(f"COPY ({select}) TO STDOUT") as copy:
            data = b"".join(bytes(block) for block in copy)
    if not data:
        return pd.DataFrame({name: np.empty(0, dtype=np.int64) for name in names})
    return pd.read_csv(io.BytesIO(data), sep="\t", header=None, names=names, dtype=np.int64, engine="c")


def create_stage(table: str, columns_sql: str) -> None:
    """A temporary staging table (dropped first if a failed load left one)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns_sql})")


def drop_stages(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def empty_stage(table: str) -> None:
    """TRUNCATE on PostgreSQL (a new empty file, where DELETE leaves dead rows to scan past)."""
    with connection.cursor() as cursor:
        cursor.execute(f"{'TRUNCATE' if is_postgresql() else 'DELETE FROM'} {table}")


def fill_stage(table: str, names: list[str], rows: list[tuple]) -> None:
    """Replace a staging table's rows (small tables: players and games of one file)."""
    empty_stage(table)
    with connection.cursor() as cursor:
        if is_postgresql():
            with cursor.cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif rows:
            marks = ", ".join(["%s"] * len(names))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)


def differs() -> str:
    """Null-safe 'not equal' of the database (rows compared as a whole)."""
    return "IS DISTINCT FROM" if is_postgresql() else "IS NOT"


def scalar(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def table_count(table: str) -> int:
    return scalar(f"SELECT count(*) FROM {table}")


def upsert(table: str, sql: str, params=()) -> tuple[int, int]:
    """Run an INSERT ... ON CONFLICT DO UPDATE into `table`; returns (rows inserted, rows written).
    PostgreSQL tells inserted from updated rows by RETURNING (xmax = 0), sparing two counts."""
    with connection.cursor() as cursor:
        if is_postgresql():
            cursor.execute(f"{sql} RETURNING (xmax = 0)", params)
            flags = cursor.fetchall()
            return sum(1 for (inserted,) in flags if inserted), len(flags)
        before = table_count(table)
        cursor.execute(sql, params)
        written = cursor.rowcount
    return table_count(table) - before, written


# --- the index rebuild of big loads (PostgreSQL) -----------------------------------------------


def _indexes(model: type[models.Model]) -> list:
    """A model's secondary indexes and constraints (from its Meta), which a bulk load rebuilds."""
    return [*model._meta.indexes, *model._meta.constraints]


def _primary_key_to_rebuild(table: str) -> str | None:
    """The table's primary key constraint, when no foreign key depends on it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'p' AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE "
            "f.confrelid = %s::regclass AND f.contype = 'f')",
            [table, table],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def drop_indexes(model: type[models.Model]) -> str | None:
    """Drop a model's indexes and constraints (and its primary key when nothing references it);
    returns the primary key's name to re-add."""
    table = model._meta.db_table
    primary_key = _primary_key_to_rebuild(table)
    with connection.schema_editor(atomic=False) as editor:
        for item in _indexes(model):
            if isinstance(item, models.Index):
                editor.remove_index(model, item)
            else:
                editor.remove_constraint(model, item)
        if primary_key:
            editor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{primary_key}"')
    return primary_key


def drop_foreign_keys(model: type[models.Model]) -> list[tuple[str, str]]:
    """Drop a table's foreign keys for a bulk load; returns [(name, definition)] to add back.

    Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: every row inserted queues a check
    (one look-up of the referenced row) that runs at COMMIT, row by row. Added back after the
    load, a foreign key checks all rows with one join instead. Not inside an outer transaction
    that already wrote to the table: PostgreSQL refuses to alter a table with pending checks."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        keys = cursor.fetchall()
        if keys:
            cursor.execute(f"ALTER TABLE {table} " + ", ".join(f'DROP CONSTRAINT "{name}"' for name, _ in keys))
    return keys


def add_foreign_keys(model: type[models.Model], keys: list[tuple[str, str]]) -> None:
    """Add back what drop_foreign_keys dropped (same names and definitions; every row is checked)."""
    if keys:
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE {model._meta.db_table} "
                + ", ".join(f'ADD CONSTRAINT "{name}" {definition}' for name, definition in keys)
            )


def build_indexes(model: type[models.Model], primary_key: str | None) -> None:
    """Build again what drop_indexes dropped."""
    table = model._meta.db_table
    with connection.schema_editor(atomic=False) as editor:
        if primary_key:
            editor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{primary_key}" PRIMARY KEY ({model._meta.pk.column})')
        for item in _indexes(model):
            if isinstance(item, models.Index):
                editor.add_index(model, item)
            else:
                editor.add_constraint(model, item)
