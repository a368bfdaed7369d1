"""Session-wide fixtures: service checks and a real Celery worker process."""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings

from nbaproject.testing.services import reachable


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def _on_rabbitmq() -> bool:
    return settings.CELERY_BROKER_URL.startswith("amqp") and reachable(settings.CELERY_BROKER_URL)


def pytest_report_header(config):
    return [
        f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} "
        f"broker: {settings.CELERY_BROKER_URL.split('://', 1)[0]} "
        f"REQUIRE_SERVICES={os.environ.get('REQUIRE_SERVICES', '0')}"
    ]


def pytest_collection_modifyitems(config, items):
    missing = [name for name, up in (("PostgreSQL", _on_postgres()), ("RabbitMQ", _on_rabbitmq())) if not up]
    if not missing or os.environ.get("TEST_EMBEDDED") == "1":
        if os.environ.get("TEST_EMBEDDED") == "1":
            skip = pytest.mark.skip(reason="embedded smoke run: only tests marked smoke")
            for item in items:
                if "smoke" not in item.keywords:
                    item.add_marker(skip)
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.exit(f"REQUIRE_SERVICES=1 but {', '.join(missing)} not reachable at the local address", returncode=3)
    skip = pytest.mark.skip(reason=f"{', '.join(missing)} not reachable at the local address")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


def purge_test_queues():
    """Drop messages a killed earlier run may have left in the test queues."""
    from nbaproject.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = settings.BROKER_DIR / "queue"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        return
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in app.amqp.queues.values():
            queue(channel).declare()
            queue(channel).purge()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real `celery worker` process on every queue, sharing the test database and broker."""
    from nbaproject.testing.worker import WorkerProcess

    purge_test_queues()
    with django_db_blocker.unblock():
        worker = WorkerProcess(concurrency=2).start()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def no_job_bound():
    """Each test starts with no job bound to its log lines, as each HTTP request does (the web's
    JobContextMiddleware): a service called directly by an earlier test binds its job in this thread."""
    from operations import logs

    logs.clear()
    yield
    logs.clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def browser():
    """Headless Chromium (Debian's chromium + chromium-driver, installed by .ci/run) via Selenium."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("chromium and chromedriver are required (apt-get install chromium chromium-driver)")
        pytest.skip("no chromium/chromedriver installed")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--no-first-run",
        "--disable-background-networking",
    ):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def screenshots(request):
    """save(driver, name, full_page=False): a PNG of the browser under test-artifacts/<test name>/;
    full_page: the whole page, not only what the window shows."""
    import base64
    from pathlib import Path

    folder = Path(__file__).resolve().parent / "test-artifacts" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)

    def save(driver, name: str, full_page: bool = False) -> Path:
        path = folder / f"{name}.png"
        if full_page:
            size = driver.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
                },
            )
            path.write_bytes(base64.b64decode(shot["data"]))
        else:
            driver.save_screenshot(str(path))
        return path

    return save
