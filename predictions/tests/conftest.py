"""Fixtures of the predictions tests: real bundled game logs, users, a trained model set.

Transactional tests TRUNCATE every table afterwards (warehouse and model registry included),
so the fixtures below check what is there and load it again when it is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from etl import testing as data
from nbaproject.testing.waiting import wait_for

SEASON = "2023-24"
SLICE_FROM = "2024-03-31"  # the last two weeks of 2023-24: every active player, ~2,500 lines


def load_logs(path: Path) -> dict:
    return data.load_logs([path])


@pytest.fixture(scope="session")
def recent_slice(tmp_path_factory) -> Path:
    """A small real file: the bundled 2023-24 logs from SLICE_FROM on."""
    return data.write_season_slice(tmp_path_factory.mktemp("logs"), SEASON, SLICE_FROM)


@pytest.fixture
def recent_games(db, recent_slice):
    """The last two weeks of 2023-24 in the warehouse (inside the test's transaction)."""
    return load_logs(recent_slice)


def ensure_season() -> None:
    """The whole 2023-24 season in the warehouse (loaded again after a TRUNCATE)."""
    from etl.models import PlayerGameLog

    if PlayerGameLog.objects.filter(season=SEASON).count() < 20000:
        load_logs(data.season_file(SEASON))


@pytest.fixture(scope="session")
def trained_model_rows(django_db_setup, django_db_blocker):
    """Train tiny real models once per session (quick mode); keep their registry rows so a
    transactional test's TRUNCATE can be undone (the artifacts stay on disk)."""
    from mlmodels.models import ModelVersion
    from mlmodels.services import train_models

    with django_db_blocker.unblock():
        ensure_season()
        if not ModelVersion.objects.filter(active=True).exists():
            train_models(quick=True)
        return list(ModelVersion.objects.values())


def restore_models(rows: list[dict]) -> None:
    from mlmodels.models import ModelVersion

    if not ModelVersion.objects.filter(active=True).exists():
        ModelVersion.objects.bulk_create([ModelVersion(**row) for row in rows], ignore_conflicts=True)


@pytest.fixture
def worker_with_season(transactional_db, celery_worker):
    """A worker and the 2023-24 season (enough for requests that end before the models)."""
    ensure_season()
    return celery_worker


@pytest.fixture
def pipeline(worker_with_season, trained_model_rows):
    """A worker, the 2023-24 season and an active model set: the full pipeline can run."""
    restore_models(trained_model_rows)
    return worker_with_season


def make_user(name: str, staff: bool = False):
    user, _ = get_user_model().objects.get_or_create(username=name, defaults={"is_staff": staff})
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def alice_client(alice):
    return client_for(alice)


def wait_until_done(request_id, timeout: float = 60):
    """The request once succeeded or failed (fails the test on timeout, with its state)."""
    from predictions.models import PredictionRequest

    def fetch():
        return PredictionRequest.objects.select_related("player", "team", "opponent", "game").get(pk=request_id)

    def describe():
        job = fetch()
        return f"{job.status} {job.stage} enqueue_error={job.enqueue_error!r} message={job.message!r}"

    return wait_for(lambda: (job := fetch()).is_done and job, timeout, f"request {request_id} done", describe=describe)


class TriggerHold:
    """Holds every run of a task inside its first write until release(): a test-only PostgreSQL
    trigger on `table` waits (before the insert, inside the task's transaction) on an advisory lock
    the test holds, so the task is mid-run, its message unacknowledged, for as long as the test
    needs. `condition` (plpgsql on NEW, optional) narrows which rows wait; `name` names the
    trigger and its function."""

    def __init__(self, name: str, table: str, lock: int, condition: str = "TRUE"):
        self.name, self.table, self.lock, self.condition = name, table, lock, condition
        self.held = False

    def __enter__(self):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {self.name}() RETURNS trigger AS $$ BEGIN "
                f"IF {self.condition} THEN PERFORM pg_advisory_xact_lock_shared({self.lock}); END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(f"DROP TRIGGER IF EXISTS {self.name} ON {self.table}")
            cursor.execute(
                f"CREATE TRIGGER {self.name} BEFORE INSERT ON {self.table} FOR EACH ROW EXECUTE FUNCTION {self.name}()"
            )
            cursor.execute("SELECT pg_advisory_lock(%s)", [self.lock])
        self.held = True
        return self

    def waiting(self) -> int:
        """Sessions of this database stopped at the hold (mid-run)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = %s AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())",
                [self.lock],
            )
            return cursor.fetchone()[0]

    def end_waiting(self) -> int:
        """End the sessions stopped at the hold (pg_terminate_backend), as a crash would: the write of a
        task whose process was killed there rolls back instead of going on once released (PostgreSQL
        does not notice a client gone while the session waits on a lock). Returns how many."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [self.lock],
            )
            pids = [pid for (pid,) in cursor.fetchall()]
            for pid in pids:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

        def gone() -> bool:  # ended, its transaction rolled back, before anything releases the hold
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
                return cursor.fetchone()[0] == 0

        wait_for(gone, 30, "the sessions stopped at the hold ended")
        return len(pids)

    def release(self):
        from django.db import connection

        if self.held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.lock])
            self.held = False

    def __exit__(self, *exc):
        from django.db import connection

        self.release()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {self.name} ON {self.table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {self.name}()")
