"""Who is out: the optional list of players who will not play, on the API, the stored request,
the features, idempotency, slates, the commands and the user page.

The contract tests run without a worker (nothing is published in a non-transactional test); the
pipeline tests run the real worker and models and compare the stored features and ranges."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from etl.models import Game, Player, PlayerGameLog
from predictions import slate_services, who_is_out
from predictions.models import PredictionRequest, Slate, SlatePrediction
from predictions.tests.conftest import client_for, make_user, wait_until_done

URL = "/api/v1/predictions/"
SLATES = "/api/v1/slates/"


def post(client, url, body, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def after_the_slice(settings):
    """Today is the day after the loaded slice (as test_api): a request without a date is accepted."""
    settings.AS_OF_DATE = "2024-04-15"


# --- the contract, without a worker ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_out_list_is_resolved_stored_and_echoed(recent_games, alice_client, after_the_slice):
    response = post(
        alice_client, URL, {"player": "Luka Doncic", "out": [" kyrie irving", "Dereck Lively II", "kyrie irving"]}
    )

    assert response.status_code == 202, response.content
    job = PredictionRequest.objects.get(pk=response.json()["id"])
    kyrie, lively = (Player.objects.get(normalised_name=n) for n in ("kyrie irving", "dereck lively ii"))
    assert job.out_input == ["kyrie irving", "Dereck Lively II"]  # stripped, repeats dropped, order kept
    assert job.out_players == [
        {"id": kyrie.pk, "name": kyrie.name, "team": None, "ignored": None},
        {"id": lively.pk, "name": lively.name, "team": None, "ignored": None},
    ]
    detail = alice_client.get(response.json()["status_url"]).json()
    assert detail["input"]["out"] == job.out_input
    assert detail["out"] == job.out_players  # team and ignored come with the resolve step
    without = post(alice_client, URL, {"player": "Luka Doncic"}).json()
    assert alice_client.get(without["status_url"]).json()["out"] is None
    assert PredictionRequest.objects.get(pk=without["id"]).out_input is None


@pytest.mark.django_db
def test_bad_out_lists_are_400_naming_the_name(recent_games, alice_client, after_the_slice, settings):
    def errors(out, player="Luka Doncic"):
        response = post(alice_client, URL, {"player": player, "out": out})
        assert response.status_code == 400, (out, response.status_code, response.content)
        return response.json()["out"]

    [unknown] = errors(["Kyrie Irving", "Kyrie Irvnig"])
    assert "'Kyrie Irvnig'" in unknown and "did you mean Kyrie Irving" in unknown
    assert errors(["Zzyzx Qwertyuiop"]) == ["no player named 'Zzyzx Qwertyuiop'."]
    assert errors(["99999999"]) == ["no player with id 99999999."]
    [ambiguous] = errors(["james"])
    assert "'james' matches several players (" in ambiguous and ambiguous.count(",") >= 1
    [himself] = errors(["Kyrie Irving", "luka dončić"])
    assert himself.startswith("Luka Dončić is the player you ask about")
    assert len(errors(["Zzyzx Qwertyuiop", "james"])) == 2  # every bad name at once
    # Shape errors are field errors too (a flat list of sentences, as the schema says), never a 500.
    assert errors(["Kyrie Irving", ""]) == ["entry 2: This field may not be blank."]
    assert errors(["x" * 200]) == [f"entry 1 ({'x' * 40!r}): Ensure this field has no more than 128 characters."]
    for bad in ("Kyrie Irving", [""], ["x" * 200], [{"name": "Kyrie Irving"}], [None], {"a": 1}):
        assert errors(bad)
    assert errors([f"name {i}" for i in range(who_is_out.max_out_players() + 1)])  # the schema's maxItems
    settings.PREDICTIONS_MAX_OUT_PLAYERS = 1  # the setting, read at each request
    [too_many] = errors(["Kyrie Irving", "Dereck Lively II"])
    assert "2 players out is more than the 1 allowed" in too_many
    assert not PredictionRequest.objects.exists()


@pytest.mark.django_db
def test_an_unknown_player_and_an_unknown_out_name_are_both_told(recent_games, alice_client, after_the_slice):
    response = post(alice_client, URL, {"player": "Lebron Jmaes", "out": ["Kyrie Irving"]})
    assert response.status_code == 400 and "player" in response.json()


@pytest.mark.django_db
def test_idempotency_counts_the_out_list(recent_games, alice_client, after_the_slice):
    body = {"player": "Luka Doncic", "out": ["Kyrie Irving", "Dereck Lively II"]}
    first = post(alice_client, URL, body, HTTP_IDEMPOTENCY_KEY="out-1")
    same = post(alice_client, URL, {**body, "out": ["Dereck Lively II", "Kyrie Irving"]}, HTTP_IDEMPOTENCY_KEY="out-1")
    assert first.status_code == same.status_code == 202 and first.json()["id"] == same.json()["id"]
    assert same["Idempotent-Replayed"] == "true"
    for other in ({**body, "out": ["Kyrie Irving"]}, {**body, "out": []}, {"player": "Luka Doncic"}):
        conflict = post(alice_client, URL, other, HTTP_IDEMPOTENCY_KEY="out-1")
        assert conflict.status_code == 422 and "already used" in conflict.json()["detail"], other
    # Without the list, and with an empty one ("everyone plays"): two more questions, two keys.
    nobody = post(alice_client, URL, {"player": "Luka Doncic", "out": []}, HTTP_IDEMPOTENCY_KEY="out-2")
    unknown = post(alice_client, URL, {"player": "Luka Doncic"}, HTTP_IDEMPOTENCY_KEY="out-3")
    assert nobody.status_code == unknown.status_code == 202
    assert post(alice_client, URL, {"player": "Luka Doncic"}, HTTP_IDEMPOTENCY_KEY="out-2").status_code == 422
    assert (
        post(alice_client, URL, {"player": "Luka Doncic", "out": []}, HTTP_IDEMPOTENCY_KEY="out-3").status_code == 422
    )
    assert PredictionRequest.objects.get(pk=nobody.json()["id"]).out_input == []
    assert PredictionRequest.objects.count() == 3


def test_the_schema_describes_the_out_list_and_its_echo():
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator().get_schema(request=None, public=True)
    schemas = spec["components"]["schemas"]
    field = schemas["PredictionInput"]["properties"]["out"]
    assert field["type"] == "array" and field["nullable"] is True
    assert field["maxItems"] == who_is_out.max_out_players() and field["items"]["maxLength"] == 128
    assert "Who is out" in field["description"]
    assert set(schemas["OutPlayer"]["properties"]) == {"id", "name", "team", "ignored"}
    assert schemas["PredictionRequest"]["properties"]["out"]["items"]["$ref"].endswith("/OutPlayer")
    assert "out" in schemas["SlateInput"]["properties"]
    assert "out" in schemas["PredictionInputErrors"]["properties"]


@pytest.mark.django_db
def test_the_predict_command_refuses_an_unknown_out_name(recent_games, after_the_slice):
    with pytest.raises(CommandError, match="out: no player named 'Kyrie Irvnig'; did you mean Kyrie Irving"):
        call_command("predict", "Luka Doncic", "--out", "Dereck Lively II, Kyrie Irvnig", stdout=io.StringIO())
    assert not PredictionRequest.objects.exists()


def test_the_commands_split_comma_separated_names():
    from predictions.management.commands.predict import out_option

    assert out_option(None) is None
    assert out_option(["Kyrie Irving, Dereck Lively II", "Tim Hardaway Jr.", " , "]) == [
        "Kyrie Irving",
        "Dereck Lively II",
        "Tim Hardaway Jr.",
    ]


# --- the user page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_has_an_optional_who_is_out_input_its_script_sends(client, settings):
    client.force_login(make_user("alice"))
    page = client.get("/").content.decode()

    form = re.search(r'<form id="ask".*?</form>', page, re.DOTALL).group(0)
    field = re.search(r"<label[^>]*>\s*Who is out\s*<input ([^>]*)>", form, re.DOTALL)
    assert field, form
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', field.group(1)))
    assert attributes["id"] == attributes["name"] == "out" and "required" not in field.group(1)
    assert attributes["data-max"] == str(settings.PREDICTIONS_MAX_OUT_PLAYERS)
    hint = re.search(r'<p id="out-hint"[^>]*>(.*?)</p>', page, re.DOTALL).group(1)
    assert "separated by commas" in hint and f"at most {settings.PREDICTIONS_MAX_OUT_PLAYERS}" in hint
    assert 'id="result-out"' in page
    script = (Path(__file__).resolve().parents[1] / "static" / "predictions" / "app.js").read_text()
    assert 'outNames($("out").value)' in script and "payload.out = " in script and "job.out" in script


@pytest.mark.django_db
def test_the_page_round_trip_what_the_form_sends_is_stored_and_told_back(recent_games, client, after_the_slice):
    """The form's comma-separated text, split as app.js splits it, posted as the page posts it (session
    auth, JSON): stored and echoed; an unknown name comes back as the `out` error the page shows."""
    client.force_login(make_user("alice"))
    typed = "Kyrie Irving,  Dereck Lively II ,"
    sent = list(dict.fromkeys(name.strip() for name in typed.split(",") if name.strip()))  # outNames()
    response = client.post(
        URL, data=json.dumps({"player": "Luka Doncic", "out": sent}), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    detail = client.get(response.json()["status_url"]).json()
    assert [p["name"] for p in detail["out"]] == ["Kyrie Irving", "Dereck Lively II"]
    refused = client.post(
        URL, data=json.dumps({"player": "Luka Doncic", "out": ["Kyrie Irvnig"]}), content_type="application/json"
    )
    assert refused.status_code == 400 and list(refused.json()) == ["out"]


# --- slates: identity and validation (no worker: nothing is published) -----------------------------


@pytest.mark.django_db
def test_a_slate_is_one_per_date_models_and_out_set(recent_games, alice_client, monkeypatch):
    # The identity only needs the active versions' ids (nothing is published: no model runs).
    monkeypatch.setattr(slate_services, "active_versions", lambda: {"keras": 2, "lightgbm": 1})
    day = "2024-04-14"
    plain = post(alice_client, SLATES, {"date": day})
    out = post(alice_client, SLATES, {"date": day, "out": ["Kyrie Irving", "LeBron James"]})
    same_out = post(alice_client, SLATES, {"date": day, "out": ["lebron james", "Kyrie Irving"]})
    nobody = post(alice_client, SLATES, {"date": day, "out": []})
    assert {r.status_code for r in (plain, out, same_out, nobody)} == {202}
    assert len({plain.json()["id"], out.json()["id"], nobody.json()["id"]}) == 3
    assert same_out.json()["id"] == out.json()["id"] and same_out["Idempotent-Replayed"] == "true"
    assert plain.json()["out"] is None and nobody.json()["out"] == []
    slate = Slate.objects.get(pk=out.json()["id"])
    teams = {p["name"]: p for p in slate.out_players}
    assert teams["Kyrie Irving"]["team"] == "DAL" and teams["LeBron James"]["team"] == "LAL"
    playing = {code for pair in Game.objects.filter(date=day).values_list("home__code", "away__code") for code in pair}
    for entry in slate.out_players:  # ignored: his team has no game that day
        assert entry["ignored"] == (entry["team"] not in playing)
    assert alice_client.get(f"{SLATES}{slate.pk}/").json()["out"] == slate.out_players
    bad = post(alice_client, SLATES, {"date": day, "out": ["Kyrie Irvnig", "james"]})
    assert bad.status_code == 400 and len(bad.json()["out"]) == 2 and "Kyrie Irvnig" in bad.json()["out"][0]
    assert Slate.objects.count() == 3


@pytest.mark.django_db
def test_the_slate_page_asks_for_a_slate_with_who_is_out(recent_games, client, monkeypatch):
    monkeypatch.setattr(slate_services, "active_versions", lambda: {"keras": 2, "lightgbm": 1})
    client.force_login(make_user("alice"))
    assert re.search(r'<input id="slate-out" name="out"', client.get("/slates/").content.decode())

    bad = client.post("/slates/", {"date": "2024-04-14", "out": "Kyrie Irvnig"})
    assert bad.status_code == 400
    assert "Who is out: no player named" in bad.content.decode() and 'value="Kyrie Irvnig"' in bad.content.decode()
    asked = client.post("/slates/", {"date": "2024-04-14", "out": "Kyrie Irving, lebron james"})
    plain = client.post("/slates/", {"date": "2024-04-14", "out": "  "})  # an empty field: no list
    assert asked.status_code == plain.status_code == 302 and asked.url != plain.url
    slate = Slate.objects.get(pk=int(asked.url.rstrip("/").rsplit("/", 1)[1]))
    assert [entry["name"] for entry in slate.out_players] == ["Kyrie Irving", "LeBron James"]
    assert Slate.objects.exclude(pk=slate.pk).get().out_players is None
    page = client.get(asked.url).content.decode()
    assert re.search(r'id="slate-out-players"[^>]*>Who is out: Kyrie Irving \(DAL', page)
    assert 'value="Kyrie Irving, LeBron James"' in page  # the form asks the same again


# --- through the real pipeline ---------------------------------------------------------------------

GAME_DAY = "2024-01-26"  # DAL @ ATL (Luka Dončić, 73 points)


def top_teammate(player: Player, day: str) -> Player:
    """His team's other player with the most shots over the team's last 10 games before `day`."""
    team = PlayerGameLog.objects.filter(player=player, date__lt=day).order_by("-date").first().team_id
    games = list(
        PlayerGameLog.objects.filter(team_id=team, date__lt=day)
        .order_by("-date")
        .values_list("game_id", flat=True)
        .distinct()[:40]
    )
    recent = list(dict.fromkeys(games))[:10]
    shots: dict[int, int] = {}
    for pid, fga in (
        PlayerGameLog.objects.filter(team_id=team, game_id__in=recent)
        .exclude(player=player)
        .values_list("player_id", "fga")
    ):
        shots[pid] = shots.get(pid, 0) + fga
    return Player.objects.get(pk=max(shots, key=shots.get))


def last_team(player_id: int, day: str) -> int:
    return PlayerGameLog.objects.filter(player_id=player_id, date__lt=day).order_by("-date").first().team_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_the_out_list_reaches_the_features_and_is_placed_on_the_teams(pipeline):
    from mlmodels.features import OUT_FEATURES
    from mlmodels.warehouse import build_features_for

    client = client_for(make_user("alice"))
    luka = Player.objects.get(normalised_name="luka doncic")
    mate = top_teammate(luka, GAME_DAY)
    trae = Player.objects.get(normalised_name="trae young")
    game = Game.objects.get(date=GAME_DAY, home__code="ATL")
    stranger = (
        PlayerGameLog.objects.filter(date__lt=GAME_DAY, date__gte="2024-01-01")
        .exclude(team_id__in=[game.home_id, game.away_id])
        .order_by("-fga")
        .first()
        .player
    )  # on neither team
    asked = {"none": None, "nobody": [], "mate": [mate.name], "all": [mate.name, trae.name, str(stranger.pk)]}
    ids = {}
    for name, out in asked.items():
        body = {"player": "Luka Doncic", "opponent": "ATL", "date": GAME_DAY}
        response = post(client, URL, body if out is None else {**body, "out": out})
        assert response.status_code == 202, response.content
        ids[name] = response.json()["id"]
    jobs = {name: wait_until_done(pk) for name, pk in ids.items()}
    assert all(job.status == "succeeded" for job in jobs.values()), {n: j.message for n, j in jobs.items()}
    features = {name: job.prediction.features for name, job in jobs.items()}

    # Not known: the OUT_FEATURES are empty; nobody out: zero; a teammate out: his share moves to the others.
    assert all(features["none"][n] is None for n in OUT_FEATURES)
    assert features["nobody"]["out_usg"] == features["nobody"]["out_min"] == 0.0
    assert features["mate"]["out_usg"] > 0 and features["mate"]["out_min"] > 0 and features["mate"]["out_pts"] > 0
    assert features["mate"]["out_usg_share"] > 0
    assert features["mate"] != features["none"]
    assert {k: v for k, v in features["mate"].items() if k not in OUT_FEATURES} == {
        k: v for k, v in features["none"].items() if k not in OUT_FEATURES
    }
    # The stored features are mlmodels.warehouse's for the same out ids.
    direct = build_features_for(luka.pk, game.date, game.home_id, False, team_id=game.away_id, out=[mate.pk])
    assert {n: features["mate"][n] for n in OUT_FEATURES} == pytest.approx({n: direct[n] for n in OUT_FEATURES})
    # An opponent counts for nothing in his opponents' teammate features; a stranger is ignored.
    assert {n: features["all"][n] for n in OUT_FEATURES} == pytest.approx(
        {n: features["mate"][n] for n in OUT_FEATURES}
    )
    placed = {entry["id"]: entry for entry in jobs["all"].out_players}
    assert placed[mate.pk] == {"id": mate.pk, "name": mate.name, "team": "DAL", "ignored": False}
    assert placed[trae.pk] == {"id": trae.pk, "name": trae.name, "team": "ATL", "ignored": False}
    assert placed[stranger.pk]["ignored"] is True and placed[stranger.pk]["team"] not in ("DAL", "ATL")
    detail = client.get(f"{URL}{ids['all']}/").json()
    assert detail["out"] == jobs["all"].out_players and detail["result"]["features"]["out_usg"] > 0


def single_range_with_out(player_id: int, game: Game, out: list[int]) -> tuple[float, float, float]:
    """A single prediction's numbers for (player, game) with an out list, as its steps compute them."""
    from mlmodels.ensemble import combine
    from mlmodels.inference import predict
    from mlmodels.warehouse import build_features_for

    team = last_team(player_id, str(game.date))
    opponent, home = (game.away_id, True) if team == game.home_id else (game.home_id, False)
    features = build_features_for(
        player_id, game.date, opponent, home, team_id=team, out=who_is_out.on_teams(out, game.date, (team, opponent))
    )
    combined = combine([predict(algorithm, features) for algorithm in ("lightgbm", "keras")], features["min_mean_10"])
    return tuple(sorted([combined["p10"], combined["p50"], combined["p90"]]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_slate_with_out_leaves_them_out_and_equals_single_predictions_with_the_same_list(pipeline):
    from mlmodels.batch_features import build_features_for_game
    from mlmodels.features import FEATURE_NAMES

    game = Game.objects.get(date=GAME_DAY, home__code="ATL")
    luka = Player.objects.get(normalised_name="luka doncic")
    mate = top_teammate(luka, GAME_DAY)
    trae = Player.objects.get(normalised_name="trae young")
    out = [mate.pk, trae.pk]

    rows = slate_services.game_ranges(game, out=out)
    players = {row["player_id"] for row in rows}
    assert luka.pk in players and not players & set(out)
    assert len(rows) == len(slate_services.expected_players(game)) - 2
    for row in rows:
        assert (row["p10"], row["p50"], row["p90"]) == pytest.approx(
            single_range_with_out(row["player_id"], game, out), rel=1e-6, abs=1e-6
        )
    # The batch features use the list: the Mavericks see their teammate out, the Hawks theirs.
    pairs = [(row["player_id"], row["team_id"]) for row in rows]
    matrix, _ = build_features_for_game(game.date, game.home_id, game.away_id, pairs, out=out)
    out_usg = matrix[:, FEATURE_NAMES.index("out_usg")]
    assert (out_usg > 0).all()

    # Through the API and the worker: the slate with the list has no row for them, its rows are the
    # ones above, and a single prediction request with the same list gives the same range.
    client = client_for(make_user("alice"))
    accepted = post(client, SLATES, {"date": GAME_DAY, "out": [mate.name, "Trae Young"]})
    assert accepted.status_code == 202, accepted.content
    assert [p["id"] for p in accepted.json()["out"]] == out
    from predictions.tests.test_slates import wait_slate

    slate = wait_slate(accepted.json()["id"])
    assert slate.status == "succeeded", slate.message
    stored = {r.player_id: r for r in SlatePrediction.objects.filter(slate=slate, game=game)}
    assert set(stored) == players and not SlatePrediction.objects.filter(slate=slate, player_id__in=out).exists()
    luka_row = stored[luka.pk]
    single = post(
        client, URL, {"player": "Luka Doncic", "opponent": "ATL", "date": GAME_DAY, "out": [mate.name, "Trae Young"]}
    )
    job = wait_until_done(single.json()["id"])
    assert job.status == "succeeded", job.message
    assert (job.prediction.p10, job.prediction.p50, job.prediction.p90) == pytest.approx(
        (luka_row.p10, luka_row.p50, luka_row.p90), rel=1e-6, abs=1e-6
    )

    # The command with the same list: the same slate (one per date, models and out set).
    printed = io.StringIO()
    call_command("predict_slate", "--date", GAME_DAY, "--out", f"Trae Young, {mate.name}", "--json", stdout=printed)
    answer = json.loads(printed.getvalue())
    assert [p["id"] for p in answer["out"]] == out
    assert Slate.objects.filter(date=GAME_DAY).count() == 1

    # The daily pipeline's slate step of that day computes its own slate, without an out list (it
    # does not reuse the one above): the players out get their rows there.
    from predictions import daily_services
    from predictions.daily_models import DailyRun

    run = DailyRun.objects.create(date=GAME_DAY)
    daily_services.slate(run, "daily-slate-step")
    daily = DailyRun.objects.get(pk=run.pk).slate
    assert daily.pk != slate.pk and (daily.out_key, daily.out_players, daily.status) == ("", None, "succeeded")
    assert set(SlatePrediction.objects.filter(slate=daily, game=game).values_list("player_id", flat=True)) >= {
        *players,
        mate.pk,
    }
    assert Slate.objects.filter(date=GAME_DAY).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
@pytest.mark.browser
def test_the_page_sends_who_is_out_and_shows_it_with_the_range(pipeline, live_server, browser, screenshots):
    """The real page in Chromium: the comma-separated names go out with the request, come back placed
    on the game under the range; an unknown name is told under the form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from predictions.tests.test_user_page import sign_in

    sign_in(browser, live_server)
    browser.find_element(By.ID, "player").send_keys("Luka Dončić")
    Select(browser.find_element(By.ID, "opponent")).select_by_value("ATL")
    browser.execute_script("document.getElementById('date').value = '2024-01-26'")
    browser.find_element(By.ID, "out").send_keys("Kyrie Irvnig")
    browser.find_element(By.ID, "submit").click()
    errors = WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.ID, "errors")))
    assert errors.text == "out: no player named 'Kyrie Irvnig'; did you mean Kyrie Irving?"
    assert not PredictionRequest.objects.exists()

    browser.find_element(By.ID, "out").clear()
    browser.find_element(By.ID, "out").send_keys("trae young,  LeBron James, trae young")
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 90).until(ec.visibility_of_element_located((By.ID, "result-card")))
    assert browser.find_element(By.ID, "result-out").text == (
        "without Trae Young (ATL), LeBron James (LAL, ignored: on neither team)"
    )
    job = PredictionRequest.objects.select_related("prediction").get()
    assert job.out_input == ["trae young", "LeBron James"]
    assert job.prediction.features["out_usg"] == 0.0  # an opponent out: no teammate of his is missing
    screenshots(browser, "who-is-out")
