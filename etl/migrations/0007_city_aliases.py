"""A franchise's city names it too ("Boston", "Golden State"), except the city two franchises
share (Los Angeles, or LA). Frozen here as written, like 0002's franchises."""

from django.db import migrations

CITIES = {
    "Atlanta": "ATL", "Boston": "BOS", "Brooklyn": "BKN", "Charlotte": "CHA", "Chicago": "CHI",
    "Cleveland": "CLE", "Dallas": "DAL", "Denver": "DEN", "Detroit": "DET", "Golden State": "GSW",
    "Houston": "HOU", "Indiana": "IND", "Memphis": "MEM", "Miami": "MIA", "Milwaukee": "MIL",
    "Minnesota": "MIN", "New Orleans": "NOP", "New York": "NYK", "Oklahoma City": "OKC", "Orlando": "ORL",
    "Philadelphia": "PHI", "Phoenix": "PHX", "Portland": "POR", "Sacramento": "SAC", "San Antonio": "SAS",
    "Toronto": "TOR", "Utah": "UTA", "Washington": "WAS",
}  # fmt: skip


def add_cities(apps, schema_editor):
    team_model, alias_model = apps.get_model("etl", "Team"), apps.get_model("etl", "TeamAlias")
    teams = {team.code: team for team in team_model.objects.filter(code__in=CITIES.values())}
    for city, code in CITIES.items():
        if code in teams:
            alias_model.objects.update_or_create(alias=city.lower(), defaults={"team": teams[code]})


class Migration(migrations.Migration):
    dependencies = [("etl", "0006_etlrun_job_fields")]
    # Reversed, the aliases stay: "utah" was 0002's already, and a city alias harms nothing.
    operations = [migrations.RunPython(add_cities, migrations.RunPython.noop)]
