"""Structure checks of etl and scraping: data migrations carry their own data (an old
migration does the same thing whatever the live code becomes), and etl's modules import each
other one way only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

APPS = ("etl", "scraping", "mlmodels", "predictions", "nbaproject")


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at any level (functions included)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("app", ["etl", "scraping"])
def test_migrations_import_no_live_project_code(app):
    for migration in sorted((Path(settings.BASE_DIR) / app / "migrations").glob("0*.py")):
        live = {module for module in imported_modules(migration) if module.split(".")[0] in APPS}
        assert not live, f"{migration.name} imports {sorted(live)}: freeze the data in the migration"


def test_etl_models_import_no_other_etl_module_but_names():
    """etl.models is the bottom layer: teams, services and selectors import it, never the reverse."""
    imported = imported_modules(Path(settings.BASE_DIR) / "etl" / "models.py")
    assert {module for module in imported if module.startswith("etl.")} <= {"etl.names"}


@pytest.mark.django_db
def test_the_frozen_team_seed_gives_what_seed_teams_gives():
    from etl.models import Team, TeamAlias
    from etl.teams import seed_teams

    migrated = (
        set(Team.objects.values_list("code", "bref_code", "nba_id", "name", "nickname")),
        set(TeamAlias.objects.values_list("alias", "team__code")),
    )
    assert len(migrated[0]) == 30
    seed_teams()
    assert (
        set(Team.objects.values_list("code", "bref_code", "nba_id", "name", "nickname")),
        set(TeamAlias.objects.values_list("alias", "team__code")),
    ) == migrated
