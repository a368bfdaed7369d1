"""The API docs work without internet: Swagger UI (/api/docs/) and Redoc (/api/redoc/) load their
scripts from the project's static files (drf-spectacular-sidecar), not from a CDN. The browser is
cut off from every https address, as on a machine offline, and must still list the operations."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def offline(browser) -> None:
    """Every request to an https address fails, as without internet (the live server is http)."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["https://*"]})


def test_swagger_ui_lists_the_operations_offline(live_server, browser, screenshots):
    from selenium.webdriver.support.ui import WebDriverWait

    offline(browser)
    browser.get(f"{live_server.url}/api/docs/")
    try:
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.querySelectorAll('.opblock-summary-path').length") > 0)
    finally:
        screenshots(browser, "swagger")
    paths = browser.execute_script(
        "return Array.from(document.querySelectorAll('.opblock-summary-path'), e => e.textContent.trim())")
    assert "/api/v1/predictions/" in paths and "/api/v1/players/" in paths, paths
    scripts = browser.execute_script("return Array.from(document.scripts, s => s.src).filter(Boolean)")
    assert scripts and all(src.startswith(live_server.url) for src in scripts), scripts


def test_redoc_lists_the_operations_offline(live_server, browser, screenshots):
    from selenium.webdriver.support.ui import WebDriverWait

    offline(browser)
    browser.get(f"{live_server.url}/api/redoc/")
    try:
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.querySelectorAll('[data-section-id^=\"operation/\"]').length") > 0)
    finally:
        screenshots(browser, "redoc")
    sections = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-section-id^=\"operation/\"]'), e => e.dataset.sectionId)")
    assert "operation/v1_predictions_create" in sections and "operation/v1_players_list" in sections, sections
