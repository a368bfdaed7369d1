"""The warehouse's table and column names for raw SQL, taken from the models' `_meta`.

Apps that read the warehouse with hand-written SQL (mlmodels' feature queries) name tables and
columns through these objects instead of string literals, so a renamed model, table or field
fails at import time with a clear error instead of at query time:

    from etl.schema import GAMES, LINES
    sql = f"SELECT {LINES.columns('player_id', 'pts')} FROM {LINES} WHERE {LINES.team} = %s"
    f"{GAMES.column(side)}"          # side = "home" or "away" -> "home_id" / "away_id"

`LINES.team` is the column of field `team` ("team_id"); `LINES.column("team_id")` accepts a
field name or a column name; `str(LINES)` is the table name ("etl_playergamelog").
"""

from __future__ import annotations

from django.db import models

from etl.models import Game, Player, PlayerGameLog, Team


class Table:
    """A model's database table and its columns by field name."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.name = model._meta.db_table
        self._columns: dict[str, str] = {}
        for field in model._meta.concrete_fields:
            self._columns[field.name] = field.column
            self._columns[field.column] = field.column  # "team_id" names the column too

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)

    def column(self, name: str) -> str:
        """The column of a field (by field name or column name); KeyError naming the model when
        it has no such field."""
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"{self.model.__name__} ({self.name}) has no field or column {name!r}") from None

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.column(name)
        except KeyError as exc:
            raise AttributeError(exc.args[0]) from None

    def columns(self, *names: str) -> str:
        """Columns as a comma-separated SQL list, each checked: columns('player_id', 'pts')."""
        return ", ".join(self.column(name) for name in names)


LINES = Table(PlayerGameLog)
GAMES = Table(Game)
PLAYERS = Table(Player)
TEAMS = Table(Team)
