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


@pytest.mark.parametrize(
    ("page", "operation", "name_of", "expected"),
    [
        pytest.param(
            "/api/docs/",
            ".opblock-summary-path",
            "e.textContent.trim()",
            ["/api/v1/predictions/", "/api/v1/players/"],
            id="swagger",
        ),
        pytest.param(
            "/api/redoc/",
            '[data-section-id^="operation/"]',
            "e.dataset.sectionId",
            ["operation/v1_predictions_create", "operation/v1_players_list"],
            id="redoc",
        ),
    ],
)
def test_the_api_docs_list_the_operations_offline(
    live_server, browser, screenshots, request, page, operation, name_of, expected
):
    """`operation`: the CSS selector of one listed operation; `name_of`: its name (JavaScript of `e`)."""
    from selenium.webdriver.support.ui import WebDriverWait

    offline(browser)
    browser.get(f"{live_server.url}{page}")
    try:
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.querySelectorAll(arguments[0]).length", operation) > 0
        )
    finally:
        screenshots(browser, request.node.callspec.id)
    names = browser.execute_script(
        f"return Array.from(document.querySelectorAll(arguments[0]), e => {name_of})", operation
    )
    assert all(name in names for name in expected), names
    scripts = browser.execute_script("return Array.from(document.scripts, s => s.src).filter(Boolean)")
    assert scripts and all(src.startswith(live_server.url) for src in scripts), scripts
