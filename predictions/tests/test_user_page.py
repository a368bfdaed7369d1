"""The user page in a real headless Chromium: sign in, ask, watch the progress, see the range."""

from __future__ import annotations

import pytest

from predictions.models import PredictionRequest
from predictions.tests.conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.browser]


def sign_in(browser, live_server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    user = make_user("alice")
    user.set_password("pw-alice-123")
    user.save()
    browser.get(f"{live_server.url}/")
    assert "/login/" in browser.current_url
    browser.find_element(By.NAME, "username").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys("pw-alice-123")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "player")))


def test_sign_in_ask_watch_progress_and_see_the_range(pipeline, live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    sign_in(browser, live_server)

    browser.find_element(By.ID, "player").send_keys("Doncic")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.querySelectorAll('#player-options option').length") > 0
    )
    assert browser.execute_script("return document.querySelector('#player-options option').value") == "Luka Dončić"
    browser.find_element(By.ID, "player").clear()
    browser.find_element(By.ID, "player").send_keys("Luka Dončić")
    Select(browser.find_element(By.ID, "opponent")).select_by_value("ATL")
    browser.execute_script("document.getElementById('date').value = '2024-01-26'")
    browser.find_element(By.ID, "submit").click()

    WebDriverWait(browser, 90).until(ec.visibility_of_element_located((By.ID, "result-card")))
    assert browser.find_element(By.ID, "step-label").text == "Done"
    assert browser.execute_script("return document.getElementById('bar').style.width") == "100%"
    assert "points, median" in browser.find_element(By.ID, "result-text").text
    assert "scored 73" in browser.find_element(By.ID, "result-text").text
    assert "Luka Dončić (DAL) @ ATL, 2024-01-26" == browser.find_element(By.ID, "result-title").text
    job = PredictionRequest.objects.select_related("prediction").get()
    days = job.prediction.days_since_last_game
    assert browser.find_element(By.ID, "result-data").text == (  # next to the range: how fresh its data is
        f"data through {job.prediction.data_through.isoformat()} (his last game, {days} day{'s' * (days != 1)} "
        "before this one)"
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart rect.range")) == 1
    assert [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#models thead th")] == [
        "model",
        "p10 / p50 / p90",
        "version",
    ]
    model_rows = browser.find_elements(By.CSS_SELECTOR, "#models tbody tr")
    assert model_rows and all(len(row.find_elements(By.TAG_NAME, "td")) == 3 for row in model_rows)
    WebDriverWait(browser, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#recent tbody tr")) == 10)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart circle.game")) == 10
    WebDriverWait(browser, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history li")) == 1)


def test_a_request_without_an_answer_shows_the_reason_once_without_a_progress_bar(
    worker_with_season, live_server, browser, screenshots, settings
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    settings.AS_OF_DATE = "2024-04-15"  # the day after the season: no game of his on or after it
    sign_in(browser, live_server)
    assert browser.find_element(By.ID, "as-of").text == "as of 2024-04-15, replaying the bundled season"
    browser.find_element(By.ID, "player").send_keys("lebron james")
    browser.find_element(By.ID, "submit").click()

    errors = WebDriverWait(browser, 60).until(ec.visibility_of_element_located((By.ID, "errors")))
    WebDriverWait(browser, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history li")) == 1)
    screenshots(browser, "failed-request")
    reason = errors.text
    assert reason.startswith("no game found for LeBron James (LAL) on or after 2024-04-15 (today) ")
    assert reason.endswith("give an opponent and a date")
    assert not browser.find_element(By.ID, "progress-card").is_displayed()
    assert browser.execute_script("return document.body.innerText.split(arguments[0]).length - 1", reason) == 1
    assert browser.find_element(By.CSS_SELECTOR, "#history li a").text == "LeBron James"  # typed in lower case

    # Stale data is refused at submit: the form shows the 422's sentence and nothing is queued.
    from selenium.webdriver.support.ui import Select

    browser.find_element(By.ID, "player").clear()
    browser.find_element(By.ID, "player").send_keys("Victor Wembanyama")
    Select(browser.find_element(By.ID, "opponent")).select_by_value("LAL")
    browser.execute_script("document.getElementById('date').value = '2026-12-05'")
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "errors").text.startswith("The data ends on"))
    assert browser.find_element(By.ID, "errors").text.startswith(
        "The data ends on 2024-04-14, 965 days before 2026-12-05 (more than 200)"
    )
    assert PredictionRequest.objects.count() == 1
