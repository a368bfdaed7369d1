"""The per-(game, team) sums table stays equal to the lines, whatever writes them: the loader, ORM
saves, updates, bulk writes, deletes, a TRUNCATE. Compared with features.team_parts_from_lines (the
training path's own sums), on PostgreSQL and on the embedded SQLite (smoke)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from django.db import connection

from etl.lines import LINE_FIELDS, upsert_lines
from etl.models import PlayerGameLog
from etl.testing import load_logs, write_season_slice
from mlmodels.features import PART_SUMS, day_number, team_parts_from_lines
from mlmodels.models import TeamGamePart
from mlmodels.selectors import gamelog_arrays

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

KEYS = ("game_id", "team_id", "opponent_id")


def sums_from_lines() -> dict[tuple, list[int]]:
    """(game, team, opponent) -> [day, *PART_SUMS], summed in numpy from every line."""
    parts = team_parts_from_lines(gamelog_arrays())
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * (1 + len(PART_SUMS)))
    for row in range(len(parts["game_id"])):
        key = tuple(int(parts[name][row]) for name in KEYS)
        sums[key][0] = int(parts["date"][row])
        for i, name in enumerate(PART_SUMS, start=1):
            sums[key][i] += int(round(float(parts[name][row])))
    return dict(sums)


def sums_in_table() -> dict[tuple, list[int]]:
    return {
        tuple(row[:3]): [day_number(row[3]), *row[4:]]
        for row in TeamGamePart.objects.values_list(*KEYS, "date", *PART_SUMS)
    }


def assert_table_equals_lines():
    expected = sums_from_lines()
    assert sums_in_table() == expected


@pytest.fixture
def loaded(tmp_path):
    load_logs([write_season_slice(tmp_path, "2023-24", "2024-04-12")])
    assert PlayerGameLog.objects.count() > 300


def test_a_load_fills_the_sums(loaded):
    table = sums_in_table()
    assert table == sums_from_lines()
    games = PlayerGameLog.objects.values("game_id").distinct().count()
    assert len(table) == 2 * games  # both sides of every game
    assert all(row[PART_SUMS.index("pts") + 1] > 50 for row in table.values())


def test_the_sums_follow_every_kind_of_write(loaded):
    line = PlayerGameLog.objects.order_by("game_id", "player_id").first()
    before = sums_in_table()[(line.game_id, line.team_id, line.opponent_id)]

    PlayerGameLog.objects.filter(pk=line.pk).update(pts=line.pts + 40, fga=line.fga + 30)  # UPDATE
    after = sums_in_table()[(line.game_id, line.team_id, line.opponent_id)]
    assert after[PART_SUMS.index("pts") + 1] == before[PART_SUMS.index("pts") + 1] + 40
    assert_table_equals_lines()

    line.refresh_from_db()
    line.seconds += 600
    line.save()  # an ORM save
    assert_table_equals_lines()

    other = PlayerGameLog.objects.exclude(game_id=line.game_id).order_by("game_id").first()
    moved = PlayerGameLog.objects.filter(game_id=line.game_id).exclude(pk=line.pk).first()
    PlayerGameLog.objects.filter(pk=moved.pk).update(
        game_id=other.game_id, team_id=other.team_id, opponent_id=other.opponent_id, date=other.date
    )  # a line moved to another game: both games recomputed
    assert_table_equals_lines()

    copy = PlayerGameLog.objects.get(pk=moved.pk)
    copy.pk, copy.game_id = None, line.game_id
    copy.team_id, copy.opponent_id, copy.date = line.team_id, line.opponent_id, line.date
    PlayerGameLog.objects.bulk_create([copy])  # INSERT
    assert_table_equals_lines()

    PlayerGameLog.objects.filter(pk=line.pk).delete()  # DELETE
    assert_table_equals_lines()

    PlayerGameLog.objects.filter(game_id=other.game_id).delete()  # a game without lines has no sums
    assert not TeamGamePart.objects.filter(game_id=other.game_id).exists()
    assert_table_equals_lines()


def test_the_scraped_lines_upsert_moves_the_sums(loaded):
    line = PlayerGameLog.objects.order_by("game_id", "player_id").first()
    values = {"player_id": line.player_id, "game_id": line.game_id, **{f: getattr(line, f) for f in LINE_FIELDS}}
    values["pts"] = line.pts + 7
    counts = upsert_lines([values], source="bref")
    assert counts["updated"] == 1
    assert_table_equals_lines()


def test_an_upsert_counts_its_inserted_and_its_updated_lines_once(loaded):
    """One INSERT ... ON CONFLICT DO UPDATE that inserts a line and updates another of the same
    side fires both the insert and the update trigger, in an order PostgreSQL chooses: the inserted
    line counts once (an insert trigger that added its lines to sums the update trigger had already
    recounted from the table would count it twice: tried, and this test failed)."""
    line = PlayerGameLog.objects.order_by("game_id", "player_id").first()
    newcomer = (
        PlayerGameLog.objects.exclude(game_id=line.game_id)
        .exclude(player_id__in=PlayerGameLog.objects.filter(game_id=line.game_id).values("player_id"))
        .first()
    )
    table = PlayerGameLog._meta.db_table
    fields = ["player_id", "game_id", "source", *LINE_FIELDS]
    columns = ", ".join(PlayerGameLog._meta.get_field(name).column for name in fields)
    values = [getattr(line, name) for name in LINE_FIELDS]
    scored = [value + 5 if name == "pts" else value for name, value in zip(LINE_FIELDS, values, strict=True)]
    rows = [[line.player_id, line.game_id, "nba", *scored], [newcomer.player_id, line.game_id, "nba", *values]]
    placeholders = ", ".join("(" + ", ".join(["%s"] * len(fields)) + ")" for _ in rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {placeholders} "
            f"ON CONFLICT (game_id, player_id) DO UPDATE SET pts = excluded.pts",
            [value for row in rows for value in row],
        )
    assert PlayerGameLog.objects.filter(game_id=line.game_id, player_id=newcomer.player_id).exists()
    assert_table_equals_lines()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="TRUNCATE is PostgreSQL's")
def test_a_truncate_empties_the_sums(loaded):
    assert TeamGamePart.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {PlayerGameLog._meta.db_table}")
    assert not TeamGamePart.objects.exists()


def test_the_sums_are_integers_the_features_read_back(loaded):
    """The table holds what the inference path reads: sums as integers, equal to numpy's floats."""
    parts = team_parts_from_lines(gamelog_arrays())
    for name in PART_SUMS:
        values = np.asarray(parts[name], dtype=np.float64)
        assert np.array_equal(values, np.round(values)), name


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent writers are PostgreSQL's")
def test_concurrent_writers_of_one_game_leave_the_sums_of_both(tmp_path):
    """Two transactions insert lines of the same new game at the same time: the second one's refresh
    waits for the first one's commit and sums both (without the lock it would overwrite the first
    one's sums with those of a snapshot that lacks its lines)."""
    import threading

    from django.db import connections, transaction

    from nbaproject.testing.waiting import wait_for

    load_logs([write_season_slice(tmp_path, "2023-24", "2024-04-14")])
    game_id = PlayerGameLog.objects.order_by("game_id").values_list("game_id", flat=True).first()
    lines = list(PlayerGameLog.objects.filter(game_id=game_id).order_by("pk"))
    PlayerGameLog.objects.filter(game_id=game_id).delete()
    assert not TeamGamePart.objects.filter(game_id=game_id).exists()
    for line in lines:
        line.pk = None
    first, second = lines[::2], lines[1::2]
    first_written, first_may_commit = threading.Event(), threading.Event()
    second_pid: list[int] = []
    errors: list[BaseException] = []

    def write_first():
        try:
            with transaction.atomic():
                PlayerGameLog.objects.bulk_create(first)
                first_written.set()
                assert first_may_commit.wait(30)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_written.set()
        finally:
            connections.close_all()

    def write_second():
        try:
            assert first_written.wait(30)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                second_pid.append(cursor.fetchone()[0])
            PlayerGameLog.objects.bulk_create(second)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write_first), threading.Thread(target=write_second)]
    for thread in threads:
        thread.start()

    def second_waits() -> bool:
        if not second_pid:
            return False
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [second_pid[0]])
            return cursor.fetchone()[0] > 0

    try:
        wait_for(second_waits, 30, "the second writer waiting on the first one")
    finally:
        first_may_commit.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert PlayerGameLog.objects.filter(game_id=game_id).count() == len(lines)
    assert_table_equals_lines()
