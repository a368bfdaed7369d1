"""`manage.py backtest` (quick, small real slices): the JSON shape the issue fixes, baselines a
fan could compute, the report with its PNG plots, and the admin pages showing it all."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from etl.models import PlayerGameLog
from mlmodels.models import BacktestReport, ModelVersion, TrainingRun

pytestmark = [pytest.mark.services, pytest.mark.django_db]

MODEL_KEYS = {"mae", "pinball", "coverage_80", "width_80"}


@pytest.fixture(scope="module")
def backtest(slice_loaded, django_db_blocker):
    """`manage.py backtest --test-season 2023-24 --json --quick`, run once: (printed JSON, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with django_db_blocker.unblock():
        call_command("backtest", "--test-season", "2023-24", "--json", "--quick", stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def test_the_printed_json_has_exactly_the_issues_shape(backtest):
    result, progress = backtest
    assert set(result) == {"test_season", "rows", "models", "populations", "calibration", "with_out"}
    assert result["test_season"] == "2023-24"
    assert set(result["models"]) == {
        "ensemble",
        "lightgbm",
        "keras",
        "baseline_last5",
        "baseline_last10",
        "baseline_season_avg",
    }
    for name in ("ensemble", "lightgbm", "keras"):
        metrics = result["models"][name]
        assert set(metrics) == MODEL_KEYS and all(isinstance(v, float) for v in metrics.values())
        assert 0 <= metrics["coverage_80"] <= 1 and metrics["width_80"] > 0 and metrics["mae"] > 0
    for name in ("baseline_last5", "baseline_last10", "baseline_season_avg"):
        assert set(result["models"][name]) >= {"mae"}
    assert "%" in progress  # progress lines went to stderr, stdout is only the JSON
    assert set(result["populations"]) == {"market", "minutes_0_15", "minutes_15_25", "minutes_25_32", "minutes_32_plus"}
    for name, population in result["populations"].items():
        assert population["rows"] > 0, name
        assert set(population["models"]) == set(result["models"])
        for model in ("ensemble", "lightgbm", "keras"):
            assert set(population["models"][model]) == {"mae", "coverage_80", "width_80"}
        assert set(population["models"]["baseline_last10"]) == {"mae"}


def _with_previous_ten(field: str) -> list[tuple[float, list[float]]]:
    """(its `field`, the player's previous (up to) 10 values of it) of each 2023-24 line that has an
    earlier line of its player in the data (the test rows), in the test rows' order."""
    history: dict[int, list[float]] = {}
    rows = []
    for player, season, value in PlayerGameLog.objects.order_by("date", "player_id").values_list(
        "player_id", "season", field
    ):
        previous = history.setdefault(player, [])
        if season == "2023-24" and previous:
            rows.append((value, previous[-10:]))
        previous.append(value)
    return rows


def _minutes_last10_by_hand() -> list[float]:
    """Each 2023-24 test row's average minutes over the player's previous (up to) 10 games."""
    return [float(np.mean(previous)) / 60 for _, previous in _with_previous_ten("seconds")]


def test_the_populations_follow_their_definitions_on_the_slice(backtest):
    """Tiers by average minutes over the previous 10 games; market = the 74% with the most."""
    result, _ = backtest
    populations = result["populations"]
    averages = np.array(_minutes_last10_by_hand())
    assert len(averages) == result["rows"]
    for name, (low, high) in {
        "minutes_0_15": (0, 15),
        "minutes_15_25": (15, 25),
        "minutes_25_32": (25, 32),
        "minutes_32_plus": (32, 1e9),
    }.items():
        assert populations[name]["rows"] == int(((averages >= low) & (averages < high)).sum()), name
    assert sum(populations[name]["rows"] for name in populations if name != "market") == result["rows"]
    assert populations["market"]["rows"] == round(0.74 * result["rows"])
    cut = np.sort(averages)[::-1][populations["market"]["rows"] - 1]
    assert populations["market"]["min_minutes"] == pytest.approx(cut, abs=0.01)


def test_population_masks_on_hand_built_rows():
    from mlmodels.backtest import population_table, populations

    minutes = np.array([40.0, 33.0, 31.9, 25.0, 24.99, 15.0, 14.9, 0.0, np.nan, 20.0])
    masks = populations(minutes)
    assert list(np.flatnonzero(masks["minutes_32_plus"])) == [0, 1]
    assert list(np.flatnonzero(masks["minutes_25_32"])) == [2, 3]
    assert list(np.flatnonzero(masks["minutes_15_25"])) == [4, 5, 9]
    assert list(np.flatnonzero(masks["minutes_0_15"])) == [6, 7, 8]  # no earlier minutes: the lowest tier
    # 74% of 10 rows = 7: the seven highest averages
    assert list(np.flatnonzero(masks["market"])) == [0, 1, 2, 3, 4, 5, 9]

    y = np.array([30.0, 20, 10, 12, 8, 6, 2, 0, 1, 9])
    p50 = y + np.array([2.0, -2, 1, 1, 0, 0, 1, 0, 3, 1])
    table = population_table(y, minutes, {"m": (p50 - 3, p50, p50 + 1)}, {"baseline_last10": y + 4})
    assert table["minutes_32_plus"]["rows"] == 2
    assert table["minutes_32_plus"]["models"]["m"] == {"mae": 2.0, "coverage_80": 0.5, "width_80": 4.0}
    assert table["minutes_0_15"]["models"]["m"]["mae"] == pytest.approx(4 / 3, abs=1e-4)
    assert table["market"]["models"]["baseline_last10"] == {"mae": 4.0}
    assert table["market"]["min_minutes"] == 15.0


def test_calibration_is_fitted_on_the_validation_season_not_the_test_rows(backtest):
    """The calibration (per tier) is fitted on validation rows before the test season; the
    populations' coverage is then measured on test rows it never saw."""
    result, _ = backtest
    calibration = result["calibration"]
    first_test_day = PlayerGameLog.objects.filter(season="2023-24").order_by("date").first().date
    assert calibration["season"] == "2022-23" and calibration["last_date"] < str(first_test_day)
    validation_lines = PlayerGameLog.objects.filter(
        date__gte=calibration["first_date"], date__lte=calibration["last_date"]
    )
    assert 0 < calibration["rows"] <= validation_lines.count()
    assert calibration["tiers"] == ["minutes_0_15", "minutes_15_25", "minutes_25_32", "minutes_32_plus"]


def test_rows_are_the_test_seasons_games_of_players_seen_before(backtest):
    result, _ = backtest
    players_before = set(PlayerGameLog.objects.filter(season="2022-23").values_list("player_id", flat=True))
    lines = list(PlayerGameLog.objects.filter(season="2023-24").order_by("date").values_list("player_id", "date"))
    first_day = {}
    for player, day in lines:
        first_day.setdefault(player, day)
    expected = sum(1 for player, day in lines if player in players_before or day > first_day[player])
    assert result["rows"] == expected


def test_baseline_last10_by_hand(backtest):
    """The mean of each player's previous (up to) 10 games in the data, across seasons."""
    result, _ = backtest
    errors = [abs(pts - np.mean(previous)) for pts, previous in _with_previous_ten("pts")]
    assert result["models"]["baseline_last10"]["mae"] == pytest.approx(np.mean(errors), abs=1e-4)


def test_the_report_is_stored_with_its_plots_and_backtest_only_models(backtest):
    result, _ = backtest
    report = BacktestReport.objects.get()
    assert report.result == result and report.quick and report.rows == result["rows"]
    assert len(report.plots) == 3  # calibration, ranges, calibration per minutes tier
    for name in report.plots:
        assert (Path(settings.MODEL_DIR) / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    versions = list(report.model_versions.all())
    assert {v.algorithm for v in versions} == {"lightgbm", "keras"}
    assert all(v.purpose == ModelVersion.Purpose.BACKTEST and not v.active for v in versions)
    assert all(v.train_seasons == ["2022-23"] for v in versions)  # nothing of the test season
    run = TrainingRun.objects.get(kind="backtest")
    assert run.status == TrainingRun.Status.SUCCEEDED


def test_an_unknown_test_season_is_an_error(slice_loaded):
    with pytest.raises(CommandError, match="2030-31"):
        call_command("backtest", "--test-season", "2030-31", "--quick", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no season before 2022-23"):
        call_command("backtest", "--test-season", "2022-23", "--quick", stdout=io.StringIO())


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("mlstaff", password="pw"))
    return client


def test_admin_shows_metrics_and_plots_and_activates_a_version(backtest, staff_client):
    report = BacktestReport.objects.get()
    page = staff_client.get(f"/admin/mlmodels/backtestreport/{report.pk}/change/").content.decode()
    assert "baseline_last10" in page and f"/admin/mlmodels/backtestreport/{report.pk}/plot/0.png" in page
    assert f"/admin/mlmodels/backtestreport/{report.pk}/plot/2.png" in page  # the per-tier calibration plot
    assert "<th>population</th>" in page
    for name in ("market", "minutes_0_15", "minutes_15_25", "minutes_25_32", "minutes_32_plus"):
        assert f"<td>{name}</td>" in page
    png = staff_client.get(f"/admin/mlmodels/backtestreport/{report.pk}/plot/0.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert b"".join(png.streaming_content)[:4] == b"\x89PNG"
    assert staff_client.get(f"/admin/mlmodels/backtestreport/{report.pk}/plot/7.png").status_code == 404
    assert staff_client.get("/admin/mlmodels/backtestreport/").status_code == 200

    call_command("train", "--quick", "--json", stdout=io.StringIO(), stderr=io.StringIO())
    versions = ModelVersion.objects.filter(purpose=ModelVersion.Purpose.SERVING)
    listing = staff_client.get("/admin/mlmodels/modelversion/?active__exact=1").content.decode()
    assert "column-coverage_80" in listing and "column-mae" in listing
    for version in versions:
        assert f"/admin/mlmodels/modelversion/{version.pk}/change/" in listing
    serving = versions.get(algorithm="keras")
    page = staff_client.get(f"/admin/mlmodels/modelversion/{serving.pk}/change/").content.decode()
    assert f"/admin/mlmodels/modelversion/{serving.pk}/plot/1.png" in page and "ensemble" in page
    assert staff_client.get("/admin/mlmodels/trainingrun/").status_code == 200

    # "activate": a copy of the active keras version takes over; backtest versions are refused
    copy = ModelVersion.objects.get(pk=serving.pk)
    copy.pk, copy.active = None, False
    copy.save()
    staff_client.post("/admin/mlmodels/modelversion/", {"action": "activate_versions", "_selected_action": [copy.pk]})
    assert ModelVersion.objects.get(active=True, algorithm="keras").pk == copy.pk
    backtest_version = report.model_versions.get(algorithm="keras")
    staff_client.post(
        "/admin/mlmodels/modelversion/", {"action": "activate_versions", "_selected_action": [backtest_version.pk]}
    )
    assert ModelVersion.objects.get(active=True, algorithm="keras").pk == copy.pk


def test_figures_with_and_without_who_is_out(backtest):
    """The headline figures use no "who is out"; `with_out` has the same tables when the
    features know who actually played."""
    result, _ = backtest
    with_out = result["with_out"]
    assert set(with_out) == {"models", "populations"}
    assert set(with_out["models"]) == set(result["models"])
    assert set(with_out["populations"]) == set(result["populations"])
    for name, population in with_out["populations"].items():
        assert population["rows"] == result["populations"][name]["rows"]
    assert with_out["models"]["baseline_last10"] == result["models"]["baseline_last10"]
    assert with_out["models"]["lightgbm"] != result["models"]["lightgbm"]  # the model did use it


def test_training_rows_know_who_is_out_on_half_the_rows_and_validation_never():
    import pandas as pd

    from mlmodels.dataset import hide_who_is_out, split
    from mlmodels.features import FEATURE_NAMES, OUT_FEATURES

    rows = 2000
    frame = pd.DataFrame(
        {
            "player_id": np.arange(rows) % 97,
            "game_id": np.arange(rows) + 10_000,
            "season": np.where(np.arange(rows) < 1500, "2021-22", "2022-23"),
            "date": np.datetime64("2022-01-01") + np.arange(rows) // 10,
            "pts": np.ones(rows),
            **{name: np.ones(rows) for name in FEATURE_NAMES},
        }
    )
    hidden = hide_who_is_out(frame)
    known = hidden[OUT_FEATURES[0]].notna().to_numpy()
    assert 0.4 < known.mean() < 0.6
    assert frame[OUT_FEATURES[0]].notna().all()  # the input is not changed
    again = hide_who_is_out(frame)
    assert (again[OUT_FEATURES[0]].notna().to_numpy() == known).all()  # fixed, not random
    data = split(hidden, ["2021-22", "2022-23"])
    column = data.X[:, FEATURE_NAMES.index(OUT_FEATURES[0])]
    assert np.isnan(column[data.validation]).all()  # the validation season never knows it
    assert (~np.isnan(column[data.train]) == known[:1500]).all()
