"""The user page's markup as the server sends it (the browser test drives its script)."""

from __future__ import annotations

import re

import pytest

from predictions.tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_the_models_table_names_its_columns(client):
    client.force_login(make_user("alice"))

    page = client.get("/").content.decode()

    table = re.search(r'<table id="models">(.*?)</table>', page, re.DOTALL).group(1)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", re.search(r"<thead>(.*?)</thead>", table, re.DOTALL).group(1))
    assert headers == ["model", "p10 / p50 / p90", "version"]
    assert table.index("</thead>") < table.index("<tbody>")


def test_the_slate_form_defaults_to_the_products_today_and_explains_a_bad_date(client, settings):
    settings.AS_OF_DATE = "2024-03-15"
    client.force_login(make_user("alice"))

    page = client.get("/slates/").content.decode()
    assert re.search(r'<input id="slate-date" name="date" type="date" value="2024-03-15" required>', page)
    assert 'id="nav-slates"' in page

    answer = client.post("/slates/", {"date": "2024-02-30"})
    assert answer.status_code == 400 and "2024-02-30 does not exist" in answer.content.decode()
    answer = client.post("/slates/", {"date": "2024-03-15"})  # no trained models in this test
    assert answer.status_code == 422 and "manage.py train" in answer.content.decode()


def test_a_finished_slate_draws_each_player_once_with_inside_and_outside_marks(client, recent_games):
    from etl.models import Game, PlayerGameLog
    from predictions.models import Slate, SlatePrediction

    game = Game.objects.filter(date="2024-04-05").order_by("id").first()
    lines = list(PlayerGameLog.objects.filter(game=game, seconds__gt=0).order_by("-pts")[:4])
    slate = Slate.objects.create(
        date=game.date,
        versions_key="test",
        status="succeeded",
        games_total=1,
        games_done=1,
        players_done=len(lines),
        coverage_80=0.5,
        seconds=1.0,
    )
    # two ranges around the actual score (inside), two above it (outside)
    for n, line in enumerate(lines):
        low = line.pts - 5 if n % 2 == 0 else line.pts + 3
        SlatePrediction.objects.create(
            slate=slate,
            game=game,
            player_id=line.player_id,
            team_id=line.team_id,
            p10=max(low, 0),
            p50=low + 5,
            p90=low + 10,
            actual=line.pts,
        )
    client.force_login(make_user("alice"))

    page = client.get(f"/slates/{slate.pk}/").content.decode()

    rows = re.findall(r'<li class="player" data-player="(\d+)".*?data-inside="(\w*)">(.*?)</li>', page, re.DOTALL)
    assert sorted(int(player) for player, _, _ in rows) == sorted(line.player_id for line in lines)
    by_player = {int(player): (inside, body) for player, inside, body in rows}
    for n, line in enumerate(lines):
        inside, body = by_player[line.player_id]
        expected = "inside" if n % 2 == 0 else "outside"
        assert inside == expected and f'class="mark {expected}"' in body
        assert f"{'✓' if expected == 'inside' else '✗'} {line.pts}</span>" in body
    assert "50% of the actual scores fell inside the 80% range" in page
    assert "2 of 4 players who played" in page
