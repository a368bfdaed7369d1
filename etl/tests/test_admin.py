"""Staff can browse, search and filter every etl model in admin with a bounded number of queries."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from etl.models import EtlRun, Game, Player, PlayerGameLog, QuarantinedRow, Team
from etl.services import load_gamelogs
from etl.tests.conftest import lines_between, with_field, write_lines

pytestmark = pytest.mark.django_db

CHANGELISTS = ["team", "teamalias", "player", "game", "playergamelog", "etlrun", "quarantinedrow"]


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def warehouse(tmp_path):
    lines = lines_between("2024-01-26", "2024-01-27")
    lines[0] = with_field(lines[0], "MIN", "-3")
    load_gamelogs([write_lines(tmp_path / "two_days.csv", lines)])
    load_gamelogs([write_lines(tmp_path / "two_days.csv", lines)])


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_render_without_a_query_per_row(staff_client, warehouse, model, django_assert_max_num_queries):
    url = reverse(f"admin:etl_{model}_changelist")
    with django_assert_max_num_queries(15):
        response = staff_client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "model,query",
    [
        ("player", "doncic"),
        ("player", "1629029"),
        ("player", "Dončić"),
        ("game", "ATL"),
        ("playergamelog", "luka"),
        ("team", "brk"),
        ("quarantinedrow", "negative"),
        ("etlrun", "two_days"),
    ],
)
def test_search(staff_client, warehouse, model, query):
    response = staff_client.get(reverse(f"admin:etl_{model}_changelist"), {"q": query})
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize(
    "model,params",
    [
        ("game", {"season": "2023-24", "status__exact": "final"}),
        ("playergamelog", {"season": "2023-24", "is_home__exact": "0"}),
        ("etlrun", {"status__exact": "succeeded"}),
    ],
)
def test_filters(staff_client, warehouse, model, params):
    response = staff_client.get(reverse(f"admin:etl_{model}_changelist"), params)
    assert response.status_code == 200 and response.context["cl"].result_count >= 1


def test_change_pages(staff_client, warehouse):
    run = EtlRun.objects.order_by("-pk").first()
    pages = [
        ("team", Team.objects.get(code="BKN")),
        ("player", Player.objects.get(name="Luka Dončić")),
        ("game", Game.objects.first()),
        ("playergamelog", PlayerGameLog.objects.first()),
        ("etlrun", run),
        ("quarantinedrow", QuarantinedRow.objects.first()),
    ]
    for model, obj in pages:
        response = staff_client.get(reverse(f"admin:etl_{model}_change", args=[obj.pk]))
        assert response.status_code == 200, model
    content = staff_client.get(reverse("admin:etl_etlrun_change", args=[run.pk])).content.decode()
    assert "MIN is negative" in content  # the run's quarantined rows are shown inline
