"""The staff Pipeline page in a real headless Chromium: a staff member starts a prediction on the
user page and watches its progress bar on Pipeline advance to done without reloading; a
non-staff user is refused. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User

from nbaproject.testing.browser import sign_in
from operations.tasks import ping
from predictions.models import PredictionRequest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services, pytest.mark.browser]


def job_row(browser, request_id: str) -> dict | None:
    """The Pipeline page's row of the request as the page shows it now (None: not listed)."""
    return browser.execute_script(
        """
        var link = document.querySelector('#jobs a[href*="' + arguments[0] + '"]');
        if (!link) return null;
        var cells = link.closest('tr').children, bar = link.closest('tr').querySelector('.bar');
        return {status: cells[2].textContent, percent: Number(bar.dataset.percent), stage: cells[4].textContent};
    """,
        request_id,
    )


def test_staff_watch_a_prediction_on_pipeline_until_done(pipeline, live_server, browser, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    User.objects.create_superuser("ops", password="ops-pw-123")
    sign_in(browser, f"{live_server.url}/admin/login/?next=/admin/", "ops", "ops-pw-123")
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.PARTIAL_LINK_TEXT, "Live pipeline"))).click()
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "updated").text not in ("", "–"),
        message=f"Pipeline never updated: {browser.current_url}",
    )
    browser.execute_script("window.sameDocument = true")  # gone if the page reloads
    pipeline_tab = browser.current_window_handle

    # Both worker processes busy for a few seconds: the request waits in its queue, visibly.
    holds = [ping.delay("busy", hold_seconds=5) for _ in range(pipeline.concurrency)]
    browser.switch_to.new_window("tab")
    user_tab = browser.current_window_handle
    browser.get(f"{live_server.url}/")
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "player")))
    browser.find_element(By.ID, "player").send_keys("Luka Dončić")
    Select(browser.find_element(By.ID, "opponent")).select_by_value("ATL")
    browser.execute_script("document.getElementById('date').value = '2024-01-26'")
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 10).until(lambda d: PredictionRequest.objects.exists())
    request_id = str(PredictionRequest.objects.get().pk)

    browser.switch_to.window(pipeline_tab)
    seen, deadline = [], time.monotonic() + 90
    while True:
        row = job_row(browser, request_id)
        if row and (not seen or row != seen[-1]):
            seen.append(row)
            if len(seen) == 1:
                screenshots(browser, "1-pipeline-request-waiting")
        if row and row["status"] == "succeeded":
            break
        assert time.monotonic() < deadline, f"the Pipeline row never reached done: {seen}"
        time.sleep(0.2)
    screenshots(browser, "2-pipeline-request-done")

    assert browser.execute_script("return window.sameDocument") is True, "the page reloaded"
    assert seen[0]["status"] in ("queued", "running") and seen[0]["percent"] < 100
    assert seen[-1]["percent"] == 100 and "5/5" in seen[-1]["stage"]
    percents = [row["percent"] for row in seen]
    assert percents == sorted(percents), f"progress went backwards: {seen}"
    for hold in holds:
        hold.get(timeout=30)

    # The pages staff and users read, with this data, at a laptop's width (1400 px).
    browser.set_window_size(1400, 1000)
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.querySelectorAll('#tasks tbody tr:not(.muted)').length") >= 5
    )
    widths = browser.execute_script("""
        var table = document.getElementById('tasks');
        return {table: table.scrollWidth, room: table.parentElement.clientWidth,
                page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth};""")
    assert widths["table"] <= widths["room"] and widths["page"] <= widths["window"], widths
    worker = browser.execute_script(
        """
        var name = arguments[0];
        var row = Array.prototype.find.call(document.querySelectorAll('#workers tbody tr'),
                                            function (tr) { return tr.children[0].textContent === name; });
        return row ? row.children[1].textContent : null;""",
        pipeline.hostname,
    )
    assert worker == "answering"
    screenshots(browser, "3-pipeline-1400px", full_page=True)

    browser.get(f"{live_server.url}/admin/predictions/predictionrequest/{request_id}/change/")
    features = browser.find_elements(By.CSS_SELECTOR, "table.features tbody tr")
    assert len(features) == len(PredictionRequest.objects.get().features) > 10
    assert "pts_ewm" in browser.find_element(By.CSS_SELECTOR, "table.features").get_attribute("textContent")
    screenshots(browser, "4-request-admin-1400px", full_page=True)

    browser.switch_to.window(user_tab)
    browser.set_window_size(1400, 1000)
    assert [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#models thead th")] == [
        "model",
        "p10 / p50 / p90",
        "version",
    ]
    screenshots(browser, "5-user-page-1400px", full_page=True)


def test_a_non_staff_user_is_refused_the_pipeline(live_server, browser, screenshots, db):
    from selenium.webdriver.common.by import By

    User.objects.create_user("fan", password="fan-pw-123")
    sign_in(browser, f"{live_server.url}/login/", "fan", "fan-pw-123")
    browser.get(f"{live_server.url}/admin/pipeline/")
    screenshots(browser, "pipeline-refused")
    assert "/admin/login/" in browser.current_url
    assert "not authorized to access this page" in browser.find_element(By.CSS_SELECTOR, ".errornote").text
    browser.get(f"{live_server.url}/admin/pipeline/data/")
    assert "/admin/login/" in browser.current_url and "generated_at" not in browser.page_source
