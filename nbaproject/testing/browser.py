"""Browser-test helpers shared by the apps' Chromium tests (the `browser` fixture is in conftest.py)."""

from __future__ import annotations


def sign_in(browser, url: str, username: str, password: str) -> None:
    """Sign in through the login form at `url` and wait until the browser has left /login/."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: "/login/" not in d.current_url, message="sign-in did not finish")
