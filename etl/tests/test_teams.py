"""Every source's code or name for a franchise resolves to the same Team."""

import datetime as dt
import doctest
import importlib

import pytest

from etl import teams
from etl.models import Team
from etl.names import normalise_name
from etl.seasons import season_end_year, season_for_date, season_label
from etl.teams import CITY_ALIASES, SHARED_CITIES, unknown_team_message

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "alias,code",
    [
        ("BKN", "BKN"),
        ("BRK", "BKN"),
        ("NJN", "BKN"),
        ("CHO", "CHA"),
        ("CHA", "CHA"),
        ("PHO", "PHX"),
        ("phx", "PHX"),
        ("NOH", "NOP"),
        ("SEA", "OKC"),
        ("Los Angeles Clippers", "LAC"),
        ("knicks", "NYK"),
    ],
)
def test_aliases_resolve_to_one_team(alias, code):
    assert Team.objects.resolve(alias).code == code


def test_unknown_alias_resolves_to_nothing():
    assert Team.objects.resolve("XYZ") is None


def test_thirty_teams_each_with_distinct_codes():
    assert Team.objects.count() == 30
    assert Team.objects.values("bref_code").distinct().count() == 30


def test_names_are_normalised_for_search():
    assert normalise_name("Luka Dončić") == "luka doncic"
    assert normalise_name("  Nikola  JOKIĆ ") == "nikola jokic"
    assert normalise_name("De'Aaron Fox") == "deaaron fox"
    assert normalise_name("Karl-Anthony Towns") == "karl anthony towns"


def test_season_helpers():
    assert season_label(2024) == "2023-24" and season_end_year("2023-24") == 2024
    assert season_label(2000) == "1999-00" and season_end_year("1999-00") == 2000
    assert season_for_date(dt.date(2023, 10, 24)) == "2023-24"
    assert season_for_date(dt.date(2024, 4, 14)) == "2023-24"
    assert season_for_date(dt.date(2020, 8, 14)) == "2019-20"
    assert season_for_date(dt.date(2020, 12, 22)) == "2020-21"
    with pytest.raises(ValueError):
        season_end_year("2023-25")


@pytest.mark.parametrize(
    "city,code",
    [("Boston", "BOS"), ("golden state", "GSW"), ("New York", "NYK"), ("Oklahoma City", "OKC"), ("utah", "UTA")],
)
def test_a_city_names_its_team(city, code):
    assert Team.objects.resolve(city).code == code


@pytest.mark.parametrize("city", ["Los Angeles", "LA", "la"])
def test_the_city_two_teams_share_names_neither_and_the_message_lists_both(city):
    assert Team.objects.resolve(city) is None
    message = unknown_team_message(city)
    assert "LAC (LA Clippers)" in message and "LAL (Los Angeles Lakers)" in message


def test_the_migration_gave_the_cities_seed_teams_gives():
    """etl 0007's frozen cities are those etl.teams derives from the franchises' names."""
    migration = importlib.import_module("etl.migrations.0007_city_aliases")
    assert migration.CITIES == CITY_ALIASES
    assert SHARED_CITIES == {"los angeles": ["LAC", "LAL"]}  # "LA" too: see the test above


def test_the_examples_in_etl_teams_hold():
    result = doctest.testmod(teams)
    assert result.attempted >= 2 and result.failed == 0
