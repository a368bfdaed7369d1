"""Packed int64 sort keys of the feature maths, with checked limits.

The features sort and search rows by composite keys (a player's lines by date, a team's games
by date, ...) packed into one int64 so numpy can sort and binary-search them. Each `Layout`
names its fields and their bit widths; `pack` (the keys of a table) refuses (KeyLimitError,
naming the field and its range) a value that would spill into its neighbour instead of silently
mixing two keys; `search` (keys to look up) maps such a value to a key that matches nothing.
"""

from __future__ import annotations

import numpy as np

DAY_BITS = 20  # day numbers (days since 1970-01-01): up to 2**20 - 1, the year 4840
GAME_BITS = 24  # game ids (the warehouse's primary keys)


class KeyLimitError(ValueError):
    """A value out of the range its field of a packed key can hold."""


class Layout:
    """Fields of a packed key, most significant first: [(name, bits)], 63 bits at most."""

    def __init__(self, name: str, fields: list[tuple[str, int]]):
        if sum(bits for _, bits in fields) > 63:
            raise ValueError(f"key {name}: {sum(bits for _, bits in fields)} bits do not fit in an int64")
        self.name, self.fields = name, fields

    def pack(self, *values) -> np.ndarray:
        """The keys of `values` (one array or scalar per field), each checked against its range."""
        if len(values) != len(self.fields):
            raise TypeError(f"key {self.name} packs {len(self.fields)} fields, got {len(values)}")
        key = np.zeros(np.broadcast(*values).shape, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)
        for (field, bits), value in zip(self.fields, values, strict=True):
            value = np.asarray(value, dtype=np.int64)
            if value.size:
                low, high = int(value.min()), int(value.max())
                if low < 0 or high >= 1 << bits:
                    bad = low if low < 0 else high
                    raise KeyLimitError(
                        f"{field} {bad} is out of the range 0..{(1 << bits) - 1} of the {bits}-bit "
                        f"'{field}' field of the ({', '.join(f for f, _ in self.fields)}) key "
                        "(mlmodels.keys)"
                    )
            key = (key << bits) | value
        return key

    def search(self, *values) -> np.ndarray:
        """Keys to look up in a table of packed keys (np.searchsorted): unchecked, since a value
        out of its field's range (an unknown team -1, an id never stored) simply matches no
        stored key: its key is -1, before them all."""
        arrays = [np.asarray(value, dtype=np.int64) for value in values]
        key = np.zeros(np.broadcast(*arrays).shape, dtype=np.int64)
        inside = np.ones(key.shape, dtype=bool)
        for (_, bits), value in zip(self.fields, arrays, strict=True):
            inside &= (value >= 0) & (value < 1 << bits)
            key = (key << bits) | (value & ((1 << bits) - 1))
        return np.where(inside, key, -1)

    def unpack(self, keys: np.ndarray) -> tuple[np.ndarray, ...]:
        """The fields of packed keys, most significant first."""
        keys = np.asarray(keys, dtype=np.int64)
        out, shift = [], 0
        for _, bits in reversed(self.fields):
            out.append((keys >> shift) & ((1 << bits) - 1))
            shift += bits
        return tuple(reversed(out))


# a group's rows by date (a player's lines, a team's games)
GROUP_DAY = Layout("group_day", [("group", 63 - DAY_BITS), ("day", DAY_BITS)])
# a team's games: team, date, game
TEAM_DAY_GAME = Layout("team_day_game", [("team", 63 - DAY_BITS - GAME_BITS), ("day", DAY_BITS), ("game", GAME_BITS)])
# a player's lines for a team, by the team game's index in its sorted table
PLAYER_TEAM_ROW = Layout("player_team_row", [("player", 23), ("team", 20), ("row", 20)])
# (team, game) pairs of the team-game table
TEAM_GAME = Layout("team_game", [("team", 31), ("game", 32)])
