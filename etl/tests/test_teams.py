"""Every source's code or name for a franchise resolves to the same Team."""

import datetime as dt

import pytest

from etl.models import Team
from etl.names import normalise_name
from etl.seasons import season_end_year, season_for_date, season_label

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
