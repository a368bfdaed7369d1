"""The shared features: no leakage from later games, the same numbers on the training path (whole
table) and the inference path (a few indexed queries), and a hand check of the teammate features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from mlmodels.features import (
    FEATURE_NAMES,
    MATES_GAMES,
    build_training_frame,
    day_number,
)
from mlmodels.selectors import gamelog_arrays
from mlmodels.tests.conftest import sample_rows
from mlmodels.warehouse import build_features_for

pytestmark = pytest.mark.services

CUT = dt.date(2024, 4, 2)
STATS = ["seconds", "pts", "fga", "fg3a", "fta", "tov", "oreb"]


@pytest.fixture(scope="module")
def arrays(slice_loaded, django_db_blocker):
    with django_db_blocker.unblock():
        return gamelog_arrays()


def features_of(arrays) -> np.ndarray:
    frame = build_training_frame(arrays)
    return frame[FEATURE_NAMES].to_numpy(dtype=np.float64)


def test_changing_later_games_changes_no_earlier_feature_row(arrays):
    before = features_of(arrays)
    later = arrays["date"] >= day_number(CUT)
    assert 0 < later.sum() < len(later)
    changed = {name: values.copy() for name, values in arrays.items()}
    rng = np.random.default_rng(0)
    for name in STATS:
        changed[name][later] = changed[name][later] * 3 + rng.integers(1, 9, later.sum())
    changed["starter"][later] = 1.0
    after = features_of(changed)
    earlier_or_same_day = arrays["date"] <= day_number(CUT)
    np.testing.assert_array_equal(before[earlier_or_same_day], after[earlier_or_same_day])
    # the change is visible after the cut, so the comparison above could fail
    strictly_later = arrays["date"] > day_number(CUT)
    assert not np.array_equal(before[strictly_later], after[strictly_later], equal_nan=True)


def test_removing_later_games_changes_no_earlier_feature_row(arrays):
    keep = arrays["date"] < day_number(CUT) + 1  # up to and including the cut day
    before = features_of(arrays)[keep]
    after = features_of({name: values[keep] for name, values in arrays.items()})
    np.testing.assert_array_equal(before, after)


@pytest.mark.django_db
def test_inference_path_builds_the_training_rows(arrays):
    frame = build_training_frame(arrays).set_index(["player_id", "game_id"])
    rows = sample_rows(60)
    for row in rows:
        expected = frame.loc[(row["player_id"], row["game_id"]), FEATURE_NAMES].to_numpy(dtype=np.float64)
        built = build_features_for(
            row["player_id"], row["date"], row["opponent_id"], row["is_home"], team_id=row["team_id"]
        )
        got = np.array([np.nan if built[n] is None else built[n] for n in FEATURE_NAMES])
        np.testing.assert_allclose(
            got,
            expected,
            rtol=1e-9,
            atol=1e-9,
            equal_nan=True,
            err_msg=f"player {row['player_id']} game {row['game_id']}",
        )
    assert sum(not np.isnan(frame.loc[(r["player_id"], r["game_id"]), "pts_mean_5"]) for r in rows) > 40


@pytest.mark.django_db
def test_the_team_defaults_to_the_players_team_in_his_last_game():
    from etl.models import PlayerGameLog

    row = sample_rows(1, seed=11)[0]
    last_team = (
        PlayerGameLog.objects.filter(player_id=row["player_id"], date__lt=row["date"])
        .order_by("-date")
        .values_list("team_id", flat=True)
        .first()
    )
    explicit = build_features_for(row["player_id"], row["date"], row["opponent_id"], row["is_home"], team_id=last_team)
    assert build_features_for(row["player_id"], row["date"], row["opponent_id"], row["is_home"]) == explicit


@pytest.mark.django_db
def test_teammate_features_by_hand():
    """mates_absent_usg recomputed in plain Python from the ORM for one player-game."""
    from etl.models import PlayerGameLog

    row = next(r for r in sample_rows(80, seed=5) if r["date"] >= dt.date(2024, 4, 5))
    team_games = list(
        PlayerGameLog.objects.filter(team_id=row["team_id"], date__lt=row["date"])
        .values_list("game_id", "date")
        .distinct()
        .order_by("-date")[:MATES_GAMES]
    )
    window = {game for game, _ in team_games}
    last_game = team_games[0][0]
    lines = list(PlayerGameLog.objects.filter(team_id=row["team_id"], game_id__in=window))
    usage = {}
    for line in lines:
        usage[line.player_id] = usage.get(line.player_id, 0.0) + line.fga + 0.44 * line.fta + line.tov
    played_last = {line.player_id for line in lines if line.game_id == last_game}
    absent = sum(u for player, u in usage.items() if player not in played_last and player != row["player_id"])
    present = sum(u for player, u in usage.items() if player in played_last and player != row["player_id"])
    built = build_features_for(
        row["player_id"], row["date"], row["opponent_id"], row["is_home"], team_id=row["team_id"]
    )
    assert built["mates_absent_usg"] == pytest.approx(absent / len(window))
    assert built["mates_present_usg"] == pytest.approx(present / len(window))
    assert built["roster_last"] == len(played_last)


@pytest.mark.django_db
def test_who_is_out_from_a_list_gives_the_backtests_who_actually_played(arrays):
    """The `out` list at serving time and the backtest's "who actually played" are one feature
    function: declaring exactly the absentees gives the training row's numbers."""
    from etl.models import PlayerGameLog
    from mlmodels.features import OUT_FEATURES

    frame = build_training_frame(arrays, out="actual").set_index(["player_id", "game_id"])
    checked = 0
    for row in sample_rows(40, seed=9):
        window = list(
            PlayerGameLog.objects.filter(team_id=row["team_id"], date__lt=row["date"])
            .values_list("game_id", "date")
            .distinct()
            .order_by("-date")[:MATES_GAMES]
        )
        recent = set(
            PlayerGameLog.objects.filter(team_id=row["team_id"], game_id__in=[g for g, _ in window]).values_list(
                "player_id", flat=True
            )
        )
        played = set(
            PlayerGameLog.objects.filter(game_id=row["game_id"], team_id=row["team_id"]).values_list(
                "player_id", flat=True
            )
        )
        out = sorted(recent - played) + [999_999_999]  # an unknown id counts for nothing
        built = build_features_for(
            row["player_id"], row["date"], row["opponent_id"], row["is_home"], team_id=row["team_id"], out=out
        )
        expected = frame.loc[(row["player_id"], row["game_id"]), OUT_FEATURES].to_numpy(dtype=np.float64)
        got = np.array([np.nan if built[n] is None else built[n] for n in OUT_FEATURES])
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, equal_nan=True)
        checked += bool(window) and bool(recent - played)
    assert checked >= 5  # rows where someone was really out


@pytest.mark.django_db
def test_who_is_out_unknown_empty_and_declared():
    row = sample_rows(1, seed=4)[0]
    args = (row["player_id"], row["date"], row["opponent_id"], row["is_home"])
    unknown = build_features_for(*args, team_id=row["team_id"])
    nobody = build_features_for(*args, team_id=row["team_id"], out=[])
    assert unknown["out_usg"] is None and nobody["out_usg"] == 0.0
    assert {k: v for k, v in unknown.items() if not k.startswith("out_")} == {
        k: v for k, v in nobody.items() if not k.startswith("out_")
    }
    from etl.models import PlayerGameLog

    mate = (
        PlayerGameLog.objects.filter(team_id=row["team_id"], date__lt=row["date"])
        .exclude(player_id=row["player_id"])
        .order_by("-date", "-fga")
        .first()
    )
    declared = build_features_for(*args, team_id=row["team_id"], out=[mate.player_id, row["player_id"]])
    assert declared["out_usg"] > 0 and declared["out_min"] > 0  # himself in the list counts for nothing
