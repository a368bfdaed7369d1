"""Spider arguments: defaults worked out, mistakes reported in plain words."""

from __future__ import annotations

import datetime as dt

import pytest

from scraping.crawler.arguments import DEFAULT_BASE_URL, BadArguments, normalise_args, parse_key_values


def test_boxscores_default_to_yesterday():
    args = normalise_args("boxscores", {}, today=dt.date(2018, 1, 2))
    assert args == {"base_url": DEFAULT_BASE_URL, "date": "2018-01-01"}


def test_schedule_current_and_next_month_resolve_to_one_season():
    assert (
        normalise_args("schedule", {"month": "current,next"}, today=dt.date(2025, 12, 15))["month"]
        == "december,january"
    )
    args = normalise_args("schedule", {"month": "current,next"}, today=dt.date(2025, 12, 15))
    assert args["season"] == 2026
    september = normalise_args("schedule", {"month": "current,next"}, today=dt.date(2025, 9, 20))
    assert (september["season"], september["month"]) == (2026, "october")
    august = normalise_args("schedule", {"month": "current,next"}, today=dt.date(2025, 8, 1))
    assert august["month"] == "none"


def test_schedule_month_names_numbers_and_labels():
    args = normalise_args("schedule", {"season": "2017-18", "month": "1,feb"})
    assert (args["season"], args["month"]) == (2018, "january,february")
    assert normalise_args("schedule", {"season": "2018"})["month"] == ""


def test_gamelog_and_base_url():
    args = normalise_args("gamelog", {"player": "westbru01", "season": "2019", "base_url": "http://127.0.0.1:8/"})
    assert args == {"base_url": "http://127.0.0.1:8", "player": "westbru01", "season": 2019}


@pytest.mark.parametrize(
    "spider, args, message",
    [
        ("boxes", {}, "unknown spider 'boxes'"),
        ("boxscores", {"date": "2018-13-01"}, "use YYYY-MM-DD"),
        ("boxscores", {"date": "2018-01-01", "game": "201801010BRK"}, "not both"),
        ("boxscores", {"game": "BRK"}, "basketball-reference game id"),
        ("boxscores", {"day": "1"}, "unknown argument(s) day"),
        ("schedule", {}, "schedule needs season="),
        ("schedule", {"season": "18"}, "use the year the season ends"),
        ("schedule", {"season": "2018", "month": "smarch"}, "month='smarch'"),
        ("gamelog", {"season": "2019"}, "gamelog needs player="),
        ("gamelog", {"player": "West Brook"}, "player id"),
        ("gamelog", {"player": "westbru01", "base_url": "ftp://x"}, "http(s) address"),
    ],
)
def test_mistakes_are_explained(spider, args, message):
    with pytest.raises(BadArguments) as error:
        normalise_args(spider, args)
    assert message in str(error.value)


def test_key_value_pairs():
    assert parse_key_values(["date=2018-01-01", "base-url=http://x"]) == {"date": "2018-01-01", "base_url": "http://x"}
    with pytest.raises(BadArguments, match="key=value"):
        parse_key_values(["2018-01-01"])
