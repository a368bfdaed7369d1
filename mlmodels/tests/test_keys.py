"""Packed sort keys of the feature maths: a value out of its field's range is a clear error for a
table's keys and matches nothing when looked up (no silent mix of two keys)."""

from __future__ import annotations

import numpy as np
import pytest

from mlmodels.keys import (
    GROUP_DAY,
    PLAYER_TEAM_ROW,
    TEAM_DAY_GAME,
    KeyLimitError,
    Layout,
)


def test_pack_and_unpack_round_trip_and_sort_like_the_tuples():
    team, day, game = np.array([3, 3, 1]), np.array([19800, 19790, 20000]), np.array([7, 9, 12])
    keys = TEAM_DAY_GAME.pack(team, day, game)
    assert [tuple(map(int, f)) for f in TEAM_DAY_GAME.unpack(keys)] == [tuple(team), tuple(day), tuple(game)]
    assert np.argsort(keys).tolist() == sorted(range(3), key=lambda i: (team[i], day[i], game[i]))


@pytest.mark.parametrize(
    "layout, values, message",
    [
        (GROUP_DAY, (np.array([5]), np.array([1 << 20])), r"day 1048576 is out of the range 0..1048575"),
        (GROUP_DAY, (np.array([5]), np.array([-3])), r"day -3 is out of the range"),
        (
            TEAM_DAY_GAME,
            (np.array([1]), np.array([19000]), np.array([1 << 24])),
            r"'game' field of the \(team, day, game\)",
        ),
        (PLAYER_TEAM_ROW, (np.array([1 << 23]), np.array([1]), np.array([0])), r"player 8388608"),
    ],
)
def test_a_value_that_does_not_fit_its_field_is_refused(layout, values, message):
    with pytest.raises(KeyLimitError, match=message):
        layout.pack(*values)


def test_a_lookup_out_of_range_finds_no_row():
    table = np.sort(GROUP_DAY.pack(np.array([1, 1, 2]), np.array([10, 20, 10])))
    unknown_team = GROUP_DAY.search(np.array([-1, -1]), np.array([15, 30]))
    assert np.searchsorted(table, unknown_team).tolist() == [0, 0]  # an empty window
    assert (
        GROUP_DAY.search(np.array([1]), np.array([20])).tolist()
        == GROUP_DAY.pack(np.array([1]), np.array([20])).tolist()
    )


def test_a_layout_wider_than_an_int64_is_refused():
    with pytest.raises(ValueError, match="do not fit in an int64"):
        Layout("too_wide", [("a", 40), ("b", 24)])
