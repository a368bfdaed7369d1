"""The slate view of the user page in a real headless Chromium: the date picker defaults to the
product's today, submitting computes the night's slate through the worker with live progress,
then every game's players are drawn as range bars, sortable by median and filterable by team,
each played game's actual score marked inside or outside its range, and the night's coverage.
Screenshots go to test-artifacts/<test name>/."""

from __future__ import annotations

import pytest

from etl.models import Game
from predictions.models import Slate, SlatePrediction
from predictions.tests.test_user_page import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.browser]

DAY = "2024-03-15"  # a night of the bundled 2023-24 season, all played


def visible_rows(browser) -> list[list[dict]]:
    """Per visible game, its visible player rows as the page shows them, in order."""
    return browser.execute_script("""
        return Array.from(document.querySelectorAll('section.game')).filter(g => !g.hidden).map(g =>
            Array.from(g.querySelectorAll('li.player')).filter(li => !li.hidden).map(li => ({
                player: Number(li.dataset.player), team: li.dataset.team, name: li.dataset.name,
                p50: Number(li.dataset.p50), inside: li.dataset.inside,
                mark: (li.querySelector('.mark') || {}).textContent || '',
                markClass: (li.querySelector('.mark') || {}).className || '',
                dot: (li.querySelector('.act') || {}).className || ''})));
    """)


def choose(browser, select_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, select_id)).select_by_value(value)


def test_a_nights_slate_sorted_filtered_and_marked_inside_or_outside(
    pipeline, live_server, browser, screenshots, settings
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    settings.AS_OF_DATE = DAY
    sign_in(browser, live_server)
    browser.find_element(By.ID, "nav-slates").click()
    date_input = WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "slate-date")))
    assert date_input.get_attribute("value") == DAY  # the product's today

    browser.find_element(By.ID, "slate-submit").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "slate-progress")))
    slate = Slate.objects.get(date=DAY)
    assert browser.current_url.endswith(f"/slates/{slate.pk}/")
    screenshots(browser, "1-slate-progress")
    WebDriverWait(browser, 180).until(
        ec.presence_of_element_located((By.ID, "slate-summary")),
        message=f"the slate never showed: {Slate.objects.get(pk=slate.pk).progress_text}",
    )
    slate.refresh_from_db()
    assert slate.status == "succeeded"
    screenshots(browser, "2-slate-by-median", full_page=True)

    # The night's coverage, as stored.
    coverage = browser.find_element(By.ID, "coverage").text
    assert coverage.startswith(f"{round(100 * slate.coverage_80)}% of the actual scores fell inside")

    # Sorted by median, highest first (the default), then lowest first, then by name.
    games = visible_rows(browser)
    assert len(games) == Game.objects.filter(date=DAY).count() and sum(len(g) for g in games) == slate.players_done
    for rows in games:
        assert [r["p50"] for r in rows] == sorted((r["p50"] for r in rows), reverse=True)
    choose(browser, "sort", "median-asc")
    for rows in visible_rows(browser):
        assert [r["p50"] for r in rows] == sorted(r["p50"] for r in rows)
    choose(browser, "sort", "name")
    for rows in visible_rows(browser):  # in the browser's collation (accents: Dončić by Doncic)
        names = [r["name"] for r in rows]
        assert names == browser.execute_script("return arguments[0].slice().sort((a, b) => a.localeCompare(b))", names)
        assert names[0].lower() <= names[-1].lower()

    # Filtered by one team: only its game, only its players.
    team = (
        SlatePrediction.objects.filter(slate=slate).order_by("team__code").values_list("team__code", flat=True).first()
    )
    choose(browser, "sort", "median-desc")
    choose(browser, "team-filter", team)
    [rows] = visible_rows(browser)
    assert {r["team"] for r in rows} == {team}
    assert len(rows) == SlatePrediction.objects.filter(slate=slate, team__code=team).count()
    played = [r for r in rows if r["inside"]]
    assert (
        browser.find_element(By.CSS_SELECTOR, "section.game:not([hidden]) .game-coverage").text
        == f"{sum(r['inside'] == 'inside' for r in played)} of {len(played)} inside"
    )  # the team's own count
    screenshots(browser, "3-slate-one-team")
    choose(browser, "team-filter", "")

    # Every actual marked inside or outside its own range, as the stored numbers say.
    stored = {row.player_id: row for row in SlatePrediction.objects.filter(slate=slate)}
    marks = {"inside": 0, "outside": 0}
    for rows in visible_rows(browser):
        for r in rows:
            row = stored[r["player"]]
            if row.actual is None:
                assert r["inside"] == "" and r["mark"] == ""
                continue
            expected = "inside" if row.p10 <= row.actual <= row.p90 else "outside"
            marks[expected] += 1
            assert r["inside"] == expected and expected in r["markClass"] and expected in r["dot"]
            assert r["mark"] == f"{'✓' if expected == 'inside' else '✗'} {row.actual}"
    assert marks["inside"] > 0 and marks["outside"] > 0, marks
    assert marks["inside"] / sum(marks.values()) == pytest.approx(slate.coverage_80)
